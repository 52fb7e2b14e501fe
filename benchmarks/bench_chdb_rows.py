"""A current engine's CPU per event for ClickHouseStore's insert path (share_event_rows, sql/005),
with the schema as migrated and as it was before sql/006 (both minute-count views).

    nice -n 15 env PYTHONPATH=. .venv/bin/python -m benchmarks.bench_chdb_rows \
        [--size 20000] [--batches 10] [--repeat 3]

A current clickhouse-server (production) runs share_events' own views for rows a view writes
there; 18.16 does not. chDB (ClickHouse 26.x in-process) is the current engine on this machine:
the packed columns ``ClickHouseStore.write`` would send (:func:`event_rows_columns`) go in as an
Arrow table through ``INSERT INTO share_event_rows SELECT * FROM Python(...)``. Each variant
migrates its own database; runs alternate. CPU = this process's user + system time
(``getrusage``: chDB's threads, background merges during the run included) per event, less the
Arrow building, which happens before the clock. Also checks both variants answer
``rumour_region_counts`` alike. Prints medians as JSON.
"""
from __future__ import annotations

import argparse
import resource
import statistics

import orjson

from benchmarks.bench_insert_sizes import events

VARIANTS = ("current", "before_006")


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _packed(batch):
    import pyarrow as pa

    from streams.store.clickhouse import event_rows_columns

    fields, texts, ts_ms = event_rows_columns(batch)
    return pa.table({"fields": pa.array(fields, pa.binary()), "text": pa.array(texts, pa.binary()),
                     "ts_ms": pa.array(ts_ms, pa.int64())})


def run(variant: str, tables: list, tag: str) -> tuple[float, list]:
    import sql
    from streams.store.embedded import ChdbStore

    store = ChdbStore("chdb://", database=f"bench_rows_{variant}_{tag}")
    try:
        if variant == "before_006":
            sql.migrate(store._execute, store.database,
                        migrations=[m for m in sql.load_migrations() if m.version != 6])
        else:
            store.migrate()
        rows = 0
        c0 = _cpu_s()
        for packed_rows in tables:
            store._insert_python(f"INSERT INTO {store.database}.share_event_rows", packed_rows)
            rows += packed_rows.num_rows
        cpu = _cpu_s() - c0
        return cpu * 1e6 / rows, store.rumour_region_counts()
    finally:
        store.drop()
        store.close()


def measure(size: int, batches: int, repeat: int) -> dict:
    batch = events("ingest", size * batches)
    tables = [_packed(batch.take(list(range(i * size, (i + 1) * size)))) for i in range(batches)]
    runs = {v: [] for v in VARIANTS}
    answers = {}
    for r in range(repeat):
        for v in (VARIANTS if r % 2 == 0 else VARIANTS[::-1]):
            us, answers[v] = run(v, tables, str(r))
            runs[v].append(round(us, 3))
    return {"size": size, "batches": batches, "runs_us_per_event": runs,
            "median_us_per_event": {v: statistics.median(runs[v]) for v in VARIANTS},
            "same_counts": answers["current"] == answers["before_006"],
            "groups": len(answers["current"])}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=20000)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    print(orjson.dumps(measure(args.size, args.batches, args.repeat)).decode())


if __name__ == "__main__":
    main()
