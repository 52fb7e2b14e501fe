"""The prefetch intrinsic and the pipelining constants of the ingest kernel's batched hash
lookups (:func:`graph.kernels_resolve.resolve_slots`, :func:`graph.kernels_rehash.fill_table_ahead`).

Why pipelining: at 10^6 ids every probe misses the caches (and, on this VM, the TLB), and one
lookup is a chain of dependent loads (table slot, then the id's offsets, then its bytes) that the
CPU cannot overlap. The lookups therefore run in stages ``DIST`` strings apart: hash and prefetch
the slot; walk the probe run and prefetch the offsets of the candidate whose tag matches;
prefetch its bytes (and ``extra[id]``); then the real lookup, which hits the caches. So dozens
of misses are in flight at once, and each line is touched within a short window (an earlier
version prefetched a whole chunk per wave: its pages fell out of the TLB before use).
``prefetch`` is LLVM's prefetch intrinsic: unlike a plain load it never waits for the line.
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

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
