"""Compact interning of external id strings to dense int32 indices.

Why not a ``dict[str, int]``: a Python dict holding a str object per id costs ~100 bytes per
entry, and issue 5 allows 64 bytes per share for the whole live graph. Here the strings live
UTF-8 encoded back to back in one growable byte arena (``offs[i]:offs[i+1]`` is id ``i``), and
an open-addressing table of int32 slots finds them by hash. This module owns the growth: table
sizes (:func:`_table_size`), the load limit, the geometric growth of the arrays and the refill
after a step. The slot layout and the numba helpers that hash and probe a table (``id_hash``,
``lookup``, ``append_at``, ...) are in :mod:`graph.ids_slots`, re-exported here.

Lookups and appends take a batch of strings already UTF-8 encoded by
:func:`graph.ids_encode.encode_batch` (re-exported here with ``split_nul``).

Index ``i`` may also be a *blank* entry (empty string, not in the table): the graph uses those
for nodes that have no event id (an account's unobserved placeholder).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from graph.ids_encode import encode_batch, split_nul
from graph.ids_slots import (append_at, bytes_cmp, home_slot, id_hash, index_mask, lookup,
                             next_slot, tag_of)
from graph.kernels_rehash import fill_table_ahead
from graph.kernels_resolve import resolve_slots

# The public API; it names the re-exported helpers of graph.ids_encode and graph.ids_slots too.
__all__ = ["IdIndex", "encode_batch", "split_nul", "id_hash", "bytes_cmp", "tag_of", "index_mask",
           "home_slot", "next_slot", "lookup", "append_at", "rehash", "MAX_LOAD", "GROWTH",
           "TABLE_GROWTH", "MAX_ARENA"]

# 0.8 rather than 0.6: right after a table grows it holds 4 * TABLE_GROWTH / MAX_LOAD bytes per
# id, and with two tables (events, accounts) that spike put an independent cascade above issue
# 5's 64 bytes per share at most sizes (RESULTS.md, "bytes per share across sizes"); the tags
# keep the longer probe runs cheap (a 10^6 update measured the same, one near the 0.8 limit
# about 20% slower).
MAX_LOAD = 0.8


# Tables grow by at most 1.5 rather than doubling (sizes 2**k and 1.5 * 2**k, so steps of 1.5
# and 4/3: :func:`_table_size`): right after a step a table holds at most
# 4 * TABLE_GROWTH / MAX_LOAD bytes per id (7.5 instead of 10), and with two tables (events,
# accounts) the doubling spike alone put an independent cascade over issue 5's 64 bytes per share
# at 40 of 210 sizes (RESULTS.md, "bytes per share across sizes"). The 4/3 steps keep the mean
# load lower than steps of 1.5 would (a fuller table makes longer probe runs for new ids).
TABLE_GROWTH = 1.5  # the largest step


def rehash(offs, arena, count, size):
    """A fresh table of ``size`` slots holding ids ``0..count-1`` (blanks skipped)."""
    # Allocated by numpy, not in the kernel: numpy asks the kernel for huge pages on big arrays,
    # so the random probes of a 10^6-slot table cost fewer TLB misses.
    table = np.full(size, -1, np.int32)
    fill_table_ahead(table, offs, arena, count)
    return table


@njit(cache=True, nogil=True)
def _find_many(table, offs, arena, buf, starts, ends):
    # The ingest kernel's pipelined lookups (graph/kernels_resolve.py): in a big table every
    # probe misses the caches, and looking the ids up one after another paid each miss in turn
    # (the worker's cross-rumour check asks this of every parent of a batch).
    n = starts.shape[0]
    hs = np.empty(n, np.uint64)
    res = np.empty(n, np.int64)
    resolve_slots(table, offs, arena, buf, starts, ends, 0, n, hs, res, np.zeros(0, np.uint8))
    out = np.empty(n, np.int32)
    for i in range(n):
        out[i] = res[i] if res[i] >= 0 else -1
    return out


GROWTH = 1.125  # geometric, so appends stay amortised O(1); 1.125 rather than 2 to waste less memory
MAX_ARENA = 2**31 - 1  # int32 offsets: at most 2 GiB of id bytes per index


def _grown(arr: np.ndarray, need: int, fill=None) -> np.ndarray:
    """``arr`` or a copy with capacity >= need, growing geometrically (amortised O(1) appends)."""
    cap = arr.shape[0]
    if need <= cap:
        return arr
    # Whole GROWTH steps until it fits: the capacity after n appends is then the same whether
    # they came one at a time or in batches (memory per share does not depend on batch sizes).
    new_cap = max(cap, 16)
    while new_cap < need:
        new_cap = max(int(GROWTH * new_cap), new_cap + 1)
    out = np.empty(new_cap, arr.dtype) if fill is None else np.full(new_cap, fill, arr.dtype)
    out[:cap] = arr
    return out


class IdIndex:
    """Interned strings -> dense indices ``0..len-1`` in first-seen order.

    >>> ix = IdIndex()
    >>> ix.add(["a", "b", "a"]).tolist(), len(ix), ix.get("b"), ix.get("zz")
    ([0, 1, 0], 2, 1, -1)
    >>> ix.string(1)
    'b'
    """

    def __init__(self, capacity: int = 16):
        self.count = 0
        self.offs = np.zeros(max(capacity, 1) + 1, np.int32)
        self.arena = np.zeros(max(capacity, 1) * 8, np.uint8)
        self.table = np.full(_table_size(capacity), -1, np.int32)

    def __len__(self) -> int:
        return self.count

    def reserve(self, extra_ids: int, extra_bytes: int) -> None:
        """Make room for ``extra_ids`` more ids of ``extra_bytes`` bytes in total."""
        need = self.count + extra_ids
        self.offs = _grown(self.offs, need + 1)
        need_bytes = int(self.offs[self.count]) + extra_bytes
        if need_bytes > MAX_ARENA:
            raise OverflowError("more than 2 GiB of id bytes in one index")
        self.arena = _grown(self.arena, min(need_bytes, MAX_ARENA))
        if self.arena.shape[0] > MAX_ARENA:
            self.arena = self.arena[:MAX_ARENA].copy()
        if need > MAX_LOAD * self.table.shape[0]:
            size = _table_size(need)
            self.table = rehash(self.offs, self.arena, self.count, size)

    @property
    def limit(self) -> int:
        """Most ids the current table may hold before it must grow."""
        return int(MAX_LOAD * self.table.shape[0])

    def find(self, strings) -> np.ndarray:
        """int32 index per string, -1 when absent (or empty/None)."""
        return self.find_encoded(*encode_batch(strings))

    def find_encoded(self, buf, starts, ends) -> np.ndarray:
        """:meth:`find` of strings already encoded (``buf[starts[i]:ends[i]]``, as from
        :func:`encode_batch`): a batch encoded once serves every lookup.

        >>> ix = IdIndex(); _ = ix.add(["a", "b"])
        >>> buf, s, e = encode_batch(["b", "zz", None])
        >>> ix.find_encoded(buf, s, e).tolist()
        [1, -1, -1]
        """
        if len(starts) == 0:
            return np.zeros(0, np.int32)
        return _find_many(self.table, self.offs, self.arena, buf, starts, ends)

    def get(self, string: str) -> int:
        """Index of one string, -1 when absent."""
        return int(self.find([string])[0])

    def add(self, strings) -> np.ndarray:
        """Intern every string (None/empty not allowed); int32 index per string."""
        return self.add_encoded(*encode_batch(strings))

    def add_encoded(self, buf, starts, ends) -> np.ndarray:
        """:meth:`add` of strings already encoded (``buf[starts[i]:ends[i]]``, none empty), such
        as another index's own bytes (its ``arena`` and ``offs``): no str made.

        >>> ix = IdIndex(); buf, s, e = encode_batch(["a", "b", "a"])
        >>> ix.add_encoded(buf, s, e).tolist(), ix.count
        ([0, 1, 0], 2)
        """
        if np.any(ends == starts):
            raise ValueError("empty id")
        if len(starts) == 0:
            return np.zeros(0, np.int32)
        self.reserve(len(starts), int((ends - starts).sum()))
        out, self.count = _add_many(self.table, self.offs, self.arena, self.count, buf, starts, ends)
        return out

    def string(self, i: int) -> str | None:
        """The string of index ``i`` (None for a blank entry)."""
        a, b = int(self.offs[i]), int(self.offs[i + 1])
        if a == b:
            return None
        return self.arena[a:b].tobytes().decode("utf-8", "surrogatepass")

    def strings(self, idx) -> list:
        """Strings of many indices (None for blanks and for -1).

        >>> ix = IdIndex(); _ = ix.add(["a", "bé"])
        >>> ix.strings([1, -1, 0])
        ['bé', None, 'a']
        """
        idx = np.ascontiguousarray(idx, dtype=np.int64).reshape(-1)
        if idx.shape[0] == 0:
            return []
        # One gather, one decode and one split instead of a decode per id (27k origins: 90 ->
        # a few ms). Ids are never empty, so an empty part is a blank or -1.
        parts = _gather_nul(self.offs, self.arena, idx).tobytes().decode(
            "utf-8", "surrogatepass").split("\x00")
        if len(parts) == idx.shape[0] + 1:
            return [p or None for p in parts[:-1]]
        return self._strings_slow(idx)  # some id contains NUL itself

    def utf8_range(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The UTF-8 bytes of ids ``lo..hi-1`` as ``(buf, starts, ends)`` (id ``lo + k`` is
        ``buf[starts[k]:ends[k]]``, a blank is empty), the layout of :func:`encode_batch`:
        copies, so they stay valid while the index grows, and no str is decoded.

        >>> ix = IdIndex(); _ = ix.add(["a", "bé", "c"])
        >>> buf, s, e = ix.utf8_range(1, 3)
        >>> [bytes(buf[a:b]).decode("utf-8") for a, b in zip(s, e)]
        ['bé', 'c']
        """
        if not 0 <= lo <= hi <= self.count:
            raise IndexError(f"ids {lo}..{hi} of {self.count}")
        offs = self.offs[lo:hi + 1].astype(np.int64)
        base = offs[0]
        buf = self.arena[base:offs[-1]].copy()
        return buf, offs[:-1] - base, offs[1:] - base

    def _strings_slow(self, idx) -> list:
        offs, arena = self.offs, self.arena
        out = []
        for i in np.asarray(idx).tolist():
            if i < 0:
                out.append(None)
                continue
            a, b = offs[i], offs[i + 1]
            out.append(arena[a:b].tobytes().decode("utf-8", "surrogatepass") if b > a else None)
        return out

    def nbytes(self) -> int:
        return self.offs.nbytes + self.arena.nbytes + self.table.nbytes


@njit(cache=True, nogil=True)
def _gather_nul(offs, arena, idx):
    """The bytes of ids ``idx`` (-1: none), each followed by a NUL byte."""
    total = idx.shape[0]
    for i in idx:
        if i >= 0:
            total += offs[i + 1] - offs[i]
    out = np.empty(total, np.uint8)
    k = 0
    for i in idx:
        if i >= 0:
            for t in range(offs[i], offs[i + 1]):
                out[k] = arena[t]
                k += 1
        out[k] = 0
        k += 1
    return out


def _table_size(n: int) -> int:
    """Slots of a table for ``n`` ids: the first of 16, 24, 32, 48, 64, 96, ... (powers of two
    and 1.5 times them, so steps of 1.5 and 4/3) whose load stays <= MAX_LOAD; the size depends
    on ``n`` alone, not on how the ids arrived.

    >>> [_table_size(n) for n in (1, 12, 13, 20, 26, 800_000, 1_010_000)]
    [16, 16, 24, 32, 48, 1048576, 1572864]
    """
    size = 16
    while size * MAX_LOAD < n:
        size = size * 3 // 2 if size & (size - 1) == 0 else size * 4 // 3
    return size


@njit(cache=True, nogil=True)
def _add_many(table, offs, arena, count, buf, starts, ends):
    out = np.empty(starts.shape[0], np.int32)
    for i in range(starts.shape[0]):
        s = starts[i]
        e = ends[i]
        h = id_hash(buf, s, e)
        j, slot = lookup(table, offs, arena, buf, s, e, h)
        if j < 0:
            j = count
            count = append_at(table, slot, offs, arena, count, buf, s, e, h)
        out[i] = j
    return out, count
