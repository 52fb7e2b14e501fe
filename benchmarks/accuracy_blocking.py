"""Blocking k uninfected nodes of an independent cascade observed at about 20 infected.

Per trial (seeded): a fresh contact graph (BA m=3, or WS k=6, 2,000 nodes), a uniform source,
an independent cascade with edge probability p stopped the moment ``--observe`` nodes are
infected (the observed set I; sources whose cascade dies earlier are redrawn). Each method names
k uninfected nodes to block. Two readings of "the future" (``--reading``):

- ``observed`` (default): the same IC continued: every edge not yet tried gets its one chance
  (spent nodes stay spent). WS rewired 0.1, p = 0.3 on WS.
- ``dava``: the protocol of the dominator-tree vaccination papers (DAVA, Zhang and Prakash 2014;
  the Logins-Karras immunization study that reruns it): I is a given infected set and the IC
  runs afresh from all of it, every edge of every infected node getting its chance. WS rewired
  0.3, p = 0.12 on both graphs.

The future is estimated on ``--eval`` live-edge samples drawn from a stream no method sees, the
same samples for every method. Reported per method: the reduction of the expected *new*
infections, 1 - E[final_B - |I|] / E[final_0 - |I|] (mean over trials), and of the expected
final infected 1 - E[final_B] / E[final_0]; 95% bootstrap intervals.

Methods: random, degree, NetShield (graph/blocking.py), DAVA and DAVA-fast (the published
one-tree algorithm, graph/blocking_dava.py), the dominator-tree greedy on ``--samples``
live-edge samples, and ours: the same greedy on ``--ours-samples`` samples followed by the
coordinate-ascent refinement (graph.blocking.dominator_refine).

``--bound`` adds what is achievable at all (benchmarks/blocking_bound.py): ``lp`` = the k-set of
the LP relaxation of the sample blocking program on the first ``--bound-samples`` fitting worlds
(exact: the MIP optimum, whenever the LP solution is integral; else the MIP with a time limit),
evaluated on the held-out worlds like every method; ``bound`` = the LP value on those fitting
worlds, a mean reach no k-set reaches there, as a fraction prevented (in-sample, so an
optimistic estimate of the best set's held-out score); ``*_fit`` rows: degree and ours scored
on the same fitting worlds, so ``bound - degree (fit)`` is how much any set can beat degree there.
``--eval-bound B`` adds ``bound_eval``: the LP solved on the held-out evaluation worlds in
batches of B, the batch optima averaged: the mean of per-batch minima is <= the minimum of the
mean, so no k-set scores above it on the measure as reported (same worlds); rigorous, looser the
smaller B is.
``--search`` adds ``ours_swap``: coordinate ascent to convergence on ours' samples from three
starts (the greedy's picks, degree's, NetShield's), the best on the samples
(graph.blocking.dominator_search).

    python -m benchmarks.accuracy_blocking [--reading observed|dava] [--trials 300] [--models ba,ws] [--json out.json]
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from numba import njit

from benchmarks.bench_args import names_of, non_negative_int, output_file, positive_int, probability
from benchmarks.generators import barabasi_albert, watts_strogatz
from benchmarks.outputs import progress, run_record, write_json
from graph import blocking as bl
from graph import blocking_dava as dv

METHODS = ("random", "degree", "netshield", "dava_fast", "dava", "dominator", "ours")
MODELS = {"ba": 0.12, "ws": 0.3}  # IC edge probability per graph model (issue 3)
# reading -> (IC edge probability per model, WS rewiring)
READINGS = {"observed": (MODELS, 0.1), "dava": ({"ba": 0.12, "ws": 0.12}, 0.3)}


def graph_of(model: str, n: int, seed, rewire: float = 0.1):
    if model == "ba":
        return barabasi_albert(n, 3, seed)
    if model == "ws":
        return watts_strogatz(n, 6, rewire, seed)
    raise ValueError(model)


def observe(ip, ix, p, size, rng, tries: int = 20_000):
    """(infected mask, tried edge slots) of an IC run stopped the moment ``size`` nodes are
    infected; the source is redrawn if its cascade dies earlier. A tried edge has had its one
    chance (successful or not), so the future runs on untried edges only: nodes of earlier
    generations are spent, the newest ones still fully active, one node possibly half-way.
    ``tries``: sources drawn before giving up. The dava reading's WS graph (p = 0.12, mean
    offspring 0.6) reaches 20 from about one source in a few hundred: 4 of 150 trials of seed
    0 needed more than 1,000 (up to 2,000); a dying cascade costs microseconds, and a trial
    that succeeds within fewer tries is the same whatever the cap.
    """
    n = len(ip) - 1
    for _ in range(tries):
        inf = np.zeros(n, bool)
        tried = np.zeros(int(ip[-1]), bool)
        src = int(rng.integers(n))
        inf[src], count, gen = True, 1, [src]
        while gen and count < size:
            rng.shuffle(gen)  # a generation's members try their edges in random order
            nxt = []
            for u in gen:
                for e in range(ip[u], ip[u + 1]):
                    if count >= size:
                        break
                    tried[e] = True
                    v = ix[e]
                    if not inf[v] and rng.random() < p:
                        inf[v] = True
                        count += 1
                        nxt.append(v)
            gen = nxt
        if count >= size:
            return inf, tried
    # a ValueError: the command line says it in one line (exit 2) instead of a traceback
    raise ValueError(f"no independent cascade with p={p} reached {size} infected from {tries} sources: "
                     f"raise the edge probability (--p-ba / --p-ws) or lower --observe")


@njit(cache=True)
def _reach_each(indptr, indices, live, infected, blocked):
    """Final infected count in each live-edge sample (BFS from the infected, around blocked)."""
    n = indptr.shape[0] - 1
    out = np.zeros(live.shape[0], np.int64)
    mark = np.zeros(n, np.int64)
    stack = np.empty(n, np.int64)
    for r in range(live.shape[0]):
        tag = r + 1
        top = 0
        for v in range(n):
            if infected[v]:
                mark[v] = tag
                stack[top] = v
                top += 1
        cnt = top
        while top > 0:
            top -= 1
            u = stack[top]
            for e in range(indptr[u], indptr[u + 1]):
                v = indices[e]
                if live[r, e] and mark[v] != tag and not blocked[v]:
                    mark[v] = tag
                    stack[top] = v
                    top += 1
                    cnt += 1
        out[r] = cnt
    return out


def world_ratio(ip, ix, live, inf, blocked) -> tuple:
    """(mean final count, mean over samples of saved/active) against no blocking on the same
    samples: the Logins-Karras simulator's "fraction of saved nodes to active nodes"."""
    args = (np.asarray(ip, np.int64), np.asarray(ix, np.int64), live.view(np.uint8), inf.astype(np.uint8))
    a0 = _reach_each(*args, np.zeros(len(inf), np.uint8))
    ab = _reach_each(*args, blocked.astype(np.uint8))
    return float(ab.mean()), float(np.mean((a0 - ab) / a0))


BOUND_ROWS = ("lp", "bound", "degree_fit", "ours_fit")  # with --bound
BOUND_PAIRS = (("lp", "degree"), ("bound", "degree_fit"), ("bound", "ours_fit"), ("ours_swap", "ours"))
SEARCH_ROWS = ("ours_swap",)  # with --search
EVAL_ROWS = ("bound_eval",)  # with --eval-bound
BOUND_PAIRS += (("bound_eval", "degree"), ("bound_eval", "ours"), ("bound_eval", "lp"))


def _bound(ip, ix, live_b, inf, k, picks, time_limit=120.0) -> dict:
    """The LP (MIP if its x is fractional) on the fitting worlds ``live_b``, and degree and
    ours scored on those worlds: {name: (new prevented, final reduction)}, the lp picks."""
    from benchmarks import blocking_bound as bb

    n_inf = int(inf.sum())
    r = bb.solve(ip, ix, live_b, inf, k, time_limit=time_limit)
    integral = bool(np.all(np.minimum(r["x"], 1 - r["x"]) < 1e-6))
    lp_set, exact = r["picks"], integral and r["optimal"]
    if not integral:
        m = bb.solve(ip, ix, live_b, inf, k, integral=True, time_limit=time_limit)
        lp_set, exact = m["picks"], m["optimal"]
    rows = {"bound": (bb.prevented(r["bound"], r["base"], n_inf), 1.0 - r["bound"] / r["base"])}
    for name, nodes in (("degree_fit", picks["degree"]), ("ours_fit", picks["ours"])):
        blocked = np.zeros(len(inf), bool)
        blocked[nodes] = True
        reach, _ = world_ratio(ip, ix, live_b, inf, blocked)
        rows[name] = (bb.prevented(reach, r["base"], n_inf), 1.0 - reach / r["base"])
    return {"rows": rows, "picks": lp_set, "integral": integral, "exact": exact, "seconds": r["seconds"]}


# The cell key of a trial's seed: trial i of a graph model's cell is seeded from (seed, key, i).
MODEL_KEY = {"ba": 0, "ws": 1}


def trial_seed(seed: int, model: str, index: int) -> np.random.SeedSequence:
    """The seed of trial ``index`` of ``model``'s cell in a run seeded ``seed``: any two seeds give
    disjoint trials (seed + i made ``--seed 1`` repeat all but one trial of ``--seed 0``), and so
    do any two models. The two readings, and other ``--observe`` or ``--p-*`` values, share a model's
    trials on purpose (the same graphs and sources: their difference is the protocol's alone).

    >>> trial_seed(0, "ba", 1).entropy == trial_seed(1, "ba", 0).entropy
    False
    """
    return np.random.SeedSequence([seed, MODEL_KEY[model], index])


def trial(model, n, p, k, observed, samples, ours_samples, n_eval, seed, rewire=0.1, refine=1, reading="observed",
          bound_samples=0, search=False, eval_bound=0, only=None, index=0):
    """One trial (``seed``, ``index``: :func:`trial_seed`): {method: (new prevented, final
    reduction, saved/active per world)} and the unblocked ``base``."""
    g_seed, o_seed, s_seed, e_seed = trial_seed(seed, model, index).spawn(4)
    ip, ix = graph_of(model, n, np.random.default_rng(g_seed), rewire)
    inf, tried = observe(ip, ix, p, observed, np.random.default_rng(o_seed))
    if reading == "dava":  # the infected set is given and spreads afresh: nothing is spent
        tried[:] = False
    fit_rng = np.random.default_rng(s_seed)
    live_d = bl.live_edges(ip, samples, p, fit_rng) & ~tried
    live_o = np.concatenate([live_d, bl.live_edges(ip, max(ours_samples - samples, 0), p, fit_rng) & ~tried])
    pe = np.where(tried, 0.0, p)  # DAVA sees the same spent edges as the sampled methods
    make = {"random": lambda: dv.random_block(inf, k, fit_rng), "degree": lambda: bl.degree_block(ip, inf, k),
            "netshield": lambda: bl.netshield_block(ip, ix, inf, k),
            "dava_fast": lambda: dv.dava_block(ip, ix, pe, inf, k, fast=True),
            "dava": lambda: dv.dava_block(ip, ix, pe, inf, k),
            "dominator": lambda: bl.dominator_greedy(ip, ix, live_d, inf, k),
            "ours": lambda: bl.dominator_refine(ip, ix, live_o, inf, bl.dominator_greedy(ip, ix, live_o, inf, k),
                                                rounds=refine)}
    # only: a subset of METHODS to run (the rest are skipped; degree and ours always run, the
    # bound rows score them); the samples and seeds do not depend on it
    need = set(METHODS if only is None else only) | {"degree", "ours"} | ({"netshield"} if search else set())
    picks = {name: make[name]() for name in METHODS if name in need}
    if search:
        starts = [bl.dominator_greedy(ip, ix, live_o, inf, k), picks["degree"], picks["netshield"]]
        picks["ours_swap"] = bl.dominator_search(ip, ix, live_o, inf, starts)
    bnd = _bound(ip, ix, live_o[:bound_samples], inf, k, picks) if bound_samples else None
    if bnd:
        picks["lp"] = bnd["picks"]
    live_e = bl.live_edges(ip, n_eval, p, np.random.default_rng(e_seed)) & ~tried
    base, _ = world_ratio(ip, ix, live_e, inf, np.zeros(n, bool))
    out = {"base": base}
    for name, nodes in picks.items():
        blocked = np.zeros(n, bool)
        blocked[nodes] = True
        reach, per_world = world_ratio(ip, ix, live_e, inf, blocked)
        new0 = base - observed
        out[name] = (1.0 - (reach - observed) / new0 if new0 > 0 else 1.0, 1.0 - reach / base, per_world)
    if eval_bound:
        from benchmarks import blocking_bound as bb

        sizes = [len(live_e[i:i + eval_bound]) for i in range(0, n_eval, eval_bound)]
        lows = [bb.solve(ip, ix, live_e[i:i + eval_bound], inf, k)["bound"] for i in range(0, n_eval, eval_bound)]
        low = float(np.average(lows, weights=sizes))  # mean of batch minima <= minimum of the mean
        out["bound_eval"] = (bb.prevented(low, base, observed), 1.0 - low / base)
    if bnd:
        out.update(bnd["rows"])
        out["bound_info"] = {key: bnd[key] for key in ("integral", "exact", "seconds")}
    return out


def run(models=("ba", "ws"), trials=300, n=2000, k=10, observed=20, samples=200, ours_samples=1000,
        n_eval=1000, seed=0, probs=None, rewire=None, refine=1, log=print, reading="observed", bound_samples=0,
        search=False, eval_bound=0):
    from benchmarks.accuracy import bootstrap_mean

    base_probs, base_rewire = READINGS[reading]
    probs = dict(base_probs, **(probs or {}))
    rewire = base_rewire if rewire is None else rewire
    res = {}
    for model in models:
        t0 = time.time()
        rows = []
        for i in range(trials):
            rows.append(trial(model, n, probs[model], k, observed, samples, ours_samples, n_eval, seed, rewire,
                              refine, reading, bound_samples, search, eval_bound, index=i))
            if (i + 1) % max(trials // 10, 1) == 0:
                progress(f"{model}: {i + 1}/{trials} trials, {time.time() - t0:.0f} s")
        cell = {"reading": reading, "trials": trials, "p": probs[model], "ws_rewire": rewire if model == "ws" else None,
                "final_no_blocking": float(np.mean([r["base"] for r in rows])), "seconds": time.time() - t0}
        extra = (BOUND_ROWS if bound_samples else ()) + (SEARCH_ROWS if search else ()) + (EVAL_ROWS if eval_bound else ())
        for name in METHODS + extra:
            new = np.array([r[name][0] for r in rows])
            tot = np.array([r[name][1] for r in rows])
            cell[name] = {"new": float(new.mean()), "new_ci": bootstrap_mean(new, seed),
                          "final": float(tot.mean()), "final_ci": bootstrap_mean(tot, seed)}
            if len(rows[0][name]) > 2:
                per = np.array([r[name][2] for r in rows])
                cell[name].update(per_world=float(per.mean()), per_world_ci=bootstrap_mean(per, seed))
        for a, b in BOUND_PAIRS:
            if a in rows[0] and b in rows[0]:
                d = np.array([r[a][0] - r[b][0] for r in rows])
                cell[f"{a}_minus_{b}"] = {"mean": float(d.mean()), "ci": bootstrap_mean(d, seed),
                                          "max": float(d.max())}
        if bound_samples:
            info = [r["bound_info"] for r in rows]
            cell["bound_info"] = {"samples": bound_samples, "integral": sum(i["integral"] for i in info),
                                  "exact": sum(i["exact"] for i in info),
                                  "lp_seconds_mean": float(np.mean([i["seconds"] for i in info]))}
        for ref in ("dominator", "dava"):
            d = np.array([r["ours"][0] - r[ref][0] for r in rows])
            cell[f"ours_minus_{ref}"] = {"mean": float(d.mean()), "ci": bootstrap_mean(d, seed)}
        res[model] = cell
        log(table(model, cell, n, k, observed))
    return res


def table(model, cell, n, k, observed) -> str:
    rw = f" rewired {cell['ws_rewire']}" if cell.get("ws_rewire") is not None else ""
    lines = [f"[{cell.get('reading', 'observed')}] {model}{rw} {n} nodes, IC p={cell['p']}, observed at {observed} infected, k={k}: "
             f"{cell['trials']} trials, E[final] without blocking {cell['final_no_blocking']:.1f}",
             f"{'method':<11}{'new infections prevented':<26}{'final infected reduction':<26}saved/active per world"]
    for name in METHODS + BOUND_ROWS + SEARCH_ROWS + EVAL_ROWS:
        c = cell.get(name)
        if c is None:
            continue
        lines.append(f"{name:<11}{c['new']:.3f} [{c['new_ci'][0]:.3f},{c['new_ci'][1]:.3f}]     "
                     f"{c['final']:.3f} [{c['final_ci'][0]:.3f},{c['final_ci'][1]:.3f}]     "
                     + (f"{c['per_world']:.3f} [{c['per_world_ci'][0]:.3f},{c['per_world_ci'][1]:.3f}]"
                        if "per_world" in c else ""))
    for ref in ("dominator", "dava"):
        d = cell.get(f"ours_minus_{ref}")
        if d:
            lines.append(f"ours - {ref} (new): {d['mean']:+.4f} [{d['ci'][0]:+.4f},{d['ci'][1]:+.4f}]")
    for a, b in BOUND_PAIRS:
        d = cell.get(f"{a}_minus_{b}")
        if d:
            lines.append(f"{a} - {b} (new): {d['mean']:+.4f} [{d['ci'][0]:+.4f},{d['ci'][1]:+.4f}] max {d['max']:+.4f}")
    if cell.get("bound_info"):
        b = cell["bound_info"]
        lines.append(f"bound on {b['samples']} fitting worlds: LP integral in {b['integral']}/{cell['trials']} trials, "
                     f"set exact (MIP optimum) in {b['exact']}, LP {b['lp_seconds_mean']:.1f} s per trial")
    return "\n".join(lines)


def add_trial_options(ap, samples: int, ours_samples: int, n_eval: int) -> None:
    """The options of one trial's graph and live-edge samples (``benchmarks.blocking_bound`` runs
    the same trials with smaller sample defaults)."""
    ap.add_argument("--nodes", type=positive_int, default=2000, help="nodes of each contact graph (default 2000)")
    ap.add_argument("--k", type=positive_int, default=10, help="uninfected nodes each method blocks (default 10)")
    ap.add_argument("--observe", type=positive_int, default=20, help="infected count at observation (default 20)")
    ap.add_argument("--samples", type=positive_int, default=samples,
                    help=f"live-edge samples of the dominator greedy (default {samples})")
    ap.add_argument("--ours-samples", type=positive_int, default=ours_samples,
                    help=f"live-edge samples ours picks its set on (default {ours_samples})")
    ap.add_argument("--eval", type=positive_int, default=n_eval,
                    help=f"held-out live-edge samples for the measure (default {n_eval})")


def check_trial_options(ap, a) -> None:
    """One ``ap.error`` line when ``add_trial_options``' sizes leave the cascade no room."""
    if a.k + a.observe >= a.nodes:
        ap.error(f"--k {a.k} and --observe {a.observe} leave no node of --nodes {a.nodes} to spread to")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="rumour bench blocking", description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=names_of(MODELS), default="ba,ws",
                    help=f"comma-separated contact-graph models, of {', '.join(MODELS)} (default: all)")
    ap.add_argument("--trials", type=positive_int, default=300, help="cascades per graph model (default 300)")
    add_trial_options(ap, samples=200, ours_samples=1000, n_eval=1000)
    ap.add_argument("--refine", type=non_negative_int, default=1, help="coordinate-ascent rounds of ours (default 1)")
    ap.add_argument("--reading", choices=sorted(READINGS), default="observed",
                    help="observed: the cascade continues (spent edges stay spent); dava: the infected set spreads "
                         "afresh (default observed)")
    ap.add_argument("--bound", action="store_true", help="add the LP/MIP rows (benchmarks/blocking_bound.py)")
    ap.add_argument("--bound-samples", type=positive_int, default=100, help="fitting worlds of the LP/MIP, the first of ours' (default 100)")
    ap.add_argument("--search", action="store_true", help="add ours_swap (restarts, ascent to convergence)")
    ap.add_argument("--eval-bound", type=non_negative_int, default=0, metavar="B",
                    help="add bound_eval: the LP on the evaluation worlds in batches of B (default 0: not run)")
    ap.add_argument("--p-ba", type=probability, default=None,
                    help="IC edge probability on BA (default: the reading's, 0.12)")
    ap.add_argument("--p-ws", type=probability, default=None,
                    help="IC edge probability on WS (default: the reading's, observed 0.3, dava 0.12)")
    ap.add_argument("--ws-rewire", type=probability, default=None,
                    help="rewiring probability of the WS graph (default: the reading's, observed 0.1, dava 0.3)")
    ap.add_argument("--seed", type=non_negative_int, default=0,
                    help="seed of the run; trial i of a model is seeded from (seed, model, i), so any two seeds "
                         "give disjoint trials (default 0)")
    ap.add_argument("--json", metavar="FILE", type=output_file, default=None,
                    help="also write the results, the command and every option to FILE")
    a = ap.parse_args(argv)
    check_trial_options(ap, a)
    for flag, value in (("--p-ba", a.p_ba), ("--p-ws", a.p_ws)):
        if value == 0:  # no cascade ever reaches --observe: every trial would fail
            ap.error(f"{flag} 0 never spreads; give an edge probability above 0")
    probs = {m: v for m, v in (("ba", a.p_ba), ("ws", a.p_ws)) if v is not None}
    res = run(a.models, a.trials, a.nodes, a.k, a.observe, a.samples, a.ours_samples, a.eval, a.seed,
              probs, a.ws_rewire, a.refine, reading=a.reading, bound_samples=a.bound_samples if a.bound else 0,
              search=a.search, eval_bound=a.eval_bound)
    if a.json:
        config = {**vars(a), "models": ",".join(a.models)}
        command = ["rumour", "bench", "blocking", *(sys.argv[1:] if argv is None else argv)]
        write_json(a.json, {"config": config, "cells": res, "run": run_record(command, config)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
