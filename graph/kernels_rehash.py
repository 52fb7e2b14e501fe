"""Refilling an id table after it grew, with the slot of the id ``AHEAD`` places on prefetched.

Why: growth is part of a live update. At 10^6 ids a plain refill (one id after the other; its
reference is ``fill_table`` in tests/naive.py) waits for one cache/TLB miss per id, about 135-170 ms of CPU per event table (and as much for an
independent cascade's account table), which lands in the one 1,000-share update that crosses
the load limit. Hashing id ``j + AHEAD`` and prefetching its slot while id ``j`` is inserted
keeps dozens of misses in flight (measured 30-35 ms). Same insertion order as the plain refill,
so the same table.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from graph.ids_slots import home_slot, id_hash, index_mask, next_slot, tag_of
from graph.kernels_prefetch import prefetch

AHEAD = 32  # ids between the hash + prefetch of a slot and the insert into it
_RING = 64  # hashes kept in flight (a power of two > AHEAD)


@njit(cache=True, nogil=True)
def fill_table_ahead(table, offs, arena, count):
    """Insert ids ``0..count-1`` (blanks skipped) into the empty ``table`` (all -1), in order.

    >>> from graph.ids import IdIndex
    >>> ix = IdIndex(); _ = ix.add([f"id{i}" for i in range(100)])
    >>> b = np.full(150, -1, np.int32); fill_table_ahead(b, ix.offs, ix.arena, ix.count)
    >>> sorted((b[b >= 0] & 255).tolist()) == list(range(100))  # each id's index, once
    True
    """
    size = np.int64(table.shape[0])
    mask = index_mask(size)
    ring = np.empty(_RING, np.uint64)
    for m in range(count + AHEAD):
        if m < count:
            h = id_hash(arena, offs[m], offs[m + 1])
            ring[m & (_RING - 1)] = h
            prefetch(table, home_slot(h, size))
        j = m - AHEAD
        if j < 0 or offs[j + 1] == offs[j]:
            continue
        h = ring[j & (_RING - 1)]
        slot = home_slot(h, size)
        while table[slot] != -1:
            slot = next_slot(slot, size)
        table[slot] = j | tag_of(h, mask)
