"""A learned source ranker for a snapshot plus sampled infection times: a conditional logit over
the candidates that the hard rules of discrete SI leave possible (graph.sources_ts_features).

Score of a possible candidate i: x_i . w, where the continuous features are z-scored within the
cascade (over the possible candidates) and the earliest-observer indicators are kept raw, so the
weights say how much to trust the earliest observer against the timestamp fit and the snapshot
centralities. Impossible candidates (an observer that is not the unique earliest one; an
earliest observer whose time violates t_j - t_e >= d(e, j)) score -inf. :data:`COEF_TS` holds
the weights fitted on development seeds, :data:`FIT_COMMAND` the command that printed them.
"""
from __future__ import annotations

import numpy as np

from graph.sources import SourceScores
from graph.sources_learned import stack_groups
from graph.sources_ts_features import TS_CONTINUOUS, TS_FEATURES, ts_features

# Fitted on development seeds 8-12 only (never the benchmark's seed 0), pooled over ER / WS / BA
# discrete-SI cascades (1,800: WS 1,000, ER 400, BA 400; 5,000 nodes, p = 0.2, ridge 1e-3), in the
# order of TS_FEATURES; see
# benchmarks/RESULTS.md ("Sampled timestamps on WS, session 8"). Produced by (after the ``dump``
# in benchmarks/accuracy_ts.py):
FIT_COMMAND = "python -m benchmarks.accuracy_ts fit benchmarks/out/ts_dev.npz"
COEF_TS = np.array([0.1637, -0.6187, 2.6779, 0.0996, 0.1675, -0.0907, 0.6289, 0.7849, 0.6399, -1.3142, 0.9963,
                    0.7168, -0.4933])
RAW = ()  # every continuous feature z-scored (leaving the log-likelihoods raw was no better on dev)


def design(x, possible, names=TS_FEATURES, cols=TS_FEATURES, raw=None):
    """The ranker's inputs from raw features ``x`` (rows = candidates, columns ``names``): the
    columns ``cols``, continuous ones z-scored over the possible rows (a constant one becomes 0)
    unless named in ``raw`` (default :data:`RAW`: log-likelihood-like scores, whose scale means
    something), indicators raw.

    >>> design(np.array([[1.0, 1.0], [3.0, 0.0], [9.0, 0.0]]), np.array([True, True, False]),
    ...        ("gfit", "is_e"), ("gfit", "is_e"), raw=()).tolist()
    [[-1.0, 1.0], [1.0, 0.0], [7.0, 0.0]]
    """
    raw = RAW if raw is None else raw
    x = np.asarray(x, np.float64)
    ok = np.asarray(possible, bool)
    out = np.empty((len(x), len(cols)))
    for j, c in enumerate(cols):
        v = x[:, names.index(c)]
        if c in TS_CONTINUOUS and c not in raw:
            base = v[ok] if ok.any() else v
            sd = base.std()
            v = (v - base.mean()) / sd if sd > 0 else np.zeros_like(v)
        out[:, j] = v
    return out


def fit_logit(groups, l2: float = 1e-3, iters: int = 100, tol: float = 1e-10):
    """Maximum-likelihood weights of a conditional logit, as graph.sources_learned's
    ``fit_conditional_logit`` but with step halving, so a heavy-tailed feature (one candidate
    many standard deviations out) cannot make a Newton step overshoot. ``groups``: ``(Z, y)``
    pairs. Returns ``(w, mean penalised log-likelihood)``.

    >>> rng = np.random.default_rng(1); true = np.array([1.5, -0.5]); groups = []
    >>> for _ in range(400):
    ...     Z = rng.normal(size=(20, 2)); p = np.exp(Z @ true); groups.append((Z, int(rng.choice(20, p=p / p.sum()))))
    >>> bool(np.all(np.abs(fit_logit(groups)[0] - true) < 0.3))
    True
    """
    z, starts, chosen, gid = stack_groups(groups)
    n, k = len(groups), z.shape[1]

    def value(w):
        v = z @ w
        vmax = np.maximum.reduceat(v, starts)
        e = np.exp(v - vmax[gid])
        tot = np.add.reduceat(e, starts)
        return float(np.mean(chosen @ w - vmax - np.log(tot)) - 0.5 * l2 * w @ w), e / tot[gid]

    w = np.zeros(k)
    ll, p = value(w)
    for _ in range(iters):
        mean = np.add.reduceat(z * p[:, None], starts)
        grad = (chosen - mean).sum(axis=0) / n - l2 * w
        zc = z - mean[gid]
        hess = -(zc.T * p) @ zc / n - l2 * np.eye(k)
        step = np.linalg.solve(hess, -grad)
        t = 1.0
        while True:
            ll_new, p_new = value(w + t * step)
            if ll_new >= ll - 1e-12 or t < 1e-8:
                break
            t *= 0.5
        w = w + t * step
        done = abs(ll_new - ll) < tol
        ll, p = ll_new, p_new
        if done:
            break
    return w, ll


def learned_ts(indptr, indices, infected, observers, times, lam: float = 0.1, coef=None,
               snapshot=None) -> SourceScores:
    """The learned timestamp ranker: :data:`COEF_TS` (or ``coef``, in the order of TS_FEATURES)
    on the features of graph.sources_ts_features; ``lam`` is the per-step transmission DMP
    assumes, ``snapshot`` optional precomputed snapshot scores (see ``ts_features``).

    >>> ip = np.array([0, 1, 3, 5, 7, 9, 11, 12], np.int32)
    >>> ix = np.array([1, 0, 2, 1, 3, 2, 4, 3, 5, 4, 6, 5], np.int32)
    >>> w = np.zeros(len(TS_FEATURES)); w[TS_FEATURES.index("is_e")] = 1.0
    >>> learned_ts(ip, ix, [1, 2, 3, 4, 5], [2, 4], [3.0, 9.0], lam=0.5, coef=w).best()  # trust e
    2
    """
    w = COEF_TS if coef is None else np.asarray(coef, np.float64)
    nodes, x, ok = ts_features(indptr, indices, infected, observers, times, lam, snapshot)
    return SourceScores(nodes, np.where(ok, design(x, ok) @ w, -np.inf))
