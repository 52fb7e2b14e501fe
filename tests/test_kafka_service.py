"""The real Kafka broker (scripts/services/kafka.sh) works with the project's client stack:
aiokafka 0.14 directly, and faust-streaming 0.15.3 as a real app with its own topic creation."""
from __future__ import annotations

import asyncio
import uuid

import pytest

pytestmark = pytest.mark.kafka


async def _produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send(topic, key=key, value=value)
        await producer.flush()
    finally:
        await producer.stop()


async def _consume(bootstrap: str, topic: str, count: int, timeout_s: float) -> list:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    got = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(got) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    got.extend(records)
    except TimeoutError:
        pass  # the caller's assertion reports what arrived
    finally:
        await consumer.stop()
    return got


def test_produce_consume_roundtrip(kafka_bootstrap, kafka_topic):
    topic = kafka_topic(partitions=3, prefix="roundtrip")
    # Three keys spread over the partitions; each key's messages must keep their order.
    sent = [(f"k{i % 3}".encode(), f"v{i}".encode()) for i in range(30)]
    asyncio.run(_produce(kafka_bootstrap, topic, sent))
    got = asyncio.run(_consume(kafka_bootstrap, topic, len(sent), timeout_s=30))

    assert sorted((r.key, r.value) for r in got) == sorted(sent)
    for key in {k for k, _ in sent}:
        assert [r.value for r in got if r.key == key] == [v for k, v in sent if k == key]
    # Same key -> same partition, and the keys did use more than one partition.
    partitions = {}
    for r in got:
        partitions.setdefault(r.key, set()).add(r.partition)
    assert all(len(p) == 1 for p in partitions.values())
    assert len({next(iter(p)) for p in partitions.values()}) > 1


def test_topic_fixture_creates_requested_partitions(kafka_bootstrap, kafka_topic):
    from aiokafka import AIOKafkaProducer

    topic = kafka_topic(partitions=4)

    async def partitions() -> set:
        # A producer, not a bare consumer: aiokafka 0.14's consumer.stop() raises CancelledError
        # when it never subscribed to anything.
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            return await producer.partitions_for(topic)
        finally:
            await producer.stop()

    assert asyncio.run(partitions()) == {0, 1, 2, 3}
