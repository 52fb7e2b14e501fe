"""Software prefetch for the ingest kernel: bring the hash-table lines a batch will probe into the
caches before the rows that need them run.

Why: at 10^6 ids every probe misses the caches, and one lookup is a chain of dependent loads
(table slot, then the id's offsets, then its bytes) that the CPU cannot overlap. Issued here in
three waves of independent prefetches over a chunk of rows (slots; offsets of the candidates
whose tag matches; their bytes), the misses overlap, and the real lookups then hit the caches.
``prefetch`` is LLVM's prefetch intrinsic: unlike a plain load it never waits for the line.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from graph.ids import fnv1a

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


@njit(cache=True)
def hash_prefetch(table, buf, starts, ends, lo, hi, hs):
    """Wave 1: hash strings ``lo..hi-1`` into ``hs`` (0 for an empty one) and prefetch their
    first table slot."""
    mask = np.uint64(table.shape[0] - 1)
    for i in range(lo, hi):
        if ends[i] > starts[i]:
            h = fnv1a(buf, starts[i], ends[i])
            hs[i] = h
            prefetch(table, np.int64(h & mask))
        else:
            hs[i] = 0


@njit(cache=True)
def offsets_prefetch(table, offs, starts, ends, lo, hi, hs, extra):
    """Wave 2 over strings ``lo..hi-1`` (hashes in ``hs``): walk each probe run (up to
    PROBE_SLOTS slots, as the lookup will) and, for the slots whose tag matches, prefetch the
    id's offsets and ``extra[id]`` (``extra`` may be empty)."""
    mask = np.int64(table.shape[0] - 1)
    tags = np.int64(0x7FFFFFFF) & ~mask
    has_extra = extra.shape[0] > 0
    for i in range(lo, hi):
        if ends[i] == starts[i]:
            continue
        h = hs[i]
        tag = np.int64(h >> np.uint64(32)) & tags
        slot = np.int64(h & np.uint64(mask))
        for _ in range(PROBE_SLOTS):
            v = np.int64(table[slot])
            if v == -1:
                break
            if (v & tags) == tag:
                prefetch(offs, v & mask)
                if has_extra:
                    prefetch(extra, v & mask)
            slot = (slot + 1) & mask


@njit(cache=True)
def bytes_prefetch(table, offs, arena, starts, ends, lo, hi, hs):
    """Wave 3: prefetch the first byte of every tag-matching candidate of strings ``lo..hi-1``."""
    mask = np.int64(table.shape[0] - 1)
    tags = np.int64(0x7FFFFFFF) & ~mask
    for i in range(lo, hi):
        if ends[i] == starts[i]:
            continue
        h = hs[i]
        tag = np.int64(h >> np.uint64(32)) & tags
        slot = np.int64(h & np.uint64(mask))
        for _ in range(PROBE_SLOTS):
            v = np.int64(table[slot])
            if v == -1:
                break
            if (v & tags) == tag:
                prefetch(arena, np.int64(offs[v & mask]))
            slot = (slot + 1) & mask


@njit(cache=True)
def warm_chunk(table, offs, arena, buf, starts, ends, lo, hi, hs, extra):
    """All three waves for strings ``lo..hi-1`` of one table (see the module docstring).

    >>> from graph.ids import IdIndex, encode_batch
    >>> ix = IdIndex(); _ = ix.add(["a", "b"])
    >>> buf, s, e = encode_batch(["b", "zz", None])
    >>> hs = np.zeros(3, np.uint64)
    >>> warm_chunk(ix.table, ix.offs, ix.arena, buf, s, e, 0, 3, hs, np.zeros(0, np.uint8))
    >>> bool(hs[0] == fnv1a(buf, s[0], e[0])), int(hs[2])
    (True, 0)
    """
    hash_prefetch(table, buf, starts, ends, lo, hi, hs)
    offsets_prefetch(table, offs, starts, ends, lo, hi, hs, extra)
    bytes_prefetch(table, offs, arena, starts, ends, lo, hi, hs)
