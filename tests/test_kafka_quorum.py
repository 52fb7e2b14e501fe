"""docker-compose.yml's Kafka, run for real: its three KRaft nodes, configured from their compose
environment (tests/kafka_quorum.py), on loopback ports with the jars scripts/services/kafka.sh
collects. The engine's code creates its topic with replication 3 and min.insync.replicas 2,
`rumour produce`'s producer (acks=all) sends to it, one broker is killed, and sending and
reading go on; a topic to be created with three replicas is then refused in one line naming the
setting (two brokers are live). A second broker is then killed: `rumour produce` stops within its
bound with one line naming the cause (it hung for good before); one broker back, it sends again
and every acknowledged event is read back. One quorum start for all of it."""
from __future__ import annotations

import asyncio
import re
import time

import orjson
import pytest

from streams.settings import Settings
from tests.kafka_quorum import compose_quorum, unique
from tests.test_kafka_service import _consume
from tests.test_topic_replication import _replicas_and_min_isr

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quorum(tmp_path_factory):
    with compose_quorum(tmp_path_factory.mktemp("quorum")) as running:
        yield running


def events(prefix: str, n: int) -> bytes:
    return b"".join(orjson.dumps({"event_id": f"{prefix}{i}", "rumour_id": f"{prefix}-r{i % 5}",
                                  "account_id": f"a{i}", "ts": 1764547200000 + i}) + b"\n" for i in range(n))


async def _leaders(bootstrap: str, topic: str, timeout_s: float = 60) -> dict[int, int]:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    deadline = time.monotonic() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            await admin.start()
            [described] = await admin.describe_topics([topic])
            return {p["partition"]: p["leader"] for p in described["partitions"]}
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            # after the kill the admin client may ask the killed broker, still listed: ask again
        finally:
            await admin.close()
        await asyncio.sleep(0.5)


async def _live_brokers(bootstrap: str, want: int, timeout_s: float) -> int:
    """The number of brokers the cluster lists, polled until it is ``want`` or the time is up."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    deadline = time.monotonic() + timeout_s
    n = -1
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            await admin.start()
            n = len((await admin.describe_cluster())["brokers"])
        except KafkaError:
            pass  # the admin client asked the killed broker: ask again
        finally:
            await admin.close()
        if n == want or time.monotonic() > deadline:
            return n
        await asyncio.sleep(0.5)


async def _read_all(bootstrap: str, topic: str, timeout_s: float = 120) -> list:
    """Every message of the topic, up to the end offsets as read first."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in await consumer._client._wait_on_metadata(topic)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        got = []
        async with asyncio.timeout(timeout_s):
            while [p for p in parts if await consumer.position(p) < ends[p]]:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    got.extend(records)
        return got
    finally:
        await consumer.stop()


def test_one_broker_lost_produce_and_consume_go_on(quorum, tmp_path, capsys):
    from streams.produce import kafka_bootstrap, produce_files
    from streams.topics import ReplicationRefused, ensure_engine_topics

    with capsys.disabled():  # capsys takes the CLI's stderr below; these figures are for the log
        print(f"quorum of 3 started in {quorum.start_seconds:.1f}s, {quorum.resident_mb():.0f} MB resident")
    topic = unique("shares")
    settings = Settings.load({"broker": quorum.bootstrap, "topic": topic, "topic_partitions": 3,
                              "topic_replication_factor": 3, "topic_min_insync_replicas": 2}, environ={})
    bootstrap = kafka_bootstrap(settings.broker)
    before = tmp_path / "before.jsonl"
    before.write_bytes(events("b", 40))
    assert produce_files([str(before)], settings) == {"messages": 40, "topic": topic}
    # Set on the topic: with the brokers' default (also 2 in the compose file) it would not follow
    # the setting.
    assert asyncio.run(_replicas_and_min_isr(bootstrap, topic)) == ({3}, "2", True)

    # A crash (SIGKILL) of the broker leading partition 0: its partitions move to the others.
    victim = asyncio.run(_leaders(bootstrap, topic))[0]
    quorum.kill(victim)
    # A worker restarted now (the killed broker still listed until it is fenced) checks its topics
    # and starts: the admin client's request to the killed broker is tried again elsewhere
    # (streams.topics._ensure_patiently; before, NodeNotReadyError ended it).
    ensure_engine_topics(settings, {topic: 3})
    after = tmp_path / "after.jsonl"
    after.write_bytes(events("a", 40))
    assert produce_files([str(after)], settings) == {"messages": 40, "topic": topic}
    assert victim not in asyncio.run(_leaders(bootstrap, topic)).values()
    got = asyncio.run(_consume(bootstrap, topic, 80, timeout_s=120))
    assert sorted(orjson.loads(r.value)["event_id"] for r in got) == sorted(
        [f"b{i}" for i in range(40)] + [f"a{i}" for i in range(40)])

    # Two live brokers: a topic still to be made with three replicas is refused, naming the setting.
    # Live as Kafka counts them: the killed broker stays registered until the controller fences it
    # (broker.session.timeout.ms, 9 s by default), so the check waits for that first.
    assert asyncio.run(_live_brokers(bootstrap, want=2, timeout_s=60)) == 2
    with pytest.raises(ReplicationRefused, match=r"^setting topic_replication_factor \(RUMOUR_TOPIC_REPLICATION_"
                                                 r"FACTOR, --topic-replication-factor\) is 3, but Kafka at .* has "
                                                 r"2 live brokers"):
        ensure_engine_topics(settings, {unique("late"): 1})

    # Two brokers lost (and with them two of the three KRaft controllers: no leader moves, no ISR
    # shrinks): no write can get the two in-sync replicas it needs. aiokafka's idempotent producer
    # retries such writes for ever (and its stop() waits for them): `rumour produce` hung with no
    # word. Now it stops after kafka_ack_seconds with one line naming the cause.
    quorum.kill(next(iter(quorum.processes)))
    doubt = tmp_path / "doubt.jsonl"
    doubt.write_bytes(events("d", 40))
    from streams.cli import main

    started = time.monotonic()
    code = main(["produce", str(doubt), "--broker", quorum.bootstrap, "--topic", topic,
                 "--topic-replication-factor", "3", "--topic-min-insync-replicas", "2", "--kafka-ack-seconds", "5"])
    took = time.monotonic() - started
    err = capsys.readouterr().err.strip()
    with capsys.disabled():
        print(f"two brokers down: rumour produce ended in {took:.1f}s: {err}")
    assert code == 3 and "\n" not in err, err
    # Which of the two it is depends on the broker left: one holding no block of producer ids
    # (the controller hands them out) cannot start an idempotent producer at all.
    assert re.match(r"rumour: error: Kafka (acknowledged none of \d+ message\(s\) to|gave the producer of) topic "
                    r".* within 5 s \(setting kafka_ack_seconds .*\): 1 of the 3 brokers of the broker setting "
                    r"reachable .*fewer than the 2 in-sync replicas a write needs \(acks=all; setting "
                    r"topic_min_insync_replicas .*\): not enough in-sync replicas(; Kafka's last answer: \w+)?\. "
                    r"0 message\(s\) were acknowledged", err), err
    # The topic check (seconds at most: a reachable broker is asked), 5 s without an
    # acknowledgement (or a producer id), the producer's close and the reachability check (2 s each
    # at most).
    assert took < 25, took

    # One broker back (the controller quorum with it): writes go on, and every acknowledged event
    # is read back; of the 40 not acknowledged some may have landed (written, not acknowledged).
    back = next(n for n in quorum.broker_ports if n not in quorum.processes)
    quorum.restart(back)
    quorum.wait_started([back])
    again = tmp_path / "again.jsonl"
    again.write_bytes(events("c", 40))
    assert produce_files([str(again)], settings) == {"messages": 40, "topic": topic}
    read = [orjson.loads(r.value)["event_id"] for r in asyncio.run(_read_all(bootstrap, topic))]
    acknowledged = {f"{p}{i}" for p in "bac" for i in range(40)}
    assert acknowledged <= set(read) <= acknowledged | {f"d{i}" for i in range(40)}, sorted(set(read) ^ acknowledged)
    with capsys.disabled():
        print(f"quorum of 3: {len(read)} events read back after two brokers lost, {quorum.resident_mb():.0f} MB "
              "resident")
