"""Origin inference under observation models (d) several independent seeds and (e) sampled shares.

Synthetic (per trial, seeded): a fresh contact graph (ER mean degree 6, WS k=6 p=0.1, BA m=3,
2,000 nodes), log-normal account influence (mean 1), 1-3 seed accounts starting within 2 h of
each other, each a continuous-time independent cascade (benchmarks.parents_synth.simulate, at
most 100 shares each), merged into one rumour. Real: Weibo cascades of the evaluation half.

- ``multi`` (d): several seeds (real: 2-3 cascades merged, shifted to start within 2 h); 30% of
  the shares lose their parent link; each seed's own post is deleted with probability 0.5
  (its children still name its account).
- ``sampled`` (e): one seed (synthetic: 1-3), each event (posts included) observed with
  probability 0.5, with its timestamp and the parent it names (seen or not).

Pipeline: the engine's forest (graph.CascadeGraph), parents of link-less shares reconstructed
(graph.reconstruct.infer, default weights), candidates = roots (graph.confidence.candidates),
ranked by confidence. A candidate is right when its account is a true seed. Reported: top-1,
recall of the true seeds in the top s (s = number of seeds), and reliability (confidence bins
against the fraction right). The confidence coefficients are fitted (logistic IRLS) on the
*training* trials (seeds disjoint from the evaluation trials) of the synthetic mixes only.

    python -m benchmarks.origins_models [--trials 300] [--real 300] [--json out.json]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from benchmarks import real_cascades
from benchmarks.bench_args import graph_nodes, names_of, non_negative_int, output_file, positive_int
from benchmarks.generators import contact_graph
from benchmarks.outputs import progress, run_record, write_json
from benchmarks.parents_synth import MODELS, simulate
from graph import CascadeGraph
from graph import confidence as cf
from graph import reconstruct as rc

OBS = ("multi", "sampled")
BINS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0001)
OLD_COEF = np.array([-3.0, 8.0, 0.5, -2.0, 0.0, 0.0, 0.0])  # the hand-set values before the fit


def _synthetic_events(model, n, seed):
    rng = np.random.default_rng(seed)
    ip, ix = contact_graph(model, n, rng)
    infl = np.exp(rng.normal(-0.5, 1.0, n))
    s = int(rng.integers(1, 4))
    seeds = rng.choice(n, size=s, replace=False)
    offs = np.concatenate([[0.0], rng.uniform(0, 7200, s - 1)])
    ev = []  # (event, account, ts_s, parent event, parent account, kind)
    for j, (v0, off) in enumerate(zip(seeds.tolist(), offs.tolist())):
        nodes, times, parents = simulate(ip, ix, infl, 0.25, v0, rng, max_infected=100)
        for v, t, p in zip(nodes.tolist(), times.tolist(), parents.tolist()):
            ev.append((f"{j}:{v}", f"u{v}", off + t, None if p < 0 else f"{j}:{p}",
                       None if p < 0 else f"u{p}", 0 if p < 0 else 1))
    return ev, {f"u{v}" for v in seeds.tolist()}, rng


def _real_events(group, offsets):
    ev = []
    for j, (c, off) in enumerate(zip(group, offsets)):
        t0 = c.ts_ms[0] / 1000.0
        for i in range(len(c.event_ids)):
            p = c.parents[i]
            ev.append((f"{j}:{c.event_ids[i]}", c.accounts[i], off + c.ts_ms[i] / 1000.0 - t0,
                       None if p < 0 else f"{j}:{c.event_ids[p]}", None if p < 0 else c.accounts[p],
                       0 if c.kinds[i] == "post" else 1))
    return ev, {c.accounts[0] for c in group}


def observe(ev, obs, rng, mask=0.3, delete_post=0.5, sample=0.5):
    """The events as the engine would see them under observation model ``obs``."""
    out = []
    for e in ev:
        eid, acc, ts, pe, pa, kind = e
        if obs == "multi":
            if kind == 0 and rng.random() < delete_post:
                continue
            if kind == 1 and rng.random() < mask:
                pe = pa = None
        elif rng.random() >= sample:
            continue
        out.append((eid, acc, ts, pe, pa, kind))
    return sorted(out, key=lambda e: e[2])


def analyse(ev, seeds, coef=None):
    """(labels, features, ranked accounts) of one observed rumour after reconstruction."""
    g = CascadeGraph("r")
    if not ev:
        return np.zeros(0, bool), np.zeros((0, len(cf.FEATURE_NAMES))), []
    eid, acc, ts, pe, pa, kind = zip(*ev)
    g.add_batch(list(eid), list(acc), np.rint(np.array(ts) * 1000).astype(np.int64), list(pe), list(pa),
                np.array(kind, np.uint8))
    ts_, par, acct, root_like, is_cand, targets = rc.graph_arrays(g)
    full = par
    if len(targets):
        parent, _ = rc.infer(ts_, par, acct, root_like, is_cand, targets)
        full = par.copy()
        full[targets] = parent
    roots, X = cf.candidates(g, full)
    names = g.ac.strings(g.acct[roots])
    y = np.array([a in seeds for a in names], bool)
    w = cf.COEF if coef is None else coef
    order = np.lexsort((-X[:, 2], -(X @ w)))
    return y, X, [names[i] for i in order]


def score(ranked, seeds):
    s = len(seeds)
    top = []
    for a in ranked:  # distinct accounts, best first
        if a not in top:
            top.append(a)
    return float(bool(top) and top[0] in seeds), len(set(top[:s]) & seeds) / s


def fit_logistic(X, y, ridge=1e-3, iters=100):
    """Logistic regression by damped Newton (IRLS) with a small ridge (intercept free)."""
    w = np.zeros(X.shape[1])
    pen = ridge * len(y) * np.eye(X.shape[1])
    pen[0, 0] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(X @ w, -50, 50)))
        g = X.T @ (y - p) - pen @ w
        h = (X * (p * (1 - p))[:, None]).T @ X + pen + 1e-9 * np.eye(X.shape[1])
        step = np.linalg.solve(h, g)
        step *= min(1.0, 2.0 / max(np.abs(step).max(), 1e-12))
        w = w + step
        if np.abs(step).max() < 1e-8:
            break
    return w


def reliability(conf, y):
    rows = []
    for lo, hi in zip(BINS[:-1], BINS[1:]):
        m = (conf >= lo) & (conf < hi)
        if m.any():
            rows.append((lo, min(hi, 1.0), int(m.sum()), float(conf[m].mean()), float(y[m].mean())))
    ece = sum(n * abs(c - f) for _, _, n, c, f in rows) / max(len(y), 1)
    return rows, float(ece)


def _calibration(conf, y) -> dict:
    """Reliability bins, ECE and Brier score of confidences ``conf`` against labels ``y``; None
    for ECE and Brier when there is no candidate (a tiny cell whose observed rumours lost every
    event): numpy's mean of nothing was NaN and a warning, and an ECE of 0 read as perfect.

    >>> _calibration(np.zeros(0), np.zeros(0, bool))
    {'bins': [], 'ece': None, 'brier': None}
    >>> round(_calibration(np.array([0.9, 0.1]), np.array([True, False]))["brier"], 6)
    0.01
    """
    if len(y) == 0:
        return {"bins": [], "ece": None, "brier": None}
    rows, ece = reliability(conf, y)
    return {"bins": rows, "ece": ece, "brier": float(np.mean((conf - y) ** 2))}


def _cell(items, coef, seed):
    """items: (events, seeds) pairs -> top-1, recall, reliability of fitted and old confidence
    (None where the cell has no rumour or no candidate: :func:`_calibration`)."""
    from benchmarks.accuracy import bootstrap_mean, wilson

    if not items:
        empty = _calibration(np.zeros(0), np.zeros(0, bool))
        return {"rumours": 0, "top1": None, "top1_ci": None, "recall": None, "recall_ci": None, "candidates": 0,
                "fitted": empty, "hand-set": dict(empty)}
    t1, rec, ys, Xs = [], [], [], []
    for ev, seeds in items:
        y, X, ranked = analyse(ev, seeds, coef)
        a, b = score(ranked, seeds)
        t1.append(a)
        rec.append(b)
        ys.append(y)
        Xs.append(X)
    y, X = np.concatenate(ys), np.vstack(Xs)
    out = {"rumours": len(items), "top1": float(np.mean(t1)), "top1_ci": wilson(int(sum(t1)), len(t1)),
           "recall": float(np.mean(rec)), "recall_ci": bootstrap_mean(rec, seed), "candidates": len(y)}
    for name, w in (("fitted", coef), ("hand-set", OLD_COEF)):
        out[name] = _calibration(1.0 / (1.0 + np.exp(-np.clip(X @ w, -50, 50))), y)
    return out


def synthetic_items(model, obs, trials, n, seed0):
    items = []
    for i in range(trials):
        ev, seeds, rng = _synthetic_events(model, n, (seed0, i, len(model), ord(model[0])))
        items.append((observe(ev, obs, rng), seeds))
    return items


def in_pool(c) -> bool:
    """Whether real rumours are drawn from cascade ``c``: evaluation half, more than 20 events."""
    return c.split() == 1 and len(c.event_ids) > 20


def real_pool(cascades):
    """The real cascades rumours are drawn from (:func:`in_pool`); of a
    :class:`benchmarks.real_cascades.Shelf`, a shelf (itself when made with ``keep=in_pool``)."""
    if isinstance(cascades, real_cascades.Shelf):
        return cascades if cascades.keep is in_pool else real_cascades.Shelf.of(cascades, in_pool)
    return [c for c in cascades if in_pool(c)]


def real_items(cascades, obs, count, seed):
    rng = np.random.default_rng(seed)
    pool = real_pool(cascades)
    items = []
    for _ in range(count):
        s = int(rng.integers(2, 4)) if obs == "multi" else 1
        group = [pool[int(j)] for j in rng.choice(len(pool), size=s, replace=False)]
        if len({c.accounts[0] for c in group}) < s:
            continue
        offs = np.concatenate([[0.0], rng.uniform(0, 7200, s - 1)])
        ev, seeds = _real_events(group, offs)
        items.append((observe(ev, obs, rng), seeds))
    return items


def run(models=("er", "ws", "ba"), trials=300, train_trials=100, n=2000, real=300, seed=0, log=print,
        cascades=None):
    """Fit the confidence on the training trials, then every cell; ``cascades``: the Weibo
    cascades of the real cells (read from ../shared/data when None and ``real`` > 0)."""

    # Fit: training trials (their own seed stream) of every model and observation model.
    Xs, ys = [], []
    for model in models:
        for obs in OBS:
            progress(f"fitting: {model}/{obs}, {train_trials} training trials")
            for ev, seeds in synthetic_items(model, obs, train_trials, n, seed + 10_000):
                y, X, _ = analyse(ev, seeds)
                Xs.append(X)
                ys.append(y)
    X = np.vstack(Xs)
    # Held at 0: reach share and log reach are collinear with the candidate count, and a free
    # fit gives reach share a small negative weight, which would make confidence fall with reach
    # past some size; log reach alone keeps it monotone.
    X[:, cf.FEATURE_NAMES.index("reach_share")] = 0.0
    coef = fit_logistic(X, np.concatenate(ys).astype(np.float64))
    log(f"fitted confidence coefficients {dict(zip(cf.FEATURE_NAMES, np.round(coef, 4).tolist()))}")
    cells = {}
    for model in models:
        for obs in OBS:
            progress(f"{model}/{obs}: {trials} trials")
            cells[f"{model}/{obs}"] = c = _cell(synthetic_items(model, obs, trials, n, seed), coef, seed)
            log(line(f"{model}/{obs}", c))
    if real:
        if cascades is None:
            cascades = real_cascades.shelve("weibo-ced", keep=in_pool)
        for obs in OBS:
            progress(f"weibo/{obs}: {real} rumours")
            cells[f"weibo/{obs}"] = c = _cell(real_items(cascades, obs, real, seed), coef, seed)
            log(line(f"weibo/{obs}", c))
    log(reliability_table(cells))
    return {"coef": np.round(coef, 4).tolist(), "cells": cells}


def _f(x) -> str:
    """A figure of :func:`line`: three decimals, or n/a for an empty cell's None."""
    return "n/a" if x is None else f"{x:.3f}"


def _ci(c, key) -> str:
    return f"{_f(c[key])} [{_f(c[key + '_ci'][0])},{_f(c[key + '_ci'][1])}]" if c[key] is not None else "n/a"


def line(name, c) -> str:
    return (f"{name:<14} rumours {c['rumours']:>4}  top-1 {_ci(c, 'top1')}  seed recall@s {_ci(c, 'recall')}"
            f"  ECE fitted {_f(c['fitted']['ece'])} hand-set {_f(c['hand-set']['ece'])}"
            f"  Brier {_f(c['fitted']['brier'])} / {_f(c['hand-set']['brier'])}")


def reliability_table(cells) -> str:
    out = ["reliability (fitted confidence): bin, candidates, mean confidence, fraction true seeds"]
    for name, c in cells.items():
        out.append(f"  {name}: " + "  ".join(f"[{lo:.1f},{hi:.1f}) {k} {m:.2f}/{f:.2f}"
                                             for lo, hi, k, m, f in c["fitted"]["bins"]))
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="rumour bench origins", description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=names_of(MODELS), default="er,ws,ba",
                    help=f"comma-separated contact-graph models, of {', '.join(MODELS)} (default: all)")
    ap.add_argument("--trials", type=positive_int, default=300,
                    help="evaluation trials per model and observation model (default 300)")
    ap.add_argument("--train-trials", type=positive_int, default=100,
                    help="trials per model and observation model the confidence is fitted on, "
                         "seeded apart from the evaluation (default 100)")
    ap.add_argument("--nodes", type=graph_nodes, default=2000,
                    help="nodes of each contact graph, at least 10 (default 2000)")
    ap.add_argument("--real", type=non_negative_int, default=300,
                    help="real Weibo rumours per observation model (default 300; 0 = none)")
    ap.add_argument("--weibo", metavar="PATH", default=real_cascades.default_path("weibo-ced"),
                    help="the Weibo CED archive or folder, read when --real > 0 "
                         "(default: ../shared/data/weibo-ced-dev.tar.gz)")
    ap.add_argument("--seed", type=non_negative_int, default=0, help="seed of the trials and the real rumour mixes (default 0)")
    ap.add_argument("--json", metavar="FILE", type=output_file, default=None,
                    help="also write the results, the command and every option to FILE")
    a = ap.parse_args(argv)
    cascades = None
    if a.real:
        # said first: the real mixes draw from every cascade, so the whole archive is read
        # (minutes); the pool is kept in a temporary file, not in memory (real_cascades.Shelf)
        progress(f"reading {a.weibo} (every cascade) ...")
        cascades = real_cascades.load_or_exit(ap, "weibo-ced", a.weibo, keep=in_pool)
        progress(f"{getattr(cascades, 'read', len(cascades))} cascades read")
    if cascades is not None and len(real_pool(cascades)) < 3:
        ap.error(f"{a.weibo}: {len(real_pool(cascades))} evaluation-half cascades of more than 20 events; "
                 f"the real mixes need 3 (or --real 0)")
    res = run(a.models, a.trials, a.train_trials, a.nodes, a.real, a.seed, cascades=cascades)
    if a.json:
        config = {**vars(a), "models": ",".join(a.models)}
        command = ["rumour", "bench", "origins", *(sys.argv[1:] if argv is None else argv)]
        write_json(a.json, {"config": config, **res, "run": run_record(command, config)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
