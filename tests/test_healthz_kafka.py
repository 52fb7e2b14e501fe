"""/healthz sees Kafka lost while the worker runs: 503 ``degraded`` with one line naming it once
the consumer has held no broker connection for ``kafka_lost_seconds``, ``ok`` again when the
broker is back (it answered ``ok`` through a whole Kafka outage). On a PRIVATE Kafka (own ports
and run folder; the shared broker is never stopped) and the shared ClickHouse (own database,
dropped). A TCP proxy in front of the shared broker would not do: the broker's metadata names its
own address, so the consumer connects to it directly after bootstrapping."""
from __future__ import annotations

import shutil
import time
import uuid

import pytest

from tests.faults import Worker, create_topic, private_kafka, start_private, wait_until
from tests.plugins.clickhouse import clickhouse_url, database_url, fresh_database

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

LOST_SECONDS = 4


@pytest.fixture(scope="module")
def kafka(tmp_path_factory):
    from tests.conftest import unavailable

    if shutil.which("java") is None:
        unavailable("java (for a private Kafka instance)")
    try:
        service = start_private(private_kafka, tmp_path_factory.mktemp("kafka"))
    except Exception as exc:  # noqa: BLE001
        unavailable(f"a private Kafka instance ({exc})")
    yield service
    service.stop()


def _health(worker: Worker) -> tuple[int, str, list]:
    status, body = worker.get_status("/healthz")
    return status, body.get("status"), body.get("problems")


def test_healthz_degraded_while_kafka_is_lost_and_ok_once_it_is_back(kafka, tmp_path):
    from streams.store import open_store

    url = database_url(clickhouse_url(), fresh_database())
    topic = create_topic(kafka.bootstrap, 2, prefix="hzk")
    worker = Worker(tmp_path, "hz", kafka.bootstrap, url, topic, 2, "rt-hzk-" + uuid.uuid4().hex[:8],
                    RUMOUR_KAFKA_LOST_SECONDS=LOST_SECONDS)
    seen = []
    try:
        worker.start().wait_ready()
        wait_until(lambda: _health(worker) == (200, "ok", []) or _health(worker), 120, "healthy at start",
                   [worker])
        stopped = time.monotonic()  # the broker drops its connections early in its shutdown
        kafka.stop()

        def lost():
            health = _health(worker)
            seen.append((round(time.monotonic() - stopped, 1), health))
            status, state, problems = health
            return (status == 503 and state == "degraded" and len(problems) == 1
                    and problems[0].startswith("Kafka unreachable: no connection to any broker for ")) or health

        wait_until(lost, 120, "/healthz degraded naming Kafka", [worker])
        # Not before the bound: the first degraded answer came after kafka_lost_seconds.
        first = next(at for at, (status, _, _) in seen if status == 503)
        assert first >= LOST_SECONDS, seen
        assert worker.stats()["kafka_unreachable"] == 1

        kafka.start()
        wait_until(lambda: _health(worker) == (200, "ok", []) or _health(worker), 180,
                   "/healthz ok once the broker is back", [worker])
        assert worker.stats()["kafka_unreachable_seconds"] == 0
    finally:
        worker.stop()
        store = open_store(url)
        store.drop()
        store.close()
