"""Accuracy benchmark for snapshot and sampled-timestamp source detection (issue 3).

    python -m benchmarks.accuracy [--trials 300] [--nodes 5000] [--si discrete|continuous] [--mc] [--json out.json]

For each graph model, every trial simulates one SI cascade (seeded) from a uniform source, and
every method of an observation model sees the same cascade. SI model (default ``discrete``):
ndlib's SIModel as cosasi's StaticNetworkContagion runs it, a synchronous step in which each
susceptible node with k infected neighbours is infected with probability 1-(1-beta)^k, observed
at the end of the first step with at least ``--infected`` infected; ``continuous`` is the
Exp(1)-per-edge SI stopped at exactly ``--infected``.

Observation models: ``snapshot`` = the infected set only; ``timestamps`` = the infected set
plus, for each infected node independently with probability ``--p``, its infection time (clock
origin unknown). Every method ranks infected nodes only; earliest-observed ranks the observers
by time (the other infected nodes follow in random order for the rank measure).
Measures: top-1, top-5, hop error of the top guess, rank of the true source, with 95% intervals
(Wilson for proportions, percentile bootstrap for means), and for our methods against each
baseline the paired top-1 difference (Newcombe and paired-bootstrap intervals, exact McNemar p;
``benchmarks.accuracy_stats``). A cosasi 0.0.4 cell runs its
rumor/Jordan centrality beside ours on small cascades. ``--mc`` adds the snapshot column ``mc``
(``graph.sources_mc.mc_rumor``, soft-margin Monte-Carlo reranking of dmp_rumor) from its own
generator, so every other figure is the same as without it. ``--learned`` likewise adds the
snapshot columns ``netsleuth`` (graph.sources_spectral) and ``learned`` (graph.sources_learned,
the conditional logit with the stored ``COEF``), tie-broken by their own generator.
``--learned-ts`` adds the timestamp column ``learned_ts`` (graph.sources_ts: a conditional logit
with the stored ``COEF_TS`` over the candidates the discrete-SI timing rules leave possible), with
its own tie-breaking generator too, paired against earliest, correlation and joint.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # NETSLEUTH's eigh: threads only contend on shared cores

import numpy as np

from benchmarks.generators import contact_graph, si, si_regular_tree
from benchmarks.generators_cascades import si_discrete
from benchmarks.accuracy_stats import paired_cell, paired_top1, print_paired
from benchmarks.observe import sampled_timestamps, snapshot
from graph.sources import SourceScores, snapshot_scores
from graph.sources_dmp import dmp_scores
from graph.sources_mc import mc_rumor
from graph.sources_learned import learned_scores_from_features
from graph.sources_features import FEATURES, candidate_features
from graph.sources_joint import CORR_WEIGHT, DMP_WEIGHT, INSIDE_WEIGHT, correlation_z
from graph.sources_sis import sis_likelihood
from graph.sources_ts import learned_ts
from graph.sources_time import _observer_distances, earliest_observed, time_distance_correlation

SNAPSHOT_METHODS = ("random", "rumor", "rumor_avg", "jordan", "distance", "dmp", "dmp_rumor")
TIMESTAMP_METHODS = ("random", "earliest", "correlation", "joint")
MC_BASELINES = ("dmp_rumor", "jordan", "rumor", "dmp")  # paired against the Monte-Carlo method (--mc)
LEARNED_METHODS = ("netsleuth", "learned")  # --learned
LEARNED_BASELINES = ("dmp_rumor", "jordan", "rumor", "dmp", "distance")
LEARNED_TS_BASELINES = ("earliest", "correlation", "joint")  # --learned-ts


def wilson(k: int, n: int, z: float = 1.96):
    """95% Wilson score interval of a proportion k/n.

    >>> [round(x, 3) for x in wilson(30, 100)]
    [0.219, 0.396]
    """
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(mid - half, 0.0), min(mid + half, 1.0))


def bootstrap_mean(x, seed, reps: int = 2000):
    x = np.asarray(x, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(reps, len(x)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def _rank_of(ranking, source, rest_pool, rng):
    """1-based rank of source; if the method ranks only some candidates (e.g. observers), the
    remaining pool follows in random order."""
    hit = np.flatnonzero(ranking == source)
    if len(hit):
        return int(hit[0]) + 1
    rest = rest_pool - len(ranking)
    return len(ranking) + 1 + int(rng.integers(0, max(rest, 1)))


def _record(acc, name, ranking, source, hops, rest_pool, rng):
    r = acc.setdefault(name, {"top1": [], "top5": [], "hops": [], "rank": []})
    r["top1"].append(bool(ranking[0] == source))
    r["top5"].append(bool(source in ranking[:5]))
    r["hops"].append(int(hops[ranking[0]]))
    r["rank"].append(_rank_of(ranking, source, rest_pool, rng))


def _summarise(acc, seed):
    out = {}
    for name, r in acc.items():
        n = len(r["top1"])
        row = {"trials": n}
        for key in ("top1", "top5"):
            k = int(np.sum(r[key]))
            row[key] = k / n
            row[key + "_ci"] = wilson(k, n)
        for key in ("hops", "rank"):
            row[key] = float(np.mean(r[key]))
            row[key + "_ci"] = bootstrap_mean(r[key], seed)
        out[name] = row
    return out


def _cascade(model, args, rng):
    if model == "tree3":  # the infinite 3-regular tree, grown as far as the spread reaches
        ip, ix, c = si_regular_tree(3, args.infected, rng)
        return ip, ix, c
    ip, ix = contact_graph(model, args.nodes, rng)
    while True:
        src = int(rng.integers(0, len(ip) - 1))
        if args.si == "discrete":
            c = si_discrete(ip, ix, [src], args.infected, args.beta, rng)
        else:
            c = si(ip, ix, [src], args.infected, rng)
        if len(c.nodes) >= args.infected:
            return ip, ix, c


def dmp_lam(args, model):
    """Per-step transmission probability assumed by DMP: the simulated beta for discrete SI;
    for continuous SI with Exp(1) edges (always on tree3, the theory check), steps of 0.1 time
    units (transmission 1 - e^-0.1)."""
    if args.si == "discrete" and model != "tree3":
        return args.beta
    return 1.0 - math.exp(-0.1)


def run_cell(model, args, log):
    snap, stamp, sizes = {}, {}, []
    mc_cpu = 0.0
    t0 = time.time()
    lam = dmp_lam(args, model)
    methods = SNAPSHOT_METHODS + (("sis",) if args.sis else ())
    for trial in range(args.trials):
        rng = np.random.default_rng([args.seed, GRAPH_INDEX[model], trial])
        ip, ix, c = _cascade(model, args, rng)
        src = c.source
        hops = _observer_distances(ip, ix, np.array([src], np.int32))[0]
        infected = snapshot(c)
        sizes.append(len(infected))
        s = snapshot_scores(ip, ix, infected)
        s["random"] = rng.random(len(infected))
        _, dmp = dmp_scores(ip, ix, infected, lam, (1.0, INSIDE_WEIGHT))
        s["dmp"] = dmp[0]  # Lokhov et al.'s mean-field likelihood
        s["dmp_rumor"] = s["rumor_avg"] + DMP_WEIGHT * dmp[1]  # = graph.sources_dmp.dmp_rumor
        if args.sis:
            s["sis"] = sis_likelihood(ip, ix, infected, rng).scores
        for name in methods:
            ranking = SourceScores(s["nodes"], s[name]).ranking(rng)
            _record(snap, name, ranking, src, hops, len(infected), rng)
        if args.mc:
            # its own generator, so the shared one's draws (ties, timestamp samples) and every other
            # figure stay exactly those of a run without --mc
            mrng = np.random.default_rng([args.seed, GRAPH_INDEX[model], trial, 1015])
            c0 = time.process_time()
            s["mc"] = mc_rumor(ip, ix, infected, lam, mrng, s["dmp_rumor"]).scores
            mc_cpu += time.process_time() - c0
            _record(snap, "mc", SourceScores(s["nodes"], s["mc"]).ranking(mrng), src, hops, len(infected), mrng)
        if args.learned:
            # own generator (ties, rank pool) as for --mc: every other figure is unchanged
            lrng = np.random.default_rng([args.seed, GRAPH_INDEX[model], trial, 2026])
            nodes_l, x = candidate_features(ip, ix, infected, lam)
            s["netsleuth"] = x[:, FEATURES.index("netsleuth")]
            s["learned"] = learned_scores_from_features(x)
            for name in LEARNED_METHODS:
                _record(snap, name, SourceScores(nodes_l, s[name]).ranking(lrng), src, hops, len(infected), lrng)
        # timestamps: the snapshot and a p-sample of infection times (clock origin unknown)
        obs, times = sampled_timestamps(c, args.p, rng)
        z = correlation_z(ip, ix, obs, times, s["nodes"])
        ts = {
            "random": SourceScores(s["nodes"], s["random"]),
            "earliest": earliest_observed(ip, ix, obs, times),
            "correlation": time_distance_correlation(ip, ix, obs, times, candidates=infected),
            "joint": SourceScores(s["nodes"], s["dmp_rumor"] + CORR_WEIGHT * 0.5 * z * np.abs(z)),
        }
        for name in TIMESTAMP_METHODS:
            _record(stamp, name, ts[name].ranking(rng), src, hops, len(infected), rng)
        if args.learned_ts:
            # own generator (ties, rank pool), so every other figure is that of a run without it
            trng = np.random.default_rng([args.seed, GRAPH_INDEX[model], trial, 3033])
            lts = learned_ts(ip, ix, infected, obs, times, lam,
                             snapshot=(s["rumor_avg"], dmp[0], dmp[1], s["jordan"], s["distance"]))
            _record(stamp, "learned_ts", lts.ranking(trng), src, hops, len(infected), trng)
        if (trial + 1) % max(args.trials // 10, 1) == 0:
            log(f"  {model}: {trial + 1}/{args.trials} trials, {time.time() - t0:.0f}s")
    paired = {"snapshot": paired_cell(snap, "snapshot", args.seed),
              "timestamps": paired_cell(stamp, "timestamps", args.seed)}
    if args.mc:
        for base in MC_BASELINES:
            paired["snapshot"][f"mc-vs-{base}"] = paired_top1(snap["mc"]["top1"], snap[base]["top1"], args.seed)
    if args.learned:
        for ours in LEARNED_METHODS:
            for base in LEARNED_BASELINES:
                paired["snapshot"][f"{ours}-vs-{base}"] = paired_top1(snap[ours]["top1"], snap[base]["top1"],
                                                                     args.seed)
    if args.learned_ts:
        for base in LEARNED_TS_BASELINES:
            paired["timestamps"][f"learned_ts-vs-{base}"] = paired_top1(stamp["learned_ts"]["top1"],
                                                                        stamp[base]["top1"], args.seed)
    summary = _summarise(snap, args.seed)
    if args.mc:
        summary["mc"]["cpu_seconds_per_trial"] = mc_cpu / args.trials
    return summary, _summarise(stamp, args.seed), float(np.mean(sizes)), paired


GRAPH_INDEX = {"tree3": 0, "er": 1, "ws": 2, "ba": 3}


def _nx_graph(ptr, idx, nodes=None):
    """networkx graph whose adjacency order is ascending, so its BFS trees equal ours."""
    import networkx as nx

    g = nx.Graph()
    keep = np.arange(len(ptr) - 1) if nodes is None else np.asarray(nodes)
    inside = np.zeros(len(ptr) - 1, dtype=bool)
    inside[keep] = True
    g.add_nodes_from(int(v) for v in keep)
    for u in keep:
        for w in idx[ptr[u]:ptr[u + 1]]:
            if inside[w] and w > u:
                g.add_edge(int(u), int(w))
    return g


def compare_cosasi(ptr, idx, infected):
    """Our rumor (BFS heuristic), averaged rumor and Jordan scores beside cosasi's on one
    snapshot: returns per method (our top-1 set, cosasi top-1, max |log score difference|)."""
    from cosasi import single_source as ss

    s = snapshot_scores(ptr, idx, infected)
    nodes = s["nodes"]
    g_inf = _nx_graph(ptr, idx, nodes)
    out = {}
    pairs = {
        "rumor": lambda: ss.rumor_centrality(g_inf, g_inf, only_roots=True),
        "rumor_avg": lambda: ss.rumor_centrality(g_inf, g_inf),
        "jordan": lambda: ss.jordan_centrality(g_inf, g_inf),
    }
    for name, call in pairs.items():
        res = call()
        theirs = np.array([res.data["scores"][int(v)] for v in nodes], dtype=np.float64)
        ours = s[name]
        if name == "jordan":
            ours_cmp, theirs_cmp = -ours, 1.0 / theirs  # eccentricities
        else:  # cosasi normalises by the max; compare log(score / max)
            ours_cmp, theirs_cmp = ours - ours.max(), np.log(theirs)
        best = set(nodes[ours == ours.max()].tolist())
        out[name] = {
            "ours_best": best,
            "cosasi_best": int(res.rank()[0]),
            "max_abs_diff": float(np.max(np.abs(ours_cmp - theirs_cmp))),
        }
    return out


def run_cosasi_cell(model, args, log):
    try:
        import cosasi  # noqa: F401
    except ImportError:
        log("  cosasi not installed: skipping the side-by-side cell")
        return None
    res = {name: {"agree": 0, "ours_top1": 0, "cosasi_top1": 0, "max_abs_diff": 0.0}
           for name in ("rumor", "rumor_avg", "jordan")}
    # Continuous SI so each snapshot has exactly cosasi_infected nodes: cosasi's rumor centrality
    # divides exact factorials as floats and overflows past about 170 infected, which a
    # discrete-time overshoot on BA reaches. The scores compared do not depend on the SI model.
    sub = argparse.Namespace(**{**vars(args), "infected": args.cosasi_infected, "si": "continuous"})
    for trial in range(args.cosasi_trials):
        rng = np.random.default_rng([args.seed, 100 + GRAPH_INDEX[model], trial])
        ip, ix, c = _cascade(model, sub, rng)
        cmp = compare_cosasi(ip, ix, snapshot(c))
        for name, r in cmp.items():
            row = res[name]
            row["agree"] += r["cosasi_best"] in r["ours_best"]
            row["cosasi_top1"] += r["cosasi_best"] == c.source
            row["ours_top1"] += r["ours_best"] == {c.source}  # a tie counts as a miss for both
            row["max_abs_diff"] = max(row["max_abs_diff"], r["max_abs_diff"])
    n = args.cosasi_trials
    log(f"  {model}: cosasi cell done ({n} cascades of {args.cosasi_infected})")
    return {name: {"trials": n, "top1_agreement": r["agree"] / n, "ours_top1_unique": r["ours_top1"] / n,
                   "cosasi_top1": r["cosasi_top1"] / n, "max_abs_log_score_diff": r["max_abs_diff"]}
            for name, r in res.items()}


def _fmt(row, key, digits=3):
    lo, hi = row[key + "_ci"]
    return f"{row[key]:.{digits}f} [{lo:.{digits}f},{hi:.{digits}f}]"


def print_table(results, out=None):
    out = sys.stdout if out is None else out
    for model, cell in results["cells"].items():
        for obs in ("snapshot", "timestamps"):
            print(f"\n{model} / {obs}  ({results['config']['si']} SI, >= {results['config']['infected']} infected, "
                  f"mean {cell['mean_infected']:.0f}, "
                  f"{cell[obs]['random']['trials']} trials)", file=out)
            print(f"{'method':<15} {'top-1':<22} {'top-5':<22} {'hop error':<22} {'rank of source':<24}", file=out)
            for name, row in cell[obs].items():
                print(f"{name:<15} {_fmt(row, 'top1'):<22} {_fmt(row, 'top5'):<22} {_fmt(row, 'hops', 2):<22} "
                      f"{_fmt(row, 'rank', 1):<24}", file=out)
        if cell.get("cosasi") and "error" not in cell["cosasi"]:
            print(f"\n{model} / cosasi 0.0.4 side by side ({results['config']['cosasi_infected']} infected)", file=out)
            print(f"{'method':<13} {'top-1 agree':<12} {'ours top-1':<11} {'cosasi top-1':<13} max|dlog score|",
                  file=out)
            for name, row in cell["cosasi"].items():
                print(f"{name:<13} {row['top1_agreement']:<12.3f} {row['ours_top1_unique']:<11.3f} "
                      f"{row['cosasi_top1']:<13.3f} {row['max_abs_log_score_diff']:.2e}", file=out)
    print_paired(results, out)


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


def _model_cell(job):
    model, args = job
    _log(f"{model}: {args.trials} trials")
    snap, stamp, size, paired = run_cell(model, args, _log)
    try:
        cos = run_cosasi_cell(model, args, _log) if args.cosasi_trials > 0 else None
    except Exception as exc:  # a failure of the published code must not lose the cell
        _log(f"  {model}: cosasi cell failed: {exc!r}")
        cos = {"error": repr(exc)}
    return {"snapshot": snap, "timestamps": stamp, "paired": paired, "cosasi": cos, "mean_infected": size}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="rumour bench accuracy", description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--infected", type=int, default=300)
    ap.add_argument("--p", type=float, default=0.2, help="timestamp sampling probability")
    ap.add_argument("--si", choices=("continuous", "discrete"), default="discrete",
                    help="discrete: ndlib/cosasi SI (default); continuous: Exp(1) per S-I edge")
    ap.add_argument("--beta", type=float, default=0.1, help="per-step transmission for --si discrete")
    ap.add_argument("--mc", action="store_true",
                    help="also run the soft-margin Monte-Carlo reranker of dmp_rumor (graph.sources_mc.mc_rumor)")
    ap.add_argument("--learned", action="store_true",
                    help="also run NETSLEUTH and the learned conditional-logit ranker (graph.sources_learned)")
    ap.add_argument("--learned-ts", action="store_true",
                    help="also run the learned timestamp ranker (graph.sources_ts.learned_ts)")
    ap.add_argument("--sis", action="store_true", help="also run the SI importance-sampling likelihood (slow)")
    ap.add_argument("--models", default="tree3,er,ws,ba")
    ap.add_argument("--cosasi-trials", type=int, default=30)
    ap.add_argument("--cosasi-infected", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="graph models run in parallel processes")
    ap.add_argument("--json")
    ap.add_argument("--quick", action="store_true", help="30 trials, 5 cosasi cascades: a smoke run")
    args = ap.parse_args(argv)
    if args.quick:
        args.trials, args.cosasi_trials = 30, 5

    results = {"config": {k: v for k, v in vars(args).items() if k != "json"}, "cells": {}}
    start = time.time()
    models = args.models.split(",")
    if args.jobs > 1:
        # one process per graph model; every trial is seeded by (seed, model, trial), so the
        # numbers are the same as a sequential run
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            cells = list(pool.map(_model_cell, [(m, args) for m in models]))
    else:
        cells = [_model_cell((m, args)) for m in models]
    for model, cell in zip(models, cells):
        results["cells"][model] = cell
    results["seconds"] = time.time() - start
    print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
