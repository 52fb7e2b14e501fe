"""In-process ingest with and without write-behind, on the engine's own Pipeline and a real
clickhouse-server (no Kafka): the same messages, batches of ``--batch-messages`` messages.

- ``serial``: ``Pipeline.process`` per batch (prepare, then the store write), as the worker did.
- ``write_behind``: ``Pipeline.prepare`` of batch N+1 in this thread while batch N's
  ``Pipeline.write_prepared`` runs in a writer thread, at most one write in flight (what
  streams/app.py does between Kafka and ClickHouse).

    .venv/bin/python -m benchmarks.bench_write_behind [--events 200000] [--per-message 500]

prints us/event of wall time and of process CPU for both (each into a fresh database), the
stored counts, and the CPU us/event of each step (the CPU clock of the thread that runs it).

    .venv/bin/python -m benchmarks.bench_write_behind --agent-loop [--events 20000] [--per-message 1]

what Faust and the worker's agent loop cost per message without the pipeline's work: the same
messages (real Kafka at RUMOUR_KAFKA_BROKER, one partition) read by (a) a Faust agent doing
``noack_take`` and nothing else and (b) streams/app.py's agent with a pipeline whose prepare and
write do nothing (thread hand-offs, acks, stats, governance agents idle); worker process CPU us
per message and per event between the first and the last batch, median of ``--runs`` workers.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import time
import uuid

import orjson

from benchmarks import ingest_kit
from streams.events import EventBatch


STEPS = {"decode": None, "restore": "_restore_from_store", "refuse": "_refuse_cross_rumour_parents",
         "graph": "_apply_to_graphs", "store": "_write_with_retry"}


def step_clocks(pipe) -> dict:
    """Wrap the pipeline's steps with this thread's CPU clock (steadier than wall time on a
    loaded machine); returns the dict of seconds per step that fills as batches run."""
    clocks = dict.fromkeys(STEPS, 0.0)

    def wrap(obj, attr, key):
        inner = getattr(obj, attr)

        def timed(*a, **k):
            t0 = time.thread_time()
            try:
                return inner(*a, **k)
            finally:
                clocks[key] += time.thread_time() - t0
        setattr(obj, attr, timed)

    wrap(pipe.decoder, "decode", "decode")
    for key, attr in STEPS.items():
        if attr:
            wrap(pipe, attr, key)
    return clocks


def run(mode: str, batches, url: str, memory_mb: int | None) -> dict:
    from streams.pipeline import Pipeline
    from streams.store import open_store

    store = open_store(url, database="bench_wb_" + uuid.uuid4().hex[:8])
    store.migrate()
    kw = {"graph_memory_bytes": memory_mb << 20} if memory_mb else {}
    pipe = Pipeline(store, **kw)
    clocks = step_clocks(pipe)
    events = 0
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        if mode == "serial":
            for b in batches:
                events += pipe.process(b).read
        else:
            with concurrent.futures.ThreadPoolExecutor(1) as writer:
                pending = None
                for b in batches:
                    prepared = pipe.prepare(b)
                    events += prepared.stats.read
                    if pending is not None:
                        pending.result()
                    pending = writer.submit(pipe.write_prepared, prepared)
                pending.result()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        stored = store.count_events()
    finally:
        store.drop()
        store.close()
    out = {"us_per_event": round(wall * 1e6 / events, 2), "cpu_us_per_event": round(cpu * 1e6 / events, 2),
           "events_per_s": round(events / wall), "stored": stored,
           "restore_queries": getattr(pipe, "restore_queries", None)}
    out.update({f"{k}_cpu_us": round(v * 1e6 / events, 2) for k, v in clocks.items()})
    return out


class _LoopOnlyPipeline:
    """Stands in for Pipeline.prepare/write_prepared: no decode, no graphs, no store."""

    @staticmethod
    def make(done_after: int, out: str):
        from streams.pipeline import BatchStats, Pipeline, Prepared

        class LoopOnly(Pipeline):
            seen = 0
            first = None

            def prepare(self, messages, sources=None, partitions=None):
                return Prepared(BatchStats(read=len(messages)), EventBatch(), set(), EventBatch())

            def write_prepared(self, prepared):
                _loop_tick(self, prepared.stats.read, done_after, out)
                return prepared.stats

        return LoopOnly(None)


def _loop_tick(state, n_messages: int, done_after: int, out: str) -> None:
    import os

    if state.first is None:  # the clock starts at the first batch: start-up is not counted
        state.first = (time.process_time(), n_messages)
    state.seen += n_messages
    if state.seen >= done_after:
        cpu0, skipped = state.first
        with open(out, "wb") as f:
            f.write(orjson.dumps({"cpu_s": time.process_time() - cpu0,
                                  "messages": state.seen - skipped}))
        os._exit(0)


def _agent_child(mode: str, topic: str, n_messages: int, out: str, port: int) -> None:
    import tempfile
    import types

    import faust

    from streams.settings import Settings

    settings = Settings.load({"topic": topic, "app_id": f"loop-{mode}-{port}", "web_port": port,
                              "topic_partitions": 1, "log_level": "warning",
                              "data_dir": tempfile.mkdtemp(prefix="loop-"),
                              "dead_letter_topic": topic + "-dead"})
    if mode == "ours":
        from streams.app import create_app

        app = create_app(settings, pipeline=_LoopOnlyPipeline.make(n_messages, out))
    else:
        app = faust.App(settings.app_id, broker=settings.broker, store="memory://",
                        web_port=port, topic_partitions=1, datadir=settings.data_dir,
                        topic_replication_factor=1)
        shares = app.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw",
                           value_serializer="raw", partitions=1)
        state = types.SimpleNamespace(seen=0, first=None)

        @app.agent(shares, concurrency=1)
        async def noop(stream):
            async for events in stream.noack_take(settings.batch_size, within=settings.batch_wait):
                _loop_tick(state, len(events), n_messages, out)
    from streams.worker_setup import faust_worker

    # As run_worker does (no spinner: its DEBUG root logger would tax both agents' loops).
    faust_worker(app, "warning").execute_from_commandline()


def agent_loop(n_events: int, per_message: int, runs: int) -> dict:
    """CPU per message of a no-op noack_take agent and of streams/app.py's loop (see main)."""
    import os
    import statistics
    import subprocess
    import sys
    import tempfile
    import uuid

    from benchmarks import ingest_kit
    from streams.events_columnar import encode_columns
    from streams.produce import kafka_bootstrap
    from streams.settings import Settings
    from streams.topics import ensure_topics, topic_replication

    bootstrap = kafka_bootstrap(Settings.load({}).broker)
    pairs = ingest_kit.stream_messages(n_events, per_message, 0, "loop")
    if per_message > 1:
        pairs = [(k, encode_columns(orjson.loads(v))) for k, v in pairs]
    topic = "loop-" + uuid.uuid4().hex[:8]
    ensure_topics(bootstrap, {topic: 1}, **topic_replication(Settings.load()))
    ingest_kit.produce(bootstrap, topic, pairs)
    cpu = {"noop": [], "ours": []}
    for _ in range(runs):
        for mode in cpu:  # interleaved: both see the same machine load
            out = os.path.join(tempfile.mkdtemp(prefix="loop-"), "out.json")
            cmd = [sys.executable, "-m", "benchmarks.bench_write_behind", "--agent-child", mode,
                   "--topic", topic, "--events", str(len(pairs)), "--out", out,
                   "--port", str(ingest_kit.free_port()), "worker"]
            subprocess.run(cmd, timeout=600, check=False, stdout=subprocess.DEVNULL)
            with open(out, "rb") as f:
                r = orjson.loads(f.read())
            cpu[mode].append(r["cpu_s"] / r["messages"])
    res = {}
    for mode, xs in cpu.items():
        us = statistics.median(xs) * 1e6
        res[mode] = {"cpu_us_per_message": round(us, 2),
                     "cpu_us_per_event": round(us / max(per_message, 1), 4)}
    res["ours_minus_noop_us_per_message"] = round(res["ours"]["cpu_us_per_message"]
                                                  - res["noop"]["cpu_us_per_message"], 2)
    res.update(messages=len(pairs), per_message=per_message, runs=runs)
    return res


def main(argv=None) -> None:
    from streams.pipeline import warm_up

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--per-message", type=int, default=500)
    ap.add_argument("--batch-messages", type=int, default=20)
    ap.add_argument("--graph-memory-mb", type=int, default=0, help="0: no budget")
    ap.add_argument("--clickhouse", default="clickhouse://127.0.0.1:9000")
    ap.add_argument("--modes", default="serial,write_behind", help="write_behind needs the engine's "
                    "Pipeline.prepare / write_prepared; serial runs on older engines too")
    ap.add_argument("--runs", type=int, default=3, help="workers of each kind with --agent-loop")
    ap.add_argument("--agent-loop", action="store_true",
                    help="CPU per message of Faust + the worker's agent loop (real Kafka)")
    ap.add_argument("--agent-child", choices=("noop", "ours"), help=argparse.SUPPRESS)
    ap.add_argument("--topic", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args, rest = ap.parse_known_args(argv)
    if args.agent_child:
        import sys

        sys.argv = [sys.argv[0], *rest]  # Faust's Worker reads its own command line
        _agent_child(args.agent_child, args.topic, args.events, args.out, args.port)
        return
    if args.agent_loop:
        print(orjson.dumps(agent_loop(args.events, args.per_message, args.runs)).decode())
        return
    warm_up()
    msgs = [v for _, v in ingest_kit.stream_messages(args.events, args.per_message, 0, "wb")]
    n = args.batch_messages
    batches = [msgs[i:i + n] for i in range(0, len(msgs), n)]
    out = {m: run(m, batches, args.clickhouse, args.graph_memory_mb) for m in args.modes.split(",")}
    print(orjson.dumps(out).decode())


if __name__ == "__main__":
    main()
