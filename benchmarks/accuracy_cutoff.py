"""Cut-off at time t on real Weibo rumour cascades: prevented later shares per method.

For every rumour cascade (label ``rumor``) of at least ``--min-shares`` shares: the graph as seen
at t = source post + ``--observe`` is given to each method, which names k accounts among those
that shared by t (the origin's account excluded). A later share is prevented when an account
of the set is on its true path to the source (itself included). Methods: the forecast model
(graph.cutoff_time, fitted on the training half only; ``forecast+history`` adds what each
account drew in other cascades before t), most-reposted-so-far (greedy on the
subtree sizes at t), random, and the best set in hindsight (greedy on the true later shares).

    python -m benchmarks.accuracy_cutoff [--observe 1h] [--k 10] [--json out.json]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from benchmarks import real_cascades
from benchmarks.bench_args import duration, non_negative_int, output_file, positive_int
from benchmarks.outputs import progress, run_record, write_json
from graph import cutoff_time as ct
from streams.trace import parse_duration  # noqa: F401  (re-exported for old callers)


def _view(c, horizon):
    ts = c.ts_ms / 1000.0
    t = ts[0] + horizon
    seen = np.flatnonzero(ts <= t)
    return ts, t, seen


def account_history(cascades) -> dict:
    """For accounts seen in two or more cascades: ``{account: (cascade index, share time)}``
    arrays of every share drawn under the account's events, sorted by time. The forecast may use
    the entries of *other* cascades earlier than t (what a live system would have seen)."""
    from collections import Counter

    seen = Counter(a for c in cascades for a in set(c.accounts))
    rows: dict = {}
    for ci, c in enumerate(cascades):
        acc = c.accounts
        for j in range(1, len(acc)):
            x, on = c.parents[j], set()
            while x >= 0:  # each share counts once per account above it
                a = acc[x]
                if seen[a] > 1 and a not in on:
                    on.add(a)
                    rows.setdefault(a, []).append((ci, c.ts_ms[j]))
                x = c.parents[x]
    out = {}
    for a, r in rows.items():
        arr = np.array(r, np.int64)
        arr = arr[np.argsort(arr[:, 1], kind="stable")]
        out[a] = (arr[:, 0], arr[:, 1])
    return out


def prior_of(history, ci, accounts, t_ms) -> np.ndarray:
    """Shares each account drew in other cascades before ``t_ms`` (0 for unknown accounts)."""
    out = np.zeros(len(accounts))
    for i, a in enumerate(accounts):
        h = history.get(a) if history else None
        if h is None:
            continue
        cis, ts = h
        m = int(np.searchsorted(ts, t_ms, side="left"))
        out[i] = m - int(np.count_nonzero(cis[:m] == ci))
    return out


def rows(c, horizon, prior=None):
    """Forecast features of the events seen at t and log1p of their true future growth."""
    ts, t, seen = _view(c, horizon)
    par = c.parents[seen]  # parents precede children, so indices stay valid
    X = ct.event_features(par, ts[seen], np.ones(len(seen), bool), t, prior)
    fut = np.zeros(len(ts))
    later = ts > t
    for i in range(len(ts) - 1, -1, -1):  # children come after parents in the file order
        p = c.parents[i]
        if p >= 0:
            fut[p] += fut[i] + later[i]
    # The origin's events are never candidates: fitting on them would teach the root's growth.
    keep = np.array([c.accounts[i] != c.accounts[0] for i in seen.tolist()], bool)
    return X[keep], np.log1p(fut[seen])[keep]


def poisson_fit(X, y, sw, ridge=1e-3):
    """Weighted Poisson GLM (log link) by damped Newton/IRLS; the intercept (column 0) is not
    penalised. The forecast must be a mean, since the greedy adds forecasts up; least squares
    on log counts would rank well but sum badly."""
    sw = sw / sw.mean()
    w = np.linalg.lstsq(X, np.log1p(y), rcond=None)[0]
    pen = ridge * len(y) * np.eye(X.shape[1])
    pen[0, 0] = 0.0
    for _ in range(200):
        mu = np.exp(np.clip(X @ w, -30, 30))
        g = X.T @ (sw * (y - mu)) - pen @ w
        h = (X * (sw * mu)[:, None]).T @ X + pen + 1e-6 * np.eye(X.shape[1])
        step = np.linalg.solve(h, g)
        step *= min(1.0, 1.0 / np.abs(step).max())  # damped: a raw Newton step can overshoot exp
        w = w + step
        if np.abs(step).max() < 1e-8:
            break
    return w


def fit(cascades, horizon, priors=None, features=None, ridge=1e-3, per_cascade=True):
    """Event forecast coefficients; ``features`` = column mask (others get 0).

    ``per_cascade``: weight each cascade's rows by 1 / its later shares, so that every cascade
    counts alike, as in the measure (a mean of per-cascade fractions); unweighted, the few
    largest cascades decide the fit."""
    priors = priors or [None] * len(cascades)
    Xs, ys, ws = [], [], []
    for c, p in zip(cascades, priors):
        X1, y1 = rows(c, horizon, p)
        ts, t, _ = _view(c, horizon)
        Xs.append(X1)
        ys.append(y1)
        ws.append(np.full(len(y1), 1.0 / max(int(np.count_nonzero(ts > t)), 1) if per_cascade else 1.0))
    X, y, sw = np.vstack(Xs), np.expm1(np.concatenate(ys)), np.concatenate(ws)
    cols = np.ones(X.shape[1], bool) if features is None else np.asarray(features, bool)
    full = np.zeros(X.shape[1])
    full[cols] = poisson_fit(X[:, cols], y, sw, ridge)
    return full


def account_rows(c, horizon):
    """Account features at t (origin excluded) and the later shares each account's own new
    events after t draw that no event of it seen at t already covers (what suspending it
    prevents beyond its subtrees at t): ``(account indices in first-seen order, rows, y)``."""
    ts, t, seen = _view(c, horizon)
    ids_of: dict = {}
    acct = np.array([ids_of.setdefault(a, len(ids_of)) for a in c.accounts], np.int64)
    ids, F = ct.account_features(acct[seen], ts[seen], np.ones(len(seen), bool), t)
    pos = {a: i for i, a in enumerate(ids.tolist())}
    y = np.zeros(len(ids))
    for x in np.flatnonzero(ts > t).tolist():
        pre, post, z = set(), set(), x
        while z >= 0:
            (pre if ts[z] <= t else post).add(int(acct[z]))
            z = c.parents[z]
        for a in post - pre:
            if a in pos:
                y[pos[a]] += 1
    keep = ids != acct[0]
    return ids[keep], F[keep], y[keep]


def fit_accounts(cascades, horizon, ridge=1e-3):
    """:data:`graph.cutoff_time.ACCT_COEF` from these cascades (each weighted 1 / later shares)."""
    Fs, ys, ws = [], [], []
    for c in cascades:
        _, F, y = account_rows(c, horizon)
        ts, t, _ = _view(c, horizon)
        Fs.append(F)
        ys.append(y)
        ws.append(np.full(len(y), 1.0 / max(int(np.count_nonzero(ts > t)), 1)))
    return poisson_fit(np.vstack(Fs), np.concatenate(ys), np.concatenate(ws), ridge)


def evaluate_one(c, horizon, k, coef, rng, prior=None):
    """Fraction of c's later shares each method's k accounts prevent. ``coef``: one forecast
    coefficient vector, or ``{method name: vector or (vector, account vector)}`` for several
    forecast rows (no account vector: no account term)."""
    models = coef if isinstance(coef, dict) else {"forecast": coef}
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
    pres = np.ones(len(seen), bool)
    picks = {}
    for name, m in models.items():
        w, wa = m if isinstance(m, tuple) else (m, None)
        bonus = ct.account_forecast(acct[seen], ts[seen], pres, t, wa) if wa is not None else None
        value = ct.forecast(par, ts[seen], pres, t, w, prior)
        picks[name] = [a for a, _ in ct.greedy_accounts(par, acct[seen], value, k, [origin], bonus)]
    picks.update({
        "most reposted": [a for a, _ in ct.greedy_accounts(par, acct[seen], size - 1, k, [origin])],
        "random": rng.choice(eligible, size=min(k, len(eligible)), replace=False).tolist()
        if eligible else [],
    })
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


METHODS = ("forecast", "forecast (subtree only)", "forecast+history", "most reposted", "random", "hindsight")
PAIRED = ("most reposted", "forecast (subtree only)")  # paired per-cascade differences
SUBTREE = ct.FEATURE_NAMES[:6]
BASE = SUBTREE + ("leaf", "leaf_log_age_min", "leaf_log_depth")


def run(cascades, horizon=3600.0, k=10, min_shares=50, seed=0, coef=None, log=None):
    """Fit on the training half, evaluate on the other. ``forecast`` is graph.cutoff_time's
    method (the :data:`BASE` event features and the account term); ``forecast (subtree only)``
    the earlier one (six subtree features, no account term); ``forecast+history`` every event
    feature and the account term, the accounts' shares in other cascades before t included (all
    cascades of the file, rumour or not, may supply history; only entries earlier than t are
    read). ``coef``: ``(event vector, account vector)`` to evaluate instead of fitting; ``log``:
    called with a line of progress."""
    rumours = [c for c in cascades if c.label == "rumor" and len(c.event_ids) - 1 >= min_shares]
    train = [c for c in rumours if c.split() == 0]
    test = [c for c in rumours if c.split() == 1]
    hist = account_history(cascades)
    index = {id(c): i for i, c in enumerate(cascades)}

    def prior(c):
        ts, t, seen = _view(c, horizon)
        return prior_of(hist, index[id(c)], [c.accounts[i] for i in seen.tolist()], int(round(t * 1000)))

    if log:
        log(f"fitting on {len(train)} training rumours")
    p_train, p_test = [prior(c) for c in train], [prior(c) for c in test]
    wa = fit_accounts(train, horizon)
    models = {"forecast": (fit(train, horizon, p_train, [f in BASE for f in ct.FEATURE_NAMES]), wa)
              if coef is None else tuple(np.asarray(x) for x in coef),
              "forecast (subtree only)": fit(train, horizon, p_train, [f in SUBTREE for f in ct.FEATURE_NAMES]),
              "forecast+history": (fit(train, horizon, p_train), wa)}
    rng = np.random.default_rng(seed)
    if log:
        log(f"evaluating {len(test)} rumours")
    res = []
    for i, (c, p) in enumerate(zip(test, p_test)):
        r = evaluate_one(c, horizon, k, models, rng, p)
        if r:
            res.append(r)
        if log and (i + 1) % max(len(test) // 10, 1) == 0:
            log(f"  {i + 1}/{len(test)} evaluated")
    out = {"cascades": len(res), "train_cascades": len(train),
           "coef": {m: dict(zip(ct.FEATURE_NAMES, np.round(w[0] if isinstance(w, tuple) else w, 4).tolist()))
                    for m, w in models.items()},
           "account coef": dict(zip(ct.ACCOUNT_FEATURES, np.round(models["forecast"][1], 4).tolist()))}
    for name in METHODS:
        out[name] = mean_ci([r[name] for r in res], seed)
    for other in PAIRED:
        out[f"forecast - {other}"] = mean_ci([r["forecast"] - r[other] for r in res], seed)
    return out


def mean_ci(values, seed) -> tuple:
    """(mean, 95% bootstrap interval low, high) of per-cascade values: a row of the tables here
    and of benchmarks.cutoff_bounds.

    >>> m, lo, hi = mean_ci([0.1, 0.2, 0.3], seed=0)
    >>> round(m, 3), 0.1 <= lo <= m <= hi <= 0.3
    (0.2, True)
    """
    from benchmarks.accuracy import bootstrap_mean

    v = np.asarray(values, np.float64)
    return (float(v.mean()), *bootstrap_mean(v, seed))


def add_cutoff_options(ap: argparse.ArgumentParser) -> None:
    """The options that choose the experiment (t, k, which rumours, seed, how many cascades):
    shared with benchmarks.cutoff_bounds so that its diagnostic runs with the same defaults."""
    ap.add_argument("--observe", type=duration, default="1h",
                    help="the time t after the source post the graph is seen at: 90s, 30m, 1h, 2d (default 1h)")
    ap.add_argument("--k", type=positive_int, default=10, help="accounts each method names (default 10)")
    ap.add_argument("--min-shares", type=non_negative_int, default=50,
                    help="rumour cascades with fewer shares are left out (default 50)")
    ap.add_argument("--seed", type=non_negative_int, default=0, help="seed of the random method and the intervals (default 0)")
    ap.add_argument("--limit", type=positive_int, default=None, help="read only the first N cascades (default: every one)")
    ap.add_argument("--weibo", metavar="PATH", default=real_cascades.default_path("weibo-ced"),
                    help="the Weibo CED archive or folder (default: ../shared/data/weibo-ced-dev.tar.gz)")


def load_halves_or_exit(ap: argparse.ArgumentParser, args) -> list:
    """The cascades of ``--weibo`` (``--limit``), refused with one error line when either half has
    no rumour of ``--min-shares`` shares (nothing to fit or nothing to evaluate)."""
    cascades = real_cascades.load_or_exit(ap, "weibo-ced", args.weibo, limit=args.limit)
    real_cascades.require_halves(
        ap, cascades, lambda c: c.label == "rumor" and len(c.event_ids) - 1 >= args.min_shares,
        f"rumour cascades of >= {args.min_shares} shares", "raise --limit or lower --min-shares")
    return cascades


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="rumour bench cutoff", description=__doc__.split("\n")[0])
    add_cutoff_options(ap)
    ap.add_argument("--json", metavar="FILE", type=output_file, default=None,
                    help="also write the results, the command and every option to FILE")
    args = ap.parse_args(argv)
    progress(f"reading {args.weibo}")
    cascades = load_halves_or_exit(ap, args)
    progress(f"{len(cascades)} cascades read")
    out = run(cascades, parse_duration(args.observe), args.k, args.min_shares, args.seed, log=progress)
    print(f"cut-off at t = {args.observe}, k = {args.k}, Weibo rumour cascades >= {args.min_shares} "
          f"shares: {out['cascades']} evaluated, {out['train_cascades']} for fitting")
    rows = METHODS + tuple(f"forecast - {o}" for o in PAIRED)
    width = max(26, max(map(len, rows)) + 2)  # a label never runs into its figure
    print(f"{'method':<{width}}{'later shares prevented (mean, 95% CI)'}")
    for name in rows:
        m, lo, hi = out[name]
        print(f"{name:<{width}}{m:.3f} [{lo:.3f},{hi:.3f}]")
    for name, w in out["coef"].items():
        print(f"{name} coefficients {w}")
    print(f"account coefficients {out['account coef']}")
    if args.json:
        config = vars(args)
        out["run"] = run_record(["rumour", "bench", "cutoff", *(sys.argv[1:] if argv is None else argv)], config)
        write_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
