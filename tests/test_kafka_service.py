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
    # Generous: the consume ends as soon as every message arrived (a group join on a loaded
    # broker can take many seconds).
    got = asyncio.run(_consume(kafka_bootstrap, topic, len(sent), timeout_s=180))

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


async def _run_faust_app(bootstrap: str, datadir: str, n_messages: int) -> tuple[list, dict, dict, set]:
    """Start a real faust app in-process, send through its own topic, stop it; report what the
    agent saw, the table, the partitions faust gave the topic, and the topics it created."""
    import faust
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient

    tag = uuid.uuid4().hex[:10]
    app = faust.App(
        f"svc-test-{tag}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,  # several workers on one machine would fight over port 6066
        datadir=datadir,  # default is ./<app id>-data in the current folder
        topic_partitions=2,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
    )
    # internal=True: faust creates the topic itself at start-up (CreateTopics against Kafka 4.1).
    # A plain app.topic() is never created by faust: the assignor logs "Ignoring missing topic"
    # and the agent sees nothing until a metadata refresh, minutes later.
    # Raw bytes in and out: with the default json serializer, a message that is not JSON makes
    # faust raise ValueDecodeError inside the agent (logged as a crash) and the message is lost
    # to the agent; decoding belongs to our own code (streams.events) so bad input dead-letters.
    topic = app.topic(f"svc-{tag}", key_type=bytes, value_type=bytes, key_serializer="raw",
                      value_serializer="raw", partitions=2, internal=True)
    counts = app.Table("counts", default=int, partitions=2)
    seen: list[str] = []
    all_seen = asyncio.Event()

    @app.agent(topic)
    async def consume(stream):
        async for key, value in stream.items():
            seen.append(value.decode())
            counts[key.decode()] += 1
            if len(seen) >= n_messages:
                all_seen.set()

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await app.start()
        try:
            # Produce from outside the app, as `rumour produce` would.
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
            await producer.start()
            try:
                for i in range(n_messages):
                    await producer.send(topic.get_topic_name(), key=f"k{i % 3}".encode(),
                                        value=f"m{i}".encode())
                partitions = await producer.partitions_for(topic.get_topic_name())
            finally:
                await producer.stop()
            try:
                await asyncio.wait_for(all_seen.wait(), 300)  # ends when all are seen
            except TimeoutError:
                pass  # the caller's assertions show what arrived
            table = dict(counts.items())
            created = {t for t in await admin.list_topics() if tag in t}
        finally:
            await app.stop()
        await admin.delete_topics(sorted(created), timeout_ms=30000)
    finally:
        await admin.close()
    return seen, table, partitions, created


def test_faust_app_consumes_from_topic_it_created(kafka_bootstrap, tmp_path):
    n = 12
    seen, table, partitions, created = asyncio.run(_run_faust_app(kafka_bootstrap, str(tmp_path), n))

    assert sorted(seen) == sorted(f"m{i}" for i in range(n))
    assert table == {f"k{j}": sum(1 for i in range(n) if i % 3 == j) for j in range(3)}
    assert partitions == {0, 1}
    # The agent's topic, the table's changelog and the leader topic were all created by faust.
    assert any(t.endswith("-counts-changelog") for t in created)
    assert len(created) >= 3
