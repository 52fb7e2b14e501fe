"""The worker's dead letters name the Kafka message they came from (topic/partition@offset, as
sql/003_dead_letters.sql says). They had an empty source: an operator could not find the message,
and since a dead letter's key is (source, reason, raw), the same bad bytes sent twice were kept
once, so a refused message re-sent (by `rumour dead-letters --raw` and `rumour produce`) left no
new row. A re-delivery of the same offset still collapses (same source)."""
from __future__ import annotations

import asyncio
import re
import uuid

import orjson
import pytest

from streams.synthetic import synthetic_events
from tests.faults import Worker, create_topic, keyed, produce, wait_until
from tests.plugins.clickhouse import database_url
from tests.plugins.kafka import _delete_topics

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


def test_dead_letters_carry_their_topic_partition_and_offset(kafka_bootstrap, clickhouse_server, ch_store, tmp_path):
    database = ch_store  # its own database, dropped after
    topic = create_topic(kafka_bootstrap, 1, prefix="dls")
    valid = list(synthetic_events(n_rumours=1, shares_per_rumour=30, seed=5, prefix="dls"))
    bad = b'{"event_id": "x", not json'
    other = orjson.dumps({"event_id": "k", "rumour_id": "dls-r0", "account_id": "a",
                          "ts": 1_764_547_300_000, "kind": "like"})
    # One message after another on one partition: offsets 0..n-1 in this order.
    messages = keyed(valid[:10]) + [(b"dls-r0", bad)] + keyed(valid[10:]) + [(b"dls-r0", bad), (b"dls-r0", other)]
    worker = Worker(tmp_path, "d", kafka_bootstrap, database_url(clickhouse_server, database.database), topic, 1,
                    "rt-dls-" + uuid.uuid4().hex[:8])
    try:
        worker.start().wait_ready()
        produce(kafka_bootstrap, topic, messages)
        wait_until(lambda: database.count_dead_letters() == 3 or database.count_dead_letters(), 300,
                   "three dead letters", [worker])
        wait_until(lambda: database.count_events() == len(valid) or database.count_events(), 300,
                   "valid events stored", [worker])
    finally:
        worker.stop()
        asyncio.run(_delete_topics(kafka_bootstrap, [topic, topic + "-dead"]))
    sources = {(d["raw"], d["source"]) for d in database.dead_letters(10)}
    offsets = [i for i, (_, raw) in enumerate(messages) if raw in (bad, other)]
    assert sources == {(bad, f"{topic}/0@{offsets[0]}"), (bad, f"{topic}/0@{offsets[1]}"),
                       (other, f"{topic}/0@{offsets[2]}")}
    assert all(re.fullmatch(rf"{re.escape(topic)}/0@\d+", s) for _, s in sources)
