"""End to end on the real services: Kafka -> Faust worker -> clickhouse-server + live graph.

Events are produced with malformed, duplicated and out-of-order ones mixed in; the worker runs as
a real process (`rumour worker`, through :class:`tests.faults.Worker`). ClickHouse must end with
exactly the distinct valid events, the dead letters with the malformed ones and their reasons, and
the worker's trace API must equal the trace computed by the reference oracle over the same events.
"""
from __future__ import annotations

import random
import uuid

import orjson
import pytest

from streams.synthetic import synthetic_events
from tests.faults import Worker, produce, wait_until
from tests.plugins.clickhouse import database_url
from tests.naive_trace import reference_trace

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


def test_worker_ingests_into_clickhouse_and_traces(kafka_bootstrap, kafka_topic, clickhouse_server,
                                                   tmp_path):
    from streams.store import open_store

    topic = kafka_topic(partitions=4, prefix="shares")
    dead_topic = kafka_topic(partitions=1, prefix="dead")
    database = "rt_test_" + uuid.uuid4().hex[:12]
    url = database_url(clickhouse_server, database)
    store = open_store(url)
    store.migrate()

    events = list(synthetic_events(n_rumours=3, shares_per_rumour=200, seed=11, prefix="it"))
    rng = random.Random(5)
    messages = [(e["rumour_id"].encode(), orjson.dumps(e)) for e in events]
    duplicates = rng.sample(messages, 25)
    malformed = [
        (b"r-bad", b"{not json"),
        (b"r-bad", orjson.dumps({"event_id": "x1", "rumour_id": "it-r0", "ts": 1_700_000_000_000})),
        (b"r-bad", orjson.dumps({"event_id": "x2", "rumour_id": "it-r0", "account_id": "a",
                                 "ts": "yesterday"})),
        (b"r-bad", b"\xff\xfe\xfd"),
    ]
    # Out of order: each rumour's events shuffled, so many children arrive before their parents.
    rng.shuffle(messages)
    # One message that carries a batch (a JSON array), as producers may send.
    batch_msg = [(b"it-r2", orjson.dumps([orjson.loads(v) for _, v in messages[:30]]))]
    pairs = batch_msg + messages[30:] + duplicates + malformed

    worker = Worker(tmp_path, "it", kafka_bootstrap, url, topic, 4, "rt-it-" + uuid.uuid4().hex[:8],
                    RUMOUR_DEAD_LETTER_TOPIC=dead_topic, RUMOUR_BATCH_SIZE=100,
                    RUMOUR_LOG_LEVEL="info").start()
    try:
        produce(kafka_bootstrap, topic, pairs)
        distinct_valid = len({(e["rumour_id"], e["event_id"]) for e in events})
        wait_until(lambda: (store.count_events() == distinct_valid
                             and len(store.dead_letters(100)) == len(malformed)) or
                    (store.count_events(), len(store.dead_letters(100))),
                    600, "all events in ClickHouse", [worker])
        dead = store.dead_letters(100)
        reasons = sorted(d["reason"].split(":")[0] for d in dead)
        assert reasons == ["account_id", "invalid JSON", "invalid JSON", "ts"]
        assert {bytes(d["raw"]) if isinstance(d["raw"], (bytes, bytearray)) else d["raw"].encode("utf-8", "surrogateescape")
                for d in dead} >= {b"{not json"}

        for rumour_id in sorted({e["rumour_id"] for e in events}):
            mine = [e for e in events if e["rumour_id"] == rumour_id and e["kind"] != "debunk"]
            expected = reference_trace(mine, k=10)
            got = worker.get_json(f"/api/rumours/{rumour_id}/trace")
            assert got["events"] == len(mine)
            assert [o["account_id"] for o in got["origins"]] == [o["account_id"] for o in expected["origins"]]
            assert [o["reach"] for o in got["origins"]] == [o["reach"] for o in expected["origins"]]
            assert [c["prevented"] for c in got["cutoff"]] == [c["prevented"] for c in expected["cutoff"]]
            post = next(e for e in mine if e["kind"] == "post")
            assert got["origins"][0]["account_id"] == post["account_id"]
    finally:
        worker.stop()
        store.drop()
        store.close()
