"""In-process ingest with and without write-behind, on the engine's own Pipeline and a real
clickhouse-server (no Kafka): the same messages, batches of ``--batch-messages`` messages.

- ``serial``: ``Pipeline.process`` per batch (prepare, then the store write), as the worker did.
- ``write_behind``: ``Pipeline.prepare`` of batch N+1 in this thread while batch N's
  ``Pipeline.write_prepared`` runs in a writer thread, at most one write in flight (what
  streams/app.py does between Kafka and ClickHouse).

    .venv/bin/python -m benchmarks.bench_write_behind [--events 200000] [--per-message 500]

prints us/event of wall time and of process CPU for both (each into a fresh database), the
stored counts, and the CPU us/event of each step (the CPU clock of the thread that runs it).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import time
import uuid

import orjson

from benchmarks import ingest_kit


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
    args = ap.parse_args(argv)
    warm_up()
    msgs = [v for _, v in ingest_kit.stream_messages(args.events, args.per_message, 0, "wb")]
    n = args.batch_messages
    batches = [msgs[i:i + n] for i in range(0, len(msgs), n)]
    out = {m: run(m, batches, args.clickhouse, args.graph_memory_mb) for m in args.modes.split(",")}
    print(orjson.dumps(out).decode())


if __name__ == "__main__":
    main()
