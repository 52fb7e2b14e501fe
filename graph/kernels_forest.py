"""Numba kernels that resolve the cascade forest: the recorded links -> one parent per node.

A node's recorded link ``plink[j]`` is an event (``>= 0``), none (``-1``) or an account
(``-2 - account``: "shared from this account", no event named). :func:`resolve_parents` turns
them into ``par[j]`` (int32, -1 = root): an account link goes to that account's latest present
event at or before the share (by (ts, event id)), else its earliest, else its placeholder node,
and the cycles account links can close are broken. The sweeps over the resolved forest (order,
sizes, depths, preorder) are in :mod:`graph.kernels_tree`.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from graph.kernels_rank import _event_less, _merge_sort

_PRESENT = 0x80


@njit(cache=True)
def events_by_account(acct, kf, ts, n, n_acc, ev_offs, ev_arena):
    """CSR of present events per account, each run sorted by (ts, event id): (start, nodes).

    >>> acct = np.array([0, 1, 0], np.int32); kf = np.full(3, 0x80, np.uint8)
    >>> ts = np.array([30, 5, 10], np.int64)
    >>> offs = np.array([0, 1, 2, 3], np.int32); arena = np.frombuffer(b"xyz", np.uint8)
    >>> start, nodes = events_by_account(acct, kf, ts, 3, 2, offs, arena)
    >>> start.tolist(), nodes.tolist()
    ([0, 2, 3], [2, 0, 1])
    """
    start = np.zeros(n_acc + 1, np.int64)
    m = 0
    for j in range(n):
        if kf[j] & _PRESENT:
            start[acct[j] + 1] += 1
            m += 1
    for a in range(n_acc):
        start[a + 1] += start[a]
    fill = start[:-1].copy()
    nodes = np.empty(m, np.int32)
    for j in range(n):
        if kf[j] & _PRESENT:
            a = acct[j]
            nodes[fill[a]] = j
            fill[a] += 1
    dummy = np.zeros(1, np.int64)
    for a in range(n_acc):
        s = start[a]
        e = start[a + 1]
        if e - s > 1:
            nodes[s:e] = _merge_sort(nodes[s:e], 0, dummy, dummy, ts, acct, ev_offs, ev_arena,
                                     ev_offs, ev_arena)
    return start, nodes


@njit(cache=True)
def resolve_parents(plink, acct, ts, kf, n, n_acc, n_alinks, n_blind, aph, ev_offs, ev_arena):
    """Resolved parent per node (int32, -1 = root). See the CascadeGraph docstring for the rules.

    >>> from graph.cascade import CascadeGraph
    >>> g = CascadeGraph()
    >>> _ = g.add_batch(["a1", "b1"], ["ann", "bob"], np.array([10, 20]), [None, None],
    ...                 [None, "ann"])  # bob shared from ann, naming no event
    >>> n = g.n_nodes
    >>> resolve_parents(g.plink[:n], g.acct[:n], g.ts[:n], g.kf[:n], n, g.ac.count,
    ...                 g.n_account_links, g.n_blind, g.aph, g.ev.offs, g.ev.arena).tolist()
    [-1, 0]
    """
    if n_alinks == 0 and n_blind == 0:
        return plink[:n]  # the common case: the recorded links are the forest, no copy
    par = np.empty(n, np.int32)
    for j in range(n):
        p = plink[j]
        if p >= 0:
            # A placeholder nobody named an account for is no node of the forest: its
            # children are separate roots.
            par[j] = p if acct[p] >= 0 else -1
        else:
            par[j] = -1
    if n_alinks == 0:
        return par
    start, nodes = events_by_account(acct, kf, ts, n, n_acc, ev_offs, ev_arena)
    for j in range(n):
        p = plink[j]
        if p > -2:
            continue
        b = -p - 2
        s = start[b]
        e = start[b + 1]
        # Upper bound: first position in the run with ts > ts[j].
        lo = s
        hi = e
        while lo < hi:
            mid = (lo + hi) >> 1
            if ts[nodes[mid]] <= ts[j]:
                lo = mid + 1
            else:
                hi = mid
        q = -1
        k = lo - 1
        while k >= s:
            if nodes[k] != j:
                q = nodes[k]
                break
            k -= 1
        if q < 0:
            k = s
            while k < e:
                if nodes[k] != j:
                    q = nodes[k]
                    break
                k += 1
        if q < 0:
            q = aph[b]
        par[j] = q
    _break_cycles(par, plink, ts, ev_offs, ev_arena)
    return par


@njit(cache=True)
def _break_cycles(par, plink, ts, ev_offs, ev_arena):
    """Account links can close cycles (A links to B's event that links back to A's): in each
    cycle the account-linked node first by (ts, event id) becomes a root, whatever the order."""
    n = par.shape[0]
    state = np.zeros(n, np.uint8)
    path = np.empty(n, np.int32)
    for v in range(n):
        if state[v] != 0:
            continue
        m = 0
        cur = v
        while cur >= 0 and state[cur] == 0:
            state[cur] = 1
            path[m] = cur
            m += 1
            cur = par[cur]
        if cur >= 0 and state[cur] == 1:
            best = -1
            k = m - 1
            while True:
                u = path[k]
                if plink[u] <= -2 and (best < 0 or _event_less(u, best, ts, ev_offs, ev_arena)):
                    best = u
                if u == cur:
                    break
                k -= 1
            if best < 0:  # cannot happen (event links are acyclic by construction)
                best = cur
            par[best] = -1
        for k in range(m):
            state[path[k]] = 2
