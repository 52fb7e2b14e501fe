"""Numba kernel that appends a batch of share events to the node arrays of one cascade.

Node ``j`` is both the event-id index ``j`` and the row ``j`` of the node arrays:

- ``plink[j]``: the parent as recorded: ``>= 0`` a parent node (present or placeholder), ``-1``
  none, ``<= -2`` an account-only link to account ``-plink-2`` (resolved at query time, because
  which event of that account it means depends on events that may arrive later);
- ``acct[j]``: account index, ``-1`` unknown (a placeholder nobody named an account for);
- ``ts[j]``: epoch ms (0 for placeholders); ``kf[j]``: kind bits and FLAG_* bits;
- ``dsu[j]``: union-find over the event-id links only (lazily built from ``plink``, which is itself
  a valid union-find forest), so that "does this link close a cycle"
  is answered in near O(1) instead of walking a possibly 100k-deep ancestor path.

The kernel never reallocates: it checks room for the worst case of one row (3 nodes, 2 accounts)
and returns to the wrapper, which grows the arrays geometrically and resumes. ``dsu`` and the
per-account ``npres`` (present events) / ``aph`` (placeholder node) arrays are allocated only
once a stream needs them (a placeholder filled / an account-only link), as empty arrays until
then. The ids' hash lookups are done ahead, a chunk of rows at a time, by the pipelined
:func:`graph.kernels_resolve.resolve_slots`; a row inserts an id the chunk had not seen at the
empty slot remembered for it, and walks the probe run again only if an earlier row filled that
slot (:func:`graph.kernels_resolve.settle`).
The kernels called from Python release the GIL (``nogil=True``): the worker's store-write thread
runs its Python (clickhouse-driver) while the next batch's graphs are updated.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from graph.ids_slots import append_at, bytes_cmp, home_slot, id_hash
from graph.kernels_prefetch import prefetch
from graph.kernels_resolve import resolve_slots, settle
from graph.types import DEFAULT_KIND

_PRESENT = 0x80
_ACCT_PH = 0x40
_DEFAULT_KIND = DEFAULT_KIND

OK, DUP, REJ = 0, 1, 2
R_CYCLE, R_EMPTY_EVENT, R_EMPTY_ACCOUNT = 1, 2, 3


@njit(cache=True)
def dsu_find(dsu, x):
    """Representative of ``x`` with path halving (amortised O(log n), no recursion)."""
    while dsu[x] != x:
        dsu[x] = dsu[dsu[x]]
        x = dsu[x]
    return x


@njit(cache=True)
def _new_node(j, plink, acct, ts, kf, dsu, have_dsu):
    plink[j] = -1
    acct[j] = -1
    ts[j] = 0
    kf[j] = 0
    if have_dsu:
        dsu[j] = j


@njit(cache=True)
def _account(ac_table, ac_offs, ac_arena, n_acc, npres, aph, have_acc, buf, s, e, h, r):
    """Account index of ``buf[s:e]`` (hash ``h``, ``res`` code ``r`` of resolve_slots, or -1
    when not resolved ahead), interning it; returns (index, new n_acc)."""
    a, slot = settle(ac_table, ac_offs, ac_arena, buf, s, e, h, r)
    if a < 0:
        a = n_acc
        n_acc = append_at(ac_table, slot, ac_offs, ac_arena, n_acc, buf, s, e, h)
        if have_acc:
            npres[a] = 0
            aph[a] = -1
    return a, n_acc


@njit(cache=True)
def _resolve_rows(ev_table, ev_offs, ev_arena, ac_table, ac_offs, ac_arena, kf, buf, st, en,
                  hs, res, n, lo, hi):
    """Hash and look up the event, account and parent event ids of rows ``lo..hi-1`` into
    ``hs``/``res`` (graph/kernels_resolve.py), prefetching the present flags of the events."""
    resolve_slots(ev_table, ev_offs, ev_arena, buf, st, en, lo, hi, hs, res, kf)
    resolve_slots(ev_table, ev_offs, ev_arena, buf, st, en, 2 * n + lo, 2 * n + hi, hs, res, kf)
    resolve_slots(ac_table, ac_offs, ac_arena, buf, st, en, n + lo, n + hi, hs, res, kf[:0])


NEED_NOTHING, NEED_ROOM, NEED_DSU, NEED_ACCOUNT_ARRAYS = 0, 1, 2, 3
# Rows looked up ahead at a time (a 1,000-share update in one go; big build batches in pieces,
# so that a resume after the arrays grew does not redo much).
WARM_ROWS = 1024
AHEAD = 8  # rows


@njit(cache=True, nogil=True)
def add_rows(ev_table, ev_offs, ev_arena, ev_limit, ac_table, ac_offs, ac_arena, ac_limit,
             plink, acct, ts, kf, dsu, npres, aph, n_nodes, n_acc,
             buf, st, en, ts_in, kind_in, status, reason, first, n_blind):
    """Apply rows ``first..`` in order, filling ``status``/``reason``.

    The ids of the ``n`` rows are the strings ``buf[st[k]:en[k]]`` (graph.ids.encode_batch of the
    four columns): event id ``k = i``, account ``n + i``, parent event ``2n + i``, parent account
    ``3n + i``; empty = none.
    ``n_blind`` counts placeholders with no account yet (while 0 and there are no account-only
    links, the recorded links are already the resolved forest).
    ``kind_in`` empty: every row is DEFAULT_KIND.
    Returns (row, need, n_nodes, n_acc, n_added, n_account_links, n_blind, n_rejected): it
    stops *before* row ``row`` when it needs the wrapper to act (``need``: NEED_ROOM = grow
    arrays for one more row, NEED_DSU / NEED_ACCOUNT_ARRAYS = allocate those lazily), so arrays
    only grow when needed and in-order streams never pay for the union-find or the per-account
    arrays.
    ``ev_limit``/``ac_limit``: most ids each hash table may hold.
    """
    n = ts_in.shape[0]
    A, P, Q = n, 2 * n, 3 * n
    hs = np.empty(3 * n, np.uint64)  # hash of every event, account and parent event id
    # Their index at the start of the chunk, or where it would have gone (resolve_slots: an
    # earlier row may have added it since, settle() checks); an index found never changes.
    res = np.empty(3 * n, np.int64)
    n_added = 0
    n_rej = 0
    has_kind = kind_in.shape[0] > 0
    n_alinks = 0
    have_dsu = dsu.shape[0] > 0
    have_acc = npres.shape[0] > 0
    ev_size = np.int64(ev_table.shape[0])
    warmed = first
    for i in range(first, n):
        if i >= warmed:
            hi = min(i + WARM_ROWS, n)
            _resolve_rows(ev_table, ev_offs, ev_arena, ac_table, ac_offs, ac_arena, kf, buf, st,
                          en, hs, res, n, i, hi)
            warmed = hi
        if i + AHEAD < warmed:
            # Again, just ahead of the row: the lines looked up a chunk ago are likely still
            # cached, but their pages no longer in the TLB.
            prefetch(ev_table, home_slot(hs[i + AHEAD], ev_size))
            if res[P + i + AHEAD] >= 0:
                prefetch(kf, res[P + i + AHEAD])
        s0 = st[i]
        s1 = en[i]
        if s1 == s0:
            status[i] = REJ
            n_rej += 1
            reason[i] = R_EMPTY_EVENT
            continue
        if en[A + i] == st[A + i]:
            status[i] = REJ
            n_rej += 1
            reason[i] = R_EMPTY_ACCOUNT
            continue
        ps, pe = st[P + i], en[P + i]
        qs, qe = st[Q + i], en[Q + i]
        has_pe = pe > ps
        has_pa = qe > qs
        if (n_nodes + 3 > plink.shape[0] or n_nodes + 3 >= ev_offs.shape[0]
                or ev_offs[n_nodes] + (s1 - s0) + (pe - ps) > ev_arena.shape[0]
                or n_nodes + 2 > ev_limit
                or n_acc + 2 >= ac_offs.shape[0] or n_acc + 2 > ac_limit
                or ac_offs[n_acc] + (en[A + i] - st[A + i]) + (qe - qs) > ac_arena.shape[0]
                or (have_acc and n_acc + 2 > npres.shape[0])):
            return i, NEED_ROOM, n_nodes, n_acc, n_added, n_alinks, n_blind, n_rej
        if has_pa and not has_pe and not have_acc:
            return i, NEED_ACCOUNT_ARRAYS, n_nodes, n_acc, n_added, n_alinks, n_blind, n_rej
        eh = hs[i]
        j, jslot = settle(ev_table, ev_offs, ev_arena, buf, s0, s1, eh, res[i])
        if j >= 0 and (kf[j] & _PRESENT) != 0:
            status[i] = DUP
            continue
        p = -1
        if has_pe:
            if bytes_cmp(buf, ps, pe, buf, s0, s1) == 0:
                status[i] = REJ
                n_rej += 1
                reason[i] = R_CYCLE
                continue
            if j >= 0:
                p, _ = settle(ev_table, ev_offs, ev_arena, buf, ps, pe, hs[P + i], res[P + i])
                if p >= 0:
                    if not have_dsu:
                        return i, NEED_DSU, n_nodes, n_acc, n_added, n_alinks, n_blind, n_rej
                    # j is a placeholder, hence a root of its event-link tree: linking it under
                    # p closes a cycle exactly when p already lies in that tree.
                    if dsu_find(dsu, p) == dsu_find(dsu, j):
                        status[i] = REJ
                        n_rej += 1
                        reason[i] = R_CYCLE
                        continue
        if j >= 0 and acct[j] < 0:
            n_blind -= 1  # a placeholder nobody had named an account for gets its own
        if j < 0:
            j = n_nodes
            n_nodes = append_at(ev_table, jslot, ev_offs, ev_arena, n_nodes, buf, s0, s1, eh)
            _new_node(j, plink, acct, ts, kf, dsu, have_dsu)
        a = res[A + i]
        if a < 0:
            a, n_acc = _account(ac_table, ac_offs, ac_arena, n_acc, npres, aph, have_acc,
                                buf, st[A + i], en[A + i], hs[A + i], a)
        if has_pe:
            if p < 0:
                h = hs[P + i]
                p, pslot = settle(ev_table, ev_offs, ev_arena, buf, ps, pe, h, res[P + i])
                if p < 0:
                    p = n_nodes
                    n_nodes = append_at(ev_table, pslot, ev_offs, ev_arena, n_nodes,
                                        buf, ps, pe, h)
                    _new_node(p, plink, acct, ts, kf, dsu, have_dsu)
                    n_blind += 1
            plink[j] = p
            if has_pa and (kf[p] & _PRESENT) == 0:
                # Children may disagree on whose the missing parent was: keep the smallest id,
                # so the answer does not depend on which child came first. (A present parent's
                # own account always wins, so then the claim is not even interned.)
                b, n_acc = _account(ac_table, ac_offs, ac_arena, n_acc, npres, aph, have_acc,
                                    buf, qs, qe, id_hash(buf, qs, qe), -1)
                c = acct[p]
                if c < 0:
                    acct[p] = b
                    n_blind -= 1
                elif bytes_cmp(ac_arena, ac_offs[b], ac_offs[b + 1],
                               ac_arena, ac_offs[c], ac_offs[c + 1]) < 0:
                    acct[p] = b
            if have_dsu:
                dsu[dsu_find(dsu, j)] = dsu_find(dsu, p)
        elif has_pa:
            b, n_acc = _account(ac_table, ac_offs, ac_arena, n_acc, npres, aph, have_acc,
                                buf, qs, qe, id_hash(buf, qs, qe), -1)
            plink[j] = -(b + 2)
            n_alinks += 1
            # Events are never removed, so once an account has a present event (other than
            # this one) its children always resolve to a real event; else they need a stand-in.
            if npres[b] == 0 and aph[b] < 0:
                q = n_nodes
                n_nodes = append_at(ev_table, -1, ev_offs, ev_arena, n_nodes, buf, 0, 0, eh)
                _new_node(q, plink, acct, ts, kf, dsu, have_dsu)
                acct[q] = b
                kf[q] = _ACCT_PH
                aph[b] = q
        else:
            plink[j] = -1
        acct[j] = a
        ts[j] = ts_in[i]
        kf[j] = ((kind_in[i] if has_kind else _DEFAULT_KIND) & 0x07) | _PRESENT
        if have_acc:
            npres[a] += 1
        status[i] = OK
        n_added += 1
    return n, NEED_NOTHING, n_nodes, n_acc, n_added, n_alinks, n_blind, n_rej


@njit(cache=True, nogil=True)
def _same_bytes(buf, a0, a1, b0, b1):
    if a1 - a0 != b1 - b0:
        return False
    for t in range(a1 - a0):
        if buf[a0 + t] != buf[b0 + t]:
            return False
    return True


@njit(cache=True, nogil=True)
def _pair_hash(buf, s, e, group):
    return id_hash(buf, s, e) ^ (np.uint64(group) * np.uint64(0x9E3779B97F4A7C15))


@njit(cache=True, nogil=True)
def _pair_slot(table, buf, st, en, group, s, e, g, mask):
    """The slot of (g, bytes s:e) in the open-addressing ``table`` of row numbers: the row
    holding that pair, or the empty slot (-1) where it would go."""
    slot = _pair_hash(buf, s, e, g) & mask
    while True:
        j = table[slot]
        if j < 0 or (group[j] == g and _same_bytes(buf, st[j], en[j], s, e)):
            return slot
        slot = (slot + np.uint64(1)) & mask


@njit(cache=True, nogil=True)
def parents_outside(buf, st, en, group):
    """Rows whose parent event id is set but is no event id of a row of the same ``group``.

    ``buf``/``st``/``en``: graph.ids.encode_batch of (event id, account, parent event, ...)
    columns of ``n = group.shape[0]`` rows (event id ``i``, parent event id ``2n + i``); empty
    parent = none. One open-addressing table over (group, event id) replaces a Python set of
    (rumour, event) tuples (the cross-rumour check, streams/crossref.py).

    >>> from graph.ids import encode_batch
    >>> buf, st, en = encode_batch(["a", "b", "c"], ["u"] * 3, [None, "a", "a"], [None] * 3)
    >>> parents_outside(buf, st, en, np.array([0, 0, 1])).tolist()
    [False, False, True]
    """
    n = group.shape[0]
    size = 16
    while size < 2 * n:
        size *= 2
    mask = np.uint64(size - 1)
    table = np.full(size, -1, np.int64)
    for i in range(n):
        slot = _pair_slot(table, buf, st, en, group, st[i], en[i], group[i], mask)
        if table[slot] < 0:
            table[slot] = i
    out = np.zeros(n, np.bool_)
    P = 2 * n
    for i in range(n):
        s, e = st[P + i], en[P + i]
        if e != s:
            out[i] = table[_pair_slot(table, buf, st, en, group, s, e, group[i], mask)] < 0
    return out
