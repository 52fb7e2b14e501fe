"""Conditional logit over candidate sets: fit by Newton's method, choose the best candidate.

A *choice problem* is one group of candidates (rows of a feature matrix ``X``) of which exactly
one was chosen. Groups are given CSR-style by ``offsets`` (group g = rows
``offsets[g]:offsets[g+1]``). The model is P(row r | group) = softmax(X[r] . w) within the group.
Used by parent reconstruction (graph/reconstruct.py): a group is one share, its rows the events
it could have come from.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _grad_hess(X, offsets, chosen, w):
    n_f = X.shape[1]
    g = np.zeros(n_f)
    h = np.zeros((n_f, n_f))
    ll = 0.0
    for q in range(offsets.shape[0] - 1):
        lo, hi = offsets[q], offsets[q + 1]
        if hi <= lo or chosen[q] < 0:
            continue
        m = -1e300
        for r in range(lo, hi):
            s = 0.0
            for f in range(n_f):
                s += X[r, f] * w[f]
            if s > m:
                m = s
        z = 0.0
        mean = np.zeros(n_f)
        p = np.empty(hi - lo)
        for r in range(lo, hi):
            s = 0.0
            for f in range(n_f):
                s += X[r, f] * w[f]
            p[r - lo] = np.exp(s - m)
            z += p[r - lo]
        for r in range(lo, hi):
            p[r - lo] /= z
            for f in range(n_f):
                mean[f] += p[r - lo] * X[r, f]
        c = lo + chosen[q]
        s = 0.0
        for f in range(n_f):
            s += X[c, f] * w[f]
            g[f] += X[c, f] - mean[f]
        ll += s - m - np.log(z)
        for r in range(lo, hi):
            for a in range(n_f):
                da = X[r, a] - mean[a]
                for b in range(a, n_f):
                    h[a, b] += p[r - lo] * da * (X[r, b] - mean[b])
    for a in range(n_f):
        for b in range(a):
            h[a, b] = h[b, a]
    return ll, g, h


def fit(X, offsets, chosen, l2: float = 1e-3, iters: int = 30) -> np.ndarray:
    """Weights maximising the penalised log-likelihood of the chosen rows.

    ``chosen[g]`` is the position of the chosen row inside group g (-1 = skip the group).

    >>> X = np.array([[1.0], [0.0], [1.0], [0.0]])
    >>> w = fit(X, np.array([0, 2, 4]), np.array([0, 0]))
    >>> bool(w[0] > 2)
    True
    """
    X = np.ascontiguousarray(X, np.float64)
    offsets = np.ascontiguousarray(offsets, np.int64)
    chosen = np.ascontiguousarray(chosen, np.int64)
    n_groups = max(int(np.count_nonzero(chosen >= 0)), 1)
    w = np.zeros(X.shape[1])

    def objective(v):
        ll, g, h = _grad_hess(X, offsets, chosen, v)
        return ll / n_groups - 0.5 * l2 * v @ v, g / n_groups - l2 * v, h / n_groups + l2 * np.eye(len(v))

    f, g, h = objective(w)
    for _ in range(iters):
        step = np.linalg.solve(h, g)
        # Damped Newton: halve the step until the penalised likelihood improves.
        t = 1.0
        while t > 1e-6:
            f2, g2, h2 = objective(w + t * step)
            if f2 >= f - 1e-12:
                break
            t *= 0.5
        if t <= 1e-6:
            break
        w = w + t * step
        done = f2 - f < 1e-10
        f, g, h = f2, g2, h2
        if done:
            break
    return w


@numba.njit(cache=True)
def _best(X, offsets, w, out, prob):
    n_f = X.shape[1]
    for q in range(offsets.shape[0] - 1):
        lo, hi = offsets[q], offsets[q + 1]
        out[q] = -1
        prob[q] = 0.0
        if hi <= lo:
            continue
        m = -1e300
        arg = lo
        for r in range(lo, hi):
            s = 0.0
            for f in range(n_f):
                s += X[r, f] * w[f]
            if s > m:  # first best row wins ties (callers order rows by preference)
                m = s
                arg = r
        z = 0.0
        for r in range(lo, hi):
            s = 0.0
            for f in range(n_f):
                s += X[r, f] * w[f]
            z += np.exp(s - m)
        out[q] = arg - lo
        prob[q] = 1.0 / z


def choose(X, offsets, w):
    """Best row of every group (position inside the group, -1 for an empty group) and its
    model probability.

    >>> pos, p = choose(np.array([[0.0], [2.0], [1.0]]), np.array([0, 2, 3, 3]), np.array([1.0]))
    >>> pos.tolist(), [round(x, 3) for x in p.tolist()]
    ([1, 0, -1], [0.881, 1.0, 0.0])
    """
    n = len(offsets) - 1
    out = np.empty(n, np.int64)
    prob = np.empty(n)
    _best(np.ascontiguousarray(X, np.float64), np.ascontiguousarray(offsets, np.int64),
          np.ascontiguousarray(w, np.float64), out, prob)
    return out, prob


def log_likelihood(X, offsets, chosen, w) -> float:
    """Mean log-probability of the chosen rows (for reports and tests)."""
    ll, _, _ = _grad_hess(np.ascontiguousarray(X, np.float64), np.ascontiguousarray(offsets, np.int64),
                          np.ascontiguousarray(chosen, np.int64), np.ascontiguousarray(w, np.float64))
    return ll / max(int(np.count_nonzero(np.asarray(chosen) >= 0)), 1)
