"""Where the live update's time goes: ``add_batch`` of 1,000 shares onto a big cascade, split;
with ``--cutoff``, the same for the cut-off question.

    python -m benchmarks.profile_update [--shares 1000000] [--shape hawkes] [--rounds 15]
                                        [--batch 1000] [--between queries|none] [--seed 0] [--json]
    python -m benchmarks.profile_update --cutoff [--shares 1000000] [--shape ic] [--rounds 9]
    python -m benchmarks.profile_update --message [--shares 1000000] [--shape hawkes] [--rounds 15]

Builds the graph as `rumour bench trace` does (benchmarks/bench_trace.py: the first n shares in
batches of 10,000), then times fresh batches of ``--batch`` shares in rounds of three kinds,
taken in turn (medians over ``--rounds`` of each kind, milliseconds):

- ``whole``: ``add_batch`` as one call, the figure `bench trace` reports as ``update_1000_ms``;
- ``stages``: the same path one stage at a time: ``join_encode`` (Python: the four id columns
  joined and UTF-8 encoded, graph.ids_encode.joined_utf8), ``split`` (numba: the string
  offsets), ``prepare`` (checks, status arrays), ``kernel`` (graph/kernels_ingest.py ``add_rows``
  with the wrapper's loop around it) and ``result`` (the AddResult);
- ``parts``: the kernel's two halves apart: ``resolve`` (the hash lookups of every event,
  account and parent event id ahead of the rows, ``_resolve_rows``, read-only) and
  ``dispatch`` (the kernel called on zero rows: numba's per-call cost of its 26 arguments);
  then the batch is added untimed. ``rows`` = kernel - resolve - dispatch: the per-row loop.

``--cutoff`` times, per round on the built graph (thread CPU time, so other processes on the
machine count less): ``cutoff`` (``cutoff(10)`` with the forest cached, as the bench), ``view``
(the resolved forest and subtree sizes, cold) and ``sizes`` (the subtree sizes sweep alone);
inside the greedy (graph/kernels_cutoff.py): ``setup`` (preorder state and initial gains; of it
``node_counts`` and ``preorder_slots``, the preorder's two sweeps, the first skipped when every
node is present), ``bands`` (the heap's first band by bit length) and ``picks`` (the rest of
``greedy``: the lazy heap, Fenwick queries, removals).

``--message`` splits `bench trace`'s ``update_1000_message_ms`` instead: a columnar Kafka message
of ``--batch`` shares from bytes to graph through the worker's functions, ``whole`` and by stage
(decode, validate, encode, crossref, add; benchmarks/trace_message.py), rounds taken in turn,
each after the bench's queries.

``--between queries`` (default) asks what the bench asks between two updates (origins, chains,
cut-off, cold subtree sizes) before every timed round, so the update starts from the same cold
caches as in the bench; ``none`` times back-to-back updates (warm caches, a lower bound).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from benchmarks import trace_shapes
from benchmarks.bench_args import non_negative_int, positive_int
from benchmarks.outputs import emit, load_average, progress
from graph import CascadeGraph, cutoff_scratch
from graph import kernels_cutoff as kc
from graph import kernels_ingest as ki
from graph import kernels_tree as kt
from graph.kernels_cutoff_heap import by_bit_length_into
from graph.cascade import _result
from graph.ids_encode import joined_utf8, split_nul

STEP = 10_000
STAGES = ("join_encode", "split", "prepare", "kernel", "result")

_Z8 = np.zeros(0, np.uint8)
_Z64 = np.zeros(0, np.int64)
_ZI8 = np.zeros(0, np.int8)


def _between(g: CascadeGraph, probes) -> None:
    # What bench_trace asks after each update (its caches-cold starting point for the next).
    g.origins(limit=100)
    for e in probes:
        g.chain(e)
    g.cutoff(10)
    g._cache = None
    g.subtree_sizes()


def _stages(g: CascadeGraph, cols, sl, out: dict) -> None:
    eid, aid, ts, pe, pa = cols
    clock = time.perf_counter
    t0 = clock()
    columns = (eid[sl], aid[sl], pe[sl], pa[sl])
    buf = joined_utf8(columns)
    t1 = clock()
    st, en, ok = split_nul(buf, 4 * len(columns[0]))
    t2 = clock()
    assert ok, "an id holds NUL: not the encode path profiled"
    ts_in, kind_in = g._rows_in(st, en, ts[sl], None)
    n = ts_in.shape[0]
    status = np.zeros(n, np.int8)
    reason = np.zeros(n, np.int8)
    t3 = clock()
    n_rej = g._apply(buf, st, en, ts_in, kind_in, status, reason)
    t4 = clock()
    _result(status, reason, n_rej)
    t5 = clock()
    for name, a, b in zip(STAGES, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5)):
        out.setdefault(name, []).append((b - a) * 1e3)


def _parts(g: CascadeGraph, cols, sl, out: dict) -> None:
    eid, aid, ts, pe, pa = cols
    buf = joined_utf8((eid[sl], aid[sl], pe[sl], pa[sl]))
    n = sl.stop - sl.start
    st, en, _ = split_nul(buf, 4 * n)
    hs = np.empty(3 * n, np.uint64)
    res = np.empty(3 * n, np.int64)
    ev, ac = g.ev, g.ac
    t0 = time.perf_counter()
    ki._resolve_rows(ev.table, ev.offs, ev.arena, ac.table, ac.offs, ac.arena, g.kf, buf, st, en,
                     hs, res, n, 0, n)
    t1 = time.perf_counter()
    ki.add_rows(ev.table, ev.offs, ev.arena, ev.limit, ac.table, ac.offs, ac.arena, ac.limit,
                g.plink, g.acct, g.ts, g.kf, g.dsu, g.npres, g.aph, g.n_nodes, ac.count,
                _Z8, _Z64, _Z64, _Z64, _Z8, _ZI8, _ZI8, 0, g.n_blind)
    t2 = time.perf_counter()
    out.setdefault("resolve", []).append((t1 - t0) * 1e3)
    out.setdefault("dispatch", []).append((t2 - t1) * 1e3)
    g.add_encoded(buf, st, en, ts[sl])


def profile(shape: str, shares: int, rounds: int, batch: int, between: str, seed: int):
    """(the medians row, the graph at the end: every share added once, whatever the round)."""
    s = trace_shapes.make(shape, shares + 3 * rounds * batch, seed)
    cols = trace_shapes.columns(s)
    eid, aid, ts, pe, pa = cols
    g = CascadeGraph("profile")
    for i in range(0, shares, STEP):
        j = min(i + STEP, shares)
        g.add_batch(eid[i:j], aid[i:j], ts[i:j], pe[i:j], pa[i:j])
    rng = np.random.default_rng(seed + 1)
    probes = [eid[int(i)] for i in rng.integers(0, shares, 10)]
    progress(f"profile_update {shape}: {shares} shares built; {3 * rounds} rounds ...")
    times: dict = {}
    pos = shares
    for r in range(3 * rounds):
        sl = slice(pos, pos + batch)
        pos += batch
        if between == "queries":
            _between(g, probes)
        kind = r % 3
        if kind == 0:
            t0 = time.perf_counter()
            g.add_batch(eid[sl], aid[sl], ts[sl], pe[sl], pa[sl])
            times.setdefault("whole", []).append((time.perf_counter() - t0) * 1e3)
        elif kind == 1:
            _stages(g, cols, sl, times)
        else:
            _parts(g, cols, sl, times)
    med = {k: round(statistics.median(v), 4) for k, v in times.items()}
    med["rows"] = round(med["kernel"] - med["resolve"] - med["dispatch"], 4)
    med["stages_sum"] = round(sum(med[k] for k in STAGES), 4)
    return {"shape": shape, "shares": shares, "batch": batch, "rounds": rounds,
            "between": between, "ms": med, "load_average": load_average()}, g


def profile_cutoff(shape: str, shares: int, rounds: int, seed: int, k: int = 10) -> dict:
    """Medians (ms of thread CPU time) of the cut-off's parts on a ``shares``-share cascade."""
    eid, aid, ts, pe, pa = trace_shapes.columns(trace_shapes.make(shape, shares, seed))
    g = CascadeGraph("profile")
    for i in range(0, shares, STEP):
        j = min(i + STEP, shares)
        g.add_batch(eid[i:j], aid[i:j], ts[i:j], pe[i:j], pa[i:j])
    progress(f"profile_update --cutoff {shape}: {shares} shares built; {rounds} rounds ...")
    clock = time.thread_time
    times: dict = {}

    def timed(name, fn):
        t0 = clock()
        out = fn()
        times.setdefault(name, []).append((clock() - t0) * 1e3)
        return out

    n, n_acc = g.n_nodes, g.ac.count
    kf, acct, tss = g.kf[:n], g.acct[:n], g.ts[:n]
    scratch = cutoff_scratch.for_thread()  # the cut-off's own: its pages are touched already
    for _ in range(rounds):
        g._cache = None
        par, topo, sz = timed("view", g._view)
        timed("sizes", lambda: kt.subtree_sizes(par, kf, topo))
        timed("cutoff", lambda: g.cutoff(k))
        nodes, accounts = scratch.fit(n, n_acc)
        cnt = timed("node_counts", lambda: kt.node_counts_into(par, topo, nodes.cnt))
        timed("preorder_slots", lambda: kt.preorder_slots_into(par, topo, cnt, nodes.slot[:n],
                                                               nodes.nxt))
        row = timed("setup", lambda: kc._setup(par, kf, acct, tss, sz, topo, n_acc, nodes,
                                               accounts))[3]
        excluded = np.zeros(n_acc, np.uint8)
        kc.mark_origin_accounts(par, sz, acct, excluded)
        timed("bands", lambda: by_bit_length_into(row, excluded, n_acc, accounts.bits, accounts.order))
        timed("greedy", lambda: kc.greedy_cutoff(par, kf, acct, tss, sz, topo, n_acc, excluded, k,
                                                 g.ac.offs, g.ac.arena, 0, scratch))
    med = {name: round(statistics.median(v), 3) for name, v in times.items()}
    med["picks"] = round(med["greedy"] - med["setup"] - med["bands"], 3)
    return {"shape": shape, "shares": shares, "accounts": n_acc, "all_present": g.n_events == n,
            "rounds": rounds, "cpu_ms": med, "load_average": load_average()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.profile_update",
                                 description="The live update's time split into its stages.")
    ap.add_argument("--shares", type=positive_int, default=1_000_000, help="graph size (default 10^6)")
    ap.add_argument("--shape", default="hawkes", choices=trace_shapes.SHAPES)
    ap.add_argument("--rounds", type=positive_int, default=15, help="timed rounds of each kind (default 15)")
    ap.add_argument("--batch", type=positive_int, default=1_000, help="shares per update (default 1000)")
    ap.add_argument("--between", choices=("queries", "none"), default="queries",
                    help="what runs before each timed round (default: the bench's queries)")
    ap.add_argument("--seed", type=non_negative_int, default=0, help="seed of the cascade (default 0)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--cutoff", action="store_true", help="profile the cut-off question instead")
    mode.add_argument("--message", action="store_true",
                      help="profile the update as the worker takes it: a columnar message, bytes to graph")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if args.cutoff:
        profile_cutoff("hawkes", 2_000, 1, 0)  # compile or load the numba caches
        emit(profile_cutoff(args.shape, args.shares, args.rounds, args.seed), args.json)
        return 0
    if args.message:
        from benchmarks.trace_message import profile_message  # it imports this module

        profile_message("hawkes", 3_000, 1, 100, 0)  # compile or load the numba caches
        emit(profile_message(args.shape, args.shares, args.rounds, args.batch, args.seed)[0], args.json)
        return 0
    # Compile or load the numba caches outside every timing.
    profile("hawkes", 3_000, 1, 100, "queries", 0)
    row, _ = profile(args.shape, args.shares, args.rounds, args.batch, args.between, args.seed)
    emit(row, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
