"""Kafka fixtures (the real broker started by scripts/services.sh).

- ``kafka_bootstrap`` (session): ``"host:port"`` (aiokafka's form) of a broker that answered a
  metadata request; from RUMOUR_KAFKA_BROKER (``kafka://host:port`` as the worker reads it, or
  ``host:port``; default 127.0.0.1:9092). Skips, or fails under CI=true, when none answers.
- ``kafka_topic`` (factory): ``kafka_topic(partitions=1, prefix="t") -> name`` creates a fresh,
  uniquely named topic and deletes it at teardown.
"""
from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator

import pytest

DEFAULT_BROKER = "127.0.0.1:9092"


def broker_address() -> str:
    """RUMOUR_KAFKA_BROKER without faust's ``kafka://`` scheme (aiokafka wants ``host:port``)."""
    raw = os.environ.get("RUMOUR_KAFKA_BROKER", DEFAULT_BROKER)
    hosts = [h.strip().removeprefix("kafka://") for h in raw.replace(";", ",").split(",")]
    return ",".join(h for h in hosts if h)


async def _probe(bootstrap: str, timeout_s: float) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        # A metadata round trip, not only a TCP connect: the broker must be serving requests.
        await asyncio.wait_for(admin.list_topics(), timeout_s)
    finally:
        await admin.close()


async def _delete_topics(bootstrap: str, names: list[str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [n for n in names if n in existing]
        if doomed:
            await admin.delete_topics(doomed, timeout_ms=30000)
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Bootstrap address of a live Kafka broker (see scripts/services.sh)."""
    from tests.conftest import in_ci, unavailable

    bootstrap = broker_address()
    try:
        # Under CI a broker that is there but slow (a loaded machine) must not fail every Kafka
        # test: wait long. Locally a missing broker should skip fast.
        asyncio.run(_probe(bootstrap, timeout_s=60.0 if in_ci() else 10.0))
    except Exception as exc:  # noqa: BLE001 - any failure means "no usable broker"
        unavailable(f"Kafka broker at {bootstrap} ({type(exc).__name__}: {exc})")
    return bootstrap


@pytest.fixture
def kafka_topic(kafka_bootstrap: str) -> Iterator[Callable[..., str]]:
    """Factory: ``kafka_topic(partitions=1, prefix="t")`` creates a fresh topic, returns its name."""
    created: list[str] = []

    def make(partitions: int = 1, prefix: str = "t") -> str:
        # The benchmarks' helper (one copy; benchmarks must not import tests, not the reverse):
        # imported here, not at the plugin's load, which every test session pays.
        from benchmarks.worker_process import create_named_topic

        name = create_named_topic(kafka_bootstrap, f"{prefix}-{uuid.uuid4().hex[:12]}", partitions)
        created.append(name)
        return name

    yield make
    if created:
        asyncio.run(_delete_topics(kafka_bootstrap, created))
