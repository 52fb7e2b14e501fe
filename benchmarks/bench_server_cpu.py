"""clickhouse-server's CPU per ingested share event, by schema variant, INSERT and merges apart.

    nice -n 15 env PYTHONPATH=. .venv/bin/python -m benchmarks.bench_server_cpu \
        [--size 50000] [--batches 6] [--repeat 3] [--variants current,no_minutes,...]

Each variant gets its own fresh database, migrated by the code on PYTHONPATH and then changed
by the variant's statements (:data:`VARIANTS`), and takes ``--batches`` INSERTs of ``--size``
rows of the ingest benchmark's stream through ``ClickHouseStore.write`` (the worker's path).
Runs of the variants alternate (order reversed every other repeat) so machine load hits them
alike. Per run it reports, per event:

* ``insert_us``: user + system CPU of the INSERTs' server threads (system.query_log
  ProfileEvents; the materialized views run inside the INSERT on 18.16),
* ``process_us``: the clickhouse-server process's CPU (``/proc/PID/stat``) from the first
  INSERT until its background merges of that database have settled: INSERT + merges + whatever
  else the server did meanwhile (other users of the shared server inflate it),
* ``merge_us``: ``process_us - insert_us``,
* ``client_us``: the client thread's CPU in ``write`` (``thread_time``).

Prints medians per variant as JSON (and every run under ``runs``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid

import orjson

from benchmarks.bench_insert_sizes import _CPU_EVENTS, events

_KIND = "Enum8('post' = 0, 'share' = 1, 'comment' = 2, 'debunk' = 3)"


def _probe_minutes(state_type: str, state: str, engine: str = "AggregatingMergeTree()") -> list:
    """Statements that replace share_event_rows' minute view by one writing ``state`` into a
    probe table shaped like share_minute_counts."""
    field = "splitByChar('\\0', fields)"
    return ["DROP TABLE IF EXISTS {database}.share_event_rows_minutes_mv",
            "CREATE TABLE {database}.mc_probe (rumour_id String, minute DateTime('UTC'), region String, "
            f"kind {_KIND}, shares {state_type}) ENGINE = {engine} PARTITION BY toYYYYMM(minute) "
            "ORDER BY (rumour_id, minute, region, kind)",
            "CREATE MATERIALIZED VIEW {database}.mc_probe_mv TO {database}.mc_probe AS SELECT "
            f"{field}[2] AS rumour_id, toStartOfMinute(toDateTime(intDiv(ts_ms, 1000), 'UTC')) AS minute, "
            f"{field}[7] AS region, CAST(toInt8(intDiv(toUInt8({field}[8]), 32)) AS {_KIND}) AS kind, "
            f"{state} AS shares FROM {{database}}.share_event_rows GROUP BY rumour_id, minute, region, kind"]


# name -> statements run after migrate ({database} is the variant's database). "current" is the
# schema as sql/ leaves it; the others take a part away to price it.
VARIANTS = {
    "current": [],
    "no_minutes": ["DROP TABLE IF EXISTS {database}.share_event_rows_minutes_mv",
                   "DROP TABLE {database}.share_minute_counts_mv"],
    "no_events": ["DROP TABLE {database}.share_event_rows_mv"],
    # Price of the uniqExact states: the same groups counted with count() (not exact under
    # re-delivery; a probe only), or uniqExact over a 64-bit hash of the id.
    "minutes_count": _probe_minutes("UInt64", "count()", "SummingMergeTree()"),
    "minutes_u64": _probe_minutes("AggregateFunction(uniqExact, UInt64)",
                                  "uniqExactState(cityHash64(splitByChar('\\0', fields)[1]))"),
    # The current schema fed batches already in share_events' key order (rumour_id, event_id),
    # sorted by the bench before the clock: the server's sort of each block, priced.
    "sorted_input": [],
    "nothing": ["DROP TABLE IF EXISTS {database}.share_event_rows_minutes_mv",
                "DROP TABLE {database}.share_minute_counts_mv",
                "DROP TABLE {database}.share_event_rows_mv"],
}


def server_pid(store) -> int | None:
    """The local clickhouse-server's pid (from .run/clickhouse/clickhouse.pid or /proc)."""
    for base in (os.environ.get("RUMOUR_RUN_DIR"), os.path.join(os.path.dirname(__file__), "..", ".run"),
                 "/work/main/.run"):
        if base:
            try:
                with open(os.path.join(base, "clickhouse", "clickhouse.pid")) as f:
                    return int(f.read().strip())
            except (OSError, ValueError):
                pass
    return None


def proc_cpu_s(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _settle(store, timeout: float = 30.0) -> None:
    """Wait until no merge of the store's database runs and its active part count is stable."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        merging = store._rows(f"SELECT count() FROM system.merges WHERE database = '{store.database}'")[0][0]
        parts = store._rows(f"SELECT count() FROM system.parts WHERE database = '{store.database}' AND active")[0][0]
        if not merging and parts == last:
            return
        last = parts
        time.sleep(1.0)


def _insert_profile(store, query_ids: list) -> tuple[float, int]:
    """(server CPU microseconds, files opened) summed over the INSERTs (system.query_log)."""
    store._command("SYSTEM FLUSH LOGS")
    ids = ", ".join(f"'{q}'" for q in query_ids)
    pick = "ProfileEvents.Values[indexOf(ProfileEvents.Names, '{}')]".format
    cpu = " + ".join(pick(e) for e in _CPU_EVENTS)
    rows = store._rows(f"SELECT sum({cpu}), sum({pick('FileOpen')}) FROM system.query_log "
                       f"WHERE type = 2 AND query_id IN ({ids})")
    return float(rows[0][0]), int(rows[0][1])


SORTED = {"sorted_input"}


def key_sorted(batch):
    """``batch`` in share_events' ORDER BY order (byte order of the UTF-8 ids, as the server)."""
    order = sorted(range(len(batch)), key=lambda i: (batch.rumour_id[i].encode(), batch.event_id[i].encode()))
    return batch.take(order)


def run_variant(url: str, name: str, parts: list, pid) -> dict:
    from benchmarks.bench_insert_sizes import _open

    store, qid = _open(url, name)
    try:
        for statement in VARIANTS[name]:
            store._command(statement.replace("{database}", store.database))
        rows = sum(len(p) for p in parts)
        qids, client = [], 0.0
        p0 = proc_cpu_s(pid)
        for part in parts:
            qid[0] = f"srv_{name}_{uuid.uuid4().hex[:12]}"
            c0 = time.thread_time()
            store.write(part)
            client += time.thread_time() - c0
            qids.append(qid[0])
        qid[0] = None
        _settle(store)
        p1 = proc_cpu_s(pid)
        insert, files = _insert_profile(store, qids)
        # Merges left undone are work deferred, not saved: report the parts the run ends with.
        parts_after = store._rows(f"SELECT count() FROM system.parts WHERE database = '{store.database}' "
                                  "AND active")[0][0]
        process = (p1 - p0) * 1e6
        return {"insert_us": round(insert / rows, 3), "process_us": round(process / rows, 3),
                "merge_us": round((process - insert) / rows, 3), "client_us": round(client * 1e6 / rows, 3),
                "files_per_insert": files / len(parts), "parts_after": parts_after}
    finally:
        qid[0] = None
        store.drop()
        store.close()


def measure(url: str, size: int, batches: int, repeat: int, names) -> dict:
    batch = events("ingest", size * batches)
    parts = [batch.take(list(range(i * size, (i + 1) * size))) for i in range(batches)]
    from streams.store import open_store

    probe = open_store(url, database="default")
    pid = server_pid(probe)
    probe.close()
    sorted_parts = [key_sorted(p) for p in parts] if SORTED & set(names) else None
    runs = {n: [] for n in names}
    load = [os.getloadavg()[0]]
    for r in range(repeat):
        for n in (names if r % 2 == 0 else names[::-1]):
            runs[n].append(run_variant(url, n, sorted_parts if n in SORTED else parts, pid))
        load.append(os.getloadavg()[0])
    out = {"size": size, "batches": batches, "repeat": repeat, "server_pid": pid,
           "load_average": [round(x, 2) for x in load], "median": {}, "runs": runs}
    for n in names:
        out["median"][n] = {k: round(statistics.median(r[k] for r in runs[n]), 3) for k in runs[n][0]}
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clickhouse", default="clickhouse://127.0.0.1:9000")
    ap.add_argument("--size", type=int, default=50000)
    ap.add_argument("--batches", type=int, default=6)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--variants", default="current,no_minutes")
    args = ap.parse_args(argv)
    names = [v for v in args.variants.split(",") if v]
    unknown = set(names) - set(VARIANTS)
    if unknown:
        ap.error(f"unknown variants {sorted(unknown)} (use {', '.join(VARIANTS)})")
    print(orjson.dumps(measure(args.clickhouse, args.size, args.batches, args.repeat, names),
                       option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
