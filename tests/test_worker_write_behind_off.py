"""The worker with write-behind off (RUMOUR_WRITE_BEHIND=0: each batch is stored and acked
before the next one is prepared) stores exactly what it does with write-behind on: the distinct
valid events, the dead letters, and the trace the reference oracle computes."""
from __future__ import annotations

import random
import uuid

import orjson
import pytest

from streams.events_columnar import encode_columns
from streams.synthetic import synthetic_events
from tests.faults import Worker, produce, wait_until
from tests.plugins.clickhouse import database_url
from tests.naive_trace import reference_trace

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


@pytest.mark.parametrize("write_behind", [0, 1])
def test_worker_with_and_without_write_behind(write_behind, kafka_bootstrap, kafka_topic,
                                              clickhouse_server, tmp_path):
    from streams.store import open_store

    topic = kafka_topic(partitions=2, prefix="wb")
    database = "rt_test_" + uuid.uuid4().hex[:12]
    url = database_url(clickhouse_server, database)
    store = open_store(url)
    store.migrate()
    events = list(synthetic_events(n_rumours=2, shares_per_rumour=150, seed=21, prefix="wb"))
    rng = random.Random(write_behind)
    rng.shuffle(events)  # children before parents
    pairs = [(e["rumour_id"].encode(), orjson.dumps(e)) for e in events[40:]]
    by_rumour = {}
    for e in events[:40]:
        by_rumour.setdefault(e["rumour_id"], []).append(e)
    pairs += [(r.encode(), encode_columns(evs)) for r, evs in by_rumour.items()]  # columnar
    pairs += rng.sample(pairs, 20)  # re-sent: duplicates
    pairs.append((b"bad", b"{not json"))
    worker = Worker(tmp_path, f"wb{write_behind}", kafka_bootstrap, url, topic, 2,
                    "rt-wb-" + uuid.uuid4().hex[:8], RUMOUR_WRITE_BEHIND=write_behind,
                    RUMOUR_BATCH_SIZE=25).start()
    try:
        produce(kafka_bootstrap, topic, pairs)
        distinct = len({(e["rumour_id"], e["event_id"]) for e in events})
        wait_until(lambda: (store.count_events() == distinct and len(store.dead_letters(10)) == 1)
                   or (store.count_events(), len(store.dead_letters(10))),
                   600, "all events in ClickHouse", [worker])
        for rumour_id in sorted(by_rumour):
            mine = [e for e in events if e["rumour_id"] == rumour_id and e["kind"] != "debunk"]
            expected = reference_trace(mine, k=10)
            got = worker.get_json(f"/api/rumours/{rumour_id}/trace")
            assert got["events"] == len(mine)
            assert [(o["account_id"], o["reach"]) for o in got["origins"]] == \
                [(o["account_id"], o["reach"]) for o in expected["origins"]]
            assert [c["prevented"] for c in got["cutoff"]] == [c["prevented"] for c in expected["cutoff"]]
    finally:
        worker.stop()
        store.drop()
        store.close()
