"""Origins and parents when the chain is broken: real Weibo/Twitter and synthetic, side by side.

    python -m benchmarks.accuracy_parents [--trials 300] [--nodes 2000] [--limit N] [--json out.json]

1. Full parent links, real cascades: is the top origin the source post's author (and the only one)?
2. Real Weibo, origin post removed, 30% of the other parent links masked (benchmarks/parents_real.py):
   origin top-1, masked-parent accuracy of each rule and ablation, confidence reliability.
3. Synthetic cascades over a known follower graph, 30% masked (benchmarks/parents_synth.py).
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from benchmarks import parents_real, parents_synth, real_cascades
from benchmarks.bench_args import graph_nodes, non_negative_int, output_file, positive_int, probability
from benchmarks.outputs import progress, run_record, write_json


def reliability(rows, edges=(0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 1.0001)):
    """Mean confidence vs empirical accuracy in confidence bins: [(lo, hi, n, conf, acc)]."""
    conf = np.array([c for c, _ in rows])
    ok = np.array([o for _, o in rows], float)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf >= lo) & (conf < hi)
        if m.any():
            out.append((lo, min(hi, 1.0), int(m.sum()), float(conf[m].mean()), float(ok[m].mean())))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="rumour bench parents", description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=positive_int, default=300,
                    help="synthetic trials per graph model, 10 cascades each (default 300)")
    ap.add_argument("--nodes", type=graph_nodes, default=2000,
                    help="nodes of each synthetic follower graph, at least 10 (default 2000)")
    ap.add_argument("--mask", type=probability, default=0.3,
                    help="fraction of the parent links hidden, real and synthetic (default 0.3)")
    ap.add_argument("--seed", type=non_negative_int, default=0,
                    help="seed of the masking and the synthetic trials (default 0)")
    ap.add_argument("--limit", type=positive_int, default=None, help="read only the first N cascades of each dataset (default: every one)")
    ap.add_argument("--skip-synthetic", action="store_true", help="real cascades only")
    ap.add_argument("--weibo", metavar="PATH", default=real_cascades.default_path("weibo-ced"),
                    help="the Weibo CED archive or folder (default: ../shared/data/weibo-ced-dev.tar.gz)")
    ap.add_argument("--twitter", metavar="PATH", default=real_cascades.default_path("twitter15-16"),
                    help="the Twitter15/16 archive or folder (default: ../shared/data/twitter15-16-dev.tar.gz)")
    ap.add_argument("--json", metavar="FILE", type=output_file, default=None,
                    help="also write the results, the command and every option to FILE")
    args = ap.parse_args(argv)
    if args.mask == 1:  # the parent model is fitted on the links left: there would be none
        ap.error("--mask 1 hides every parent link, leaving none to fit the parent model on; give a fraction below 1")
    out = {}
    started = time.perf_counter()
    progress(f"reading {args.weibo} and {args.twitter}")
    weibo = real_cascades.load_or_exit(ap, "weibo-ced", args.weibo, limit=args.limit)
    twitter = real_cascades.load_or_exit(ap, "twitter15-16", args.twitter, limit=args.limit)
    real_cascades.require_halves(ap, weibo, what="Weibo cascades")
    for name, cs in (("weibo", weibo), ("twitter", twitter)):
        r = out[f"full_links_{name}"] = parents_real.full_links(cs)
        print(f"(a) full links, {name}: {r['origin_is_author']}/{r['cascades']} top origin = source author, "
              f"{r['single_origin']}/{r['cascades']} with a single origin")
    progress(f"Weibo with {args.mask:.0%} of the links masked: fitting and evaluating {len(weibo)} cascades")
    r = parents_real.run(weibo, args.mask, args.seed)
    rel = reliability(r.pop("confidence_rows"))
    r["reliability"] = rel
    out["weibo_masked"] = r
    print(f"\n(c)+(b) Weibo, origin post removed, {args.mask:.0%} of the other links masked: "
          f"{r['cascades']} evaluation cascades ({r['train_cascades']} for fitting), {r['masked_links']} masked links")
    (el, eh), (rl, rh) = r["origin_top1_engine_ci"], r["origin_top1_reconstructed_ci"]
    print(f"origin account top-1 [95% Wilson]: engine alone {r['origin_top1_engine']:.4f} [{el:.4f},{eh:.4f}], "
          f"after reconstruction {r['origin_top1_reconstructed']:.4f} [{rl:.4f},{rh:.4f}]")
    print(f"{'rule':<24}masked parents recovered [95% bootstrap over cascades]")
    for k, v in r["parent_accuracy"].items():
        lo, hi = r["parent_accuracy_ci"][k]
        print(f"{k:<24}{v:.4f} [{lo:.4f},{hi:.4f}]")
    d, lo, hi = r["model_minus_all_to_origin"]
    print(f"{'model - all to origin':<24}{d:+.4f} [{lo:+.4f},{hi:+.4f}]")
    print("confidence of the top origin: bin, n, mean confidence, top-1 accuracy")
    for lo, hi, n, c, a in rel:
        print(f"  [{lo:.2f},{hi:.2f})  {n:5d}  {c:.3f}  {a:.3f}")
    if not args.skip_synthetic:
        print(f"\nsynthetic, {args.mask:.0%} masked, {args.trials} trials x 10 cascades, {args.nodes} nodes "
              f"(mean per trial, 95% bootstrap interval)")
        out["synthetic"] = parents_synth.run(trials=args.trials, n=args.nodes, seed=args.seed, log=progress,
                                             mask=args.mask)
        print_synthetic(out["synthetic"])
    print(f"\n{time.perf_counter() - started:.0f} s")
    if args.json:
        out["run"] = run_record(["rumour", "bench", "parents", *(sys.argv[1:] if argv is None else argv)],
                                vars(args))
        write_json(args.json, out)
    return 0


# The synthetic tables' columns: (label, key of parents_synth.run's cells). "model minus best
# rule" compares with the better rule of each trial taken separately, a harder bar than the
# better rule overall: the label says so, and the comparison with each rule is shown beside it.
SYNTHETIC_COLUMNS = (("most recent", "most recent"), ("earliest", "earliest"), ("model", "model"))
SYNTHETIC_DIFFERENCES = (("model - most recent", "model minus most recent"),
                         ("model - earliest", "model minus earliest"),
                         ("model - per-trial best rule", "model minus best rule"))


def print_synthetic(cells: dict) -> None:
    """The synthetic results (parents_synth.run): accuracy per rule, then the model's paired
    differences, each as mean [95% interval]."""
    for columns in (SYNTHETIC_COLUMNS, SYNTHETIC_DIFFERENCES):
        print(f"{'model':<6}" + "".join(f"{label:<28}" for label, _ in columns))
        for m, cell in cells.items():
            print(f"{m:<6}" + "".join(f"{cell[key][0]:+.3f} [{cell[key][1]:+.3f},{cell[key][2]:+.3f}]".ljust(28)
                                      if key.startswith("model minus") else
                                      f"{cell[key][0]:.3f} [{cell[key][1]:.3f},{cell[key][2]:.3f}]".ljust(28)
                                      for _, key in columns))


if __name__ == "__main__":
    sys.exit(main())
