"""Service outages during ingest, on PRIVATE Kafka and clickhouse-server instances (own ports and
run folder; the shared services are never touched): the Kafka broker stopped and restarted, and
ClickHouse unreachable for 30 s. The worker must wait and resume without a restart, lose nothing,
count nothing twice, keep its memory bounded, and show the lag in its stats."""
from __future__ import annotations

import shutil
import threading
import time
import uuid

import pytest

from streams.synthetic import synthetic_events
from tests.faults import (Worker, create_topic, embedded_traces, keyed, private_clickhouse, private_kafka,
                          produce, wait_until)

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """A private Kafka and a private clickhouse-server for this module."""
    from tests.conftest import unavailable

    if shutil.which("java") is None or shutil.which("clickhouse-server") is None and \
            not __import__("os").path.exists("/usr/sbin/clickhouse-server"):
        unavailable("java and clickhouse-server (for private service instances)")
    base = tmp_path_factory.mktemp("services")
    kafka, clickhouse = private_kafka(base), private_clickhouse(base)
    try:
        clickhouse.start()
        kafka.start()
    except Exception as exc:  # noqa: BLE001
        kafka.stop()
        clickhouse.stop()
        unavailable(f"private Kafka/ClickHouse instances ({exc})")
    yield kafka, clickhouse
    kafka.stop()
    clickhouse.stop()


def _store(clickhouse):
    from streams.store import open_store

    store = open_store(f"{clickhouse.url}/rt_out_{uuid.uuid4().hex[:10]}?retry_seconds=60")
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
    worker = Worker(tmp_path, "k", kafka.bootstrap, f"{clickhouse.url}/{store.database}", topic, 3,
                    "rt-kfk-" + uuid.uuid4().hex[:8])
    try:
        worker.start().wait_ready()
        produce(kafka.bootstrap, topic, keyed(events[:half]))
        wait_until(lambda: store.count_events() > 500 or store.count_events(), 120, "ingest started",
                   [worker], interval=0.1)
        kafka.stop()
        stopped_at = store.count_events()
        time.sleep(10)
        assert worker.proc.poll() is None, "the worker must wait for the broker, not exit"
        kafka.start()
        produce(kafka.bootstrap, topic, keyed(events[half:]))
        wait_until(lambda: store.count_events() == len(events) or store.count_events(), 180,
                   "every event stored after the broker came back", [worker])
        time.sleep(2)
        _check_exact(store, events)
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
    worker = Worker(tmp_path, "c", kafka.bootstrap, url, topic, 3, "rt-chd-" + uuid.uuid4().hex[:8])
    samples = []
    try:
        worker.start().wait_ready()
        produce(kafka.bootstrap, topic, keyed(events[:1000]))
        wait_until(lambda: store.count_events() == 1000 or store.count_events(), 120, "first part stored",
                   [worker])
        rss_before = worker.rss_bytes()
        clickhouse.stop()
        outage_started = time.monotonic()
        # Ingest goes on during the outage: the rest arrives at a steady rate.
        producer = threading.Thread(target=produce, args=(kafka.bootstrap, topic, keyed(events[1000:])),
                                    kwargs={"rate": 400.0})
        producer.start()
        while time.monotonic() - outage_started < 30:
            time.sleep(2)
            assert worker.proc.poll() is None, "no crash during the outage"
            samples.append((worker.stats(), worker.rss_bytes()))
        clickhouse.start()
        outage = time.monotonic() - outage_started
        producer.join(120)
        wait_until(lambda: store.count_events() == len(events) or store.count_events(), 180,
                   "every event stored after ClickHouse came back", [worker])
        time.sleep(2)
        _check_exact(store, events)
        assert store.count_dead_letters() == 0
        during = [s for s, _ in samples]
        assert max(s["lag"] for s in during) > 0, "the lag is visible while the store is down"
        assert any(s["store_retrying"] or s["store_write_retries"] or s["store_failures"] for s in during)
        assert max(s["batch_age_seconds"] for s in during) >= 10
        rss_peak = max(r for _, r in samples)
        # Bounded: consumption pauses; the buffered messages are a few MB, not the whole backlog.
        assert rss_peak - rss_before < 150 << 20
        final = worker.stats()
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
