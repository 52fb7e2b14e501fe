"""Numba kernels of parent reconstruction: candidate sets and pair features (see reconstruct.py).

Node arrays describe one cascade: ``ts`` (float seconds; placeholders carry an estimate),
``par`` (observed parent node or -1), ``acct`` (global account index or -1), ``root_like``
(1 for a root that is an origin candidate: a post or a placeholder known by account),
``is_cand`` (1 if the node may be a parent). Candidate lists are most recent first.
"""
from __future__ import annotations

import numba
import numpy as np

from graph.kernels_tree import children_csr, walked_depths

N_FEATURES = 12
FEATURE_NAMES = ("root", "log_gap", "log_gap_sq", "log_kids", "log_recency", "log_depth",
                 "log_influence", "log_pair", "text", "root_log_gap", "log_recent_kids",
                 "log_reverse_pair")
RECENT_SECONDS = 3600.0


@numba.njit(cache=True)
def earlier_candidates(ts, par, is_cand, root_like, targets, max_cands):
    """For each target: candidates strictly earlier by (ts, node), not in the target's observed
    subtree, most recent first; at most ``max_cands`` recent ones plus every root-like node."""
    order = np.argsort(ts, kind="mergesort")  # stable: ties keep node order
    return earlier_in_order(order, par, is_cand, root_like, targets, max_cands)


@numba.njit(cache=True)
def earlier_in_order(order, par, is_cand, root_like, targets, max_cands):
    """:func:`earlier_candidates` with the time order given (``order``: nodes earliest first).
    Why: node numbers follow arrival, so ties in ts broken by node make the candidates depend
    on the input order; the caller breaks ties by event id instead."""
    n = order.shape[0]
    rank = np.empty(n, np.int64)
    for i in range(n):
        rank[order[i]] = i
    n_rl = 0
    for i in range(n):
        if root_like[order[i]] == 1 and is_cand[order[i]] != 0:
            n_rl += 1
    rl_rank = np.empty(n_rl, np.int64)  # ranks of the root-like candidates, ascending
    n_rl = 0
    for i in range(n):
        if root_like[order[i]] == 1 and is_cand[order[i]] != 0:
            rl_rank[n_rl] = i
            n_rl += 1
    cptr, kids = children_csr(par)
    mark = np.zeros(n, np.int64)  # == target stamp when inside the target's subtree
    stack = np.empty(n, np.int64)
    ptr = np.zeros(targets.shape[0] + 1, np.int64)
    out = np.empty(targets.shape[0] * min(n, max_cands + 8) + 1, np.int64)
    m = 0
    for q in range(targets.shape[0]):
        s = targets[q]
        stamp = q + 1
        top = 0
        stack[top] = s
        top += 1
        while top > 0:
            top -= 1
            x = stack[top]
            mark[x] = stamp
            for j in range(cptr[x], cptr[x + 1]):
                stack[top] = kids[j]
                top += 1
        taken = 0
        r = rank[s] - 1
        while r >= 0 and taken < max_cands:
            c = order[r]
            r -= 1
            if is_cand[c] == 0 or mark[c] == stamp:
                continue
            if m >= out.shape[0]:
                out = _bigger(out, m)
            out[m] = c
            m += 1
            taken += 1
        # Past the recent ones only root-like nodes count: walk their list, not every earlier
        # node (that made a rumour of n parentless shares O(n^2)).
        j = np.searchsorted(rl_rank, r, side="right") - 1
        while j >= 0:
            c = order[rl_rank[j]]
            j -= 1
            if mark[c] == stamp:
                continue
            if m >= out.shape[0]:
                out = _bigger(out, m)
            out[m] = c
            m += 1
        ptr[q + 1] = m
    return ptr, out[:m]


@numba.njit(cache=True)
def _bigger(out, m):
    bigger = np.empty(out.shape[0] * 2, np.int64)
    bigger[:m] = out[:m]
    return bigger


@numba.njit(cache=True)
def _lower_bound(keys, key):
    """First position in sorted ``keys`` whose key is not below ``key``."""
    lo, hi = 0, keys.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True)
def _count_of(keys, counts, key):
    lo = _lower_bound(keys, key)
    if lo < keys.shape[0] and keys[lo] == key:
        return counts[lo]
    return 0


@numba.njit(cache=True)
def pair_features(ts, par, acct, root_like, targets, cptr, cands, pair_keys, pair_counts,
                  n_accounts, influence, text_keys, loo):
    """Feature rows (one per candidate of every target), in :data:`FEATURE_NAMES` order.

    ``pair_keys`` (sorted child_account * n_accounts + parent_account) with ``pair_counts``:
    the interaction graph; ``influence[a]``: shares that named account a as parent;
    ``text_keys``: sorted target_node * n + candidate_node pairs the text links. With ``loo``
    a target's own observed link is left out of the counts (fitting on observed links)."""
    n = ts.shape[0]
    cnt, kids = children_csr(par)
    d = walked_depths(par)  # observed links: the walk's cycle guard matters here
    X = np.zeros((cands.shape[0], N_FEATURES))
    for q in range(targets.shape[0]):
        s = targets[q]
        for r in range(cptr[q], cptr[q + 1]):
            c = cands[r]
            gap = max(ts[s] - ts[c], 0.0) / 60.0
            lg = np.log1p(gap)
            X[r, 0] = root_like[c]
            X[r, 1] = lg
            X[r, 2] = lg * lg
            own = 1 if (loo == 1 and par[s] == c) else 0
            X[r, 3] = np.log1p(cnt[c + 1] - cnt[c] - own)
            X[r, 4] = np.log1p(r - cptr[q])
            X[r, 5] = np.log1p(d[c])
            X[r, 9] = root_like[c] * lg
            recent = 0
            for j in range(cnt[c], cnt[c + 1]):
                k = kids[j]
                if k != s and ts[k] <= ts[s] and ts[k] >= ts[s] - RECENT_SECONDS:
                    recent += 1
            X[r, 10] = np.log1p(recent)
            a = acct[c]
            if a >= 0:
                X[r, 6] = np.log1p(max(influence[a] - own, 0))
                if acct[s] >= 0:
                    pc = _count_of(pair_keys, pair_counts, acct[s] * n_accounts + a)
                    X[r, 7] = np.log1p(max(pc - own, 0))
                    X[r, 11] = np.log1p(_count_of(pair_keys, pair_counts, a * n_accounts + acct[s]))
            if text_keys.shape[0] > 0:
                X[r, 8] = 1.0 if _has(text_keys, s * n + c) else 0.0
    return X


@numba.njit(cache=True)
def _has(keys, key):
    lo = _lower_bound(keys, key)
    return lo < keys.shape[0] and keys[lo] == key
