"""Memory probe for the soak's worker process, loaded without changing the worker's code.

    python -m benchmarks.soak_probe --dir /tmp/probe
    PYTHONPATH=/tmp/probe SOAK_PROBE_DIR=/tmp/probe [SOAK_PROBE_TRACEMALLOC=25] [SOAK_PROBE_INTERVAL=60] RUMOUR_GRAPH_MEMORY_MB=8 \\
        python -m benchmarks.soak --minutes 10 --rate 200 --fault-every 0 --out /tmp/soak.json
    python -m benchmarks.soak_probe --compare /tmp/probe 4 10

The first command writes a ``sitecustomize.py`` into ``--dir``; every Python process started with
that directory on PYTHONPATH imports it, and in the process whose command line is
``streams.cli worker`` (only there: the soak's own process and its producer are left alone) it
starts tracemalloc (when asked) and, every ``--interval`` seconds, writes ``dump-<k>.json``
(RSS and its split by mapping, glibc's mallinfo2, counts of live objects by type, every
container over 200 items by identity) and ``snap-<k>.pickle`` (the tracemalloc snapshot).
Each dump also holds glibc's per-arena ``malloc_info`` (where free bytes sit, in what sizes)
and the collector's counts per generation (``gc_stats``, ``gc_count``, ``gc_gen_sizes``).
``SOAK_PROBE_FAST=0.5`` adds ``fast.jsonl`` (RSS and malloc's counters every 0.5 s);
``SOAK_PROBE_GC_COLLECT=1`` runs a full collection after each dump and records what it freed
(``collect-<k>.json``): the experiment for garbage that waits for the collector.
``--compare DIR A B`` prints what grew between dumps A and B: RSS, malloc's in-use and free
bytes, object types, containers, and the top tracemalloc differences by traceback.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import pickle
import sys
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from benchmarks.soak_heap import mallinfo2, malloc_arenas, pymalloc_stats, rss_bytes, rss_by_mapping, sample_fast

BIG = 200  # containers at least this long are followed by identity from dump to dump


def _containers():
    """Every list/dict/set/deque of BIG or more items, gc-tracked or held by one that is."""
    import collections

    kinds = (list, dict, set, collections.deque, collections.OrderedDict)
    found = {}
    for o in gc.get_objects():
        if _is_kind(o, kinds) and len(o) >= BIG:
            found[id(o)] = o
        for r in gc.get_referents(o):
            if _is_kind(r, kinds) and not gc.is_tracked(r) and len(r) >= BIG:
                found[id(r)] = r
    return found


def _is_kind(o, kinds) -> bool:
    # isinstance() asks a weakref.proxy for its referent's class, and a proxy whose referent is
    # gone raises ReferenceError: the probe walks every object, such proxies included.
    try:
        return isinstance(o, kinds)
    except ReferenceError:
        return False


def _name(t) -> str:
    return f"{getattr(t, '__module__', '?')}.{getattr(t, '__qualname__', '?')}"


def _owner(obj, skip) -> str:
    """Where a container hangs: 'Type.attr' for an instance attribute, else the referrers' types."""
    names = []
    for r in gc.get_referrers(obj):
        if r is skip or type(r).__name__ == "frame":
            continue
        if isinstance(r, dict):
            key = next((k for k, v in list(r.items()) if v is obj), None)
            holders = [_name(type(h)) for h in gc.get_referrers(r)
                       if getattr(h, "__dict__", None) is r]
            names.append(f"{holders[0] if holders else 'dict'}[{key!r}]")
        else:
            # CPython 3.11 keeps most instance attributes inline: the instance itself refers.
            attrs = getattr(r, "__dict__", None)
            key = next((k for k, v in list(attrs.items()) if v is obj), None) if isinstance(attrs, dict) else None
            names.append(_name(type(r)) + (f"[{key!r}]" if key else ""))
    return "; ".join(names[:4])


class Probe:
    def __init__(self, out: Path, interval: float, frames: int):
        self.out, self.interval, self.frames = out, interval, frames
        self.t0 = time.monotonic()
        self.prev: dict = {}

    def dump(self, k: int) -> None:
        t = time.monotonic() - self.t0
        rss = rss_bytes()
        types = Counter(_name(type(o)) for o in gc.get_objects())
        big = _containers()
        grown = []
        for i, c in big.items():
            try:
                n = len(c)
            except Exception:
                continue
            before = self.prev.get(i)
            if before is not None and n > before[1] and type(c).__name__ == before[0]:
                grown.append((n - before[1], i, before[1], n))
        # Each owner lookup scans the whole heap (gc.get_referrers): only the 8 that grew most.
        grown = [{"type": type(big[i]).__name__, "len_before": b, "len": n, "owner": _owner(big[i], big),
                  "sample": repr(next(iter(big[i]), None))[:120]}
                 for _, i, b, n in sorted(grown, reverse=True)[:8]]
        self.prev = {i: (type(c).__name__, len(c)) for i, c in big.items()}
        d = {"k": k, "t": round(t, 1), "rss": rss, "mallinfo2": mallinfo2(),
             "malloc_arenas": malloc_arenas(),
             "rss_kb_by_mapping": rss_by_mapping(),
             "pymalloc": pymalloc_stats(),
             "tracemalloc": tracemalloc.get_traced_memory() if tracemalloc.is_tracing() else None,
             "allocated_blocks": sys.getallocatedblocks(),
             # Collections so far per generation, and the objects each gen holds now: a gen-2
             # collection that has not run for minutes leaves dead cycles in place.
             "gc_stats": gc.get_stats(), "gc_count": gc.get_count(),
             "gc_gen_sizes": [len(gc.get_objects(g)) for g in range(3)],
             "gc_frozen": gc.get_freeze_count(),
             "types": dict(types.most_common(400)), "containers_grown": grown,
             "n_big_containers": len(big)}
        del big
        (self.out / f"dump-{k}.json").write_text(json.dumps(d, indent=1, default=str))
        if tracemalloc.is_tracing():
            snap = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, pickle.__file__)])
            with open(self.out / f"snap-{k}.pickle", "wb") as f:
                pickle.dump(snap, f)

    def run(self) -> None:
        k = 0
        trim = float(os.environ.get("SOAK_PROBE_TRIM", "0"))
        while True:
            if trim > 0:  # the allocator experiment: give free pages back every `trim` seconds
                libc = ctypes.CDLL("libc.so.6")
                end = time.monotonic() + self.interval
                while time.monotonic() < end:
                    time.sleep(min(trim, max(0.0, end - time.monotonic())))
                    libc.malloc_trim(0)
            else:
                time.sleep(self.interval)
            k += 1
            try:
                self.dump(k)
                if os.environ.get("SOAK_PROBE_GC_COLLECT"):
                    # The experiment: a full collection after each dump; what it frees is what
                    # was waiting for the old generation's turn.
                    before, mi = rss_bytes(), mallinfo2()
                    found = gc.collect()
                    after, mi2 = rss_bytes(), mallinfo2()
                    (self.out / f"collect-{k}.json").write_text(json.dumps({
                        "unreachable": found, "rss_before": before, "rss_after": after,
                        "in_use_before": mi.get("in_use"), "in_use_after": mi2.get("in_use"),
                        "free_before": mi.get("free_in_arenas"), "free_after": mi2.get("free_in_arenas")}))
            except Exception as exc:  # a probe must never take the worker down
                (self.out / f"error-{k}.txt").write_text(repr(exc))


def start_if_worker() -> None:
    """Called from the generated sitecustomize: only in ``streams.cli worker`` processes."""
    out = os.environ.get("SOAK_PROBE_DIR")
    if not out:
        return
    with open("/proc/self/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    if b"streams.cli" not in argv or b"worker" not in argv:
        return
    frames = int(os.environ.get("SOAK_PROBE_TRACEMALLOC", "0"))
    # Tracing from the start makes the numba warm-up too slow for the soak's readiness wait;
    # growth only needs the allocations made after tracing starts.
    after = float(os.environ.get("SOAK_PROBE_TRACE_AFTER", "0"))
    if frames and after <= 0:
        tracemalloc.start(frames)
    elif frames:
        threading.Timer(after, tracemalloc.start, (frames,)).start()
    run_dir = Path(out) / f"pid-{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    probe = Probe(run_dir, float(os.environ.get("SOAK_PROBE_INTERVAL", "60")), frames)
    threading.Thread(target=probe.run, name="soak-probe", daemon=True).start()
    fast = float(os.environ.get("SOAK_PROBE_FAST", "0"))
    if fast > 0:
        threading.Thread(target=sample_fast, args=(run_dir, fast), name="soak-probe-fast", daemon=True).start()


SITECUSTOMIZE = """\
import sys
sys.path.insert(0, {root!r})
try:
    from benchmarks.soak_probe import start_if_worker
    start_if_worker()
finally:
    sys.path.remove({root!r})
"""


def compare(run_dir: Path, a: int, b: int, top: int = 25) -> None:
    da = json.loads((run_dir / f"dump-{a}.json").read_text())
    db = json.loads((run_dir / f"dump-{b}.json").read_text())
    minutes = (db["t"] - da["t"]) / 60
    print(f"dumps {a} -> {b}: {minutes:.1f} min")
    print(f"RSS {da['rss'] >> 20} -> {db['rss'] >> 20} MB ({(db['rss'] - da['rss']) / 2**20 / minutes:+.2f} MB/min)")
    for key in da["mallinfo2"]:
        va, vb = da["mallinfo2"][key], db["mallinfo2"][key]
        print(f"  mallinfo2 {key}: {va / 2**20:.1f} -> {vb / 2**20:.1f} MB ({(vb - va) / 2**20 / minutes:+.3f} MB/min)")
    for m in sorted(set(da["rss_kb_by_mapping"]) | set(db["rss_kb_by_mapping"])):
        va, vb = da["rss_kb_by_mapping"].get(m, 0), db["rss_kb_by_mapping"].get(m, 0)
        if abs(vb - va) >= 256:
            print(f"  mapping {m}: {va >> 10} -> {vb >> 10} MB")
    for key in db.get("pymalloc", {}):
        va, vb = da.get("pymalloc", {}).get(key, 0), db["pymalloc"][key]
        print(f"  pymalloc {key}: {va} -> {vb}" if "arenas" in key else
              f"  pymalloc {key}: {va / 2**20:.1f} -> {vb / 2**20:.1f} MB")
    if da["tracemalloc"]:
        print(f"  tracemalloc traced {da['tracemalloc'][0] / 2**20:.2f} -> {db['tracemalloc'][0] / 2**20:.2f} MB")
    print(f"  allocated blocks {da['allocated_blocks']} -> {db['allocated_blocks']}")
    diff = sorted(((db["types"].get(t, 0) - da["types"].get(t, 0), t) for t in set(da["types"]) | set(db["types"])),
                  reverse=True)
    print("object types grown:")
    for n, t in diff[:15]:
        if n > 0:
            print(f"  {n:+8d}  {t}  ({db['types'].get(t, 0)})")
    print(f"containers grown between dump {b - 1} and {b}:")
    for c in sorted(db["containers_grown"], key=lambda c: c["len"] - c["len_before"], reverse=True)[:15]:
        print(f"  {c['type']} {c['len_before']} -> {c['len']}  {c['owner']}  e.g. {c['sample']}")
    sa, sb = run_dir / f"snap-{a}.pickle", run_dir / f"snap-{b}.pickle"
    if sa.exists() and sb.exists():
        with open(sa, "rb") as f:
            snap_a = pickle.load(f)
        with open(sb, "rb") as f:
            snap_b = pickle.load(f)
        stats = snap_b.compare_to(snap_a, "traceback")
        print(f"tracemalloc, top {top} by traceback:")
        for s in stats[:top]:
            print(f"  {s.size_diff / 1024:+9.1f} KiB {s.count_diff:+7d} blocks (now {s.size / 1024:.0f} KiB)")
            for line in s.traceback.format()[-12:]:
                print("      " + line)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", help="write sitecustomize.py here")
    ap.add_argument("--compare", nargs=3, metavar=("RUN_DIR", "A", "B"))
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)
    if args.dir:
        d = Path(args.dir)
        d.mkdir(parents=True, exist_ok=True)
        root = str(Path(__file__).resolve().parent.parent)
        (d / "sitecustomize.py").write_text(SITECUSTOMIZE.format(root=root))
        print(f"PYTHONPATH={d} SOAK_PROBE_DIR={d} [SOAK_PROBE_TRACEMALLOC=25 SOAK_PROBE_TRACE_AFTER=150] [SOAK_PROBE_INTERVAL=60]")
    if args.compare:
        compare(Path(args.compare[0]), int(args.compare[1]), int(args.compare[2]), args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
