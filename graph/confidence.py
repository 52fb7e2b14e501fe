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

from collections.abc import Mapping

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
    return _logistic(confidence_features(reach, total, orphan, placeholder, delay_min), coef)


def _logistic(X, coef=None) -> np.ndarray:
    w = COEF if coef is None else np.asarray(coef, np.float64)
    return 1.0 / (1.0 + np.exp(-np.clip(X @ w, -50, 50)))


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
    conf = _logistic(X, coef)
    ts = graph.ts[:n]
    order = sorted(range(len(roots)), key=lambda i: (-conf[i], -reach[roots[i]],
                                                     not present[roots[i]], ts[roots[i]], roots[i]))
    accounts = graph.ac.strings(acct[roots])
    events = graph.ev.strings(roots)
    return [(accounts[i], float(conf[i]), events[i], int(reach[roots[i]])) for i in order]


def confidence_by_event(graph) -> dict:
    """``{(account_id, event_id): confidence}`` over the graph's own forest, computed afresh
    (a trace reads the graph's cached copy, ``CascadeGraph.confidence_by_event``)."""
    return {(a, e): c for a, c, e, _ in origin_confidence(graph)}


def root_confidence(graph) -> tuple:
    """``(roots, confidence)``: the origin candidates of the graph's own forest as node indices
    (ascending) and their confidence; what ``CascadeGraph.confidence_by_event`` keeps.

    >>> from graph import CascadeGraph
    >>> g = CascadeGraph()
    >>> _ = g.add_batch(["o", "a", "x"], ["src", "u", "w"], np.arange(3), [None, "o", None], [None] * 3,
    ...                 np.array([0, 1, 1]))
    >>> roots, conf = root_confidence(g)
    >>> roots.tolist(), bool(conf[0] > conf[1])
    ([0, 2], True)
    """
    roots, X = candidates(graph)
    return roots, _logistic(X)


class ConfidenceByEvent(Mapping):
    """``{(account_id, event_id): confidence}`` read from :func:`root_confidence`'s arrays of
    ``graph`` (no string is held per candidate: a rumour can have 10^5 of them); an account's
    placeholder (event id None) is found through the account. :meth:`lookup` answers many keys
    at once (a trace asks for every origin). The candidates are those of the forest the arrays
    were computed on.

    >>> from graph import CascadeGraph
    >>> g = CascadeGraph()
    >>> _ = g.add_batch(["a", "x"], ["u", "w"], np.arange(2), [None, None], ["boss", None])
    >>> m = ConfidenceByEvent(g, *root_confidence(g))
    >>> sorted(m, key=str), ("boss", None) in m, ("u", "a") in m, ("w", "a") in m
    ([('boss', None), ('w', 'x')], True, False, False)
    >>> m.lookup(["w", "u", "boss"], ["x", "a", None]).tolist() == [m["w", "x"], 0.0, m["boss", None]]
    True
    """

    def __init__(self, graph, roots: np.ndarray, conf: np.ndarray):
        self._graph, self._roots, self._conf = graph, roots, conf

    def lookup(self, account_ids, event_ids) -> np.ndarray:
        """The confidence of every ``(account_ids[i], event_ids[i])``; 0.0 for a pair that is
        no origin candidate."""
        at = self._positions(account_ids, event_ids)
        found = at >= 0
        out = np.zeros(len(at))
        out[found] = self._conf[at[found]]
        return out

    def _positions(self, account_ids, event_ids) -> np.ndarray:
        """Index into the candidates of every pair, -1 for a pair that is none (two id lookups
        in numba for all pairs, not two per pair)."""
        g, roots = self._graph, self._roots
        if len(account_ids) != len(event_ids):
            raise ValueError("lookup: account_ids and event_ids differ in length")
        if not len(roots) or not len(event_ids):
            return np.full(len(event_ids), -1, np.int64)
        acc = g.ac.find(account_ids).astype(np.int64)
        node = g.ev.find(event_ids).astype(np.int64)
        blank = np.array([e is None for e in event_ids], bool)
        if blank.any():  # an account's placeholder has no event id: found through the account
            node[blank] = -1
            known = blank & (acc >= 0) & (acc < g.aph.shape[0])
            node[known] = g.aph[acc[known]]
        at = np.minimum(np.searchsorted(roots, node), len(roots) - 1)
        safe = np.maximum(node, 0)
        ok = (node >= 0) & (acc >= 0) & (roots[at] == node) & (g.acct[safe] == acc)
        return np.where(ok, at, -1)

    def __getitem__(self, key) -> float:
        try:
            account_id, event_id = key
        except (TypeError, ValueError):
            raise KeyError(key) from None
        if not isinstance(account_id, str) or not (event_id is None or isinstance(event_id, str)):
            raise KeyError(key)
        at = int(self._positions([account_id], [event_id])[0])
        if at < 0:
            raise KeyError(key)
        return float(self._conf[at])

    def __iter__(self):
        g = self._graph
        return zip(g.ac.strings(g.acct[self._roots]), g.ev.strings(self._roots))

    def __len__(self) -> int:
        return len(self._roots)
