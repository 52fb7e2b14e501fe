"""Numba kernel for the cut-off question: which k accounts, suspended, prevent the most shares.

prevented(a) = present events by *other* accounts inside the union of the subtrees of a's events
(present events and a's unobserved placeholders), not counting what earlier picks already cut.

Why it is cheap: the union of a's subtrees is the disjoint union of the subtrees of a's
*top-level* events (those with no ancestor of the same account). So

    gain(a) = sum(size(t) for t top-level of a) - present(a)

with every size taken over what is still standing. Greedy picks the best gain; cutting removes
whole subtrees, so every gain can only fall, and a lazy max-heap is exact: pop the top, recompute
its gain against the current cuts (a Fenwick tree over DFS preorder positions counts removed
present events in any subtree interval in O(log n), one point per removed subtree); if it is
unchanged it is the true maximum, else push it back with the new gain. Each node is removed at
most once.

Ties: earliest first present event, then account id (bytes), so results never depend on the
arrival order.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from graph.cutoff_scratch import CutoffScratch
from graph.kernels_cutoff_heap import by_bit_length_into, first_band, sift_down
from graph.kernels_prefetch import SWEEP_AHEAD, prefetch
from graph.kernels_tree import node_counts_into, preorder_slots_into

_PRESENT = 0x80
_NO_TS = np.iinfo(np.int64).max


@njit(cache=True)
def _fen_prefix(fen, i):
    s = 0
    while i > 0:
        s += fen[i]
        i -= i & (-i)
    return s


@njit(cache=True)
def _fen_add(fen, i, x):
    i += 1
    n = fen.shape[0] - 1
    while i <= n:
        fen[i] += x
        i += i & (-i)


@njit(cache=True)
def _setup(par, kf, acct, ts, sz, topo, n_acc, nodes, accounts):
    """Preorder state and initial gains: (packed, cum, nxt_top, row, first_ts, flags), written
    into the buffers ``nodes`` and ``accounts`` (graph/cutoff_scratch.py ``fit``).

    ``packed[i]`` = subtree node count << 33 | present << 32 | account + 1 of the node at
    preorder position ``i`` (account field 0 also for an account's only node: see below);
    ``cum[i]`` = present events before position ``i``; ``row[a]`` = (present count, 0 for an
    account with a single node (else the end of its last top-level interval), first top-level
    position, gain) and ``nxt_top`` links an account's top-level positions (-1 ends the list;
    only accounts with several nodes have one); ``flags`` (zeros) is the greedy's per-position
    scratch.

    Memory access is what costs at 10^6 nodes: one random write per node scatters into
    preorder space, the per-account state is kept small (16 bytes a row), and everything
    else runs sequentially over preorder positions. The random targets (the preorder slot,
    the account's row and first_ts) are prefetched SWEEP_AHEAD nodes ahead (kernels_prefetch).
    An account with a single node (every account, in an independent-cascade shape) is settled
    in node order: that node is top-level and its gain is its subtree size ``sz``, so the
    preorder sweep skips it.
    """
    n = par.shape[0]
    # When every node is a present event (no placeholder) the node counts are the present
    # counts ``sz`` already holds: one sweep of random updates saved.
    all_present = True
    for v in range(n):
        if (kf[v] & _PRESENT) == 0:
            all_present = False
            break
    slot, nxt, cnt, packed, cum, nxt_top, flags, _ = nodes
    row, first_ts = accounts.row, accounts.first_ts
    cnt_v = sz if all_present else node_counts_into(par, topo, cnt)
    pos = preorder_slots_into(par, topo, cnt_v, slot[:n], nxt)
    row[:] = 0
    for v in range(n):
        a = acct[v]
        if a >= 0:
            row[a, 1] += 1  # nodes per account
    first_ts[:] = _NO_TS
    row_flat = row.reshape(-1)  # a view: prefetch takes one index
    for v in range(n):
        if v + SWEEP_AHEAD < n:
            u = v + SWEEP_AHEAD
            prefetch(packed, pos[u])
            b = acct[u]
            if b >= 0:
                prefetch(row_flat, 4 * b)
                prefetch(first_ts, b)
        a = acct[v]
        x = np.int64(cnt_v[v]) << 33
        if kf[v] & _PRESENT:
            x |= np.int64(1) << 32
            row[a, 0] += 1
            if ts[v] < first_ts[a]:
                first_ts[a] = ts[v]
        if a >= 0 and row[a, 1] == 1:
            row[a, 2] = pos[v]
            row[a, 3] = sz[v]
            packed[pos[v]] = x
        else:
            packed[pos[v]] = x | np.int64(a + 1)
    cum[0] = 0
    for i in range(n):
        cum[i + 1] = cum[i] + np.int32((packed[i] >> 32) & 1)
    multi = False
    for a in range(n_acc):
        if row[a, 1] != 1:
            row[a, 2] = -1
            multi |= row[a, 1] > 1
        row[a, 1] = 0
    # Top-level flags in one preorder sweep: an account's earlier top-level subtrees are
    # disjoint intervals, so position i has a same-account ancestor iff it falls inside the
    # interval of the last top-level event of its account seen so far. Only accounts with
    # several nodes have a list to link (single-node ones are never followed: row[a, 1] is 0),
    # so without any (every account of an independent cascade) the sweep is skipped.
    for i in range(n if multi else 0):
        if i + SWEEP_AHEAD < n:
            b = np.int32(packed[i + SWEEP_AHEAD] & 0xFFFFFFFF) - 1
            if b >= 0:
                prefetch(row_flat, 4 * b)
        x = packed[i]
        a = np.int32(x & 0xFFFFFFFF) - 1
        if a >= 0 and i >= row[a, 1]:
            e = i + np.int32(x >> 33)
            row[a, 1] = e
            nxt_top[i] = row[a, 2]
            row[a, 2] = i
            row[a, 3] += cum[e] - cum[i]
    flags[:] = 0
    return packed, cum, nxt_top, row, first_ts, flags


@njit(cache=True)
def mark_origin_accounts(par, sz, acct, excluded):
    """``excluded[a]`` = 1 for every account of a root with present events under it, else 0
    (the origins a cut-off leaves out); one sweep, no temporaries.

    >>> ex = np.full(3, 7, np.uint8)
    >>> par, sz = np.array([-1, 0, -1], np.int32), np.array([2, 1, 0], np.int32)
    >>> mark_origin_accounts(par, sz, np.array([2, 0, 1], np.int32), ex); ex.tolist()
    [0, 0, 1]
    """
    excluded[:] = 0
    for v in range(par.shape[0]):
        if par[v] < 0 and sz[v] > 0 and acct[v] >= 0:
            excluded[acct[v]] = 1


@njit(cache=True)
def _rebuild(packed, flags, nxt_top, row, rpc, hg, ha, m, first_ts, ac_offs, ac_arena, cum):
    """Exact current gains of the ``m`` heap entries, those still positive heaped again;
    returns their number. ``cum`` (n + 1) is scratch.

    Only standing top-level positions count (``flags`` bit 0: removed); gains never rise, so
    an account not in the heap cannot have gained since. (``rpc`` is not kept for
    single-node accounts: once their node is removed their gain is <= 0 either way.)
    """
    n = packed.shape[0]
    cum[0] = 0
    for i in range(n):
        cum[i + 1] = cum[i] + np.int32(((packed[i] >> 32) & 1) != 0 and (flags[i] & 1) == 0)
    kept = 0
    for idx in range(m):
        # Most accounts here are dead after a deep cut; each read below is a cache miss at 10^6
        # nodes, so a dead one costs only its row and one flag: a single-node account (row[a, 1]
        # 0 after _setup) has no next top-level position to read, and with nothing standing
        # under its top-level events the gain is <= 0 whatever its removed own events (rpc).
        a = ha[idx]
        g = np.int64(0)
        t = row[a, 2]
        single = row[a, 1] == 0
        while t >= 0:
            if (flags[t] & 1) == 0:
                g += cum[t + np.int32(packed[t] >> 33)] - cum[t]
            if single:
                break
            t = nxt_top[t]
        if g <= 0:
            continue
        g -= row[a, 0] - rpc[a]
        if g > 0:
            hg[kept] = g
            ha[kept] = a
            kept += 1
    for i in range(kept // 2 - 1, -1, -1):
        sift_down(hg, ha, kept, i, first_ts, ac_offs, ac_arena)
    return kept


def greedy_cutoff(par, kf, acct, ts, sz, topo, n_acc, excluded, k, ac_offs, ac_arena,
                  band=0, scratch=None):
    """(accounts, prevented) of up to ``k`` greedy picks with positive gain.

    ``sz``: present events per subtree; ``topo``: a topological order of the forest ``par``
    (empty = index order);
    ``excluded``: uint8 per account never to pick; ``band``: about how many accounts the heap
    starts with (0: max(1024, 64 k); tests pass small ones); ``scratch``: the
    :class:`graph.cutoff_scratch.CutoffScratch` to work in (None: a new one).

    >>> par = np.array([-1, 0, 1, 1], np.int32)  # src -> hub -> a, b
    >>> acct, ts = np.array([0, 1, 2, 3], np.int32), np.arange(4, dtype=np.int64)
    >>> kf, sz = np.full(4, 0x80, np.uint8), np.array([4, 3, 1, 1], np.int32)
    >>> ac_offs, ac_arena = np.arange(5, dtype=np.int64), np.frombuffer(b"shab", np.uint8)
    >>> excluded = np.array([1, 0, 0, 0], np.uint8)  # src: an origin
    >>> a, g = greedy_cutoff(par, kf, acct, ts, sz, np.zeros(0, np.int32), 4, excluded, 2,
    ...                      ac_offs, ac_arena)
    >>> a.tolist(), g.tolist()
    ([1], [2])
    """
    if scratch is None:
        scratch = CutoffScratch()
    nodes, accounts = scratch.fit(par.shape[0], n_acc)
    return _greedy(par, kf, acct, ts, sz, topo, n_acc, excluded, k, ac_offs, ac_arena, band,
                   nodes, accounts)


@njit(cache=True)
def _greedy(par, kf, acct, ts, sz, topo, n_acc, excluded, k, ac_offs, ac_arena, band, nodes,
            accounts):
    """:func:`greedy_cutoff` in the scratch buffers ``nodes`` and ``accounts``.

    Removed nodes form whole subtrees (a laminar family of preorder intervals), so the Fenwick
    tree gets one point per removed subtree (its newly removed present events, at its start)
    rather than one per node: a standing subtree's interval contains a removed subtree's start
    exactly when it contains all of it.

    The heap starts with only the accounts whose initial gains have the longest bit lengths:
    heapifying every account (10^5-10^6 of them, each comparison a random read of
    ``first_ts``) cost more than the picks. Accounts left out hold gains below ``thr``, so a
    top confirmed at ``>= thr`` is the true maximum (equal gains share a bit length, so they
    are all in or all out); if the heap's best bound falls below ``thr``, every other account
    comes in through one exact sweep.
    """
    n = par.shape[0]
    packed, cum, nxt_top, row, first_ts, removed = _setup(par, kf, acct, ts, sz, topo, n_acc,
                                                          nodes, accounts)
    slot, fen = nodes.slot, nodes.fen  # the preorder slots are dead now: the rebuild's prefix sums
    bits, order_buf, hg, ha = accounts.bits, accounts.order, accounts.hg, accounts.ha
    rpc = accounts.rpc
    want = band if band > 0 else max(1024, 64 * k)
    order, start = by_bit_length_into(row, excluded, n_acc, bits, order_buf)
    # Every account outside the heap has a gain below ``thr`` (1: none is outside).
    m, thr = first_band(row, order, start, want, hg, ha, first_ts, ac_offs, ac_arena)
    taken = m  # accounts of ``order`` brought into the heap so far

    # Bit 0: removed; bit 1: a root. ``rest`` = standing present events that are not roots, an
    # upper bound on every gain (a pick prevents only events below one of its top-level ones):
    # at 0 the heap holds only stale entries, so stop instead of draining it.
    rest = cum[n]
    i = 0
    while i < n:
        removed[i] |= 2
        rest -= np.int32((packed[i] >> 32) & 1)
        i += np.int32(packed[i] >> 33)
    fen[:] = 0
    rpc[:] = 0
    out_a = np.empty(k, np.int32)
    out_g = np.empty(k, np.int64)
    picked = 0
    stale = 0
    max_stale = max(256, (n + n_acc) >> 10)
    while picked < k and rest > 0:
        if thr > 1 and (m == 0 or hg[0] < thr):
            # The heap's best bound fell below what some outside account may hold: bring every
            # remaining account in with one exact sweep (cuts that deep leave most of them
            # dead, and the sweep drops those, rather than popping each as stale).
            rest_acc = order.shape[0] - taken
            ha[m:m + rest_acc] = order[taken:]
            m = _rebuild(packed, removed, nxt_top, row, rpc, hg, ha, m + rest_acc, first_ts,
                         ac_offs, ac_arena, slot)
            taken = order.shape[0]
            thr = 1
            stale = 0
            continue
        if m == 0:
            break
        if stale > max_stale:
            # Big cuts leave many stale heap entries; one exact sweep is cheaper than popping
            # each of them through the heap.
            m = _rebuild(packed, removed, nxt_top, row, rpc, hg, ha, m, first_ts, ac_offs, ac_arena,
                         slot)
            stale = 0
            continue
        a = ha[0]
        g = 0
        i = row[a, 2]
        single = row[a, 1] == 0  # its top-level list is this one position
        while i >= 0:
            if (removed[i] & 1) == 0:
                e = i + np.int32(packed[i] >> 33)
                g += (cum[e] - cum[i]) - (_fen_prefix(fen, e) - _fen_prefix(fen, i))
            i = -1 if single else nxt_top[i]
        g -= row[a, 0] - rpc[a]
        if g != hg[0]:
            stale += 1
            if g > 0:
                hg[0] = g
            else:
                m -= 1
                hg[0] = hg[m]
                ha[0] = ha[m]
            sift_down(hg, ha, m, 0, first_ts, ac_offs, ac_arena)
            continue
        m -= 1
        hg[0] = hg[m]
        ha[0] = ha[m]
        sift_down(hg, ha, m, 0, first_ts, ac_offs, ac_arena)
        out_a[picked] = a
        out_g[picked] = g
        picked += 1
        stale = 0
        t = row[a, 2]
        while t >= 0:
            if (removed[t] & 1) == 0:
                if removed[t] & 2 and (packed[t] >> 32) & 1:
                    rest += 1  # the root's own event is counted below but was not in ``rest``
                i = t
                end = t + np.int32(packed[t] >> 33)
                fresh = 0
                while i < end:
                    x = packed[i]
                    if removed[i] & 1:
                        i += np.int32(x >> 33)  # removals are whole subtrees: skip this one
                        continue
                    removed[i] |= 1
                    if (x >> 32) & 1:
                        fresh += 1
                        rest -= 1
                        b = np.int32(x & 0xFFFFFFFF) - 1
                        if b >= 0:
                            rpc[b] += 1
                    i += 1
                _fen_add(fen, t, fresh)
            t = -1 if single else nxt_top[t]
    return out_a[:picked], out_g[:picked]
