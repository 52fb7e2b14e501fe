"""Batched alert sends (streams.governance.agents.AlertSender): every alert reaches the alerts
topic exactly once, as its own message, on the partition aiokafka's keyed partitioner picks, in
order per unit, also when a batch's alerts overflow one record batch."""
from __future__ import annotations

import asyncio
import random

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from streams.governance.agents import AlertSender, alert_message, by_partition


def _alerts(n: int, units: int, rng: random.Random, start: int = 0) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(start, start + n):
        unit = f"3701{rng.randrange(units):02d}"
        # The padding makes some lists overflow a small max_batch_size.
        out.append(alert_message({"alert_id": f"a{i}", "unit": unit, "seq": i,
                                  "pad": "x" * rng.randrange(0, 400)}))
    return out


def test_by_partition_matches_aiokafka_default_partitioner():
    rng = random.Random(3)
    messages = _alerts(300, 40, rng)
    for n in (1, 3, 8):
        groups = by_partition(messages, set(range(n)))
        assert sum(len(g) for g in groups.values()) == len(messages)
        for partition, group in groups.items():
            for key, _ in group:
                assert DefaultPartitioner()(key, list(range(n)), list(range(n))) == partition
            seqs = [orjson.loads(v)["seq"] for _, v in group]
            assert seqs == sorted(seqs)  # the input order within each partition


class _FakeTopic:
    def __init__(self):
        self.sent = []

    async def send(self, key, value):
        self.sent.append((key, value))


class _NoProducerApp:
    producer = None


def test_without_an_aiokafka_producer_each_message_goes_through_the_topic():
    topic = _FakeTopic()
    sender = AlertSender(_NoProducerApp(), "alerts", topic)
    messages = _alerts(25, 5, random.Random(1))
    asyncio.run(sender.send(messages))
    assert topic.sent == messages


async def _send_and_consume(bootstrap: str, topic: str, lists: list, max_batch_size: int) -> list:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=max_batch_size)
    await producer.start()

    class App:  # what AlertSender reads of a Faust app: producer._ensure_producer()
        class producer:  # noqa: N801
            @staticmethod
            def _ensure_producer():
                return real

    real = producer
    try:
        sender = AlertSender(App(), topic, fallback=None)
        # Sent as the worker does: each list handed to the loop on its own, without waiting.
        await asyncio.gather(*(sender.send(m) for m in lists))
        await producer.flush()
        assert sender.failures == 0
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        out, want = [], sum(len(m) for m in lists)
        for _ in range(20):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                out.extend(records)
            if len(out) >= want:
                break
        return out
    finally:
        await consumer.stop()


@pytest.mark.kafka
def test_batched_sends_deliver_each_alert_once_in_order_per_unit(kafka_bootstrap, kafka_topic):
    topic = kafka_topic(partitions=3, prefix="alert-sender")
    rng = random.Random(7)
    lists, start = [], 0
    for n in (1, 40, 0, 130, 7):  # 130 alerts of up to ~500 bytes overflow 4 KB batches
        lists.append(_alerts(n, 12, rng, start))
        start += n
    records = asyncio.run(_send_and_consume(kafka_bootstrap, topic, lists, max_batch_size=4096))
    sent = [orjson.loads(v) for m in lists for _, v in m]
    got = [orjson.loads(r.value) for r in records]
    assert sorted(a["seq"] for a in got) == [a["seq"] for a in sent]  # each once
    for r in records:
        alert = orjson.loads(r.value)
        assert r.key == alert["unit"].encode()
        assert r.partition == DefaultPartitioner()(r.key, [0, 1, 2], [0, 1, 2])
    by_unit: dict = {}
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        alert = orjson.loads(r.value)
        by_unit.setdefault(alert["unit"], []).append(alert["seq"])
    for seqs in by_unit.values():
        assert seqs == sorted(seqs)
