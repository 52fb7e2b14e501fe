"""Origin confidence: the probability that an origin candidate is a true origin of the rumour.

A candidate is a root of the forest (optionally completed by reconstructed parents). Its
confidence is a logistic function of what the forest shows: its share of all present events
(reach / events), log(1 + reach), whether it is a share with no parent at all (a missing link
looks like that; an origin is a post, or an account its children name), whether it is a
placeholder (an event known only from its children: a deleted post, or an unsampled share),
how late it comes, log(1 + minutes after the rumour's first event) (a placeholder's time is
its earliest child's), and log(1 + number of candidates). :data:`COEF` was fitted by logistic regression (numpy IRLS) on the
training seeds of synthetic multi-origin / sampled / masked mixes by
``python -m benchmarks.origins_models`` (nothing from its evaluation seeds or from real data);
reliability is reported in benchmarks/RESULTS.md.
"""
from __future__ import annotations

import numpy as np

from graph.types import FLAG_PRESENT, KIND_MASK

SHARE_KIND = 1
FEATURE_NAMES = ("const", "reach_share", "log_reach", "orphan", "placeholder", "log_delay_min",
                 "log_candidates")
COEF = np.array([6.972, 0.0, 0.2857, -6.0555, -3.5345, -0.6543, -1.3168])


def confidence_features(reach, total, orphan, placeholder=None, delay_min=None) -> np.ndarray:
    """Feature matrix of :func:`calibrated` (one row per candidate, :data:`FEATURE_NAMES`);
    the candidates are those of one rumour (their count is a feature: many roots mean a sampled
    or broken record, where a late placeholder is rarely a seed).

    >>> confidence_features([3], 4, [0], [1], [59.0]).round(3).tolist()
    [[1.0, 0.75, 1.386, 0.0, 1.0, 4.094, 0.693]]
    """
    reach = np.asarray(reach, np.float64)
    share = reach / max(float(total), 1.0)
    zero = np.zeros_like(reach)
    ph = zero if placeholder is None else np.asarray(placeholder, np.float64)
    delay = zero if delay_min is None else np.maximum(np.asarray(delay_min, np.float64), 0.0)
    return np.column_stack([np.ones_like(reach), share, np.log1p(reach),
                            np.asarray(orphan, np.float64), ph, np.log1p(delay),
                            np.full(len(reach), np.log1p(len(reach)))])


def calibrated(reach, total, orphan, coef=None, placeholder=None, delay_min=None) -> np.ndarray:
    """Confidence in [0, 1] for candidates with ``reach`` present events out of ``total``.

    >>> c = calibrated([100, 1], 101, [0, 1], placeholder=[0, 0], delay_min=[0, 90])
    >>> bool(c[0] > 0.9 and c[1] < 0.1)
    True
    """
    w = COEF if coef is None else np.asarray(coef, np.float64)
    z = confidence_features(reach, total, orphan, placeholder, delay_min) @ w
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def candidates(graph, par=None):
    """Origin candidates of ``graph`` (roots of ``par``, default its own forest) as
    ``(root nodes, feature matrix)``; features as :func:`confidence_features`.

    >>> from graph import CascadeGraph
    >>> g = CascadeGraph()
    >>> _ = g.add_batch(["o", "a"], ["src", "u"], np.array([0, 60_000]), [None, "o"], [None] * 2, np.array([0, 1]))
    >>> roots, X = candidates(g)
    >>> roots.tolist(), round(float(np.expm1(X[0, 2])), 6)  # one root reaching both events
    ([0], 2.0)
    """
    n = graph.n_nodes
    if n == 0:
        return np.zeros(0, np.int64), np.zeros((0, len(FEATURE_NAMES)))
    if par is None:
        par = graph._view()[0]
    par = np.asarray(par, np.int64)
    kf = graph.kf[:n]
    present = (kf & FLAG_PRESENT) != 0
    acct = graph.acct[:n]
    _, reach = _forest_reach(par, present)
    roots = np.flatnonzero((par < 0) & (reach > 0) & (acct >= 0))
    orphan = present[roots] & ((kf[roots] & KIND_MASK) == SHARE_KIND)
    ts = graph.ts[:n].astype(np.float64)
    # A placeholder's time is its earliest child's (through the graph's own links).
    own = graph._view()[0].astype(np.int64)
    est = np.full(n, np.inf)
    has = own >= 0
    np.minimum.at(est, own[has], np.where(present[has], ts[has], np.inf))
    t = np.where(present, ts, est)
    first = np.min(t[np.isfinite(t)]) if np.isfinite(t).any() else 0.0
    delay = np.where(np.isfinite(t[roots]), (t[roots] - first) / 60_000.0, 0.0)
    X = confidence_features(reach[roots], int(present.sum()), orphan, ~present[roots], delay)
    return roots, X


def _forest_reach(par, present):
    """Present events under every node of the forest ``par`` (any order, cycles not allowed)."""
    n = len(par)
    root = np.arange(n)
    # Pointer jumping finds every node's root in O(n log depth).
    up = np.where(par >= 0, par, root)
    while True:
        nxt = up[up]
        if np.array_equal(nxt, up):
            break
        up = nxt
    return up, np.bincount(up[present], minlength=n)


def origin_confidence(graph, par=None, coef=None) -> list:
    """``[(account_id, confidence, event_id, reach), ...]`` for the roots of ``graph`` (or of
    the forest ``par`` over its nodes, e.g. with reconstructed parents), most confident first.

    >>> from graph import CascadeGraph
    >>> g = CascadeGraph()
    >>> _ = g.add_batch(["o", "a", "b", "x"], ["src", "u", "v", "w"], np.arange(4),
    ...                 [None, "o", "o", None], [None] * 4, np.array([0, 1, 1, 1]))
    >>> [(a, e, r) for a, _, e, r in origin_confidence(g)]
    [('src', 'o', 3), ('w', 'x', 1)]
    """
    roots, X = candidates(graph, par)
    if not len(roots):
        return []
    n = graph.n_nodes
    present = (graph.kf[:n] & FLAG_PRESENT) != 0
    acct = graph.acct[:n]
    reach = np.zeros(n, np.int64)
    reach[roots] = np.rint(np.expm1(X[:, 2])).astype(np.int64)
    w = COEF if coef is None else np.asarray(coef, np.float64)
    conf = 1.0 / (1.0 + np.exp(-np.clip(X @ w, -50, 50)))
    ts = graph.ts[:n]
    order = sorted(range(len(roots)), key=lambda i: (-conf[i], -reach[roots[i]],
                                                     not present[roots[i]], ts[roots[i]], roots[i]))
    accounts = graph.ac.strings(acct[roots])
    events = graph.ev.strings(roots)
    return [(accounts[i], float(conf[i]), events[i], int(reach[roots[i]])) for i in order]


def confidence_by_event(graph) -> dict:
    """``{(account_id, event_id): confidence}`` over the graph's own forest (for the trace)."""
    return {(a, e): c for a, c, e, _ in origin_confidence(graph)}
