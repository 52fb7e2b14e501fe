"""Write-behind on the real Kafka and clickhouse-server: offsets are committed for stored batches
(a clean restart re-delivers nothing), and a worker whose graph memory budget forces evictions
answers every rumour as a recomputation does."""
from __future__ import annotations

import time
import uuid

import pytest

from streams.synthetic import synthetic_events
from tests.plugins.clickhouse import database_url
from tests.faults import (Worker, create_topic, embedded_traces, fresh_stats, keyed, produce, sentinels,
                          wait_committed, wait_until)

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


@pytest.fixture
def database(clickhouse_server):
    from streams.store import open_store

    name = "rt_commit_" + uuid.uuid4().hex[:12]
    store = open_store(database_url(clickhouse_server, name))
    store.migrate()
    yield store
    store.drop()
    store.close()


def test_stored_batches_are_committed_and_evicted_rumours_answer(kafka_bootstrap, clickhouse_server,
                                                                 database, tmp_path):
    topic = create_topic(kafka_bootstrap, 4, prefix="commit")
    events = list(synthetic_events(n_rumours=8, shares_per_rumour=2000, seed=63, prefix="cm"))
    total = len({(e["rumour_id"], e["event_id"]) for e in events})
    url = database_url(clickhouse_server, database.database)
    app_id = "rt-commit-" + uuid.uuid4().hex[:8]
    # 1 MB holds a few of these rumours' graphs, not all 8: the worker must evict and restore.
    worker = Worker(tmp_path, "a", kafka_bootstrap, url, topic, 4, app_id, RUMOUR_GRAPH_MEMORY_MB="1")
    try:
        worker.start().wait_ready()
        produce(kafka_bootstrap, topic, keyed(events))
        wait_until(lambda: database.count_events() == total or database.count_events(), 600,
                   "all events stored", [worker])
        # Stored batches are committed (what this test is about): the group reaches the end.
        wait_committed(kafka_bootstrap, app_id, topic, 4, 300, [worker])
        # lag, graph_bytes and graph_evictions are the 2-s timer's copies: read them from a tick
        # after everything was stored and committed, so none can predate the last batch.
        stats = fresh_stats(worker, time.monotonic())
        assert stats["lag"] == 0
        assert stats["stored"] == total and stats["graph_evictions"] > 0
        assert stats["graph_bytes"] <= 4 << 20  # the budget plus the rumours of the last batch
        expected = embedded_traces([e for e in events if e["kind"] != "debunk"], 10)
        for rumour_id, answer in expected.items():
            assert worker.trace(rumour_id, 10) == answer, rumour_id
        worker.stop()

        again = Worker(tmp_path, "b", kafka_bootstrap, url, topic, 4, app_id)
        try:
            again.start().wait_ready()
            # Every batch was acked after its write: nothing comes back after a clean restart.
            # One sentinel per partition, produced now, comes after anything that would: once the
            # sentinels are counted, a re-delivery would have been counted too.
            marks = sentinels(4, "cm")
            produce(kafka_bootstrap, topic, keyed(marks))
            wait_until(lambda: again.stats()["events_in"] >= len(marks) or again.stats()["events_in"], 300,
                       "sentinels read", [again])
            stats = again.stats()
            assert stats["events_in"] == len(marks) and stats["stored"] == len(marks)
            assert database.count_events() == total + len(marks)
            for rumour_id, answer in expected.items():
                assert again.trace(rumour_id, 10) == answer, rumour_id
        finally:
            again.stop()
    finally:
        worker.stop()
