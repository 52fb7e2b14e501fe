"""The governance loop on the real Kafka and ClickHouse: a report arriving on the reports topic is
linked to its cascade, and spread past the threshold sends alerts to the alerts topic, addressed
to the city or county units where the shares are."""
from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest

from streams.synthetic import synthetic_events
from streams.governance.divisions import contains
from tests.faults import Worker, keyed, produce, wait_until
from tests.plugins.clickhouse import database_url

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


async def _consume_all(bootstrap: str, topic: str, timeout_s: float = 5.0) -> list:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        out = []
        batches = await consumer.getmany(timeout_ms=int(timeout_s * 1000))
        for records in batches.values():
            out.extend(records)
        return out
    finally:
        await consumer.stop()


def test_reports_and_alerts_through_kafka(kafka_bootstrap, kafka_topic, clickhouse_server, tmp_path):
    from streams.store import open_store

    shares = kafka_topic(partitions=2, prefix="gov-shares")
    reports = kafka_topic(partitions=1, prefix="gov-reports")
    alerts = kafka_topic(partitions=1, prefix="gov-alerts")
    url = database_url(clickhouse_server, "rt_test_" + uuid.uuid4().hex[:12])
    store = open_store(url)
    store.migrate()
    events = list(synthetic_events(n_rumours=2, shares_per_rumour=400, seed=4, prefix="gov",
                                   debunk_fraction=0.0))
    worker = Worker(tmp_path, "gov", kafka_bootstrap, url, shares, 2, "rt-gov-" + uuid.uuid4().hex[:6],
                    RUMOUR_REPORTS_TOPIC=reports, RUMOUR_ALERTS_TOPIC=alerts,
                    RUMOUR_ALERT_WINDOW_SHARES=10, RUMOUR_ALERT_WINDOW_MINUTES=60)
    try:
        worker.start().wait_ready()
        produce(kafka_bootstrap, shares, keyed(events))
        wait_until(lambda: store.count_events() == len(events) or store.count_events(), 600,
                   "events stored", [worker])
        reported = events[37]
        produce(kafka_bootstrap, reports, [(b"", orjson.dumps({
            "reporter": "citizen-1", "post_id": reported["event_id"], "text": "有人转发这条谣言",
            "region": "370102"}))])

        def linked():
            status, body = worker.get_status(f"/api/rumours/{reported['rumour_id']}/reports")
            items = body.get("reports", body) if isinstance(body, dict) else body
            return (status == 200 and len(items) == 1) or (status, body)

        wait_until(linked, 300, "report linked to its rumour", [worker])
        records = []
        wait_until(lambda: bool(records.extend(asyncio.run(_consume_all(kafka_bootstrap, alerts))) or records)
                   or "no alerts yet", 300, "alerts on the alerts topic", [worker])
        sent = [orjson.loads(r.value) for r in records]
        assert sent, "no alert was sent"
        regions_by_rumour = {}
        for e in events:
            if e["region"]:
                regions_by_rumour.setdefault(e["rumour_id"], set()).add(e["region"])
        for alert in sent:
            # Each alert goes to a unit where the rumour actually has shares, keyed by that unit.
            assert any(contains(alert["unit"], r) for r in regions_by_rumour[alert["rumour_id"]])
            assert alert["level"] in ("city", "county")
        assert {r.key for r in records} == {a["unit"].encode() for a in sent}
    finally:
        worker.stop()
        store.drop()
        store.close()
