"""A real worker SIGKILLed between a batch's ack and its observation: the alert that batch
would have raised reaches the store (marked late) once the worker is restarted. Shared Kafka and
clickhouse-server; own topic, consumer group, alerts topic and database."""
from __future__ import annotations

import uuid

import pytest

from tests.faults import Worker, create_topic, keyed, produce, wait_committed, wait_until
from tests.plugins.clickhouse import database_url
from tests.test_alert_catchup import volume_stream

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

# The volume rule only (4 shares of a unit in 3 minutes); growth and burst out of reach.
RULES = {"RUMOUR_ALERT_WINDOW_MINUTES": 3, "RUMOUR_ALERT_WINDOW_SHARES": 4,
         "RUMOUR_ALERT_GROWTH_MIN_SHARES": 10 ** 6, "RUMOUR_ALERT_BURST_MIN_SHARES": 10 ** 6}


@pytest.fixture
def database(clickhouse_server):
    from streams.store import open_store

    store = open_store(database_url(clickhouse_server, "rt_catchup_" + uuid.uuid4().hex[:12]))
    store.migrate()
    yield store
    store.drop()
    store.close()


def expected_alerts(events) -> set[str]:
    """The alert ids a worker that was never killed raises for ``events`` (one router, no store;
    a worker never flushes, so the last minute stays open)."""
    from streams.governance.alerts import AlertRouter
    from streams.governance.config import GovernanceConfig

    config = GovernanceConfig.load({k[len("RUMOUR_"):].lower(): v for k, v in RULES.items()}, environ={})
    return {a["alert_id"] for a in AlertRouter(config).observe_rows(events)}


def test_sigkill_between_ack_and_observe_then_restart(kafka_bootstrap, clickhouse_server, database, tmp_path):
    from streams.store.governance import governance_store

    events = volume_stream()
    expected = expected_alerts(events)
    assert expected, "the volume rule must fire for these events"
    topic = create_topic(kafka_bootstrap, 1, "catchup")
    app_id = "rt-catchup-" + uuid.uuid4().hex[:8]
    url = database_url(clickhouse_server, database.database)
    extra = {**RULES, "RUMOUR_ALERTS_TOPIC": topic + "-alerts"}
    # The observers sleep before every batch: the batch is stored and acked, never observed.
    first = Worker(tmp_path, "a", kafka_bootstrap, url, topic, 1, app_id,
                   RUMOUR_TEST_OBSERVE_DELAY=600, **extra).start()
    second = None
    try:
        first.wait_ready()
        produce(kafka_bootstrap, topic, keyed(events))
        wait_committed(kafka_bootstrap, app_id, topic, 1, 120, [first])
        assert database.count_events() == len(events)
        assert governance_store(database).load_alerts() == []
        first.kill()
        second = Worker(tmp_path, "b", kafka_bootstrap, url, topic, 1, app_id, **extra).start()
        second.wait_ready()

        def arrived():
            got = {a["alert_id"] for a in governance_store(database).load_alerts()}
            return got == expected or got

        wait_until(arrived, 120, "the late alerts in the store", [second])
        stored = governance_store(database).load_alerts()
        assert len(stored) == len(expected) and all(a["late"] is True for a in stored)
        assert database._rows(f"SELECT count() FROM {database.database}.alerts FINAL")[0][0] == len(expected)
    finally:
        for w in (first, second):
            if w is not None and w.proc is not None and w.proc.poll() is None:
                w.stop()
