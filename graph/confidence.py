"""Origin confidence: the probability that an origin candidate is a true origin of the rumour.

A candidate is a root of the forest (optionally completed by reconstructed parents). Its
confidence is a logistic function of three things the forest shows: its share of all present
events (reach / events), log(1 + reach), and whether it is a share with no parent at all (a
missing link looks like that; an origin is a post, or an account its children name). The
coefficients :data:`COEF` were fitted (Platt scaling) on seeded synthetic cascades under the
observation models of issue 3 by ``python -m benchmarks.accuracy_parents --fit-confidence``;
reliability is reported in benchmarks/RESULTS.md.
"""
from __future__ import annotations

import numpy as np

from graph.types import FLAG_PRESENT, KIND_MASK

SHARE_KIND = 1
# intercept, reach share, log1p(reach), orphan share (see module docstring)
COEF = np.array([-3.0, 8.0, 0.5, -2.0])


def confidence_features(reach, total, orphan) -> np.ndarray:
    """Feature matrix of :func:`calibrated` (one row per candidate)."""
    reach = np.asarray(reach, np.float64)
    share = reach / max(float(total), 1.0)
    return np.column_stack([np.ones_like(reach), share, np.log1p(reach),
                            np.asarray(orphan, np.float64)])


def calibrated(reach, total, orphan, coef=None) -> np.ndarray:
    """Confidence in [0, 1] for candidates with ``reach`` present events out of ``total``.

    >>> c = calibrated([100, 1], 101, [0, 1])
    >>> bool(c[0] > 0.9 and c[1] < 0.1)
    True
    """
    w = COEF if coef is None else np.asarray(coef, np.float64)
    z = confidence_features(reach, total, orphan) @ w
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


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


def origin_confidence(graph, par=None) -> list:
    """``[(account_id, confidence, event_id, reach), ...]`` for the roots of ``graph`` (or of
    the forest ``par`` over its nodes, e.g. with reconstructed parents), most confident first.

    >>> from graph import CascadeGraph
    >>> g = CascadeGraph()
    >>> _ = g.add_batch(["o", "a", "b", "x"], ["src", "u", "v", "w"], np.arange(4),
    ...                 [None, "o", "o", None], [None] * 4, np.array([0, 1, 1, 1]))
    >>> [(a, e, r) for a, _, e, r in origin_confidence(g)]
    [('src', 'o', 3), ('w', 'x', 1)]
    """
    n = graph.n_nodes
    if n == 0:
        return []
    if par is None:
        par = graph._view()[0]
    par = np.asarray(par, np.int64)
    kf = graph.kf[:n]
    present = (kf & FLAG_PRESENT) != 0
    acct = graph.acct[:n]
    _, reach = _forest_reach(par, present)
    roots = np.flatnonzero((par < 0) & (reach > 0) & (acct >= 0))
    if not len(roots):
        return []
    orphan = present[roots] & ((kf[roots] & KIND_MASK) == SHARE_KIND)
    conf = calibrated(reach[roots], int(present.sum()), orphan)
    ts = graph.ts[:n]
    order = sorted(range(len(roots)), key=lambda i: (-conf[i], -reach[roots[i]],
                                                     not present[roots[i]], ts[roots[i]], roots[i]))
    accounts = graph.ac.strings(acct[roots])
    events = graph.ev.strings(roots)
    return [(accounts[i], float(conf[i]), events[i], int(reach[roots[i]])) for i in order]


def confidence_by_event(graph) -> dict:
    """``{(account_id, event_id): confidence}`` over the graph's own forest (for the trace)."""
    return {(a, e): c for a, c, e, _ in origin_confidence(graph)}
