"""Development runs for the learned timestamp ranker (graph.sources_ts; issue 3, WS timestamps).

    python -m benchmarks.accuracy_ts dump --seeds 8,9,10,11,12 --trials ws=150,er=60,ba=60 \
        --out benchmarks/out/ts_dev.npz [--jobs 2]
    python -m benchmarks.accuracy_ts fit benchmarks/out/ts_dev.npz [--features a,b,...] [--raw a,b,...]

``dump`` simulates exactly the benchmark's timestamp cells (``benchmarks.accuracy``: cascade from
the generator seeded by (seed, model, trial), the random column's draw, then the 0.2 sample of
times from the same generator) on development seeds only, and stores every candidate's raw
features (graph.sources_ts_features) with the true source. ``fit`` scores earliest-observed,
correlation, joint (rebuilt from the features) and the conditional logit over the possible
candidates, pooled over the models and evaluated leave-one-seed-out, with paired tests; then it
prints the weights fitted on every dev cascade (to store in graph.sources_ts.COEF_TS).
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.accuracy_learned import dev_cli, dev_runs, dump_from_args, split_rows, top1  # noqa: E402
from benchmarks.accuracy_stats import paired_top1  # noqa: E402
from graph.sources_ts import design, fit_logit  # noqa: E402
from graph.sources_ts_features import TS_FEATURES, ts_features  # noqa: E402

MODELS = ("tree3", "er", "ws", "ba")


def _dump_one(job):
    from benchmarks.accuracy import GRAPH_INDEX, _cascade, dmp_lam
    from benchmarks.observe import sampled_timestamps, snapshot

    model, seed, trials = job
    args = argparse.Namespace(nodes=5000, infected=300, si="discrete", beta=0.1)
    out = []
    t0 = time.time()
    for trial in range(trials):
        rng = np.random.default_rng([seed, GRAPH_INDEX[model], trial])
        ip, ix, c = _cascade(model, args, rng)
        infected = snapshot(c)
        rng.random(len(infected))  # the benchmark's "random" column: keeps the timestamp sample identical
        obs, times = sampled_timestamps(c, 0.2, rng)
        nodes, x, ok = ts_features(ip, ix, infected, obs, times, dmp_lam(args, model))
        out.append((x, ok, int(np.searchsorted(nodes, c.source)), bool(np.isin(c.source, obs))))
    print(f"  {model} seed {seed}: {trials} cascades, {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    return model, seed, out


def dump(seeds, trials, path, jobs):
    done = dev_runs(_dump_one, seeds, trials, jobs)
    xs, oks, sizes, src, seen, model, seed = [], [], [], [], [], [], []
    for m, s, rows in done:
        for x, ok, y, o in rows:
            xs.append(x)
            oks.append(ok)
            sizes.append(len(x))
            src.append(y)
            seen.append(o)
            model.append(MODELS.index(m))
            seed.append(s)
    np.savez_compressed(path, x=np.concatenate(xs), ok=np.concatenate(oks), sizes=np.array(sizes),
                        src=np.array(src), seen=np.array(seen), model=np.array(model), seed=np.array(seed),
                        features=np.array(TS_FEATURES))


def load(path):
    d = np.load(path)
    xs, oks = split_rows(d["x"], d["sizes"]), split_rows(d["ok"], d["sizes"])
    return xs, oks, d["src"], d["seen"], d["model"], d["seed"], [str(f) for f in d["features"]]


def _groups(xs, oks, ys, idx, names, cols, raw=()):
    """Choice sets over the possible candidates (a cascade whose source was ruled out, which the
    rules make impossible, would have no chosen row and is skipped)."""
    out = []
    for i in idx:
        ok = oks[i]
        if not ok[ys[i]]:
            continue
        z = design(xs[i], ok, names, cols, raw)[ok]
        out.append((z, int(np.sum(ok[:ys[i]]))))
    return out


def _score(x, ok, w, names, cols, raw=()):
    return np.where(ok, design(x, ok, names, cols, raw) @ w, -np.inf)


def fit(path, l2, cols, raw=()):
    xs, oks, ys, seen, models, seeds, names = load(path)
    f = {n: i for i, n in enumerate(names)}
    rng = np.random.default_rng(7)
    hits = {
        "earliest": seen.astype(bool),
        "correlation": np.array([top1(x[:, f["corr_zz"]], y, rng) for x, y in zip(xs, ys)]),
        "joint": np.array([top1(x[:, f["rumor_avg"]] + 0.5 * x[:, f["dmp_t"]] + 2.0 * x[:, f["corr_zz"]], y, rng)
                           for x, y in zip(xs, ys)]),
    }
    ruled = np.array([not ok[y] for ok, y in zip(oks, ys)])
    print(f"source ruled out by the hard rules in {ruled.sum()} of {len(xs)} cascades (must be 0)")
    cv = np.zeros(len(xs), bool)
    per_model = np.zeros(len(xs), bool)
    for s in np.unique(seeds):
        w, _ = fit_logit(_groups(xs, oks, ys, np.flatnonzero(seeds != s), names, cols, raw), l2=l2)
        for i in np.flatnonzero(seeds == s):
            cv[i] = top1(_score(xs[i], oks[i], w, names, cols, raw), ys[i], rng)
        for m in np.unique(models):
            wm, _ = fit_logit(
                _groups(xs, oks, ys, np.flatnonzero((seeds != s) & (models == m)), names, cols, raw), l2=l2)
            for i in np.flatnonzero((seeds == s) & (models == m)):
                per_model[i] = top1(_score(xs[i], oks[i], wm, names, cols, raw), ys[i], rng)
    hits["learned_ts"] = cv
    hits["learned_ts_per_model"] = per_model
    for m in np.unique(models):
        sel = models == m
        print(f"\n{MODELS[m]}: {sel.sum()} dev cascades, source observed in {seen[sel].mean():.3f}")
        for name, h in hits.items():
            line = f"  {name:<22} top-1 {h[sel].mean():.3f}"
            if name.startswith("learned"):
                for base in ("earliest", "joint", "correlation"):
                    p = paired_top1(h[sel], hits[base][sel], 0)
                    line += (f" | -{base} {p['diff']:+.3f} [{p['newcombe_ci'][0]:+.3f},{p['newcombe_ci'][1]:+.3f}]"
                             f" p={p['mcnemar_p']:.2g}")
                line += (f" | src seen {h[sel & seen].mean():.3f}, unseen {h[sel & ~seen].mean():.3f}")
            print(line)
    w, ll = fit_logit(_groups(xs, oks, ys, range(len(xs)), names, cols, raw), l2=l2)
    full = np.zeros(len(names))
    full[[f[c] for c in cols]] = w
    print(f"\npooled weights on all {len(xs)} dev cascades (mean log-lik {ll:.4f}):")
    print("COEF_TS = np.array([" + ", ".join(f"{v:.4f}" for v in full) + "])")
    return hits


def main(argv=None):
    ap, f = dev_cli("python -m benchmarks.accuracy_ts", "ws=150,er=60,ba=60", TS_FEATURES)
    f.add_argument("--raw", default="", help="continuous features left unscaled (comma list)")
    a = ap.parse_args(argv)
    if a.cmd == "dump":
        dump_from_args(a, dump)
    else:
        fit(a.path, a.l2, a.features, tuple(r for r in a.raw.split(",") if r))


if __name__ == "__main__":
    main()
