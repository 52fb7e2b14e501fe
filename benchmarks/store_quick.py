"""Rows/s of ``Store.write()`` on both backends, plus the chDB insert paths compared.

    .venv/bin/python -m benchmarks.store_quick [--events 100000] [--batch 100000] [--repeat 3]
        [--clickhouse clickhouse://127.0.0.1:9000] [--no-server] [--seed 7]

Each run writes into a fresh database (dropped afterwards) and prints one JSON object.
The clickhouse backend needs ``scripts/services.sh start`` (it is skipped when unreachable).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid

import numpy as np
import orjson

from streams.events import KINDS, EventBatch


def synthetic_batch(n: int, seed: int, rumours: int = 20) -> EventBatch:
    """``n`` events shaped like real shares: short ids, half with a region, most with text."""
    rng = np.random.default_rng(seed)
    ts = 1_347_557_095_000 + np.sort(rng.integers(0, 86_400_000, n))
    parents = rng.integers(0, np.maximum(np.arange(n), 1))
    text_pool = [f"转发微博 rumour text sample {i} " * 2 for i in range(64)]
    ids = [f"ev{i:09d}" for i in range(n)]
    has_parent = rng.random(n) < 0.9
    has_region = rng.random(n) < 0.5
    has_text = rng.random(n) < 0.8
    return EventBatch(
        event_id=ids,
        rumour_id=[f"rumour-{r}" for r in rng.integers(0, rumours, n).tolist()],
        account_id=[f"acct{a}" for a in rng.integers(0, n // 3 + 1, n).tolist()],
        ts_ms=ts.astype(np.int64),
        parent_event_id=[ids[p] if hp and i else None
                         for i, (p, hp) in enumerate(zip(parents.tolist(), has_parent.tolist()))],
        parent_account_id=[f"acct{a}" if hp else None
                           for a, hp in zip(rng.integers(0, n // 3 + 1, n).tolist(), has_parent.tolist())],
        kind=rng.choice(np.array([0, 1, 1, 1, 1, 2, 3], np.uint8), n),
        platform=["weibo"] * n,
        region=[f"CN-{r}" if hr else None for r, hr in zip(rng.integers(11, 65, n).tolist(), has_region.tolist())],
        text=[text_pool[t] if ht else None for t, ht in zip(rng.integers(0, 64, n).tolist(), has_text.tolist())],
    )


def _slices(batch: EventBatch, size: int):
    for start in range(0, len(batch), size):
        yield batch.take(np.arange(start, min(start + size, len(batch))))


def time_writes(open_fn, batch: EventBatch, batch_size: int, repeat: int) -> dict:
    """Best and median rows/s of write() over ``repeat`` fresh databases."""
    rates = []
    chunks = list(_slices(batch, batch_size))
    for _ in range(repeat):
        store = open_fn(f"bench_{uuid.uuid4().hex[:12]}")
        try:
            store.migrate()
            start = time.perf_counter()
            for chunk in chunks:
                store.write(chunk, [])
            elapsed = time.perf_counter() - start
            assert store.count_events() == len(batch), "benchmark wrote the wrong number of rows"
            rates.append(len(batch) / elapsed)
        finally:
            store.drop()
            store.close()
    return {"best_rows_per_s": round(max(rates)), "median_rows_per_s": round(statistics.median(rates)),
            "runs": len(rates)}


def chdb_alternatives(batch: EventBatch, repeat: int) -> dict:
    """Insert paths into chDB other than the store's Arrow one, for the record."""
    import pandas as pd

    from sql import queries
    from streams.store.embedded import ChdbStore

    out = {}

    def jsoneachrow(store):
        kinds = batch.kind.tolist()
        ts = batch.ts_ms.tolist()
        lines = b"\n".join(orjson.dumps({
            "event_id": batch.event_id[i], "rumour_id": batch.rumour_id[i],
            "account_id": batch.account_id[i], "ts_ms": ts[i],
            "parent_event_id": batch.parent_event_id[i], "parent_account_id": batch.parent_account_id[i],
            "kind": KINDS[kinds[i]], "platform": batch.platform[i], "region": batch.region[i],
            "text": batch.text[i]}) for i in range(len(batch)))
        store._command(queries.insert_events(store.database) + " FORMAT JSONEachRow\n" + lines.decode())

    def dataframe(store):
        store._insert_python(queries.insert_events(store.database), pd.DataFrame({
            "event_id": batch.event_id, "rumour_id": batch.rumour_id, "account_id": batch.account_id,
            "ts_ms": batch.ts_ms, "parent_event_id": batch.parent_event_id,
            "parent_account_id": batch.parent_account_id, "kind": batch.kind.astype(np.int8),
            "platform": batch.platform, "region": batch.region, "text": batch.text}))

    for name, fn in (("jsoneachrow", jsoneachrow), ("pandas_dataframe", dataframe),
                     ("arrow_table (store)", lambda s: s.write(batch, []))):
        rates = []
        for _ in range(repeat):
            store = ChdbStore("chdb://", database=f"alt_{uuid.uuid4().hex[:12]}")
            try:
                store.migrate()
                start = time.perf_counter()
                fn(store)
                elapsed = time.perf_counter() - start
                assert store.count_events() == len(batch)
                rates.append(len(batch) / elapsed)
            finally:
                store.drop()
                store.close()
        out[name] = round(max(rates))
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=100_000, help="events per write() call")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--clickhouse", default="clickhouse://127.0.0.1:9000")
    ap.add_argument("--no-server", action="store_true")
    ap.add_argument("--no-alternatives", action="store_true")
    args = ap.parse_args(argv)

    from streams.store.clickhouse import ClickHouseStore
    from streams.store.embedded import ChdbStore

    batch = synthetic_batch(args.events, args.seed)
    result = {"events": args.events, "batch": args.batch, "seed": args.seed, "backends": {}}
    result["backends"]["chdb"] = time_writes(lambda db: ChdbStore("chdb://", database=db),
                                             batch, args.batch, args.repeat)
    if not args.no_server:
        try:
            probe = ClickHouseStore(args.clickhouse, database="default")
            probe.retry_seconds = 2
            version = probe.server_version()
            probe.close()
            res = time_writes(lambda db: ClickHouseStore(args.clickhouse, database=db),
                              batch, args.batch, args.repeat)
            res["server_version"] = version
            result["backends"]["clickhouse"] = res
        except Exception as exc:  # report, do not fail the chDB figures
            result["backends"]["clickhouse"] = {"error": str(exc)[:200]}
    if not args.no_alternatives:
        result["chdb_insert_paths_rows_per_s"] = chdb_alternatives(batch, args.repeat)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
