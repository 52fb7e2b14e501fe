"""The report desk's restart read (``source_texts``) against the one-pass query it replaced, on a
real store (diagnostic; not CI).

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_restart_texts --rumours 100000 --events 20 --limit 10000

Fills a temporary database on the local clickhouse-server (``RUMOUR_CLICKHOUSE_URL``, default
127.0.0.1:9000; dropped at the end) with ``--rumours`` rumours of ``--events`` events each: a source
post with a 60-character text, every third share with a text too (reposts carry text), times
spread so the rumours' newest events interleave; merges the parts (``OPTIMIZE ... FINAL``), then
times, alternately and ``--repeat`` times each, the old query (every event's text read under
FINAL, grouped per rumour) and ``GovernanceStoreMixin.source_texts(limit)``, and checks they
give the same texts in the same order.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import uuid

T0 = 1_759_276_800_000
_CHARS = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def old_query(database: str, limit: int) -> str:
    """The one-pass query source_texts ran before (sql/governance_queries.py at c709856)."""
    return ("SELECT rumour_id, source, last_ms FROM (SELECT rumour_id, "
            "argMinIf(ifNull(text, ''), ts_ms, kind = 'post' AND isNotNull(text)) AS source, "
            f"max(ts_ms) AS last_ms FROM {database}.share_events FINAL GROUP BY rumour_id) "
            f"WHERE source != '' ORDER BY last_ms DESC, rumour_id LIMIT {int(limit)}")


def fill(store, rumours: int, events: int, seed: int = 1) -> None:
    from streams.events import EventBatch

    rng = random.Random(seed)
    for lo in range(0, rumours, 2000):
        rows = []
        for r in range(lo, min(rumours, lo + 2000)):
            for e in range(events):
                text = "".join(rng.choices(_CHARS, k=60)) if e == 0 or e % 3 == 0 else None
                rows.append((f"m{r}_{e}", f"r{r:06d}", "a", T0 + r * 7 + e * 1000 + rng.randint(0, 10**6), None, None,
                             0 if e == 0 else 1, "weibo", "370102", text))
        store.insert_events_direct(EventBatch.from_columns(list(zip(*rows))))
    store._command(f"OPTIMIZE TABLE {store.database}.share_events FINAL")


def main(argv=None) -> None:
    from streams.store.clickhouse import ClickHouseStore
    from streams.store.governance import governance_store

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rumours", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=20)
    ap.add_argument("--limit", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    server = os.environ.get("RUMOUR_CLICKHOUSE_URL", "clickhouse://127.0.0.1:9000").rstrip("/")
    database = f"rt_bench_{uuid.uuid4().hex[:12]}"
    store = ClickHouseStore(f"{server}/{database}", database=database)
    store.migrate()
    try:
        fill(store, args.rumours, args.events)
        gov = governance_store(store)
        took = {"old": [], "new": []}
        for _ in range(args.repeat):
            start = time.perf_counter()
            old = store._rows(old_query(database, args.limit))
            took["old"].append(time.perf_counter() - start)
            start = time.perf_counter()
            new = gov.source_texts(limit=args.limit)
            took["new"].append(time.perf_counter() - start)
        same = list(new.items()) == [(r[0], r[1]) for r in reversed(old)]
        print(f"{args.rumours * args.events} events, {args.rumours} rumours, limit {args.limit}: "
              f"{len(new)} texts, same answer: {same}")
        for name, label in (("old", "one pass, FINAL, every text"), ("new", "source_texts (two reads)")):
            print(f"  {label:28s} min {min(took[name]) * 1000:7.0f} ms  median "
                  f"{statistics.median(took[name]) * 1000:7.0f} ms")
    finally:
        store.drop()
        store.close()


if __name__ == "__main__":
    main()
