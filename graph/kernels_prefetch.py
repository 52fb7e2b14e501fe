"""Batched hash lookups for the ingest kernel, software-pipelined so that their cache misses
overlap.

Why: at 10^6 ids every probe misses the caches (and, on this VM, the TLB), and one lookup is a
chain of dependent loads (table slot, then the id's offsets, then its bytes) that the CPU cannot
overlap. :func:`resolve` looks up a run of strings in stages ``DIST`` strings apart: hash and
prefetch the slot; walk the probe run and prefetch the offsets of the candidate whose tag
matches; prefetch its bytes (and ``extra[id]``); then the real lookup, which hits the caches.
So dozens of misses are in flight at once, and each line is touched within a short window (an
earlier version prefetched a whole chunk per wave: its pages fell out of the TLB before use).
The results are the indices at the start of the batch: an id found stays valid (ids are never
removed or renumbered), an id not found must be looked up again by the row (an earlier row of
the batch may have added it). ``prefetch`` is LLVM's prefetch intrinsic: unlike a plain load it
never waits for the line.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from graph.ids import fnv1a, lookup

PROBE_SLOTS = 4  # slots of a probe run looked at (at load <= 0.6 almost every run is shorter)


@intrinsic
def prefetch(typingctx, arr, idx):
    """Hint the CPU to load the cache line of ``arr[idx]`` (no bounds check: a prefetch of any
    address is harmless, and only in-bounds indices are passed)."""
    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        # read, highest locality (keep in all levels), data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return types.void(arr, types.intp), codegen


DIST = 16  # strings between pipeline stages: enough misses in flight, few pages between uses


@njit(cache=True)
def _candidate(table, mask, tags, h):
    """Index in the first slot of ``h``'s probe run whose tag matches; -1 when the run ends
    without one (the id is absent), -2 when PROBE_SLOTS slots did not settle it."""
    tag = np.int64(h >> np.uint64(32)) & tags
    slot = np.int64(h & np.uint64(mask))
    for _ in range(PROBE_SLOTS):
        v = np.int64(table[slot])
        if v == -1:
            return -1
        if (v & tags) == tag:
            return v & mask
        slot = (slot + 1) & mask
    return -2


@njit(cache=True)
def resolve(table, offs, arena, buf, starts, ends, lo, hi, hs, res, extra):
    """For strings ``k = lo..hi-1``: ``hs[k]`` = hash (0 for an empty string), ``res[k]`` = index
    in the table or -1 (absent or empty). ``extra[index]`` (if ``extra`` is not empty) is
    prefetched for the ids found, for the caller's next read.

    >>> from graph.ids import IdIndex, encode_batch
    >>> ix = IdIndex(); _ = ix.add(["a", "b"])
    >>> buf, s, e = encode_batch(["b", "zz", None, "a"])
    >>> hs, res = np.zeros(4, np.uint64), np.zeros(4, np.int64)
    >>> resolve(ix.table, ix.offs, ix.arena, buf, s, e, 0, 4, hs, res, np.zeros(0, np.uint8))
    >>> res.tolist(), bool(hs[0] == fnv1a(buf, s[0], e[0])), int(hs[2])
    ([1, -1, -1, 0], True, 0)
    """
    mask = np.int64(table.shape[0] - 1)
    tags = np.int64(0x7FFFFFFF) & ~mask
    has_extra = extra.shape[0] > 0
    for m in range(lo, hi + 3 * DIST):
        if m < hi:  # stage 1: hash, prefetch the first slot
            if ends[m] > starts[m]:
                h = fnv1a(buf, starts[m], ends[m])
                hs[m] = h
                prefetch(table, np.int64(h & np.uint64(mask)))
            else:
                hs[m] = 0
        k = m - DIST
        if lo <= k < hi:  # stage 2: the candidate's offsets
            c = -1
            if ends[k] > starts[k]:
                c = _candidate(table, mask, tags, hs[k])
                if c >= 0:
                    prefetch(offs, c)
            res[k] = c
        k = m - 2 * DIST
        if lo <= k < hi and res[k] >= 0:  # stage 3: its bytes and extra
            prefetch(arena, np.int64(offs[res[k]]))
            if has_extra:
                prefetch(extra, res[k])
        k = m - 3 * DIST
        if lo <= k < hi and res[k] != -1:  # stage 4: the real lookup, from the caches
            j, _ = lookup(table, offs, arena, buf, starts[k], ends[k], hs[k])
            res[k] = j
