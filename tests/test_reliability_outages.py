"""Service outages during ingest, on PRIVATE Kafka and clickhouse-server instances (own ports and
run folder; the shared services are never touched): the Kafka broker stopped and restarted, and
ClickHouse unreachable for 30 s. The worker must wait and resume without a restart, lose nothing,
count nothing twice, keep its memory bounded, and show the lag in its stats."""
from __future__ import annotations

import shutil
import time
import uuid

import pytest

from streams.synthetic import synthetic_events
from tests.faults import (Producing, Worker, create_topic, embedded_traces, fresh_stats, keyed,
                          private_clickhouse, private_kafka, produce, sentinels, start_private, wait_committed,
                          wait_until)
from tests.plugins.clickhouse import database_url

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """A private Kafka and a private clickhouse-server for this module."""
    from tests.conftest import unavailable

    if shutil.which("java") is None or shutil.which("clickhouse-server") is None and \
            not __import__("os").path.exists("/usr/sbin/clickhouse-server"):
        unavailable("java and clickhouse-server (for private service instances)")
    base = tmp_path_factory.mktemp("services")
    kafka = clickhouse = None
    try:
        clickhouse = start_private(private_clickhouse, base / "ch")
        kafka = start_private(private_kafka, base / "kafka")
    except Exception as exc:  # noqa: BLE001
        if clickhouse is not None:
            clickhouse.stop()
        unavailable(f"private Kafka/ClickHouse instances ({exc})")
    yield kafka, clickhouse
    kafka.stop()
    clickhouse.stop()


def _store(clickhouse):
    from streams.store import open_store

    # The test's own store outlasts the outages it causes (the worker's is set per test).
    store = open_store(database_url(clickhouse.url, f"rt_out_{uuid.uuid4().hex[:10]}"))
    store.migrate()
    return store


def _check_exact(store, events):
    distinct = {(e["rumour_id"], e["event_id"]) for e in events}
    loaded = store.load_events()
    pairs = list(zip(loaded.rumour_id, loaded.event_id))
    assert store.count_events() == len(distinct)
    assert len(pairs) == len(set(pairs)) and set(pairs) == distinct


def test_kafka_broker_stopped_and_restarted_during_ingest(services, tmp_path):
    kafka, clickhouse = services
    store = _store(clickhouse)
    topic = create_topic(kafka.bootstrap, 3)
    events = list(synthetic_events(n_rumours=4, shares_per_rumour=1500, seed=71, prefix="kfk"))
    half = len(events) // 2
    app_id = "rt-kfk-" + uuid.uuid4().hex[:8]
    worker = Worker(tmp_path, "k", kafka.bootstrap, database_url(clickhouse.url, store.database), topic, 3,
                    app_id)
    try:
        worker.start().wait_ready()
        produce(kafka.bootstrap, topic, keyed(events[:half]))
        wait_until(lambda: store.count_events() > 500 or store.count_events(), 300, "ingest started",
                   [worker], interval=0.1)
        kafka.stop()
        stopped_at = store.count_events()
        time.sleep(10)  # an observation window: the worker must outlive a broker that is gone
        assert worker.proc.poll() is None, "the worker must wait for the broker, not exit"
        kafka.start()
        produce(kafka.bootstrap, topic, keyed(events[half:]))
        wait_until(lambda: store.count_events() == len(events) or store.count_events(), 600,
                   "every event stored after the broker came back", [worker])
        # Copies re-delivered after the broker came back must not add rows: they precede these
        # sentinels in their partitions, so they are processed once the sentinels are stored.
        marks = sentinels(3, "kfk")
        produce(kafka.bootstrap, topic, keyed(marks))
        wait_until(lambda: store.count_events() == len(events) + len(marks) or store.count_events(), 300,
                   "sentinels stored", [worker])
        wait_committed(kafka.bootstrap, app_id, topic, 3, 300, [worker])
        _check_exact(store, events + marks)
        print(f"\nRELIABILITY kafka-restart: produced={len(events)} stored_at_stop={stopped_at} "
              f"stored={store.count_events()} dead={store.count_dead_letters()} stats={worker.stats()}")
        expected = embedded_traces([e for e in events if e["kind"] != "debunk"])
        for rumour_id, answer in expected.items():
            assert worker.trace(rumour_id) == answer
    finally:
        worker.stop()
        store.drop()
        store.close()


def test_clickhouse_unreachable_for_30s_during_ingest(services, tmp_path):
    kafka, clickhouse = services
    store = _store(clickhouse)
    topic = create_topic(kafka.bootstrap, 3)
    events = list(synthetic_events(n_rumours=4, shares_per_rumour=2000, seed=72, prefix="chd"))
    # The worker's store gives up each call after 5 s, so the pipeline's own retry is exercised.
    url = f"{clickhouse.url}/{store.database}?retry_seconds=5&send_receive_timeout=20"
    app_id = "rt-chd-" + uuid.uuid4().hex[:8]
    worker = Worker(tmp_path, "c", kafka.bootstrap, url, topic, 3, app_id)
    samples = []
    try:
        worker.start().wait_ready()
        produce(kafka.bootstrap, topic, keyed(events[:1000]))
        wait_until(lambda: store.count_events() == 1000 or store.count_events(), 300, "first part stored",
                   [worker])
        rss_before = worker.rss_bytes()
        clickhouse.stop()
        outage_started = time.monotonic()
        # Ingest goes on during the outage: the rest arrives at a steady rate.
        producer = Producing(kafka.bootstrap, topic, keyed(events[1000:]), rate=400.0)
        while time.monotonic() - outage_started < 30:
            time.sleep(2)
            assert worker.proc.poll() is None, "no crash during the outage"
            samples.append((worker.stats(), worker.rss_bytes()))
        clickhouse.start()
        outage = time.monotonic() - outage_started
        producer.join()
        wait_until(lambda: store.count_events() == len(events) or store.count_events(), 600,
                   "every event stored after ClickHouse came back", [worker])
        # Every message processed, stored and acked (not a fixed pause): nothing in flight can
        # add rows after the check, and the timer's lag below is computed after this point.
        wait_committed(kafka.bootstrap, app_id, topic, 3, 300, [worker])
        caught_up = time.monotonic()
        _check_exact(store, events)
        assert store.count_dead_letters() == 0
        during = [s for s, _ in samples]
        assert max(s["lag"] for s in during) > 0, "the lag is visible while the store is down"
        assert any(s["store_retrying"] or s["store_write_retries"] or s["store_failures"] for s in during)
        assert max(s["batch_age_seconds"] for s in during) >= 10
        rss_peak = max(r for _, r in samples)
        # Bounded: consumption pauses; the buffered messages are a few MB, not the whole backlog.
        assert rss_peak - rss_before < 150 << 20
        final = fresh_stats(worker, caught_up)  # lag and store_retrying: the timer's, after caught_up
        assert final["lag"] == 0 and final["store_retrying"] == 0
        print(f"\nRELIABILITY clickhouse-outage: outage_s={outage:.0f} produced={len(events)} "
              f"stored={store.count_events()} dead={store.count_dead_letters()} "
              f"max_lag={max(s['lag'] for s in during)} rss_before_mb={rss_before >> 20} "
              f"rss_peak_mb={rss_peak >> 20} retries={final['store_write_retries']} "
              f"failures={final['store_failures']}")
    finally:
        worker.stop()
        store.drop()
        store.close()
