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
from graph.sources_features import FEATURES, candidate_features, standardise

# Fitted on development seeds only (never the benchmark's seed 0); see benchmarks/RESULTS.md.
FIT_COMMAND = "python -m benchmarks.accuracy_learned fit benchmarks/out/features_dev.npz"
COEF = np.zeros(len(FEATURES))


def _softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()


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
    k = groups[0][0].shape[1]
    w = np.zeros(k)
    n = len(groups)
    ll = -np.inf
    for _ in range(iters):
        grad = -l2 * w
        hess = -l2 * np.eye(k)
        ll_new = -0.5 * l2 * w @ w
        for z, y in groups:
            v = z @ w
            p = _softmax(v)
            mean = p @ z
            grad += (z[y] - mean) / n
            zc = z - mean
            hess -= (zc.T * p) @ zc / n
            ll_new += (v[y] - v.max() - np.log(np.exp(v - v.max()).sum())) / n
        step = np.linalg.solve(hess, -grad)
        w = w + step
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
    >>> w = np.zeros(len(FEATURES)); w[FEATURES.index("jordan")] = 1.0
    >>> learned_snapshot(ip, ix, [1, 2, 3, 4, 5], lam=0.5, coef=w).best()  # Jordan's centre
    3
    """
    nodes, x = candidate_features(indptr, indices, infected, lam)
    return SourceScores(nodes, learned_scores_from_features(x, coef))
