"""Cost of one share-event INSERT on a real clickhouse-server, per insert size and insert path:
``rows`` is ``ClickHouseStore.write`` (through share_event_rows, sql/005), ``direct`` the insert
straight into share_events (``ClickHouseStore.insert_events_direct``, the path before 005).

    .venv/bin/python -m benchmarks.bench_insert_sizes [--sizes 2000,10000,50000] [--repeat 5]
        [--paths rows,direct] [--data ingest|text]

``--data ingest`` (default): the ingest benchmark's stream (benchmarks/ingest_kit: short ids,
regions set, no text); ``--data text``: benchmarks/store_quick.synthetic_batch (80% carry a
text with Chinese characters, half the regions and a tenth of the parents null).

Each path writes into its own fresh database; the runs of the paths alternate, so machine load
hits both alike. Prints, per size and path, medians of: ms per INSERT, wall us/event, the
client's CPU us/event (``thread_time`` around the call: the part that holds the GIL, the rest
is waiting on the server) and the server's CPU us/event for that INSERT (user + system time of
its threads from system.query_log's ProfileEvents, views included; background merges later are
not). The size that makes the fixed cost per insert small picks the worker's batch defaults
(streams/settings.py).
"""
from __future__ import annotations

import argparse
import statistics
import time
import uuid

import orjson

from benchmarks import ingest_kit
from streams.events import Decoder

PATHS = ("rows", "direct")
_CPU_EVENTS = ("UserTimeMicroseconds", "SystemTimeMicroseconds")


def _open(url: str, tag: str):
    from streams.store import open_store

    store = open_store(url, database=f"bench_insert_{tag}_{uuid.uuid4().hex[:8]}")
    store.migrate()
    # Tag each INSERT with a query id and have the server log it (system.query_log).
    execute, qid = store.client.execute, [None]

    def tagged(*args, **kwargs):
        kwargs.setdefault("query_id", qid[0])
        settings = dict(kwargs.pop("settings", None) or {}, log_queries=1)
        return execute(*args, settings=settings, **kwargs)

    store.client.execute = tagged
    return store, qid


def _server_cpu_us(store, query_ids: list) -> dict:
    """query_id -> server CPU microseconds (user + system) from system.query_log."""
    store._command("SYSTEM FLUSH LOGS")
    ids = ", ".join(f"'{q}'" for q in query_ids)
    picks = ", ".join(f"ProfileEvents.Values[indexOf(ProfileEvents.Names, '{e}')]" for e in _CPU_EVENTS)
    rows = store._rows(f"SELECT query_id, {picks} FROM system.query_log WHERE type = 2 AND query_id IN ({ids})")
    return {r[0]: sum(r[1:]) for r in rows}


def events(data: str, count: int, seed: int = 7):
    if data == "text":
        from benchmarks.store_quick import synthetic_batch

        return synthetic_batch(count, seed)
    msgs = [v for _, v in ingest_kit.stream_messages(count, 500, 5, "ins")]
    return Decoder().decode(msgs)[0]


def measure(url: str, sizes, repeat: int, paths=PATHS, data: str = "ingest") -> dict:
    batch = events(data, max(sizes) * repeat)
    stores = {p: _open(url, p) for p in paths}
    out = {}
    try:
        for size in sizes:
            runs = {p: {"wall": [], "cpu": [], "qid": []} for p in paths}
            for r in range(repeat):
                part = batch.take(list(range(r * size, (r + 1) * size)))
                for p in (paths if r % 2 == 0 else paths[::-1]):
                    store, qid = stores[p]
                    qid[0] = f"bench_{p}_{size}_{r}_{uuid.uuid4().hex[:8]}"
                    write = store.write if p == "rows" else store.insert_events_direct
                    t0, c0 = time.perf_counter(), time.thread_time()
                    write(part)
                    runs[p]["wall"].append(time.perf_counter() - t0)
                    runs[p]["cpu"].append(time.thread_time() - c0)
                    runs[p]["qid"].append(qid[0])
            for p in paths:
                store, qid = stores[p]
                qid[0] = None
                server = _server_cpu_us(store, runs[p]["qid"])
                ms = statistics.median(runs[p]["wall"]) * 1000
                out.setdefault(str(size), {})[p] = {
                    "ms_per_insert": round(ms, 1),
                    "us_per_event": round(ms * 1000 / size, 2),
                    "client_cpu_us_per_event": round(statistics.median(runs[p]["cpu"]) * 1e6 / size, 3),
                    "client_cpu_us_per_event_runs": [round(c * 1e6 / size, 3) for c in runs[p]["cpu"]],
                    "server_cpu_us_per_event": (round(statistics.median(server.values()) / size, 2)
                                                if server else None),
                }
    finally:
        for store, qid in stores.values():
            qid[0] = None
            store.drop()
            store.close()
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clickhouse", default="clickhouse://127.0.0.1:9000")
    ap.add_argument("--sizes", default="2000,10000,50000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--paths", default=",".join(PATHS))
    ap.add_argument("--data", choices=("ingest", "text"), default="ingest")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    paths = tuple(p for p in args.paths.split(",") if p)
    unknown = set(paths) - set(PATHS)
    if unknown:
        ap.error(f"unknown paths {sorted(unknown)} (use {', '.join(PATHS)})")
    print(orjson.dumps(measure(args.clickhouse, sizes, args.repeat, paths, args.data)).decode())


if __name__ == "__main__":
    main()
