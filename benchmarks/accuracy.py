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

This module is the command line and the printed tables; a cell's trials and methods are in
``benchmarks.accuracy_cells``, the cosasi side-by-side cell in ``benchmarks.accuracy_cosasi``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # NETSLEUTH's eigh: threads only contend on shared cores

from benchmarks.accuracy_stats import print_paired
from benchmarks.bench_args import names_of, non_negative_int, output_file, positive_int, probability
from benchmarks.accuracy_cells import (GRAPH_INDEX, LEARNED_BASELINES, LEARNED_METHODS,
                                       LEARNED_TS_BASELINES, MC_BASELINES, SNAPSHOT_METHODS,
                                       TIMESTAMP_METHODS, _cascade, bootstrap_mean, dmp_lam,
                                       run_cell, wilson)
from benchmarks.accuracy_cosasi import compare_cosasi, run_cosasi_cell
from benchmarks.generators import MIN_NODES
from benchmarks.outputs import run_record, write_json

# The public API; it names what moved to benchmarks.accuracy_cells and benchmarks.accuracy_cosasi
# (trial runs, cosasi cell) as re-exported, for the callers that import it from here.
__all__ = ["main", "print_table", "run_cell", "run_cosasi_cell", "compare_cosasi", "wilson",
           "bootstrap_mean", "dmp_lam", "_cascade", "GRAPH_INDEX", "SNAPSHOT_METHODS",
           "TIMESTAMP_METHODS", "MC_BASELINES", "LEARNED_METHODS", "LEARNED_BASELINES",
           "LEARNED_TS_BASELINES"]


def _fmt(row, key, digits=3):
    lo, hi = row[key + "_ci"]
    return f"{row[key]:.{digits}f} [{lo:.{digits}f},{hi:.{digits}f}]"


def print_table(results, out=None):
    out = sys.stdout if out is None else out
    for model, cell in results["cells"].items():
        for obs in ("snapshot", "timestamps"):
            print(f"\n{model} / {obs}  ({cell.get('si', results['config']['si'])} SI, "
                  f"{'' if cell.get('si') == 'continuous' else '>= '}{results['config']['infected']} infected, "
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
    # the SI model this cell's cascades ran: tree3 is always continuous SI (the theory check)
    si = "continuous" if model == "tree3" else args.si
    return {"snapshot": snap, "timestamps": stamp, "paired": paired, "cosasi": cos, "mean_infected": size,
            "si": si}


def check_sizes(ap, args) -> None:
    """Refuse (one ``ap.error`` line, exit 2) sizes no contact graph can give: a cascade of
    ``--infected`` (or ``--cosasi-infected``) needs more nodes than that, or the trial loop would
    draw sources for ever. tree3 grows as far as the spread reaches, so only er, ws and ba count."""
    if not any(m != "tree3" for m in args.models):
        return
    if args.si == "discrete" and args.beta == 0:  # nothing ever spreads: the first trial would never end
        ap.error("--beta 0 never infects anyone; give a transmission probability above 0")
    if args.nodes < MIN_NODES:
        ap.error(f"--nodes {args.nodes} is too small for the er, ws and ba graphs (at least {MIN_NODES})")
    wanted = [("--infected", args.infected)]
    if args.cosasi_trials > 0:
        wanted.append(("--cosasi-infected", args.cosasi_infected))
    for flag, infected in wanted:
        if infected >= args.nodes:
            ap.error(f"{flag} {infected} needs a graph larger than that: --nodes is {args.nodes}")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="rumour bench accuracy",
                                 description="Accuracy of snapshot and sampled-timestamp source "
                                             "detection against rumor/Jordan centrality and cosasi.")
    ap.add_argument("--trials", type=positive_int, default=None, help="cascades per graph model (default 300)")
    ap.add_argument("--nodes", type=positive_int, default=5000,
                    help="nodes of each contact graph (er, ws, ba; default 5000)")
    ap.add_argument("--infected", type=positive_int, default=300,
                    help="infected nodes a cascade is observed with (at least, for --si discrete; default 300)")
    ap.add_argument("--p", type=probability, default=0.2,
                    help="probability that an infected node's infection time is observed (default 0.2)")
    ap.add_argument("--si", choices=("continuous", "discrete"), default="discrete",
                    help="discrete: ndlib/cosasi SI (default); continuous: Exp(1) per S-I edge")
    ap.add_argument("--beta", type=probability, default=0.1,
                    help="per-step transmission probability for --si discrete (default 0.1)")
    ap.add_argument("--mc", action="store_true",
                    help="also run the soft-margin Monte-Carlo reranker of dmp_rumor (graph.sources_mc.mc_rumor)")
    ap.add_argument("--learned", action="store_true",
                    help="also run NETSLEUTH and the learned conditional-logit ranker (graph.sources_learned)")
    ap.add_argument("--learned-ts", action="store_true",
                    help="also run the learned timestamp ranker (graph.sources_ts.learned_ts)")
    ap.add_argument("--sis", action="store_true", help="also run the SI importance-sampling likelihood (slow)")
    ap.add_argument("--models", type=names_of(GRAPH_INDEX), default="tree3,er,ws,ba",
                    help=f"comma-separated graph models, of {', '.join(GRAPH_INDEX)} (default: all)")
    ap.add_argument("--cosasi-trials", type=non_negative_int, default=None,
                    help="cascades of the cosasi side-by-side cell (default 30; 0: skip it)")
    ap.add_argument("--cosasi-infected", type=positive_int, default=100,
                    help="infected nodes of each cosasi cascade (default 100)")
    ap.add_argument("--seed", type=non_negative_int, default=0, help="seed of every trial's generator (default 0)")
    ap.add_argument("--jobs", type=positive_int, default=1,
                    help="graph models run in parallel processes (default 1; same numbers as 1)")
    ap.add_argument("--json", metavar="FILE", type=output_file, help="also write the results to FILE as JSON")
    ap.add_argument("--quick", action="store_true",
                    help="30 trials, 5 cosasi cascades: a smoke run (--trials, --cosasi-trials given beside it win)")
    args = ap.parse_args(argv)
    # --quick changes the defaults only: a count given on the command line is what runs
    if args.trials is None:
        args.trials = 30 if args.quick else 300
    if args.cosasi_trials is None:
        args.cosasi_trials = 5 if args.quick else 30
    check_sizes(ap, args)

    # --models as typed (a string), as the saved files before it was checked had it
    results = {"config": {**{k: v for k, v in vars(args).items() if k != "json"}, "models": ",".join(args.models)},
               "cells": {}}
    start = time.time()
    models = args.models
    # Said first, as bench trace does: in a fresh checkout the first trial compiles the numba
    # kernels for about 25 s with nothing else printed.
    _log("accuracy: the first trial loads the numba kernels from their cache, or compiles them "
         "(about half a minute in a fresh checkout) ...")
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
        results["run"] = run_record(["rumour", "bench", "accuracy", *(sys.argv[1:] if argv is None else argv)],
                                    results["config"])
        write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
