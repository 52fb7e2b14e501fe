"""Cut-off at time t on real Weibo rumour cascades: prevented later shares per method.

For every rumour cascade (label ``rumor``) of at least ``--min-shares`` shares: the graph as seen
at t = source post + ``--observe`` is given to each method, which names k accounts among those
that shared by t (the origin's account excluded). A later share is prevented when an account
of the set is on its true path to the source (itself included). Methods: the forecast model
(graph.cutoff_time, fitted on the training half only), most-reposted-so-far (greedy on the
subtree sizes at t), random, and the best set in hindsight (greedy on the true later shares).

    python -m benchmarks.accuracy_cutoff [--observe 1h] [--k 10] [--json out.json] [--fit]
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from benchmarks import real_cascades
from graph import cutoff_time as ct
from streams.trace import parse_duration  # noqa: F401  (re-exported for old callers)


def _view(c, horizon):
    ts = c.ts_ms / 1000.0
    t = ts[0] + horizon
    seen = np.flatnonzero(ts <= t)
    return ts, t, seen


def rows(c, horizon):
    """Forecast features of the events seen at t and log1p of their true future growth."""
    ts, t, seen = _view(c, horizon)
    par = c.parents[seen]  # parents precede children, so indices stay valid
    X = ct.event_features(par, ts[seen], np.ones(len(seen), bool), t)
    fut = np.zeros(len(ts))
    later = ts > t
    for i in range(len(ts) - 1, -1, -1):  # children come after parents in the file order
        p = c.parents[i]
        if p >= 0:
            fut[p] += fut[i] + later[i]
    # The origin's events are never candidates: fitting on them would teach the root's growth.
    keep = np.array([c.accounts[i] != c.accounts[0] for i in seen.tolist()], bool)
    return X[keep], np.log1p(fut[seen])[keep]


def fit(cascades, horizon):
    Xs, ys = zip(*(rows(c, horizon) for c in cascades))
    X, y = np.vstack(Xs), np.expm1(np.concatenate(ys))
    # Poisson regression (log link) by Newton: the forecast must be a mean, since the greedy
    # adds forecasts up; least squares on log counts would rank well but sum badly.
    w = np.linalg.lstsq(X, np.log1p(y), rcond=None)[0]
    for _ in range(50):
        mu = np.exp(np.clip(X @ w, -30, 30))
        g = X.T @ (y - mu)
        h = (X * mu[:, None]).T @ X + 1e-6 * np.eye(X.shape[1])
        step = np.linalg.solve(h, g)
        w = w + step
        if np.abs(step).max() < 1e-8:
            break
    return w


def evaluate_one(c, horizon, k, coef, rng):
    ts, t, seen = _view(c, horizon)
    later = np.flatnonzero(ts > t)
    if not len(later):
        return None
    acct_ids = {}
    acct = np.array([acct_ids.setdefault(a, len(acct_ids)) for a in c.accounts], np.int64)
    origin = acct[0]
    par = c.parents[seen]
    eligible = sorted(set(acct[seen].tolist()) - {origin})
    # accounts on each later share's path to the source (itself included), eligible only
    elig = set(eligible)
    paths = []
    for x in later.tolist():
        on, y = set(), x
        while y >= 0:
            if acct[y] in elig:
                on.add(int(acct[y]))
            y = c.parents[y]
        paths.append(on)

    def prevented(S):
        S = set(S)
        return sum(1 for p in paths if p & S) / len(later)

    size = np.expm1(ct.event_features(par, ts[seen], np.ones(len(seen), bool), t)[:, 1])
    picks = {
        "forecast": [a for a, _ in ct.greedy_accounts(par, acct[seen], ct.forecast(
            par, ts[seen], np.ones(len(seen), bool), t, coef), k, [origin])],
        "most reposted": [a for a, _ in ct.greedy_accounts(par, acct[seen], size - 1, k, [origin])],
        "random": rng.choice(eligible, size=min(k, len(eligible)), replace=False).tolist()
        if eligible else [],
    }
    best, covered = [], set()
    for _ in range(k):  # hindsight: greedy max coverage of the true later shares
        gains = {}
        for j, p in enumerate(paths):
            if j in covered:
                continue
            for a in p:
                gains[a] = gains.get(a, 0) + 1
        if not gains:
            break
        a = max(gains, key=lambda x: (gains[x], -x))
        best.append(a)
        covered.update(j for j, p in enumerate(paths) if a in p)
    picks["hindsight"] = best
    return {name: prevented(S) for name, S in picks.items()}


def run(cascades, horizon=3600.0, k=10, min_shares=50, seed=0, coef=None):
    from benchmarks.accuracy import bootstrap_mean

    rumours = [c for c in cascades if c.label == "rumor" and len(c.event_ids) - 1 >= min_shares]
    train = [c for c in rumours if c.split() == 0]
    test = [c for c in rumours if c.split() == 1]
    if coef is None:
        coef = fit(train, horizon)
    rng = np.random.default_rng(seed)
    res = [r for r in (evaluate_one(c, horizon, k, coef, rng) for c in test) if r]
    out = {"cascades": len(res), "train_cascades": len(train), "coef": np.round(coef, 4).tolist()}
    for name in ("forecast", "most reposted", "random", "hindsight"):
        v = np.array([r[name] for r in res])
        out[name] = (float(v.mean()), *bootstrap_mean(v, seed))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.accuracy_cutoff", description=__doc__.split("\n")[0])
    ap.add_argument("--observe", default="1h")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--min-shares", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="read only the first N cascades")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    cascades = real_cascades.load("weibo-ced", limit=args.limit)
    out = run(cascades, parse_duration(args.observe), args.k, args.min_shares, args.seed)
    print(f"cut-off at t = {args.observe}, k = {args.k}, Weibo rumour cascades >= {args.min_shares} "
          f"shares: {out['cascades']} evaluated, {out['train_cascades']} for fitting")
    print(f"{'method':<15}{'later shares prevented (mean, 95% CI)'}")
    for name in ("forecast", "most reposted", "random", "hindsight"):
        m, lo, hi = out[name]
        print(f"{name:<15}{m:.3f} [{lo:.3f},{hi:.3f}]")
    print(f"forecast coefficients {dict(zip(ct.FEATURE_NAMES, out['coef']))}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
