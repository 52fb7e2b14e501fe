"""``prefetch``: LLVM's prefetch intrinsic for numba kernels. Unlike a plain load it never waits
for the line, so a kernel can have dozens of cache misses in flight (used by the pipelined id
lookups of :mod:`graph.kernels_resolve`, the table refill of :mod:`graph.kernels_rehash`, and the
cut-off's setup sweeps, which write a random preorder slot and account row per node:
:mod:`graph.kernels_cutoff`).
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# Nodes between the prefetch of a sweep's random target and its use. Why: when a sweep writes
# a random slot per node (the cut-off's preorder scatter, its per-account rows) every write
# misses at 10^6 nodes and the CPU keeps few of them in flight on its own; 16 ahead measured
# that scatter at 10^6 about 1.8x faster. Not for the parent sweeps of graph/kernels_tree.py
# (``sz[par[v]] += sz[v]``): a parent is mostly a recent node, already cached, and there the
# prefetch measured slower (the preorder slots 2.6 -> 5.3 ms).
SWEEP_AHEAD = 16


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

