"""A learned snapshot source ranker: a conditional logit over each cascade's candidates.

For one cascade with candidates i (the infected nodes) and per-cascade standardised features
z_i (graph.sources_features), P(source = i) = exp(z_i . w) / sum_j exp(z_j . w). The weights w
are fitted by maximum likelihood (Newton steps with a small ridge) on simulated development
cascades whose source is known; :data:`COEF` holds the fitted weights, :data:`FIT_COMMAND` the
command that produced them. The score of a candidate is z_i . w (a log-odds up to a constant).
"""
from __future__ import annotations

import numpy as np

from graph.sources import SourceScores
from graph.sources_features import candidate_features, standardise

# Fitted on development seeds 8-12 only (never the benchmark's seed 0), pooled over tree3 / ER /
# WS / BA (2,300 cascades, discrete SI, 5,000 nodes, ridge 1e-3), in the order of FEATURES; see
# benchmarks/RESULTS.md. Produced by (after the ``dump`` in benchmarks/accuracy_learned.py):
FIT_COMMAND = "python -m benchmarks.accuracy_learned fit benchmarks/out/features_dev.npz"
COEF = np.array([0.1928, -0.3091, 0.1809, 1.7498, -0.0644, 2.4975, 0.2385, 0.9240, 0.2028, -1.1271, -0.0180,
                 -0.8602])


def _softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()


def stack_groups(groups):
    """``(Z, y)`` pairs (one candidate matrix and the chosen row per group) stacked for the
    vectorised conditional-logit fits: ``(z, starts, chosen, gid)`` = all rows, each group's
    first row, the chosen rows, the group of every row.

    >>> z, starts, chosen, gid = stack_groups([(np.eye(2), 1), (np.ones((3, 2)), 0)])
    >>> starts.tolist(), chosen.tolist(), gid.tolist()
    ([0, 2], [[0.0, 1.0], [1.0, 1.0]], [0, 0, 1, 1, 1])
    """
    z = np.concatenate([g[0] for g in groups])
    sizes = np.array([len(g[0]) for g in groups])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    chosen = z[starts + np.array([g[1] for g in groups])]
    return z, starts, chosen, np.repeat(np.arange(len(groups)), sizes)


def fit_conditional_logit(groups, l2: float = 1e-3, iters: int = 50, tol: float = 1e-9):
    """Maximum-likelihood weights of a conditional logit. ``groups`` is a sequence of
    ``(Z, y)``: Z the (candidates x features) matrix of one choice set, y the index of the chosen
    row. Newton's method on the mean log-likelihood minus ``l2/2 |w|^2`` (concave, so it converges
    from zero). Returns ``(w, mean log-likelihood)``.

    >>> rng = np.random.default_rng(1)
    >>> true = np.array([1.5, -0.5])
    >>> groups = []
    >>> for _ in range(400):
    ...     Z = rng.normal(size=(20, 2))
    ...     groups.append((Z, int(rng.choice(20, p=_softmax(Z @ true)))))
    >>> w, _ = fit_conditional_logit(groups)
    >>> bool(np.all(np.abs(w - true) < 0.3))
    True
    """
    z, starts, chosen, gid = stack_groups(groups)
    k = z.shape[1]
    n = len(groups)
    w = np.zeros(k)
    ll = -np.inf
    for _ in range(iters):
        v = z @ w
        vmax = np.maximum.reduceat(v, starts)
        e = np.exp(v - vmax[gid])
        tot = np.add.reduceat(e, starts)
        p = e / tot[gid]
        mean = np.add.reduceat(z * p[:, None], starts)  # per-group expected features
        ll_new = float(np.mean(chosen @ w - vmax - np.log(tot)) - 0.5 * l2 * w @ w)
        grad = (chosen - mean).sum(axis=0) / n - l2 * w
        zc = z - mean[gid]
        hess = -(zc.T * p) @ zc / n - l2 * np.eye(k)
        w = w + np.linalg.solve(hess, -grad)
        if abs(ll_new - ll) < tol:
            break
        ll = ll_new
    return w, ll_new


def learned_scores_from_features(x, coef=None):
    """Scores z . w of a cascade's raw feature matrix (rows = candidates).

    >>> learned_scores_from_features(np.array([[1.0, 0.0], [3.0, 0.0]]), np.array([1.0, 5.0])).tolist()
    [-1.0, 1.0]
    """
    w = COEF if coef is None else np.asarray(coef, np.float64)
    return standardise(x) @ w


def learned_snapshot(indptr, indices, infected, lam: float = 0.1, coef=None) -> SourceScores:
    """The learned ranker on a snapshot: per-candidate features, standardised within the
    cascade, times :data:`COEF` (or ``coef``). ``lam`` is the per-step transmission DMP assumes.

    >>> ip = np.array([0, 1, 3, 5, 7, 9, 11, 12], np.int32)
    >>> ix = np.array([1, 0, 2, 1, 3, 2, 4, 3, 5, 4, 6, 5], np.int32)
    >>> from graph.sources_features import FEATURES
    >>> w = np.zeros(len(FEATURES)); w[FEATURES.index("jordan")] = 1.0
    >>> learned_snapshot(ip, ix, [1, 2, 3, 4, 5], lam=0.5, coef=w).best()  # Jordan's centre
    3
    """
    nodes, x = candidate_features(indptr, indices, infected, lam)
    return SourceScores(nodes, learned_scores_from_features(x, coef))
