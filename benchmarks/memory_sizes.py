"""Bytes per share of the live graph at every size of a growing cascade, not only at the sizes
``rumour bench trace`` stops at: the hash tables and the arrays grow in steps, so the
bytes per share jump right after each growth and the worst size says more than a round one.

    python -m benchmarks.memory_sizes [--shapes ic,hawkes] [--max 2100000] [--step 10000] [--seed 0] [--json]

The cascade (benchmarks/trace_shapes.py) is added ``step`` shares at a time; after each batch the
graph answers ``origins()`` (so it holds the cache a live graph keeps after a question, as the
trace bench counts it), then ``graph.nbytes() / shares`` is read. Printed per shape: the worst
size and its bytes per share, how many of the sizes are over issue 5's 64, and the figure at
10^4, 10^5, 10^6 and 2 x 10^6 when reached.
"""
from __future__ import annotations

import argparse
import sys

from benchmarks import trace_shapes
from benchmarks.bench_args import names_of, non_negative_int, positive_int
from benchmarks.outputs import emit, progress
from graph import CascadeGraph

LIMIT = 64.0
MARKS = (10_000, 100_000, 1_000_000, 2_000_000)


def scan(shape: str, n_max: int, step: int, seed: int) -> dict:
    """One shape's scan: worst size, sizes over LIMIT, bytes per share at MARKS.

    >>> r = scan("hawkes", 3000, 1000, 0)
    >>> r["sizes"], r["worst_size"] in (1000, 2000, 3000), r["worst_bytes_per_share"] > 0
    (3, True, True)
    """
    cols = trace_shapes.columns(trace_shapes.make(shape, n_max, seed))
    g = CascadeGraph(shape)
    worst, worst_n, over, sizes, marks = 0.0, 0, 0, 0, {}
    for i in range(0, n_max, step):
        g.add_batch(*(c[i:i + step] for c in cols))
        g.origins(limit=1)
        n = g.n_events
        b = g.nbytes() / n
        sizes += 1
        over += b > LIMIT
        if b > worst:
            worst, worst_n = b, n
        if n in MARKS:
            marks[str(n)] = round(b, 1)
    return {"shape": shape, "max_shares": n_max, "step": step, "sizes": sizes,
            "worst_bytes_per_share": round(worst, 1), "worst_size": worst_n,
            "sizes_over_64": over, "at": marks}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.memory_sizes", description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", type=names_of(trace_shapes.SHAPES), default="ic,hawkes",
                    help=f"comma-separated cascade shapes, of {', '.join(trace_shapes.SHAPES)} (default ic,hawkes)")
    ap.add_argument("--max", type=positive_int, default=2_100_000, help="largest size in shares (default 2100000)")
    ap.add_argument("--step", type=positive_int, default=10_000, help="shares added between readings (default 10000)")
    ap.add_argument("--seed", type=non_negative_int, default=0, help="seed of the cascades (default 0)")
    ap.add_argument("--json", action="store_true", help="print one JSON object per shape")
    args = ap.parse_args(argv)
    if args.step > args.max:
        ap.error(f"--step {args.step} is above --max {args.max}: no size would be read")
    for shape in args.shapes:
        progress(f"memory_sizes {shape}: up to {args.max} shares in steps of {args.step} ...")
        emit(scan(shape, args.max, args.step, args.seed), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
