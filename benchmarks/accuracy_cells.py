"""One cell of the accuracy benchmark (``benchmarks.accuracy``): for one graph model, every
trial's seeded SI cascade, every method's ranking of its infected nodes, and the per-method
summary (top-1, top-5, hop error, rank of the source, with 95% intervals) and paired top-1
differences. The command line and the printed tables are in ``benchmarks.accuracy``.
"""
from __future__ import annotations

import math
import time

import numpy as np

from benchmarks.generators import contact_graph, si, si_regular_tree
from benchmarks.generators_cascades import si_discrete
from benchmarks.accuracy_stats import paired_cell, paired_top1, wilson
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


def bootstrap_mean(x, seed, reps: int = 2000):
    """Percentile 95% bootstrap interval of the mean of ``x`` (resampling its entries).

    >>> [round(v, 2) for v in bootstrap_mean([0.0, 1.0] * 50, seed=0)]
    [0.4, 0.6]
    """
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
    # A source in a small component cannot reach --infected: draw another. Bounded, so a graph
    # that no source can fill (a bad size slipped past the command line) ends in one error line.
    for _ in range(SOURCE_DRAWS):
        src = int(rng.integers(0, len(ip) - 1))
        if args.si == "discrete":
            c = si_discrete(ip, ix, [src], args.infected, args.beta, rng)
        else:
            c = si(ip, ix, [src], args.infected, rng)
        if len(c.nodes) >= args.infected:
            return ip, ix, c
    raise ValueError(f"no cascade on the {model} graph of {args.nodes} nodes reached {args.infected} infected "
                     f"from {SOURCE_DRAWS} sources: lower --infected or raise --nodes")


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
SOURCE_DRAWS = 1000  # sources tried per trial before a cascade is declared impossible
