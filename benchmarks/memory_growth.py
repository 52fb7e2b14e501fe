"""Where does a worker's memory go per new rumour? (issue 5, diagnostic; not CI)

    .venv/bin/python -m benchmarks.memory_growth --store clickhouse --warm 150 --rumours 300

Drives the worker's in-process path (no Kafka): raw single-event messages, partitioned by rumour
as the producer keys them, through ``Pipeline.prepare`` / ``write_prepared`` with the governance
hub attached (alerts, debunk tracker, report desk), into a real store: the local
clickhouse-server (a temporary database, dropped at the end) or chDB. The stream is the soak's
(``benchmarks.soak``): chunks of 5 new rumours x 400 shares (+ 40 debunk shares), ~1% malformed
messages, ~1% re-sent copies of any earlier event (which bring evicted rumours back), batches of
100 messages (200 messages/s with a 0.5 s batch wait).

tracemalloc runs from the start (so the graphs and governance state that turn over while the
budgets are full cancel out), snapshots are taken after ``--warm`` rumours (budgets full) and
after each half of ``--rumours`` more; the growth between snapshots, grouped by traceback, is
divided by the number of new rumours. Two halves that agree mean linear growth; a total that
stays near 0 beside a growing RSS means the growth is outside Python's allocator (C libraries)
or fragmentation: glibc's ``mallinfo2`` (bytes in use vs free in the heap) tells which.
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

import numpy as np
import orjson

from benchmarks.soak_probe import mallinfo2, rss_bytes
from streams.synthetic import synthetic_events

# The soak's malformed messages (benchmarks.soak.MALFORMED), each made unique by a counter.
MALFORMED = [b"{not json %d", b"\xff\xfe%d", b"[%d]", b'{"event_id":"x%d","rumour_id":"r"}',
             b'{"event_id":"x%d","rumour_id":"r","account_id":"a","ts":12}']
RUMOURS_PER_CHUNK = 5


def soak_messages(seed: int, shares_per_rumour: int = 400, copies: float = 0.01, malformed: float = 0.01,
                  reservoir: int = 4096):
    """``(key, value, new_rumour)`` like the soak producer: chunks of 5 new rumours, ~1%
    malformed, ~1% copies of an earlier event; ``new_rumour`` is True on a rumour's first event.

    Copies are drawn from a uniform sample (reservoir) of every event sent so far, as the soak
    draws from all of them, so this process's own memory stays flat (its RSS is the measure).

    >>> msgs = soak_messages(1, shares_per_rumour=10)
    >>> [next(msgs)[2] for _ in range(3)]
    [True, False, False]
    """
    rng = random.Random(seed)
    sample: list[tuple[bytes, bytes]] = []
    chunk, n_bad, n_sent = 0, 0, 0
    while True:
        seen = set()
        for e in synthetic_events(n_rumours=RUMOURS_PER_CHUNK, shares_per_rumour=shares_per_rumour,
                                  seed=seed + chunk, prefix=f"soak{chunk}"):
            while True:
                roll = rng.random()
                if roll < malformed:
                    yield b"bad", rng.choice(MALFORMED) % n_bad, False
                    n_bad += 1
                elif roll < malformed + copies and sample:
                    yield (*rng.choice(sample), False)
                else:
                    break
            key, value = e["rumour_id"].encode(), orjson.dumps(e)
            n_sent += 1
            # orjson's bytes keep their 4 KB buffer: a kept copy is made exact-size.
            if len(sample) < reservoir:
                sample.append((key, bytes(memoryview(value))))
            elif rng.randrange(n_sent) < reservoir:
                sample[rng.randrange(reservoir)] = (key, bytes(memoryview(value)))
            yield key, value, e["rumour_id"] not in seen
            seen.add(e["rumour_id"])
        chunk += 1


def heap_info() -> dict:
    """glibc's heap figures (:func:`benchmarks.soak_probe.mallinfo2`): bytes malloc'd and in use,
    free inside the arenas, mmap'd."""
    m = mallinfo2()
    return {"heap_in_use": m["in_use"], "heap_free": m["free_in_arenas"], "mmapped": m["mmapped"]} if m else {}


class Driver:
    """The worker's objects, as ``streams.app.create_app`` wires them, minus Kafka and Faust."""

    def __init__(self, store, graph_memory_mb: float = 8, partitions: int = 4, batch: int = 100,
                 seed: int = 2026, shares_per_rumour: int = 400, governance: bool = True,
                 governance_max_rumours: int = 0):
        from streams.app import _partitioner
        from streams.events import Decoder
        from streams.governance.config import GovernanceConfig
        from streams.governance.wiring import build_governance
        from streams.pipeline import Pipeline
        from streams.settings import Settings

        settings = Settings.load({})
        self.pipeline = Pipeline(store, Decoder(settings.max_message_bytes, settings.max_event_bytes),
                                 store_retry_seconds=settings.store_retry_seconds,
                                 graph_memory_bytes=int(graph_memory_mb * 2**20) or None)
        self.partition = _partitioner(partitions)
        self.pipeline.partitioner = self.partition
        self.pipeline.assign_partitions(range(partitions))
        config = GovernanceConfig.from_settings(settings)
        config.governance_max_rumours = governance_max_rumours
        self.hub = build_governance(self.pipeline, store, settings, config) if governance else None
        self.batch = batch
        self.messages = soak_messages(seed, shares_per_rumour)
        self.rumours = 0  # new rumours fed so far
        self.events = 0
        self.pending = None
        self._peek = None

    def feed(self, n_rumours: int) -> None:
        """Feed messages until ``n_rumours`` more new rumours have started (write-behind as the
        worker does it: batch N is written after batch N+1 was prepared)."""
        goal = self.rumours + n_rumours
        values, parts = [], []
        while True:
            key, value, new = self._peek or next(self.messages)
            self._peek = None
            if new and self.rumours == goal:  # the next chunk's first event waits
                self._peek = (key, value, new)
                break
            self.rumours += new
            values.append(value)
            parts.append(self.partition(key.decode()) if key != b"bad" else 0)
            if len(values) == self.batch:
                self._run(values, parts)
                values, parts = [], []
        self._run(values, parts)

    def _run(self, values, parts) -> None:
        if not values:
            return
        prepared = self.pipeline.prepare(values, None, parts)
        if self.pending is not None:
            self.pipeline.write_prepared(self.pending)
        self.pending = prepared
        self.events += len(values)

    def drain(self) -> None:
        if self.pending is not None:
            self.pipeline.write_prepared(self.pending)
            self.pending = None

    def quiesce(self) -> None:
        """Drop every graph and every governance rumour the budgets would drop at some point
        (all are rebuilt from the store when needed): what is left is the state that no budget
        bounds, so a snapshot taken now does not depend on how full the budgets happen to be."""
        p = self.pipeline
        with p.lock:
            budget, p.memory.budget_bytes = p.memory.budget_bytes, 0
            try:
                p._evict(())
            finally:
                p.memory.budget_bytes = budget
        if self.hub is not None:
            for part in (self.hub.alerts, self.hub.debunks):
                if part.max_rumours is not None:  # the hub's cap follows the graph count: now 0 -> 1
                    with part._lock:
                        part._evict(set())
            self.hub.desk.links.forget_dropped()  # the desk's event ids of the dropped graphs

    def state(self) -> dict:
        """Sizes of every per-rumour structure the worker is known to keep."""
        p = self.pipeline
        out = {"rumours_fed": self.rumours, "graphs": len(p.graphs), "debunk_graphs": len(p.debunks),
               "graph_bytes": p.memory.nbytes(), "evictions": p.memory.evictions,
               "stored_ids": p._stored.added, "loaded_ids": len(p._loaded),
               "partition_of": len(p.partition_of), "restore_queries": p.restore_queries}
        # The id memories are streams.seen filters (fixed bytes) or, with id_filter_mb=0, sets.
        out["id_bytes"] = {"pipeline._stored": p._stored.nbytes,
                           "pipeline._loaded": _deep_ids(p._loaded),
                           "pipeline.partition_of": _deep_ids(p.partition_of)}
        if self.hub is not None:
            for name, part in (("alerts.dropped_ids", self.hub.alerts), ("debunks.dropped_ids", self.hub.debunks)):
                out["id_bytes"][name] = part.dropped_ids.sizes()["evicted_id_bytes"]
            out["alerts"] = self.hub.alerts.sizes()
            out["debunks"] = self.hub.debunks.sizes()
            out["rumour_texts"] = len(self.hub.desk._rumour_texts)
        return out


def _deep_ids(container) -> int:
    """Bytes of a set/dict of rumour ids: the table plus each id string (small ints are shared)."""
    return sys.getsizeof(container) + sum(sys.getsizeof(k) for k in container)


def _snapshot(ignore=()):
    gc.collect()
    return tracemalloc.take_snapshot().filter_traces([
        tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"),
        tracemalloc.Filter(False, "<unknown>"),
        # The driver's own record of the messages it sent (for the copies) is not the worker's.
        tracemalloc.Filter(False, __file__), *(tracemalloc.Filter(False, pattern) for pattern in ignore)])


def _where(stat_traceback, depth: int = 6) -> list[str]:
    """The frames of one allocation site, innermost last, project files first."""
    frames = [f"{f.filename.split('/site-packages/')[-1].replace(str(Path.cwd()) + '/', '')}:{f.lineno}"
              for f in stat_traceback]
    return frames[-depth:]


def growth(before, after, per: int, top: int = 15) -> dict:
    """Retained growth between two snapshots: total and the ``top`` tracebacks, per new rumour."""
    diffs = after.compare_to(before, "traceback")
    total = sum(d.size_diff for d in diffs)
    sites = sorted(diffs, key=lambda d: -d.size_diff)[:top]
    return {"bytes_per_rumour": round(total / per, 1),
            "top": [{"bytes_per_rumour": round(d.size_diff / per, 1), "blocks_per_rumour": round(d.count_diff / per, 2),
                     "where": _where(d.traceback)} for d in sites if d.size_diff > 0]}


def measure(store, warm: int = 150, rumours: int = 300, graph_memory_mb: float = 8, frames: int = 8,
            seed: int = 2026, shares_per_rumour: int = 400, top: int = 15, governance: bool = True,
            batch: int = 500, quiesce: bool = False, governance_max_rumours: int = 0,
            ignore=(), progress: bool = False) -> dict:
    """Feed ``warm`` rumours, then ``rumours`` more in two halves; growth per new rumour.
    ``quiesce``: empty the bounded caches before each snapshot (see :meth:`Driver.quiesce`);
    ``ignore``: filename patterns whose allocations are left out (e.g. a store backend's own)."""
    if frames:
        tracemalloc.start(frames)
    try:
        driver = Driver(store, graph_memory_mb, seed=seed, shares_per_rumour=shares_per_rumour,
                        governance=governance, batch=batch, governance_max_rumours=governance_max_rumours)
        rss = []
        started = time.monotonic()

        def step(n):
            for _ in range(0, n, RUMOURS_PER_CHUNK):
                driver.feed(min(RUMOURS_PER_CHUNK, n))
                rss.append((driver.rumours, rss_bytes()))
                if progress:
                    print(f"\r{driver.rumours} rumours, {driver.events:,} messages, "
                          f"RSS {rss[-1][1] >> 20} MB, {time.monotonic() - started:.0f} s", end="", file=sys.stderr)

        def settle():
            driver.drain()
            if quiesce:
                driver.quiesce()
            return driver.state()

        step(warm)
        states = [settle()]
        heaps, snaps = [heap_info()], [_snapshot(ignore) if frames else None]
        half = rumours // 2
        for _ in range(2):
            step(half)
            states.append(settle())
            heaps.append(heap_info())
            snaps.append(_snapshot(ignore) if frames else None)
        if progress:
            print(file=sys.stderr)
        traced_total = [sum(s.size for s in snap.statistics("filename")) for snap in snaps] if frames else []
    finally:
        tracemalloc.stop()
    steady = [(n, b) for n, b in rss if n > warm]
    return {
        "warm_rumours": warm, "measured_rumours": 2 * half, "graph_memory_mb": graph_memory_mb,
        "quiesced": quiesce, "governance_max_rumours": governance_max_rumours,
        "shares_per_rumour": shares_per_rumour, "messages": driver.events,
        "seconds": round(time.monotonic() - started, 1),
        "first_half": growth(snaps[0], snaps[1], half, top) if frames else None,
        "second_half": growth(snaps[1], snaps[2], half, top) if frames else None,
        "traced_mb": [round(t / 2**20, 2) for t in traced_total],
        "rss_bytes_per_rumour": round(slope(steady), 1) if len(steady) > 2 else None,
        "rss_mb": [round(b / 2**20, 1) for _, b in (rss[0], rss[-1])] if rss else None,
        "heap_in_use_bytes_per_rumour": _per(heaps, "heap_in_use", 2 * half),
        "heap_free_bytes_per_rumour": _per(heaps, "heap_free", 2 * half),
        "state": states,
    }


def _per(heaps, key, n):
    return round((heaps[-1][key] - heaps[0][key]) / n, 1) if heaps[0] else None


def slope(points) -> float:
    """Least-squares slope of ``(x, y)`` points (at least two distinct x).

    >>> slope([(0, 1.0), (1, 3.0), (2, 5.0)])
    2.0
    """
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)


def open_temporary_store(kind: str):
    """A migrated store on a fresh database (``clickhouse``: the local server; ``chdb``)."""
    database = f"rt_mem_{uuid.uuid4().hex[:12]}"
    if kind == "chdb":
        from streams.store.embedded import ChdbStore

        store = ChdbStore("chdb://", database=database)
    else:
        from streams.settings import Settings
        from streams.store.clickhouse import ClickHouseStore

        # The server of RUMOUR_CLICKHOUSE_URL (default the local one); the database is our own.
        store = ClickHouseStore(Settings.load({}).clickhouse_url, database=database)
    store.migrate()
    return store


def bookkeeping(n: int = 200_000, mb: float = 4, batch: int = 20_000, warm_batches: int = 3) -> dict:
    """Bytes kept per rumour ever seen by the id bookkeeping alone: ``n`` one-share rumours
    through the pipeline's "held by the store" memory and an alert router and a debunk tracker
    capped at 1 (so every rumour is dropped), ``id_filter_mb`` = ``mb`` (0: exact sets). Growth
    is read after ``warm_batches`` batches (filters made, tables at their high-water mark)."""
    from streams.decoder import Decoder
    from streams.governance.alerts import AlertRouter
    from streams.governance.debunks import DebunkTracker
    from streams.pipeline import Pipeline

    def rumours(start):
        rows = [{"event_id": f"e{i}", "rumour_id": f"soak{i // 5}-r{i % 5}", "account_id": f"a{i % 97}",
                 "ts": 1_700_000_000_000 + i, "region": "370102"} for i in range(start, start + batch)]
        return Decoder().decode([orjson.dumps(rows)])[0]

    empty = rumours(0).take([0]).take(np.zeros(0, np.int64))
    out = {"rumours": n, "id_filter_mb": mb}
    for name in ("pipeline", "alerts", "debunks"):
        if name == "pipeline":
            part = Pipeline(None, id_filter_mb=mb)._stored  # prepare_batch adds each written rumour
            feed = part.update
        else:
            kind = AlertRouter if name == "alerts" else DebunkTracker
            part = kind(max_rumours=1, loader=lambda ids: empty, lister=list, id_filter_mb=mb)
            feed = part.observe
        tracemalloc.start(1)
        try:
            for k, start in enumerate(range(0, n, batch)):
                b = rumours(start)
                feed(b.rumour_id if name == "pipeline" else b)
                del b
                if k + 1 == warm_batches:
                    gc.collect()
                    before = tracemalloc.get_traced_memory()[0]
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        out[name + "_bytes_per_rumour"] = round(grown / (n - warm_batches * batch), 2)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", choices=("clickhouse", "chdb"), default="clickhouse")
    ap.add_argument("--warm", type=int, default=150, help="new rumours before the first snapshot")
    ap.add_argument("--rumours", type=int, default=300, help="new rumours measured (two halves)")
    ap.add_argument("--graph-memory-mb", type=float, default=8)
    ap.add_argument("--shares", type=int, default=400, help="shares per rumour")
    ap.add_argument("--batch", type=int, default=500, help="messages per batch (the soak's are ~100: "
                    "fewer, larger store writes keep this fast; per-rumour state does not depend on it)")
    ap.add_argument("--frames", type=int, default=8,
                    help="traceback depth kept by tracemalloc; 0: no tracemalloc (RSS and heap only)")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--no-governance", action="store_true")
    ap.add_argument("--quiesce", action="store_true", help="empty the bounded caches before each snapshot")
    ap.add_argument("--governance-max-rumours", type=int, default=0, help="0: follow the graph count; -1: no cap")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", default=None, help="write the JSON here too")
    ap.add_argument("--bookkeeping", type=int, default=0, metavar="N",
                    help="instead: bytes per rumour ever seen of the id bookkeeping alone, over N "
                         "rumours, at RUMOUR_ID_FILTER_MB (0: exact sets)")
    args = ap.parse_args(argv)
    if args.bookkeeping:
        from streams.seen import configured_mb

        print(json.dumps(bookkeeping(args.bookkeeping, configured_mb()), indent=1), flush=True)
        return 0
    store = open_temporary_store(args.store)
    try:
        result = measure(store, args.warm, args.rumours, args.graph_memory_mb, args.frames, args.seed,
                         args.shares, args.top, not args.no_governance, args.batch, args.quiesce,
                         args.governance_max_rumours, progress=True)
        result["store"] = args.store
        text = json.dumps(result, indent=1)
        print(text, flush=True)
        if args.out:  # before the drop: the old server can take minutes to drop a busy database
            Path(args.out).write_text(text)
    finally:
        store.drop()
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
