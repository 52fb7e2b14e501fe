"""Same-run A/B of the live update between source trees: ``add_batch`` of the same 1,000-share
batches, one graph per tree, the trees taking turns in one process.

    python -m benchmarks.ab_update main=/tmp/base13 mine=/work/wt-update [--shape hawkes]
        [--shares 1000000] [--rounds 31] [--batch 1000] [--seed 0] [--json]

Why: on a shared, noisy machine two runs of `rumour bench trace` minutes apart differ by more
than most changes to the update (1.0-1.8 ms for the same code), so a change is judged against
the other tree in the same minutes. Each ``NAME=PATH`` names a checkout (e.g. ``git archive
main | tar -x -C /tmp/base``); its ``graph`` package is imported apart from the others, the
first tree is the reference. Every tree builds the same cascade as the bench (batches of
10,000), then in each round every tree, in an order that rotates (and reverses every other
rotation), answers the bench's queries (benchmarks/profile_update.py ``_between``: the update
starts from the caches those leave) and adds the round's batch, timed (thread CPU time and
wall time). Per tree: medians over the rounds, the fastest wall time, the median of its
per-round CPU ratio to the reference (``paired_cpu_ratio``) and ``same_graph``: whether its
graph ends equal to the reference's (id arenas, parents, accounts, times, kinds, origins,
subtree sizes, cut-off). Give the reference twice (``main=/tmp/base again=/tmp/base``): how far
that A/A pair's ratio strays from 1 is the run's noise (0.93-1.01 over 21-31 rounds in session
13, at load 1-2).

The comparison runs in a child process whose numba cache (``NUMBA_CACHE_DIR``) is a new, empty
directory, so every tree's kernels are compiled there. Why: numba names a compiled function by
its module, name, argument types and a counter of the process that compiled it, and treats two
functions of one name as the same code. Kernels of two trees loaded from their caches (or one
loaded, one compiled) can share a name, and then one tree runs the other's: in session 14 a
tree with another ``id_hash`` crashed the run ("'descr' is NULL") or left main's graph unable
to find its own event ids. ``--reuse-numba-cache`` runs in this process with the caches as they
are (quick; only for trees whose numba functions are all the same).

``--message`` compares the update as the worker takes it (`bench trace`'s
``update_1000_message_ms``, benchmarks/trace_message.py): each round's shares as one columnar
Kafka message (built once, untimed), through each tree's own ``Pipeline.prepare`` (its
``streams`` and ``sql`` packages are imported apart as well). Rounds alternate: ``whole`` (the
timed ``prepare``, the ``paired_cpu_ratio``) and the profile tool's split (``--message`` of
benchmarks/profile_update.py: decode, validate, encode, crossref, add; in thread CPU time),
whose per-tree medians and per-stage paired ratios are ``stages_cpu_ms`` and ``stages_ratio``.
"""
from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks import trace_shapes
from benchmarks.outputs import emit, load_average, progress
from benchmarks.profile_update import STEP, _between
from benchmarks.trace_message import SOURCE, STAGES, apply_stages, checked, message_of


# The packages imported apart per tree: ``graph`` always, the worker's with ``--message``.
PACKAGES = ("graph",)
MESSAGE_PACKAGES = ("graph", "streams", "sql")


def _is_graph(name: str, packages=PACKAGES) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def load_tree(root: str, packages=PACKAGES) -> dict:
    """The modules of ``packages`` of the checkout at ``root``, imported apart: sys.modules and
    sys.path are as before afterwards."""
    saved = {k: v for k, v in sys.modules.items() if _is_graph(k, packages)}
    for k in saved:
        del sys.modules[k]
    sys.path.insert(0, os.path.abspath(root))
    try:
        # This tree's packages: the others' modules were taken out above.
        importlib.import_module("graph.cascade")
        if "streams" in packages:
            importlib.import_module("streams.pipeline")
        mods = {k: v for k, v in sys.modules.items() if _is_graph(k, packages)}
    finally:
        sys.path.remove(os.path.abspath(root))
        for k in [k for k in sys.modules if _is_graph(k, packages)]:
            del sys.modules[k]
        sys.modules.update(saved)
    return mods


def _activate(mods: dict, packages=PACKAGES) -> None:
    # A query may import a graph module inside a function: it must find this tree's.
    for k in [k for k in sys.modules if _is_graph(k, packages)]:
        del sys.modules[k]
    sys.modules.update(mods)


def _state(g) -> tuple:
    n, na = g.n_nodes, g.ac.count
    return (n, na, g.n_events, g.n_blind, g.n_account_links,
            *(getattr(g, k)[:n].tobytes() for k in ("plink", "acct", "ts", "kf")),
            g.ev.offs[:n + 1].tobytes(), g.ev.arena[:g.ev.offs[n]].tobytes(),
            g.ac.offs[:na + 1].tobytes(), g.ac.arena[:g.ac.offs[na]].tobytes(),
            repr(g.origins(limit=100)), g.subtree_sizes().tobytes(), repr(g.cutoff(10)))


def compare(trees, shape: str, shares: int, rounds: int, batch: int, seed: int,
            message: bool = False) -> dict:
    """``trees``: (name, root) pairs, the first the reference. The row of medians per tree.
    sys.modules holds the caller's graph modules again afterwards: code imported before the
    comparison (and tests run after it in the same process) must not find another tree's."""
    packages = MESSAGE_PACKAGES if message else PACKAGES
    own = {k: v for k, v in sys.modules.items() if _is_graph(k, packages)}
    try:
        if message:
            return _compare_messages(trees, shape, shares, rounds, batch, seed)
        return _compare(trees, shape, shares, rounds, batch, seed)
    finally:
        _activate(own, packages)


def _built(graph_package, cols, shares: int):
    """The bench's cascade: its first ``shares`` shares in batches of STEP, in this tree's graph."""
    eid, aid, ts, pe, pa = cols
    g = graph_package.CascadeGraph("ab")
    for i in range(0, shares, STEP):
        j = min(i + STEP, shares)
        g.add_batch(eid[i:j], aid[i:j], ts[i:j], pe[i:j], pa[i:j])
    return g


def _probes(eid, shares: int, seed: int) -> list:
    rng = np.random.default_rng(seed + 1)
    return [eid[int(i)] for i in rng.integers(0, shares, 10)]


def _turn(names: list, r: int) -> list:
    """The trees' order in round ``r``: rotating, reversed every other rotation."""
    k = r % len(names)
    order = names[k:] + names[:k]
    if (r // len(names)) % 2:
        order.reverse()
    return order


def _compare(trees, shape: str, shares: int, rounds: int, batch: int, seed: int) -> dict:
    mods = {name: load_tree(root) for name, root in trees}
    names = [name for name, _ in trees]
    cols = trace_shapes.columns(trace_shapes.make(shape, shares + rounds * batch, seed))
    eid, aid, ts, pe, pa = cols
    graphs = {}
    for name in names:
        _activate(mods[name])
        graphs[name] = _built(mods[name]["graph"], cols, shares)
    probes = _probes(eid, shares, seed)
    progress(f"ab_update {shape}: {len(names)} graphs of {shares} shares built; {rounds} rounds")
    cpu = {name: [] for name in names}
    wall = {name: [] for name in names}
    for r in range(rounds):
        sl = slice(shares + r * batch, shares + (r + 1) * batch)
        for name in _turn(names, r):
            g = graphs[name]
            _activate(mods[name])
            _between(g, probes)
            c0, t0 = time.thread_time(), time.perf_counter()
            g.add_batch(eid[sl], aid[sl], ts[sl], pe[sl], pa[sl])
            t1, c1 = time.perf_counter(), time.thread_time()
            cpu[name].append((c1 - c0) * 1e3)
            wall[name].append((t1 - t0) * 1e3)
    ref = names[0]
    _activate(mods[ref])
    ref_state = _state(graphs[ref])
    med = statistics.median
    out = {}
    for name in names:
        _activate(mods[name])
        out[name] = {
            "cpu_ms": round(med(cpu[name]), 4), "wall_ms": round(med(wall[name]), 4),
            "wall_min_ms": round(min(wall[name]), 4),
            "paired_cpu_ratio": round(med(c / b for c, b in zip(cpu[name], cpu[ref])), 3),
            "same_graph": _state(graphs[name]) == ref_state}
    return {"shape": shape, "shares": shares, "batch": batch, "rounds": rounds,
            "reference": ref, "trees": out, "load_average": load_average()}


def _compare_messages(trees, shape: str, shares: int, rounds: int, batch: int, seed: int) -> dict:
    mods = {name: load_tree(root, MESSAGE_PACKAGES) for name, root in trees}
    names = [name for name, _ in trees]
    cols = trace_shapes.columns(trace_shapes.make(shape, shares + rounds * batch, seed))
    eid = cols[0]
    raws = [message_of(cols, slice(shares + r * batch, shares + (r + 1) * batch), "ab")
            for r in range(rounds)]
    # A message of another rumour first: every kernel of the path compiled before the timing.
    warm = trace_shapes.columns(trace_shapes.make("hawkes", 200, seed))
    warm_raw = message_of(warm, slice(100, 200), "warm")
    pipelines = {}
    for name in names:
        _activate(mods[name], MESSAGE_PACKAGES)
        g = _built(mods[name]["graph"], cols, shares)
        pipeline = pipelines[name] = mods[name]["streams.pipeline"].Pipeline(store=None)
        pipeline.graphs["ab"] = g
        checked(pipeline.prepare([warm_raw], [SOURCE], [0]), 100)
        apply_stages(pipeline, message_of(warm, slice(0, 100), "warm2"), {}, mods[name])
    probes = _probes(eid, shares, seed)
    progress(f"ab_update --message {shape}: {len(names)} graphs of {shares} shares built; "
             f"{rounds} rounds")
    cpu = {name: [] for name in names}
    wall = {name: [] for name in names}
    stages = {name: {} for name in names}
    for r, raw in enumerate(raws):
        for name in _turn(names, r):
            pipeline = pipelines[name]
            g = pipeline.graphs["ab"]
            _activate(mods[name], MESSAGE_PACKAGES)
            _between(g, probes)
            if r % 2:
                apply_stages(pipeline, raw, stages[name], mods[name], time.thread_time)
                continue
            c0, t0 = time.thread_time(), time.perf_counter()
            prepared = pipeline.prepare([raw], [SOURCE], [0])
            t1, c1 = time.perf_counter(), time.thread_time()
            checked(prepared, batch)
            cpu[name].append((c1 - c0) * 1e3)
            wall[name].append((t1 - t0) * 1e3)
    ref = names[0]
    _activate(mods[ref], MESSAGE_PACKAGES)
    ref_state = _state(pipelines[ref].graphs["ab"])
    med = statistics.median
    out = {}
    for name in names:
        _activate(mods[name], MESSAGE_PACKAGES)
        mine, base = stages[name], stages[ref]
        out[name] = {
            "cpu_ms": round(med(cpu[name]), 4), "wall_ms": round(med(wall[name]), 4),
            "wall_min_ms": round(min(wall[name]), 4),
            "paired_cpu_ratio": round(med(c / b for c, b in zip(cpu[name], cpu[ref])), 3),
            "stages_cpu_ms": {k: round(med(v), 4) for k, v in mine.items()},
            "stages_ratio": {k: round(med(c / b for c, b in zip(mine[k], base[k])), 3)
                             for k in STAGES},
            "same_graph": _state(pipelines[name].graphs["ab"]) == ref_state}
    return {"shape": shape, "shares": shares, "batch": batch, "rounds": rounds, "path": "message",
            "reference": ref, "trees": out, "load_average": load_average()}


def _tree(arg: str) -> tuple[str, str]:
    name, sep, root = arg.partition("=")
    if not sep or not name or not os.path.isdir(os.path.join(root, "graph")):
        raise argparse.ArgumentTypeError(f"want NAME=PATH of a checkout with graph/, got {arg!r}")
    return name, root


def run_fresh(argv: list) -> int:
    """This command again (``argv`` plus ``--reuse-numba-cache``) in a child process whose numba
    cache directory is new and empty, so that no kernel of one tree is taken for another's; the
    child's exit status."""
    with tempfile.TemporaryDirectory(prefix="ab_update_numba_") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cmd = [sys.executable, "-m", "benchmarks.ab_update", *argv, "--reuse-numba-cache"]
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        return subprocess.call(cmd, env=env, cwd=root)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ab_update",
                                 description="Same-run A/B of the live update between trees.")
    ap.add_argument("trees", nargs="+", type=_tree, help="NAME=PATH, the first the reference")
    ap.add_argument("--shape", default="hawkes", choices=trace_shapes.SHAPES)
    ap.add_argument("--shares", type=int, default=1_000_000, help="graph size (default 10^6)")
    ap.add_argument("--rounds", type=int, default=31, help="timed updates per tree (default 31)")
    ap.add_argument("--batch", type=int, default=1_000, help="shares per update (default 1000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--message", action="store_true",
                    help="time the worker's path from a columnar message (Pipeline.prepare) "
                         "instead of add_batch; every other round is split into stages")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--reuse-numba-cache", action="store_true",
                    help="run here with the numba caches as they are, not in a child process "
                         "that compiles every tree afresh (see the module docstring)")
    args = ap.parse_args(argv)
    names = [name for name, _ in args.trees]
    if len(set(names)) != len(names):
        ap.error("tree names must differ")
    if not args.reuse_numba_cache:
        return run_fresh(sys.argv[1:] if argv is None else list(argv))
    if args.message and args.rounds < 2:
        ap.error("--message needs at least 2 rounds (whole and split rounds alternate)")
    emit(compare(args.trees, args.shape, args.shares, args.rounds, args.batch, args.seed,
                 args.message), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
