"""Batched, pipelined hash lookups for the ingest kernel that also keep, for an absent id, the
empty slot where its probe run ended.

Why the slot: in a live update most ids are new (every event id; in an independent cascade
every account too), and the row that inserts one used to walk its probe run a second time.
A slot remembered as empty stays the right insert position while it is still empty: slots are
never cleared (the table is only replaced between kernel calls, and the kernel then resolves
again), an insert only fills the first empty slot of its own run, and every slot of this id's
run before that one was already occupied and differing. So if the slot is still empty the id
is still absent and goes there; if an earlier row of the batch filled it (maybe with this very
id) the row looks up again.

Why pipelining: at 10^6 ids every probe misses the caches (and, on this VM, the TLB), and one
lookup is a chain of dependent loads (table slot, then the id's offsets, then its bytes) that the
CPU cannot overlap. The lookups therefore run in stages ``DIST`` strings apart: hash and prefetch
the slot; walk the probe run and prefetch the offsets of the candidate whose tag matches;
prefetch its bytes (and ``extra[id]``); then the real lookup, which hits the caches. So dozens
of misses are in flight at once, and each line is touched within a short window (an earlier
version prefetched a whole chunk per wave: its pages fell out of the TLB before use).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from graph.ids_slots import home_slot, id_hash, index_mask, lookup, next_slot, tag_of
from graph.kernels_prefetch import prefetch

DIST = 16  # strings between pipeline stages: enough misses in flight, few pages between uses
PROBE_SLOTS = 8  # slots of a probe run looked at (longer runs, rarer at load <= 0.8: stage 4)

UNSETTLED = -(1 << 62)  # stage 2 could not tell in PROBE_SLOTS slots: stage 4 looks it up


@njit(cache=True)
def absent_at(slot):
    """The ``res`` code of an id absent from the table whose probe run ends at ``slot``."""
    return -2 - slot


@njit(cache=True)
def _candidate(table, size, mask, tags, h):
    # The index in the first slot of h's run whose tag matches (>= 0), the absent code of the
    # run's empty end, or UNSETTLED after PROBE_SLOTS slots.
    tag = tag_of(h, mask)
    slot = home_slot(h, size)
    for _ in range(PROBE_SLOTS):
        v = np.int64(table[slot])
        if v == -1:
            return absent_at(slot)
        if (v & tags) == tag:
            return v & mask
        slot = next_slot(slot, size)
    return UNSETTLED


@njit(cache=True)
def resolve_slots(table, offs, arena, buf, starts, ends, lo, hi, hs, res, extra):
    """For strings ``k = lo..hi-1``: ``hs[k]`` = hash (0 for an empty string), ``res[k]`` = the
    index (>= 0), -1 for an empty string, or ``-2 - slot`` when absent (``slot``: the empty
    slot ending its probe run; see :func:`settle`). ``extra[index]`` (if ``extra`` is not
    empty) is prefetched for the ids found.

    >>> from graph.ids import IdIndex, encode_batch
    >>> ix = IdIndex(); _ = ix.add(["a", "b"])
    >>> buf, s, e = encode_batch(["b", "zz", None, "a"])
    >>> hs, res = np.zeros(4, np.uint64), np.zeros(4, np.int64)
    >>> resolve_slots(ix.table, ix.offs, ix.arena, buf, s, e, 0, 4, hs, res, np.zeros(0, np.uint8))
    >>> res[[0, 2, 3]].tolist(), bool(ix.table[-2 - res[1]] == -1)
    ([1, -1, 0], True)
    """
    size = np.int64(table.shape[0])
    mask = index_mask(size)
    tags = np.int64(0x7FFFFFFF) & ~mask
    has_extra = extra.shape[0] > 0
    for m in range(lo, hi + 3 * DIST):
        if m < hi:  # stage 1: hash, prefetch the first slot
            if ends[m] > starts[m]:
                h = id_hash(buf, starts[m], ends[m])
                hs[m] = h
                prefetch(table, home_slot(h, size))
            else:
                hs[m] = 0
        k = m - DIST
        if lo <= k < hi:  # stage 2: the candidate's offsets
            c = -1
            if ends[k] > starts[k]:
                c = _candidate(table, size, mask, tags, hs[k])
                if c >= 0:
                    prefetch(offs, c)
            res[k] = c
        k = m - 2 * DIST
        if lo <= k < hi and res[k] >= 0:  # stage 3: its bytes and extra
            prefetch(arena, np.int64(offs[res[k]]))
            if has_extra:
                prefetch(extra, res[k])
        k = m - 3 * DIST
        if lo <= k < hi and (res[k] >= 0 or res[k] == UNSETTLED):  # stage 4: from the caches
            j, slot = lookup(table, offs, arena, buf, starts[k], ends[k], hs[k])
            res[k] = j if j >= 0 else absent_at(slot)


@njit(cache=True)
def settle(table, offs, arena, buf, s, e, h, r):
    """(index or -1, insert slot or -1) of ``buf[s:e]`` (hash ``h``, non-empty) now, from its
    ``res`` code ``r`` of :func:`resolve_slots` taken earlier in the same kernel call (ids added
    since then are found too). Only when the remembered slot was filled meanwhile does it walk
    the probe run again.

    >>> from graph.ids import IdIndex, encode_batch, append_at
    >>> ix = IdIndex(); _ = ix.add(["a"])
    >>> buf, s, e = encode_batch(["zz"])
    >>> hs, res = np.zeros(1, np.uint64), np.zeros(1, np.int64)
    >>> resolve_slots(ix.table, ix.offs, ix.arena, buf, s, e, 0, 1, hs, res, np.zeros(0, np.uint8))
    >>> j, slot = settle(ix.table, ix.offs, ix.arena, buf, s[0], e[0], hs[0], res[0])
    >>> int(j), bool(slot == -2 - res[0])
    (-1, True)
    >>> ix.count = append_at(ix.table, slot, ix.offs, ix.arena, ix.count, buf, s[0], e[0], hs[0])
    >>> int(settle(ix.table, ix.offs, ix.arena, buf, s[0], e[0], hs[0], res[0])[0])
    1
    """
    if r >= 0:
        return r, np.int64(-1)
    slot = -2 - r
    if r <= -2 and table[slot] == -1:
        return np.int64(-1), slot
    return lookup(table, offs, arena, buf, s, e, h)
