"""`rumour produce` and the worker create the share topic so that it takes messages up to the
`max_message_bytes` setting, and a message Kafka still refuses (a topic created before, with the
broker's ~1 MB default) is reported with the others' count, not a traceback that had also
dropped the messages batched with it (660 of 4,413 in an operator's run)."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import orjson

from streams.settings import Settings
from tests.test_kafka_service import _consume
from tests.plugins.kafka import _delete_topics

ROOT = Path(__file__).resolve().parent.parent


def events_with_a_large_one(prefix: str) -> bytes:
    small = [{"event_id": f"e{i}", "rumour_id": f"{prefix}-r{i % 3}", "account_id": f"a{i}",
              "ts": 1764547200000 + i} for i in range(30)]
    large = {"event_id": "big", "rumour_id": f"{prefix}-r0", "account_id": "a", "ts": 1764547200000,
             "text": "x" * 1_100_000}  # above the broker's default message limit and max_event_bytes
    lines = [orjson.dumps(e) for e in small[:15]] + [orjson.dumps(large)] + [orjson.dumps(e) for e in small[15:]]
    return b"\n".join(lines) + b"\n"


def produce(path, topic: str, kafka_bootstrap: str):
    env = {**os.environ, "RUMOUR_KAFKA_BROKER": kafka_bootstrap, "RUMOUR_TOPIC": topic,
           "RUMOUR_TOPIC_PARTITIONS": "2"}
    return subprocess.run([sys.executable, "-m", "streams.cli", "produce", str(path)], cwd=ROOT, env=env,
                          capture_output=True, timeout=300)


def test_a_topic_produce_creates_takes_a_message_up_to_max_message_bytes(kafka_bootstrap, tmp_path):
    from streams.produce import produce_files

    topic = f"produce-large-{uuid.uuid4().hex[:12]}"  # created by produce_files itself
    path = tmp_path / "events.jsonl"
    path.write_bytes(events_with_a_large_one("pl"))
    try:
        settings = Settings.load({"broker": kafka_bootstrap, "topic": topic, "topic_partitions": 2}, environ={})
        summary = produce_files([str(path)], settings)
        assert summary == {"messages": 31, "topic": topic}
        got = asyncio.run(_consume(kafka_bootstrap, topic, 31, timeout_s=180))
        assert sorted(len(r.value) for r in got)[-1] > 1_100_000 and len(got) == 31
    finally:
        asyncio.run(_delete_topics(kafka_bootstrap, [topic]))


async def _topic_configs(bootstrap: str, topic: str) -> dict:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        return {entry[0]: entry[1] for r in responses for res in r.resources for entry in res[4]}
    finally:
        await admin.close()


async def _create_topic_with(bootstrap: str, topic: str, configs: dict) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=topic, num_partitions=2, replication_factor=1,
                                            topic_configs=configs)], timeout_ms=30000)
    finally:
        await admin.close()


def test_an_older_topic_has_its_limit_raised_and_takes_the_large_message(kafka_bootstrap, tmp_path):
    # A topic made before the setting (the broker's ~1 MB) refused the large message; its limit
    # is now raised (one line), and only that key: an operator's retention.ms stays.
    topic = f"produce-raised-{uuid.uuid4().hex[:12]}"
    asyncio.run(_create_topic_with(kafka_bootstrap, topic, {"retention.ms": "3600000"}))
    path = tmp_path / "events.jsonl"
    path.write_bytes(events_with_a_large_one("pu"))
    try:
        assert int(asyncio.run(_topic_configs(kafka_bootstrap, topic))["max.message.bytes"]) < 1_100_000
        proc = produce(path, topic, kafka_bootstrap)
        err = proc.stderr.decode()
        assert proc.returncode == 0, err[-3000:]
        assert orjson.loads(proc.stdout) == {"messages": 31, "topic": topic}
        lines = err.splitlines()
        assert len(lines) == 1 and f"Kafka topic {topic}: max.message.bytes raised from " in lines[0], err
        assert lines[0].split("raised from ")[1].startswith(("1048588 to 16842752", "1048576 to 16842752")), err
        configs = asyncio.run(_topic_configs(kafka_bootstrap, topic))
        assert (configs["max.message.bytes"], configs["retention.ms"]) == ("16842752", "3600000")
        got = asyncio.run(_consume(kafka_bootstrap, topic, 31, timeout_s=180))
        assert max(len(r.value) for r in got) > 1_100_000 and len(got) == 31
        # Already enough: nothing to say the second time.
        again = produce(tmp_path / "events.jsonl", topic, kafka_bootstrap)
        assert again.returncode == 0 and again.stderr == b"", again.stderr
    finally:
        asyncio.run(_delete_topics(kafka_bootstrap, [topic]))


def test_a_raise_the_broker_refuses_is_one_warning_and_the_others_are_sent(kafka_bootstrap, kafka_topic, tmp_path,
                                                                           monkeypatch, capsys, caplog):
    # The broker really refuses the change here (a value it rejects, in place of an ACL that
    # denies it): one warning naming the manual command, then the send goes on as before and
    # the message the topic still refuses is reported with the others' count.
    from streams import topic_config
    from streams.cli import main
    from streams.topic_config import IncrementalAlterConfigs

    monkeypatch.setattr(IncrementalAlterConfigs, "build",
                        lambda self, cls: cls([(2, self.topic, [("max.message.bytes", 0, "-5")])], False))

    def second_read(*args):
        raise AssertionError("the topic's limit comes from ensure_topics, not a second describe")

    monkeypatch.setattr(topic_config, "message_limit", second_read)
    topic = kafka_topic(partitions=2, prefix="produce-refused")  # the broker's default limit
    path = tmp_path / "events.jsonl"
    path.write_bytes(events_with_a_large_one("pr"))
    for name, value in {"RUMOUR_KAFKA_BROKER": kafka_bootstrap, "RUMOUR_TOPIC": topic,
                        "RUMOUR_TOPIC_PARTITIONS": "2"}.items():
        monkeypatch.setenv(name, value)
    assert main(["produce", str(path)]) == 2
    out, err = capsys.readouterr()
    warnings = [r.getMessage() for r in caplog.records if r.name == "streams.topic_config"]
    assert len(warnings) == 1 and "could not be raised (InvalidConfigurationError" in warnings[0], warnings
    assert warnings[0].endswith(f"kafka-configs.sh --alter --entity-type topics --entity-name {topic} "
                                "--add-config max.message.bytes=16842752"), warnings
    summary = orjson.loads(out)
    assert summary["messages"] == 30 and len(summary["refused"]) == 1, summary
    assert summary["refused"][0]["bytes"] > 1_100_000
    # Refused before sending (the topic's limit is read): its batch-mates never failed.
    assert summary["refused"][0]["reason"].startswith("larger than the topic takes (1048588 bytes"), summary
    assert err.startswith("rumour: error: Kafka refused 1 message(s)"), err
    got = asyncio.run(_consume(kafka_bootstrap, topic, 30, timeout_s=180))
    assert sorted(orjson.loads(r.value)["event_id"] for r in got) == sorted(f"e{i}" for i in range(30))
    # Each rumour's events in the order of the file (the big one was among pr-r0's): the messages
    # failed beside it were re-sent after later ones of their rumour.
    for rumour in ("pr-r0", "pr-r1", "pr-r2"):
        order = [int(e["event_id"][1:]) for e in map(orjson.loads, (r.value for r in sorted(got, key=lambda r: r.offset)))
                 if e["rumour_id"] == rumour]
        assert order == sorted(order), (rumour, order)
