"""Cost of one share-event INSERT on a real clickhouse-server, per insert size: the store write
of one pipeline batch (streams.store.ClickHouseStore.write, columnar), into a fresh database.

    .venv/bin/python -m benchmarks.bench_insert_sizes [--sizes 1000,10000,50000,200000] [--repeat 3]

prints, per size, the median ms per INSERT, us/event, and the client's CPU us/event (the part
that holds the GIL; the rest is waiting on the server) (the size that makes the fixed cost per
insert small picks the worker's batch defaults, streams/settings.py).
"""
from __future__ import annotations

import argparse
import statistics
import time
import uuid

import orjson

from benchmarks import ingest_kit
from streams.events import Decoder


def measure(url: str, sizes, repeat: int) -> dict:
    from streams.store import open_store

    biggest = max(sizes)
    msgs = [v for _, v in ingest_kit.stream_messages(biggest * repeat, 500, 5, "ins")]
    batch, _ = Decoder().decode(msgs)
    store = open_store(url, database="bench_insert_" + uuid.uuid4().hex[:8])
    store.migrate()
    out = {}
    try:
        for size in sizes:
            times, cpu = [], []
            for r in range(repeat):
                part = batch.take(list(range(r * size, (r + 1) * size)))
                t0, c0 = time.perf_counter(), time.thread_time()
                store.write(part)
                times.append(time.perf_counter() - t0)
                cpu.append(time.thread_time() - c0)
            ms = statistics.median(times) * 1000
            # client_cpu: this thread's CPU (holds the GIL); the rest is waiting on the server.
            out[str(size)] = {"ms_per_insert": round(ms, 1), "us_per_event": round(ms * 1000 / size, 2),
                              "client_cpu_us_per_event": round(statistics.median(cpu) * 1e6 / size, 2)}
    finally:
        store.drop()
        store.close()
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clickhouse", default="clickhouse://127.0.0.1:9000")
    ap.add_argument("--sizes", default="1000,10000,50000,200000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(orjson.dumps(measure(args.clickhouse, sizes, args.repeat)).decode())


if __name__ == "__main__":
    main()
