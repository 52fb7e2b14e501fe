"""A Faust worker process for the ingest and scale benchmarks, with a /bench page of counters.

    python -m benchmarks.ingest_worker --mode ours|noop --topic T --app-id A --web-port P
        [--clickhouse URL] [--batch-size N] [--batch-wait S] [--events-per-message K]

``ours`` is the real engine: :func:`streams.app.create_app` (the production agent, take()
batching, the pipeline in its executor thread, the real ClickHouse store) with a
:class:`TimedPipeline` that only adds clocks around the pipeline's own steps. ``noop`` is a Faust
agent on the same topic with the same ``take()`` batching that only counts what it receives.

GET /bench returns ``{"events", "messages", "batches", "first_end", "last_end", "first_events",
"busy_s", "decode_s", "graph_s", "store_s", "restore_s", "refuse_s",
"cpu_s", "assigned"}`` (assigned: partitions the engine's agent holds; None for noop) (times from time.time(); ``*_s`` summed
over batches; cpu_s = this process's user+system CPU seconds).
"""
from __future__ import annotations

import argparse
import gc
import os
import threading
import time

import faust
from faust.web import Request, Response, View

from streams.events import Decoder
from streams.pipeline import Pipeline
from streams.settings import Settings
from streams.web import current_stats


def cpu_seconds(pid: int | str = "self") -> float:
    """user + system CPU seconds of a process (and its reaped children) from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(x) for x in fields[11:15]) / ticks


class Counters:
    def __init__(self, events_per_message: int):
        self.k = events_per_message
        self.lock = threading.Lock()
        self.gc = GcClock()
        self.ends: list = []  # (time, events) per batch, for --pace-trace (bounded)
        self.data = {"events": 0, "messages": 0, "batches": 0, "first_end": None, "last_end": None,
                     "first_events": 0, "busy_s": 0.0, "decode_s": 0.0, "graph_s": 0.0,
                     "store_s": 0.0, "restore_s": 0.0, "refuse_s": 0.0}

    def batch(self, messages: int, events: int, busy: float) -> None:
        now = time.time()
        with self.lock:
            d = self.data
            if d["first_end"] is None:
                d["first_end"], d["first_events"] = now, events
            d["last_end"] = now
            d["events"] += events
            d["messages"] += messages
            d["batches"] += 1
            d["busy_s"] += busy
            if len(self.ends) < 20_000:
                self.ends.append((now, events))

    def add(self, key: str, seconds: float) -> None:
        with self.lock:
            self.data[key] += seconds

    def snapshot(self) -> dict:
        with self.lock:
            return {**self.data, "cpu_s": cpu_seconds(), "gc": self.gc.snapshot()}


class GcClock:
    """Wall seconds and runs of the garbage collector per generation (``gc.callbacks``; the
    collector holds the GIL, so its wall time is CPU time of the thread that triggered it)."""

    def __init__(self):
        self.seconds = [0.0, 0.0, 0.0]
        self.runs = [0, 0, 0]
        self._t0 = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase, info):
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            g = info["generation"]
            self.seconds[g] += time.perf_counter() - self._t0
            self.runs[g] += 1

    def snapshot(self) -> dict:
        return {"seconds": [round(s, 4) for s in self.seconds], "runs": list(self.runs)}


class TimedDecoder(Decoder):
    counters: Counters

    def decode(self, messages, sources=None, now_ms=None):
        t0 = time.perf_counter()
        try:
            return super().decode(messages, sources, now_ms)
        finally:
            self.counters.add("decode_s", time.perf_counter() - t0)


class TimedPipeline(Pipeline):
    """The engine's Pipeline, unchanged, with clocks around decode, graphs and the store write."""

    counters: Counters

    # A batch counts once it is stored: the worker prepares batch N+1 while N is written
    # (write-behind), so busy = prepare + write time of the batch (they overlap across batches).
    def prepare(self, messages, sources=None, partitions=None):
        t0 = time.perf_counter()
        prepared = super().prepare(messages, sources, partitions)
        prepared.bench = (len(messages), time.perf_counter() - t0)
        return prepared

    def write_prepared(self, prepared):
        t0 = time.perf_counter()
        stats = super().write_prepared(prepared)
        messages, busy = getattr(prepared, "bench", (0, 0.0))
        self.counters.batch(messages, stats.read, busy + time.perf_counter() - t0)
        return stats

    def _apply_to_graphs(self, batch, dead):
        t0 = time.perf_counter()
        try:
            return super()._apply_to_graphs(batch, dead)
        finally:
            self.counters.add("graph_s", time.perf_counter() - t0)

    def _restore_from_store(self, batch):
        t0 = time.perf_counter()
        try:
            return super()._restore_from_store(batch)
        finally:
            self.counters.add("restore_s", time.perf_counter() - t0)

    def _refuse_cross_rumour_parents(self, batch, dead):
        t0 = time.perf_counter()
        try:
            return super()._refuse_cross_rumour_parents(batch, dead)
        finally:
            self.counters.add("refuse_s", time.perf_counter() - t0)

    def _write_with_retry(self, batch, dead):
        t0 = time.perf_counter()
        try:
            return super()._write_with_retry(batch, dead)
        finally:
            self.counters.add("store_s", time.perf_counter() - t0)


def _bench_page(app, counters: Counters, pace=None) -> None:
    @app.page("/bench")
    class BenchView(View):
        async def get(self, request: Request) -> Response:
            pipeline = getattr(app, "pipeline", None)  # None in the no-op app
            assigned = None if pipeline is None else current_stats(app, pipeline)["assigned_partitions"]
            # Thread names by native id: a profiler reads per-thread CPU from /proc/<pid>/task.
            threads = {str(t.native_id): t.name for t in threading.enumerate()}
            out = {**counters.snapshot(), "assigned": assigned, "threads": threads}
            if pace is not None:
                out["pace"] = {**pace.snapshot(), "batches": list(counters.ends)}
            return self.json(out)


def faust_options(pairs) -> dict:
    """``KEY=VALUE`` strings as Faust App keyword arguments (numbers parsed; ``Monitor=quiet``
    names streams.faust_path.QuietMonitor, ``Monitor=faust`` Faust's own)."""
    out: dict = {}
    for pair in pairs or ():
        key, _, value = pair.partition("=")
        if key == "Monitor":
            from faust.sensors import Monitor

            from streams.faust_path import QuietMonitor

            out[key] = Monitor if value == "faust" else QuietMonitor
            continue
        for kind in (int, float):
            try:
                value = kind(value)
                break
            except ValueError:
                pass
        out[key] = value
    return out


def ours_app(settings: Settings, counters: Counters, options: dict | None = None) -> faust.App:
    from streams.app import create_app
    from streams.store import open_store

    store = open_store(settings.clickhouse_url)
    store.migrate()
    decoder = TimedDecoder(settings.max_message_bytes, settings.max_event_bytes)
    decoder.counters = counters
    pipeline = TimedPipeline(store, decoder, store_retry_seconds=settings.store_retry_seconds)
    pipeline.counters = counters
    app = create_app(settings, store=store, pipeline=pipeline,
                     **({"faust_options": options} if options else {}))
    return app


def noop_app(settings: Settings, counters: Counters, options: dict | None = None,
             engine_path: bool = False) -> faust.App:
    broker = settings.broker if "://" in settings.broker else "kafka://" + settings.broker
    app = faust.App(settings.app_id, broker=broker, store="memory://", web_host=settings.web_host,
                    web_port=settings.web_port, web_bind=settings.web_host,
                    topic_partitions=settings.topic_partitions, datadir=settings.data_dir,
                    topic_replication_factor=1, **(options or {}))
    if engine_path:  # the engine's drain loop and raw schema (streams/faust_path.py)
        from streams import faust_path

        faust_path.install(app)
        shares = app.topic(settings.topic, schema=faust_path.RawBytesSchema(),
                           partitions=settings.topic_partitions)
    else:
        shares = app.topic(settings.topic, key_type=bytes, value_type=bytes, key_serializer="raw",
                           value_serializer="raw", partitions=settings.topic_partitions)

    @app.agent(shares, concurrency=1)
    async def noop(stream):
        async for values in stream.take(settings.batch_size, within=settings.batch_wait):
            counters.batch(len(values), len(values) * counters.k, 0.0)

    return app


def _set_fetch_max_wait(ms: int) -> None:
    """Faust creates its aiokafka consumer with fetch_max_wait_ms=1500 (not a setting): a fetch
    of only caught-up partitions then holds the broker's one in-flight request up to 1.5 s."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    create = AIOKafkaConsumerThread._create_worker_consumer

    def _create_worker_consumer(self, transport):
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = ms  # read when the consumer starts its fetcher
        return consumer

    AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer
    from streams import faust_path

    faust_path.FETCH_MAX_WAIT_MS = ms  # the engine's own (faust_path.install) reads this


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("ours", "noop"), required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--app-id", required=True)
    ap.add_argument("--web-port", type=int, required=True)
    ap.add_argument("--clickhouse", default=None)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=5000)
    ap.add_argument("--batch-wait", type=float, default=0.5)
    ap.add_argument("--events-per-message", type=int, default=1)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--faust-option", action="append", default=None, metavar="KEY=VALUE",
                    help="a Faust App setting for this worker (repeatable; experiments)")
    ap.add_argument("--pace-trace", action="store_true",
                    help="record a timeline of fetches and buffer pauses on /bench (\"pace\")")
    ap.add_argument("--paused-fetch-timeout", type=float, default=None,
                    help="streams.faust_path.PAUSED_FETCH_TIMEOUT for this worker (experiments: "
                         "1.0 = Faust's own wait while a partition is paused)")
    ap.add_argument("--fetch-max-wait-ms", type=int, default=None,
                    help="the aiokafka consumer's fetch_max_wait_ms (Faust hard-codes 1500; "
                         "experiments)")
    ap.add_argument("--noop-path", choices=("faust", "ours"), default="faust",
                    help="the no-op agent's per-message path: Faust's own (default: the "
                         "baseline) or the engine's (streams/faust_path.py: drain loop, raw "
                         "schema, quiet monitor), to price it alone")
    args = ap.parse_args(argv)
    options = faust_options(args.faust_option)
    if args.paused_fetch_timeout is not None:
        from streams import faust_path

        faust_path.PAUSED_FETCH_TIMEOUT = args.paused_fetch_timeout
    settings = Settings.load({
        "topic": args.topic, "app_id": args.app_id, "web_port": args.web_port,
        "clickhouse_url": args.clickhouse, "batch_size": args.batch_size,
        "batch_wait": args.batch_wait, "topic_partitions": args.partitions,
        "data_dir": args.data_dir or f".run/bench/{args.app_id}-{args.web_port}",
        "log_level": "warning",
    })
    os.makedirs(settings.data_dir, exist_ok=True)  # Faust creates only the last level
    if args.fetch_max_wait_ms is not None:
        _set_fetch_max_wait(args.fetch_max_wait_ms)
    counters = Counters(args.events_per_message)
    pace = None
    if args.pace_trace:
        from benchmarks.pace_trace import PaceTrace

        pace = PaceTrace()
        pace.install()
    if args.mode == "ours":
        from streams.worker_setup import warm_up_worker

        warm_up_worker()  # as run_worker does: load the kernels before the first batch
        app = ours_app(settings, counters, options)
    else:
        if args.noop_path == "ours":
            from streams import faust_path

            options = {"Monitor": faust_path.QuietMonitor, **options}
        app = noop_app(settings, counters, options, engine_path=args.noop_path == "ours")
    _bench_page(app, counters, pace)
    from streams.worker_setup import faust_worker

    if args.mode == "ours":
        from streams.worker_setup import tune_gc

        tune_gc()  # as run_worker does
    faust_worker(app, "warning").execute_from_commandline()


if __name__ == "__main__":
    main()
