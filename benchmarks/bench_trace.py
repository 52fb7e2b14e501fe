"""`rumour bench trace`: the graph core's query times on big cascades, against networkx and the
machine's random-access limit.

    rumour bench trace [--sizes 10000,100000,1000000] [--shapes hawkes,ic] [--repeat 5]
                       [--seed 0] [--networkx-max 1000000] [--networkx-budget 60] [--json]

For each shape and size n (10^7 only when listed in --sizes) a seeded cascade of n + 1000*repeat
shares is generated (benchmarks/trace_shapes.py; 3 * 1000 * repeat since the message rounds); the first n are ingested in batches of 10,000,
then each of ``repeat`` rounds times, in this order (medians reported):

- ``update_1000_ms``: ``add_batch`` of the next 1,000 shares, the add alone (the live update);
  ``update_1000_trace_ms`` adds the query a dashboard asks right after: ``trace(k=10)``, timed
  on the next round's 1,000 shares (so both start from a fresh batch).
- ``update_1000_message_ms``: the update as the worker takes it, after those rounds: a columnar
  Kafka message of the next 1,000 shares (built untimed, as `rumour produce --format columns`
  sends it) from bytes to graph through the worker's ``Pipeline.prepare`` (decode, column
  checks, ids encoded once, cross-rumour parent check, ``add_encoded``; no store write), each
  round after the queries below (so from the caches ``update_1000_ms`` starts from). Its split
  by stage: ``python -m benchmarks.profile_update --message`` (benchmarks/trace_message.py).
  ``shares_at_end``, ``accounts`` and ``bytes_per_share`` are taken before these rounds.
- ``origins_ms``: origins (the full ranking, the top 100 returned; ``origins_only_ms``) plus
  the evidence chains of 10 seeded random shares (``chains_ms``), *cold*: the first question
  after an update, so it includes rebuilding the resolved forest and its subtree sizes.
- ``cutoff_ms``: ``cutoff(10)`` right after (the forest is cached by then).
- ``subtree_sizes_ms``: the subtree sizes of every node, cold (cache dropped first).

networkx does the same work (benchmarks/trace_networkx.py) while the previous size's time,
scaled linearly, stays under ``--networkx-budget`` seconds per operation; ``networkx_ratio`` is
networkx time / ours summed over origins+chains, subtree sizes and cut-off (per operation in
``networkx_ratios``; the update is in there too but not in the sum). ``limit`` holds the pointer
chase over an int32 array of n (ns per dependent load) and ``ns_per_share_*`` / ``x_chase_*`` put
our cold origins, subtree sizes and cut-off against it (per share held), and the update per new
share (``ns_per_new_share_update``, ``x_chase_update``). ``bytes_per_share`` = graph.nbytes() / shares;
``rss_bytes_per_share`` = growth of the process's RSS while the graph was built / shares.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from benchmarks import limits, trace_message, trace_networkx, trace_shapes
from benchmarks.bench_args import names_of, non_negative_int, positive_float, positive_int, size_list
from benchmarks.outputs import emit, load_average, progress
from benchmarks.profile_update import _between
from graph import CascadeGraph

STEP = 10_000
UPDATE = 1_000
PROBES = 10  # evidence chains per origins question (a dashboard shows about ten)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1e3, out


def ours(cols, n: int, repeat: int, probes) -> tuple[dict, CascadeGraph]:
    eid, aid, ts, pe, pa = cols
    rss0 = _rss()  # the columns exist already: the growth is the graph (and allocator slack)
    g = CascadeGraph("bench")
    t0 = time.perf_counter()
    for i in range(0, n, STEP):
        j = min(i + STEP, n)
        g.add_batch(eid[i:j], aid[i:j], ts[i:j], pe[i:j], pa[i:j])
    build_s = time.perf_counter() - t0
    rss1 = _rss()
    upd, upd_trace, org, org_only, chains, cut, sizes = [], [], [], [], [], [], []
    pos = n
    for _ in range(repeat):
        sl = slice(pos, pos + UPDATE)
        pos += UPDATE
        ms, _ = _timed(lambda: g.add_batch(eid[sl], aid[sl], ts[sl], pe[sl], pa[sl]))
        upd.append(ms)
        ms, _ = _timed(lambda: g.origins(limit=100))
        org_only.append(ms)
        ms2, _ = _timed(lambda: [g.chain(e) for e in probes])
        chains.append(ms2)
        org.append(ms + ms2)
        ms, top = _timed(lambda: g.cutoff(10))
        cut.append(ms)
        g._cache = None  # cold subtree sizes: drop the resolved forest (a benchmark-only peek)
        ms, _ = _timed(g.subtree_sizes)
        sizes.append(ms)
    for _ in range(repeat):
        sl = slice(pos, pos + UPDATE)
        pos += UPDATE
        ms, _ = _timed(lambda: (g.add_batch(eid[sl], aid[sl], ts[sl], pe[sl], pa[sl]), g.trace(10)))
        upd_trace.append(ms)
    med = statistics.median
    row = {
        "shares": n, "shares_at_end": int(g.n_events), "accounts": int(g.n_accounts),
        "build_shares_per_s": round(n / build_s),
        "update_1000_ms": round(med(upd), 3),
        "update_1000_trace_ms": round(med(upd_trace), 2),
        "update_1000_message_ms": None,  # below: the sizes above stay those before its rounds
        "origins_ms": round(med(org), 2),
        "origins_only_ms": round(med(org_only), 2),
        "chains_ms": round(med(chains), 2),
        "cutoff_ms": round(med(cut), 2),
        "subtree_sizes_ms": round(med(sizes), 2),
        "bytes_per_share": round(g.nbytes() / g.n_events, 1),
        "rss_bytes_per_share": round((rss1 - rss0) / n, 1),
        "top_cutoff": [list(c) for c in top[:3]],
    }
    upd_message = []
    pipeline = trace_message.worker_pipeline(g)
    for _ in range(repeat):
        raw = trace_message.message_of(cols, slice(pos, pos + UPDATE), g.rumour_id)
        pos += UPDATE
        _between(g, probes)  # the queries of the rounds above: their caches, cold
        ms, prepared = _timed(lambda: trace_message.apply_message(pipeline, raw))
        trace_message.checked(prepared, UPDATE)
        upd_message.append(ms)
    row["update_1000_message_ms"] = round(med(upd_message), 3)
    return row, g


def networkx_side(cols, n: int, probes, do_cutoff: bool) -> dict:
    """One run of each operation in networkx (it is slow enough that one run is a fair median)."""
    eid, aid, ts, pe, _ = cols
    g = trace_networkx.build(eid[:n], aid[:n], ts[:n], pe[:n])
    out = {}
    out["update_1000_ms"], _ = _timed(lambda: trace_networkx.add(
        g, eid[n:n + UPDATE], aid[n:n + UPDATE], ts[n:n + UPDATE], pe[n:n + UPDATE]))
    out["origins_ms"], _ = _timed(lambda: trace_networkx.origins_chains(g, probes))
    out["subtree_sizes_ms"], _ = _timed(lambda: trace_networkx.subtree_sizes(g))
    if do_cutoff:
        out["cutoff_ms"], _ = _timed(lambda: trace_networkx.cutoff(g, 10))
    return {k: round(v, 2) for k, v in out.items()}


def run_one(shape: str, n: int, seed: int, repeat: int, nx_allowed: dict) -> dict:
    t0 = time.perf_counter()
    s = trace_shapes.make(shape, n + 3 * UPDATE * repeat, seed)
    cols = trace_shapes.columns(s)
    gen_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed + 1)
    probes = [cols[0][int(i)] for i in rng.integers(0, n, PROBES)]
    progress(f"trace {shape} n={n}: generated in {gen_s:.1f}s; ours ...")
    row, graph = ours(cols, n, repeat, probes)
    del graph
    row = {"shape": shape, **row}
    progress(f"trace {shape} n={n}: origins {row['origins_ms']} ms, cutoff {row['cutoff_ms']} ms, "
             f"update {row['update_1000_ms']} ms, {row['bytes_per_share']} B/share")
    lim = limits.limits(n, seed, repeat=3)
    row["limit"] = lim
    for op in ("origins_ms", "subtree_sizes_ms", "cutoff_ms"):
        ns = row[op] * 1e6 / n
        row["ns_per_share_" + op[:-3]] = round(ns, 2)
        row["x_chase_" + op[:-3]] = round(ns / lim["pointer_chase_ns"], 2)
    # The update touches only the new shares, each at least one random probe of a table the
    # size of the graph: its limit is one dependent load per new share.
    ns = row["update_1000_ms"] * 1e6 / UPDATE
    row["ns_per_new_share_update"] = round(ns, 1)
    row["x_chase_update"] = round(ns / lim["pointer_chase_ns"], 1)
    row["networkx"] = None
    row["networkx_ratios"] = None
    row["networkx_ratio"] = None
    if nx_allowed["run"]:
        progress(f"trace {shape} n={n}: networkx ...")
        nx = networkx_side(cols, n, probes, nx_allowed["cutoff"])
        row["networkx"] = nx
        ratios = {op: round(nx[op] / row[op], 1) for op in nx if row.get(op)}
        row["networkx_ratios"] = ratios
        ops = [op for op in ("origins_ms", "subtree_sizes_ms", "cutoff_ms") if op in nx]
        row["networkx_ratio"] = round(sum(nx[o] for o in ops) / sum(row[o] for o in ops), 1)
        row["networkx_ops"] = [o[:-3] for o in ops]
    return row


def _next_nx(allowed: dict, nx: dict | None, n: int, n_next: int, budget_s: float) -> dict:
    """Keep networkx on while the last size's slowest operation, scaled linearly, fits the budget."""
    if not allowed["run"] or nx is None:
        return allowed
    scale = n_next / n
    return {"run": max(nx["origins_ms"], nx["subtree_sizes_ms"]) * scale / 1e3 < budget_s,
            "cutoff": allowed["cutoff"] and nx.get("cutoff_ms", 0) * scale / 1e3 < budget_s}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="rumour bench trace",
                                 description="The graph core's query times on big cascades, against networkx "
                                             "and the machine's random-access limit (what each figure "
                                             "times: benchmarks/bench_trace.py).")
    ap.add_argument("--sizes", type=size_list, default="10000,100000,1000000",
                    help="comma-separated cascade sizes in shares (default 10000,100000,1000000)")
    ap.add_argument("--shapes", type=names_of(trace_shapes.SHAPES), default="hawkes,ic",
                    help=f"comma-separated cascade shapes, of {', '.join(trace_shapes.SHAPES)} (default: all)")
    ap.add_argument("--repeat", type=positive_int, default=5, help="timed rounds per size, medians reported (default 5)")
    ap.add_argument("--seed", type=non_negative_int, default=0, help="seed of the generated cascades (default 0)")
    ap.add_argument("--networkx-max", type=non_negative_int, default=1_000_000,
                    help="largest size networkx is run on (default 1000000; 0: never)")
    ap.add_argument("--networkx-budget", type=positive_float, default=60.0,
                    help="seconds one networkx operation may take, extrapolated linearly from the "
                         "previous size (default 60)")
    ap.add_argument("--json", action="store_true", help="print one JSON object per line")
    args = ap.parse_args(argv)  # every option checked before the warm-up, not after it
    sizes, shapes = args.sizes, args.shapes
    # Compile or load the numba caches outside every timing. Said first: in a fresh checkout the
    # compile takes minutes with nothing else printed.
    started = time.perf_counter()
    progress("trace: warm-up (loading the numba kernels from their cache, or compiling them: "
             "a few minutes in a fresh checkout) ...")
    row, _ = ours(trace_shapes.columns(trace_shapes.make("hawkes", 4000, 0)), 1000, 1, ["e1"])
    progress(f"trace: warm-up done in {time.perf_counter() - started:.0f}s")
    rows = []
    for shape in shapes:
        allowed = {"run": True, "cutoff": True}
        for i, n in enumerate(sizes):
            allowed = dict(allowed, run=allowed["run"] and n <= args.networkx_max)
            row = run_one(shape, n, args.seed, args.repeat, allowed)
            row["load_average"] = load_average()
            rows.append(row)
            emit(row, args.json)
            if i + 1 < len(sizes):
                allowed = _next_nx(allowed, row["networkx"], n, sizes[i + 1], args.networkx_budget)
    from benchmarks.outputs import save

    save("trace", rows, ["rumour", "bench", "trace", *(argv if argv is not None else sys.argv[1:])], vars(args))
    return 0
