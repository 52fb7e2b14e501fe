"""Cut-off at time t: the k accounts whose suspension now prevents the most *future* shares.

What is visible at t is a forest of events with times. Each event's future growth (shares that
will join its subtree after t) is forecast by a log-linear model of what t shows: the subtree's
size, its growth in the last 10 minutes, the event's age, the time since the subtree last grew,
its depth, and for events that are still leaves at t a separate intercept, age and depth slope
(a leaf's future is a different quantity: 31% of the later growth comes from leaves at t). It is
a Poisson regression (log link, each cascade weighted by 1 / its later shares as the measure
weighs them). Each account also gets a forecast of the later shares its *own new* events after t
will draw (an account that has shared several times by t tends to share again, and suspension
prevents those too): a Poisson regression on its number of events by t and in the last 10 min.
:data:`COEF` and :data:`ACCT_COEF` were fitted on the Weibo training half by
``python -m benchmarks.accuracy_cutoff`` (its "forecast" coefficients; nothing from the
evaluation half). The further features (direct children, 2-minute growth, the cascade's growth,
the account's shares in other cascades before t) are zero in :data:`COEF`: fitted, they did not
improve the held-out measure (benchmarks/RESULTS.md). Accounts are then chosen greedily by
forecast marginal gain: an event under an already chosen event adds nothing, an event above one
adds its forecast minus what is already covered, and the account's own forecast adds to it.
"""
from __future__ import annotations

import numpy as np

FEATURE_NAMES = ("const", "log_size", "log_recent", "log_age_min", "log_idle_min", "log_depth",
                 "log_children", "log_recent_short", "log_cascade_recent", "log_prior",
                 "leaf", "leaf_log_age_min", "leaf_log_depth")
RECENT_SECONDS = 600.0
SHORT_SECONDS = 120.0
COEF = np.array([0.7529, 1.0763, 0.1196, -0.2311, -0.3178, 0.1174, 0.0, 0.0, 0.0, 0.0, -2.0177, 0.1188, 0.5183])
ACCOUNT_FEATURES = ("const", "log_events", "log_recent_events")
ACCT_COEF = np.array([-5.7027, 2.6451, 0.5838])


def _order(par, ts):
    """Nodes with every parent before its children (by depth), and the depths. Depths come from
    walking the links, not from time order: a parent can be later than its child (clock skew,
    equal times in arrival order), and then a time-order sweep read the parent's depth unset."""
    from graph.kernels_tree import walked_depths

    depth = np.maximum(walked_depths(np.ascontiguousarray(par, np.int64)), 0)
    return np.lexsort((np.arange(len(par)), depth)), depth


def event_features(par, ts_s, present, t: float, prior=None) -> np.ndarray:
    """One row per node (see :data:`FEATURE_NAMES`) as seen at time ``t`` (seconds); nodes
    after t must already be removed. Placeholders count as events of size 0. ``prior``: per
    node, the shares its account drew in *other* cascades before t (0 when unknown).

    >>> f = event_features(np.array([-1, 0, 0]), np.array([0.0, 60, 3000]), np.ones(3, bool), 3600.0)
    >>> f[:, 1].round(3).tolist()  # log1p(subtree size)
    [1.386, 0.693, 0.693]
    >>> f[:, FEATURE_NAMES.index("leaf")].tolist()
    [0.0, 1.0, 1.0]
    """
    par = np.asarray(par, np.int64)
    ts_s = np.asarray(ts_s, np.float64)
    n = len(par)
    order, depth = _order(par, ts_s)
    pres = np.asarray(present, bool)
    size = pres.astype(np.float64)
    recent = (pres & (ts_s > t - RECENT_SECONDS)).astype(np.float64)
    short = (pres & (ts_s > t - SHORT_SECONDS)).astype(np.float64)
    cascade_recent = np.log1p(recent.sum())
    last = np.where(size > 0, ts_s, -np.inf)
    kids = np.zeros(n)
    has = par >= 0
    np.add.at(kids, par[has], pres[has].astype(np.float64))
    for i in order[::-1].tolist():
        p = par[i]
        if p >= 0:
            size[p] += size[i]
            recent[p] += recent[i]
            short[p] += short[i]
            last[p] = max(last[p], last[i])
    age = np.maximum(t - ts_s, 0.0) / 60.0
    idle = np.where(np.isfinite(last), np.maximum(t - last, 0.0) / 60.0, age)
    prior = np.zeros(n) if prior is None else np.asarray(prior, np.float64)
    leaf = np.ones(n)
    leaf[par[has]] = 0.0  # any child (placeholders too) makes an inner node
    return np.column_stack([np.ones(n), np.log1p(size), np.log1p(recent), np.log1p(age),
                            np.log1p(idle), np.log1p(depth), np.log1p(kids), np.log1p(short),
                            np.full(n, cascade_recent), np.log1p(prior),
                            leaf, leaf * np.log1p(age), leaf * np.log1p(depth)])


def forecast(par, ts_s, present, t: float, coef=None, prior=None) -> np.ndarray:
    """Expected future shares in each node's subtree after ``t``.

    >>> f = forecast(np.array([-1, 0, 0]), np.array([0.0, 60, 3000]), np.ones(3, bool), 3600.0)
    >>> bool(f[0] > f[1] > 0)
    True
    """
    w = COEF if coef is None else np.asarray(coef, np.float64)
    return np.exp(np.clip(event_features(par, ts_s, present, t, prior) @ w, -30, 30))


def account_features(acct, ts_s, present, t: float):
    """``(accounts, rows)``: every account with a present event, and its row of
    :data:`ACCOUNT_FEATURES` at ``t``.

    >>> a, f = account_features(np.array([0, 1, 1, 1]), np.array([0.0, 60, 3100, 3500]), np.ones(4, bool), 3600.0)
    >>> a.tolist(), np.expm1(f[:, 1:]).round().tolist()  # events by t, events in the last 10 min
    ([0, 1], [[1.0, 0.0], [3.0, 2.0]])
    """
    acct = np.asarray(acct, np.int64)
    ts_s = np.asarray(ts_s, np.float64)
    keep = np.asarray(present, bool) & (acct >= 0)
    ids, inv = np.unique(acct[keep], return_inverse=True)
    events = np.bincount(inv, minlength=len(ids)).astype(np.float64)
    recent = np.bincount(inv, weights=(ts_s[keep] > t - RECENT_SECONDS).astype(np.float64), minlength=len(ids))
    return ids, np.column_stack([np.ones(len(ids)), np.log1p(events), np.log1p(recent)])


def account_forecast(acct, ts_s, present, t: float, coef=None) -> dict:
    """``{account: expected later shares drawn by its own new events after t}``.

    >>> f = account_forecast(np.array([0, 1, 1, 1]), np.array([0.0, 60, 3100, 3500]), np.ones(4, bool), 3600.0)
    >>> bool(f[1] > f[0] > 0)  # three events by t, two of them recent
    True
    """
    w = ACCT_COEF if coef is None else np.asarray(coef, np.float64)
    ids, rows = account_features(acct, ts_s, present, t)
    return dict(zip(ids.tolist(), np.exp(np.clip(rows @ w, -30, 30)).tolist()))


def greedy_accounts(par, acct, value, k: int, excluded=(), bonus=None, tie=None) -> list:
    """Up to k ``(account, gain)`` pairs maximising the covered ``value`` of subtrees (a node's
    value counts the whole subtree below it) plus each chosen account's ``bonus`` (a dict; what
    it is worth beyond its events' subtrees), greedily. Equal gains (within a relative 1e-9,
    as sums in another order differ in the last bits) go to the smaller ``tie[account]``
    (default the account number itself).

    >>> greedy_accounts(np.array([-1, 0, 1, 0]), np.array([0, 1, 2, 3]), np.array([9.0, 5, 4, 2]), 2, [0])
    [(1, 5.0), (3, 2.0)]
    >>> greedy_accounts(np.array([-1, 0, 1, 0]), np.array([0, 1, 2, 3]), np.array([9.0, 5, 4, 2]), 2, [0], {3: 4.0})
    [(3, 6.0), (1, 5.0)]
    """
    par = np.asarray(par, np.int64)
    acct = np.asarray(acct, np.int64)
    if len(par) == 0 or k <= 0:
        return []
    return _greedy(_forest(par, acct), acct, np.asarray(value, np.float64), k, excluded, bonus, tie)


def _forest(par, acct):
    """``(perm, size, top)``: the nodes in depth-first preorder (a subtree is the range of
    positions ``pos .. pos + size - 1``), every node's subtree size (by node) and, per preorder
    position, whether the node is a top of its account (no ancestor of the same account).
    Nodes on a cycle (untrusted parent arrays; a resolved forest has none) or below one are
    each their own one-node range: :func:`graph.kernels_tree.preorder`."""
    from graph.kernels_tree import preorder

    perm, size, _ = preorder(np.ascontiguousarray(par, np.int64))
    size = size.astype(np.int64)  # position + size sums stay int64 in the greedy
    return perm, size, _tops_in_preorder(acct[perm], size[perm])


def _greedy(forest, acct, value, k: int, excluded=(), bonus=None, tie=None) -> list:
    """:func:`greedy_accounts` on the :func:`_forest` of its parent array."""
    # Vectorised over a preorder (subtrees are ranges): each round is O(n) numpy work, where
    # walking every node's ancestors was O(n * depth) (40 s on a chain of 8,000 shares).
    bonus = bonus or {}
    perm, size, top = forest
    n = len(perm)
    A, V, S = acct[perm], value[perm], size[perm]
    n_acc = int(A.max(initial=-1)) + 1
    if n_acc == 0:
        return []
    if tie is None:
        tie = np.arange(n_acc)
    tie = np.asarray(tie, np.int64)
    has = np.zeros(n_acc, bool)
    has[A[A >= 0]] = True
    extra = np.zeros(n_acc)
    for a, b in bonus.items():
        if 0 <= int(a) < n_acc:
            extra[int(a)] = b
    blocked = ~has
    for a in excluded:
        if 0 <= int(a) < n_acc:
            blocked[int(a)] = True
    covered = np.zeros(n, bool)
    maximal = np.zeros(n)  # value of each covered node no covered node is above, at its position
    ends = np.arange(n) + S
    own = A >= 0
    chosen = []
    for _ in range(int(min(k, n_acc))):
        cs = np.concatenate(([0.0], np.cumsum(maximal)))
        inner = cs[ends] - cs[np.arange(n) + 1]  # covered value strictly inside each subtree
        live = top & ~covered & own
        gain = np.bincount(A[live], weights=(V - inner)[live], minlength=n_acc) + extra
        gain[blocked] = -np.inf
        best_gain = float(gain.max())
        if not best_gain > 1e-9:
            break
        near = np.flatnonzero(gain >= best_gain - 1e-9 * max(1.0, abs(best_gain)))
        best = int(near[np.argmin(tie[near])])
        chosen.append((best, float(gain[best])))
        blocked[best] = True
        for p in np.flatnonzero(live & (A == best)).tolist():
            maximal[p:ends[p]] = 0.0
            maximal[p] = V[p]
            covered[p:ends[p]] = True
    return chosen


def _tops_in_preorder(A, S) -> np.ndarray:
    """Positions (preorder) whose node has no ancestor of the same account: per account, in
    position order, a node inside an earlier one's range is under it (ranges nest)."""
    n = len(A)
    idx = np.lexsort((np.arange(n), A))
    group = np.concatenate(([0], np.cumsum(A[idx][1:] != A[idx][:-1])))
    shift = group * (n + 1)  # keeps each account's running maximum to itself
    start = idx + shift
    end = idx + S[idx] + shift
    before = np.concatenate(([-1], np.maximum.accumulate(end)[:-1]))
    top = np.empty(n, bool)
    top[idx] = start >= before
    return top


def cutoff_at(graph, k: int = 10, t_ms: int | None = None, coef=None, acct_coef=None) -> list:
    """Cut-off accounts of a :class:`graph.CascadeGraph` for the future after ``t_ms`` (default:
    its latest event), origins excluded: ``[{"account_id", "prevented", "forecast"}, ...]``
    where ``prevented`` counts present shares under the account and ``forecast`` the expected
    future ones (its own later new shares' included).

    >>> from graph import CascadeGraph
    >>> g = CascadeGraph()
    >>> _ = g.add_batch(["o", "a", "b", "c"], ["src", "hub", "x", "y"], np.array([0, 1, 2, 3]) * 60_000,
    ...                 [None, "o", "a", "a"], [None] * 4, np.array([0, 1, 1, 1]))
    >>> [c["account_id"] for c in cutoff_at(g, k=1)]
    ['hub']
    """
    from graph.types import FLAG_PRESENT

    n = graph.n_nodes
    if n == 0 or k <= 0:
        return []
    view = graph._view()
    par = view[0].astype(np.int64)
    # A node with no present event under it (an account's placeholder whose children resolved
    # elsewhere; it exists only when a child arrived before the account's first event) is no
    # part of the forest: it must neither exclude its account nor add to its value, else the
    # answer depends on the arrival order.
    alive = view[2][:n] > 0
    present = (graph.kf[:n] & FLAG_PRESENT) != 0
    ts = graph.ts[:n].astype(np.float64) / 1000.0
    t = float(ts[present].max()) if t_ms is None else t_ms / 1000.0
    ts = np.where(present, ts, np.nan)
    est = np.full(n, np.inf)
    has = par >= 0
    np.minimum.at(est, par[has], np.nan_to_num(ts[has], nan=np.inf))
    ts = np.where(present, ts, np.where(np.isfinite(est), est, t))
    acct = graph.acct[:n].astype(np.int64)
    roots = par < 0
    excluded = set(acct[roots & alive & (acct >= 0)].tolist())
    fut = np.where(alive, forecast(par, ts, present, t, coef), 0.0)
    # Ties between accounts go by account id: account numbers follow the arrival order.
    names_all = graph.ac.strings(np.arange(graph.ac.count))
    tie = np.empty(len(names_all), np.int64)
    tie[sorted(range(len(names_all)), key=names_all.__getitem__)] = np.arange(len(names_all))
    forest = _forest(par, acct)
    picks = _greedy(forest, acct, fut, k, excluded, account_forecast(acct, ts, present, t, acct_coef), tie)
    now = present.astype(np.float64)  # the event itself is not prevented by its suspension
    size = event_features(par, ts, present, t)[:, 1]
    now_sizes = np.expm1(size)
    names = graph.ac.strings(np.array([a for a, _ in picks], np.int64))
    out = []
    perm, _, top_in_preorder = forest  # the greedy's own: tops are what a suspension prevents
    top = np.empty(n, bool)
    top[perm] = top_in_preorder
    for (a, gain), name in zip(picks, names):
        tops = np.flatnonzero((acct == a) & top)
        prevented = int(round(float((now_sizes[tops] - now[tops]).sum())))
        out.append({"account_id": name, "prevented": prevented, "forecast": round(gain, 2)})
    return out

