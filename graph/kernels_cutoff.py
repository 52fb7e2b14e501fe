"""Numba kernel for the cut-off question: which k accounts, suspended, prevent the most shares.

prevented(a) = present events by *other* accounts inside the union of the subtrees of a's events
(present events and a's unobserved placeholders), not counting what earlier picks already cut.

Why it is cheap: the union of a's subtrees is the disjoint union of the subtrees of a's
*top-level* events (those with no ancestor of the same account). So

    gain(a) = sum(size(t) for t top-level of a) - present(a)

with every size taken over what is still standing. Greedy picks the best gain; cutting removes
whole subtrees, so every gain can only fall, and a lazy max-heap is exact: pop the top, recompute
its gain against the current cuts (a Fenwick tree over DFS preorder positions counts removed
present events in any subtree interval in O(log n)); if it is unchanged it is the true maximum,
else push it back with the new gain. Each node is removed at most once.

Ties: earliest first present event, then account id (bytes), so results never depend on the
arrival order.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from graph.ids import bytes_cmp
from graph.kernels_tree import preorder_positions

_PRESENT = 0x80
_NO_TS = np.iinfo(np.int64).max


@njit(cache=True)
def _better(g1, a1, g2, a2, first_ts, ac_offs, ac_arena):
    if g1 != g2:
        return g1 > g2
    if first_ts[a1] != first_ts[a2]:
        return first_ts[a1] < first_ts[a2]
    return bytes_cmp(ac_arena, ac_offs[a1], ac_offs[a1 + 1],
                     ac_arena, ac_offs[a2], ac_offs[a2 + 1]) < 0


@njit(cache=True)
def _sift_down(hg, ha, m, i, first_ts, ac_offs, ac_arena):
    while True:
        left = 2 * i + 1
        if left >= m:
            return
        best = left
        right = left + 1
        if right < m and _better(hg[right], ha[right], hg[left], ha[left], first_ts, ac_offs, ac_arena):
            best = right
        if _better(hg[best], ha[best], hg[i], ha[i], first_ts, ac_offs, ac_arena):
            hg[i], hg[best] = hg[best], hg[i]
            ha[i], ha[best] = ha[best], ha[i]
            i = best
        else:
            return


@njit(cache=True)
def _fen_prefix(fen, i):
    s = 0
    while i > 0:
        s += fen[i]
        i -= i & (-i)
    return s


@njit(cache=True)
def _fen_add(fen, i):
    i += 1
    n = fen.shape[0] - 1
    while i <= n:
        fen[i] += 1
        i += i & (-i)


@njit(cache=True)
def greedy_cutoff(par, kf, acct, ts, topo, n_acc, excluded, k, ac_offs, ac_arena):
    """(accounts, prevented) of up to ``k`` greedy picks with positive gain.

    ``topo``: a topological order of the forest ``par`` (empty = index order);
    ``excluded``: uint8 per account never to pick.

    Memory access is what costs at 10^6 nodes, so after one scatter into preorder space every
    pass but the per-account ones runs sequentially over preorder positions.
    """
    n = par.shape[0]
    cnt_v, pos = preorder_positions(par, topo)
    # One random write per node: account, subtree count and presence packed in one int64.
    packed = np.empty(n, np.int64)
    # Per-account state in one row (one cache line per visit): first ts, present count,
    # end of the open top-level interval, gain.
    st = np.zeros((n_acc, 4), np.int64)
    for a in range(n_acc):
        st[a, 0] = _NO_TS
    for v in range(n):
        a = acct[v]
        pr = 1 if kf[v] & _PRESENT else 0
        packed[pos[v]] = (np.int64(cnt_v[v]) << 33) | (np.int64(pr) << 32) | np.int64(a + 1)
        if pr:
            st[a, 1] += 1
            if ts[v] < st[a, 0]:
                st[a, 0] = ts[v]
    acc_p = np.empty(n, np.int32)
    cnt_p = np.empty(n, np.int32)
    pres_p = np.empty(n, np.uint8)
    # cum[i] = present events before position i: subtree sizes are differences.
    cum = np.empty(n + 1, np.int32)
    cum[0] = 0
    for i in range(n):
        x = packed[i]
        acc_p[i] = np.int32(x & 0xFFFFFFFF) - 1
        pres_p[i] = (x >> 32) & 1
        cnt_p[i] = x >> 33
        cum[i + 1] = cum[i] + pres_p[i]
    # Top-level flags in one preorder sweep: an account's earlier top-level subtrees are
    # disjoint intervals, so position i has a same-account ancestor iff it falls inside the
    # interval of the last top-level event of its account seen so far.
    topl = np.zeros(n, np.uint8)
    n_top = np.zeros(n_acc + 1, np.int32)
    for i in range(n):
        a = acc_p[i]
        if a >= 0 and i >= st[a, 2]:
            topl[i] = 1
            n_top[a + 1] += 1
            st[a, 2] = i + cnt_p[i]
            st[a, 3] += cum[i + cnt_p[i]] - cum[i]
    first_ts = st[:, 0].copy()
    pc = st[:, 1].copy()
    gain = st[:, 3].copy()
    for a in range(n_acc):
        n_top[a + 1] += n_top[a]
    tops = np.empty(n_top[n_acc], np.int32)
    fill = n_top[:-1].copy()
    for i in range(n):
        if topl[i]:
            a = acc_p[i]
            tops[fill[a]] = i
            fill[a] += 1
    m = 0
    for a in range(n_acc):
        gain[a] -= pc[a]
        if gain[a] > 0 and excluded[a] == 0:
            m += 1
    hg = np.empty(m, np.int64)
    ha = np.empty(m, np.int32)
    m = 0
    for a in range(n_acc):
        if gain[a] > 0 and excluded[a] == 0:
            hg[m] = gain[a]
            ha[m] = a
            m += 1
    for i in range(m // 2 - 1, -1, -1):
        _sift_down(hg, ha, m, i, first_ts, ac_offs, ac_arena)

    removed = np.zeros(n, np.uint8)
    fen = np.zeros(n + 1, np.int32)
    rpc = np.zeros(n_acc, np.int64)
    out_a = np.empty(k, np.int32)
    out_g = np.empty(k, np.int64)
    picked = 0
    while picked < k and m > 0:
        a = ha[0]
        g = 0
        for t in range(n_top[a], n_top[a + 1]):
            i = tops[t]
            if removed[i] == 0:
                e = i + cnt_p[i]
                g += (cum[e] - cum[i]) - (_fen_prefix(fen, e) - _fen_prefix(fen, i))
        g -= pc[a] - rpc[a]
        if g != hg[0]:
            if g > 0:
                hg[0] = g
            else:
                m -= 1
                hg[0] = hg[m]
                ha[0] = ha[m]
            _sift_down(hg, ha, m, 0, first_ts, ac_offs, ac_arena)
            continue
        m -= 1
        hg[0] = hg[m]
        ha[0] = ha[m]
        _sift_down(hg, ha, m, 0, first_ts, ac_offs, ac_arena)
        out_a[picked] = a
        out_g[picked] = g
        picked += 1
        for t in range(n_top[a], n_top[a + 1]):
            i = tops[t]
            end = i + cnt_p[i]
            while i < end:
                if removed[i]:
                    i += cnt_p[i]  # removals are whole subtrees: skip this one
                    continue
                removed[i] = 1
                if pres_p[i]:
                    _fen_add(fen, i)
                    rpc[acc_p[i]] += 1
                i += 1
    return out_a[:picked], out_g[:picked]
