"""Where the cut-off's headroom is: the greedy fed partly with the true future (diagnostic only).

On the evaluation half (models fitted on the training half, as in benchmarks.accuracy_cutoff),
each row replaces part of the forecast by what really happened after t:

- ``oracle events``: every event's true later subtree growth (no account term);
- ``oracle events + accounts``: and each account's true later shares via its own new events;
- ``oracle inner, model leaves``: true growth for events with a child at t, the forecast for
  events that are still leaves at t;
- ``model inner, oracle leaves``: the other way round;
- ``oracle inner, leaves = mean``: true growth for inner events, the training half's mean
  leaf growth for every leaf.

If ``oracle inner, model leaves`` is close to ``forecast``, a better forecast of the events that
already have reposts cannot help; the headroom is in guessing which leaves will take off.

``--cv K`` instead: K-fold cross-validation inside the training half only (folds by a hash of
the rumour id and the seed), the check by which the forecast's features were chosen before the
evaluation half was scored.

    python -m benchmarks.cutoff_bounds [--observe 1h] [--k 10] [--cv 5]
"""
from __future__ import annotations

import argparse
import hashlib
import sys

import numpy as np

from benchmarks import accuracy_cutoff as ac
from benchmarks.bench_args import non_negative_int
from graph import cutoff_time as ct
from streams.trace import parse_duration


def _truth(c, horizon):
    """Seen-event arrays, later-share paths (eligible accounts on each) and true later growth."""
    ts, t, seen = ac._view(c, horizon)
    ids: dict = {}
    acct = np.array([ids.setdefault(a, len(ids)) for a in c.accounts], np.int64)
    later = ts > t
    fut = np.zeros(len(ts))
    for i in range(len(ts) - 1, -1, -1):  # parents precede children
        if c.parents[i] >= 0:
            fut[c.parents[i]] += fut[i] + later[i]
    elig = set(acct[seen].tolist()) - {acct[0]}
    paths = []
    for x in np.flatnonzero(later).tolist():
        on, y = set(), x
        while y >= 0:
            if acct[y] in elig:
                on.add(int(acct[y]))
            y = c.parents[y]
        paths.append(on)
    par = c.parents[seen]
    leaf = np.ones(len(seen), bool)
    leaf[par[par >= 0]] = False
    return ts[seen], t, acct[seen], par, fut[seen], leaf, paths


def run(cascades, horizon=3600.0, k=10, min_shares=50, seed=0):
    rumours = [c for c in cascades if c.label == "rumor" and len(c.event_ids) - 1 >= min_shares]
    train = [c for c in rumours if c.split() == 0]
    test = [c for c in rumours if c.split() == 1]
    w = ac.fit(train, horizon, None, [f in ac.BASE for f in ct.FEATURE_NAMES])
    wa = ac.fit_accounts(train, horizon)
    lf = []
    for c in train:
        ts, t, acct, par, fut, leaf, _ = _truth(c, horizon)
        lf.extend(fut[leaf & (acct != acct[0])].tolist())
    leaf_mean = float(np.mean(lf))
    res = []
    for c in test:
        ts, t, acct, par, fut, leaf, paths = _truth(c, horizon)
        if not paths:
            continue
        pres = np.ones(len(par), bool)
        model = ct.forecast(par, ts, pres, t, w)
        bonus = ct.account_forecast(acct, ts, pres, t, wa)
        ids, _, y = ac.account_rows(c, horizon)
        true_bonus = dict(zip(ids.tolist(), y.tolist()))

        def score(value, b=None):
            S = {a for a, _ in ct.greedy_accounts(par, acct, value, k, [acct[0]], b)}
            return sum(1 for p in paths if p & S) / len(paths)

        res.append({"forecast": score(model, bonus), "oracle events": score(fut),
                    "oracle events + accounts": score(fut, true_bonus),
                    "oracle inner, model leaves": score(np.where(leaf, model, fut)),
                    "model inner, oracle leaves": score(np.where(leaf, fut, model)),
                    "oracle inner, leaves = mean": score(np.where(leaf, leaf_mean, fut))})
    out = {"cascades": len(res), "leaf mean": leaf_mean}
    for name in res[0]:
        out[name] = ac.mean_ci([r[name] for r in res], seed)
    return out


def fold_of(rumour_id: str, folds: int, seed: int) -> int:
    """Fold of a cascade: a hash of the seed and the rumour id (fixed, no global randomness)."""
    return int.from_bytes(hashlib.sha1(f"{seed}:{rumour_id}".encode()).digest()[:4], "big") % folds


def cross_validate(cascades, horizon=3600.0, k=10, min_shares=50, folds=5, seed=0):
    """Mean prevented fraction of each method over the training half's folds (each fold scored
    by models fitted on the others), and paired differences against the subtree-only forecast."""
    train = [c for c in cascades if c.label == "rumor" and len(c.event_ids) - 1 >= min_shares
             and c.split() == 0]
    fold = [fold_of(c.rumour_id, folds, seed) for c in train]
    rng = np.random.default_rng(seed)
    res = []
    for f in range(folds):
        fit_on = [c for c, g in zip(train, fold) if g != f]
        models = {"forecast": (ac.fit(fit_on, horizon, None, [x in ac.BASE for x in ct.FEATURE_NAMES]),
                               ac.fit_accounts(fit_on, horizon)),
                  "forecast (subtree only)": ac.fit(fit_on, horizon, None, [x in ac.SUBTREE for x in ct.FEATURE_NAMES])}
        res += [r for c, g in zip(train, fold) if g == f
                if (r := ac.evaluate_one(c, horizon, k, models, rng)) is not None]
    out = {"cascades": len(res)}
    for name in ("forecast", "forecast (subtree only)", "most reposted", "hindsight"):
        out[name] = ac.mean_ci([r[name] for r in res], seed)
    out["forecast - subtree only"] = ac.mean_ci([r["forecast"] - r["forecast (subtree only)"] for r in res],
                                                seed)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.cutoff_bounds", description=__doc__.split("\n")[0])
    ac.add_cutoff_options(ap)
    ap.add_argument("--cv", type=non_negative_int, default=0,
                    help="K-fold cross-validation inside the training half (default 0: the oracle bounds)")
    args = ap.parse_args(argv)
    if args.cv == 1:  # one fold: every model would be fitted on no cascade at all
        ap.error("--cv 1 leaves nothing to fit on: give 0 (the oracle bounds) or at least 2 folds")
    cascades = ac.load_halves_or_exit(ap, args)
    if args.cv:
        out = cross_validate(cascades, parse_duration(args.observe), args.k, args.min_shares, args.cv, args.seed)
        print(f"cut-off at t = {args.observe}, k = {args.k}: {args.cv}-fold CV in the training half, "
              f"{out['cascades']} cascades")
    else:
        out = run(cascades, parse_duration(args.observe), args.k, args.min_shares, args.seed)
        print(f"cut-off headroom at t = {args.observe}, k = {args.k}: {out['cascades']} evaluation cascades, "
              f"training mean leaf growth {out['leaf mean']:.3f}")
    for name, v in out.items():
        if isinstance(v, tuple):
            print(f"{name:<30}{v[0]:.3f} [{v[1]:.3f},{v[2]:.3f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
