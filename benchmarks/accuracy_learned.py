"""Development runs for the learned snapshot ranker and NETSLEUTH (issue 3, WS target).

    python -m benchmarks.accuracy_learned dump --seeds 8,9,10,11,12 --trials ws=200,er=100,ba=100,tree3=60 \
        --out benchmarks/out/features_dev.npz [--jobs 2]
    python -m benchmarks.accuracy_learned fit benchmarks/out/features_dev.npz

``dump`` simulates the benchmark's cascades (``benchmarks.accuracy._cascade``, discrete SI, 5,000
nodes, generator seeded by (seed, model, trial) exactly as the benchmark does) on development
seeds only, and stores every candidate's raw features (graph.sources_features) with the true
source. ``fit`` scores each single feature, dmp_rumor (rebuilt from its parts), NETSLEUTH, and
the conditional logit: pooled over all models and per model, each evaluated leave-one-seed-out
(fitted on the other seeds), with paired tests against dmp_rumor; then it prints the weights
fitted on every dev cascade (the ones to store in graph.sources_learned.COEF).
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # a 300x300 eigh is slower threaded on shared cores

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.accuracy_stats import paired_top1  # noqa: E402
from benchmarks.bench_args import (counts_of, input_file, names_of, non_negative_float, output_file,  # noqa: E402
                                   positive_int, seed_list)
from graph.sources_features import FEATURES, candidate_features  # noqa: E402
from graph.sources_learned import fit_conditional_logit  # noqa: E402

MODELS = ("tree3", "er", "ws", "ba")
DMP_WEIGHT = 0.5  # graph.sources_joint.DMP_WEIGHT: dmp_rumor = rumor_avg + 0.5 dmp_t


def _dump_one(job):
    from benchmarks.accuracy import GRAPH_INDEX, _cascade, dmp_lam
    from benchmarks.observe import snapshot

    model, seed, trials = job
    args = argparse.Namespace(nodes=5000, infected=300, si="discrete", beta=0.1)
    xs, src = [], []
    t0 = time.time()
    for trial in range(trials):
        rng = np.random.default_rng([seed, GRAPH_INDEX[model], trial])
        ip, ix, c = _cascade(model, args, rng)
        nodes, x = candidate_features(ip, ix, snapshot(c), dmp_lam(args, model))
        xs.append(x)
        src.append(int(np.searchsorted(nodes, c.source)))
    print(f"  {model} seed {seed}: {trials} cascades, {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    return model, seed, xs, src


def dev_runs(one, seeds, trials, jobs):
    """``one((model, seed, n))`` for every model of ``trials`` (model -> n cascades) and every
    development seed, in ``jobs`` processes; seed 0 (the benchmark's) is refused. Shared by the
    development dumps of the learned rankers (this module, benchmarks/accuracy_ts.py)."""
    if 0 in seeds:
        raise SystemExit("seed 0 is the benchmark's: development runs must not use it")
    work = [(m, s, trials[m]) for m in trials for s in seeds]
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(one, work))
    return [one(w) for w in work]


def split_rows(x, sizes) -> list:
    """The stacked candidate rows ``x`` cut back into one block per cascade of ``sizes``."""
    offs = np.concatenate([[0], np.cumsum(sizes)])
    return [x[offs[i]:offs[i + 1]] for i in range(len(sizes))]


def dev_cli(prog: str, trials: str, features) -> tuple:
    """The ``dump`` / ``fit`` command line of a development script: ``(parser, fit parser)``
    (the caller adds its own ``fit`` options)."""
    ap = argparse.ArgumentParser(prog=prog)
    sub = ap.add_subparsers(dest="cmd", required=True)
    # every value checked here, so a typo is one error line and exit 2 before minutes of dumping
    d = sub.add_parser("dump")
    d.add_argument("--seeds", type=seed_list, default="8,9,10,11,12",
                   help="development seeds, never the benchmark's (default 8,9,10,11,12)")
    d.add_argument("--trials", type=counts_of(MODELS), default=trials, help=f"trials per model (default {trials})")
    d.add_argument("--out", required=True, type=output_file, help="the .npz file of features to write")
    d.add_argument("--jobs", type=positive_int, default=1, help="parallel processes (default 1)")
    f = sub.add_parser("fit")
    f.add_argument("path", type=input_file, help="an .npz file written by dump")
    f.add_argument("--l2", type=non_negative_float, default=1e-3, help="L2 penalty (default 0.001)")
    f.add_argument("--features", type=names_of(features), default=",".join(features),
                   help="comma-separated features to fit on (default: all)")
    return ap, f


def dump_from_args(a, dump) -> None:
    """Run ``dump(seeds, trials, out, jobs)`` with the parsed ``dump`` options."""
    dump(a.seeds, a.trials, a.out, a.jobs)


def dump(seeds, trials, out, jobs):
    done = dev_runs(_dump_one, seeds, trials, jobs)
    x_all, sizes, src, model, seed = [], [], [], [], []
    for m, s, xs, ys in done:
        for x, y in zip(xs, ys):
            x_all.append(x)
            sizes.append(len(x))
            src.append(y)
            model.append(MODELS.index(m))
            seed.append(s)
    np.savez_compressed(out, x=np.concatenate(x_all), sizes=np.array(sizes), src=np.array(src),
                        model=np.array(model), seed=np.array(seed), features=np.array(FEATURES))


def load(path):
    d = np.load(path)
    xs = split_rows(d["x"], d["sizes"])  # an npz member is decompressed on every access: read it once
    return xs, d["src"], d["model"], d["seed"], [str(f) for f in d["features"]]


def top1(scores, y, rng):
    """Hit or miss of argmax with ties broken uniformly at random."""
    best = np.flatnonzero(scores == scores.max())
    return bool(rng.choice(best) == y)


def _hits(xs, ys, score_fn, seed):
    rng = np.random.default_rng(seed)
    return np.array([top1(score_fn(x), y, rng) for x, y in zip(xs, ys)])


def _cv_hits(xs, ys, seeds, groups_fn, cols, l2):
    """Leave-one-seed-out: fit on every other development seed, score the held-out one."""
    hits = np.zeros(len(xs), bool)
    rng = np.random.default_rng(12345)
    from graph.sources_features import standardise

    z = [standardise(x)[:, cols] for x in xs]
    for s in np.unique(seeds):
        train = [(z[i], ys[i]) for i in range(len(xs)) if seeds[i] != s and groups_fn(i)]
        w, _ = fit_conditional_logit(train, l2=l2)
        for i in np.flatnonzero((seeds == s)):
            hits[i] = top1(z[i] @ w, ys[i], rng)
    return hits


def fit(path, l2, feature_set):
    xs, ys, models, seeds, names = load(path)
    cols = [names.index(f) for f in feature_set]
    f = {n: i for i, n in enumerate(names)}
    base = {
        "dmp_rumor": lambda x: x[:, f["rumor_avg"]] + DMP_WEIGHT * x[:, f["dmp_t"]],
        "jordan": lambda x: x[:, f["jordan"]],
        "distance": lambda x: x[:, f["distance"]],
        "dmp": lambda x: x[:, f["dmp"]],
        "rumor_avg": lambda x: x[:, f["rumor_avg"]],
        "netsleuth": lambda x: x[:, f["netsleuth"]],
        "boundary_dist": lambda x: x[:, f["boundary_dist"]],
    }
    hits = {name: _hits(xs, ys, fn, 7) for name, fn in base.items()}
    hits["learned_pooled"] = _cv_hits(xs, ys, seeds, lambda i: True, cols, l2)
    per_model = np.zeros(len(xs), bool)
    for m in np.unique(models):
        idx = np.flatnonzero(models == m)
        per_model[idx] = _cv_hits([xs[i] for i in idx], ys[idx], seeds[idx], lambda i: True, cols, l2)
    hits["learned_per_model"] = per_model
    for m in np.unique(models):
        sel = models == m
        print(f"\n{MODELS[m]}: {sel.sum()} dev cascades (seeds {sorted(set(seeds[sel].tolist()))})")
        for name, h in hits.items():
            line = f"  {name:<18} top-1 {h[sel].mean():.3f}"
            if name != "dmp_rumor":
                p = paired_top1(h[sel], hits["dmp_rumor"][sel], 0)
                line += (f"   vs dmp_rumor {p['diff']:+.3f} [{p['newcombe_ci'][0]:+.3f}, {p['newcombe_ci'][1]:+.3f}]"
                         f" b/c {p['ours_only']}/{p['theirs_only']} p={p['mcnemar_p']:.3g}")
            print(line)
    w, ll = fit_conditional_logit([(_std(xs[i])[:, cols], ys[i]) for i in range(len(xs))], l2=l2)
    print(f"\npooled weights on all {len(xs)} dev cascades (mean log-lik {ll:.4f}):")
    full = np.zeros(len(names))
    full[cols] = w
    print("COEF = np.array([" + ", ".join(f"{v:.4f}" for v in full) + "])")
    for m in np.unique(models):
        idx = np.flatnonzero(models == m)
        wm, _ = fit_conditional_logit([(_std(xs[i])[:, cols], ys[i]) for i in idx], l2=l2)
        print(f"  {MODELS[m]:<6} " + " ".join(f"{names[c]}={v:+.3f}" for c, v in zip(cols, wm)))
    return hits


def _std(x):
    from graph.sources_features import standardise

    return standardise(x)


def main(argv=None):
    ap, _ = dev_cli("python -m benchmarks.accuracy_learned", "ws=200,er=100,ba=100,tree3=60", FEATURES)
    a = ap.parse_args(argv)
    if a.cmd == "dump":
        dump_from_args(a, dump)
    else:
        fit(a.path, a.l2, a.features)


if __name__ == "__main__":
    main()
