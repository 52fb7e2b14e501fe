"""The replication of the topics the engine creates: `topic_replication_factor` and
`topic_min_insync_replicas` reach the topics (they were created with one replica whatever the
cluster), a pair Kafka could never acknowledge a write with is refused at start, and a factor
above the live brokers is one line naming the setting, not a traceback."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from streams.settings import Settings
from tests.plugins.kafka import _delete_topics
from tests.test_settings_worker_start import one_line_error, worker

ROOT = Path(__file__).resolve().parent.parent
EVENT = b'{"event_id": "e1", "rumour_id": "r1", "account_id": "a1", "ts": 1764547200000}\n'


def test_min_insync_replicas_above_the_replication_factor_is_refused_at_start():
    with pytest.raises(ValueError, match=r"^setting topic_min_insync_replicas \(RUMOUR_TOPIC_MIN_INSYNC_REPLICAS, "
                                         r"--topic-min-insync-replicas\): must be at most "
                                         r"topic_replication_factor \(2\), got 3"):
        Settings.load(environ={"RUMOUR_TOPIC_REPLICATION_FACTOR": "2", "RUMOUR_TOPIC_MIN_INSYNC_REPLICAS": "3"})
    both = Settings.load(environ={"RUMOUR_TOPIC_REPLICATION_FACTOR": "3", "RUMOUR_TOPIC_MIN_INSYNC_REPLICAS": "3"})
    assert (both.topic_replication_factor, both.topic_min_insync_replicas) == (3, 3)
    # the worker: one line and exit 2 before Kafka is tried (its broker is a closed port)
    err = one_line_error(worker({"RUMOUR_TOPIC_MIN_INSYNC_REPLICAS": "2"}))
    assert "topic_min_insync_replicas" in err and "topic_replication_factor (1)" in err


def test_a_bootstrap_list_of_three_brokers_reaches_faust_and_aiokafka_as_three():
    # docker-compose.yml's form: every broker, Faust's kafka:// on each
    import faust

    from faust.transport.drivers.aiokafka import server_list
    from streams.produce import kafka_bootstrap

    value = "kafka://kafka-1:9092;kafka://kafka-2:9092;kafka://kafka-3:9092"
    settings = Settings.load(environ={"RUMOUR_KAFKA_BROKER": value})
    assert kafka_bootstrap(settings.broker) == "kafka-1:9092,kafka-2:9092,kafka-3:9092"
    app = faust.App("three-brokers", broker=settings.broker)
    assert server_list(app.conf.broker, 9092) == ["kafka-1:9092", "kafka-2:9092", "kafka-3:9092"]


def test_the_faust_app_creates_its_own_topics_with_the_setting(tmp_path, chdb_store):
    # Faust's assignor leader topic is made with the app's topic_replication_factor (was 1).
    from streams.app import create_app
    from streams.events import Decoder
    from streams.pipeline import Pipeline

    settings = Settings.load({"topic_replication_factor": 3, "broker": "127.0.0.1:9", "app_id": "repl-3",
                              "data_dir": str(tmp_path / "worker")}, environ={})
    app = create_app(settings, pipeline=Pipeline(chdb_store, Decoder()))
    assert app.conf.topic_replication_factor == 3
    # The worker creates that topic first, under Faust's own name for it.
    from streams.topics import faust_topics

    assert faust_topics(settings) == {app._leader_assignor._leader_topic_name: 1}


async def _listed_topics(bootstrap: str) -> set[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


TOPIC_CONFIG = 1  # Kafka's config source of a value set on the topic itself (not a broker default)


async def _replicas_and_min_isr(bootstrap: str, topic: str) -> tuple[set[int], str, bool]:
    """The topic's replica counts (one per partition, as a set), its min.insync.replicas and
    whether that was set on the topic (at creation) rather than inherited from the broker."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        replicas = {len(p["replicas"]) for p in described["partitions"]}
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                                                  {"min.insync.replicas": None})])
        [(_, _, _, _, entries, *_)] = response.resources
        [(_, value, _, source, *_)] = [e for e in entries if e[0] == "min.insync.replicas"]
        return replicas, value, source == TOPIC_CONFIG
    finally:
        await admin.close()


@pytest.mark.kafka
def test_a_replication_factor_above_the_live_brokers_is_one_line_naming_the_setting(kafka_bootstrap, tmp_path):
    from streams.topics import ReplicationRefused, ensure_engine_topics

    topic = f"repl3-{uuid.uuid4().hex[:12]}"
    settings = Settings.load({"broker": kafka_bootstrap, "topic": topic, "topic_replication_factor": 3,
                              "topic_min_insync_replicas": 2}, environ={})
    try:
        with pytest.raises(ReplicationRefused) as caught:
            ensure_engine_topics(settings, {topic: 1})
        assert str(caught.value).startswith(
            "setting topic_replication_factor (RUMOUR_TOPIC_REPLICATION_FACTOR, --topic-replication-factor) "
            f"is 3, but Kafka at {kafka_bootstrap} has 1 live broker (ids ")
        assert topic in str(caught.value)
        # `rumour produce`: that one line, exit 2, and nothing created
        path = tmp_path / "e.jsonl"
        path.write_bytes(EVENT)
        env = {**os.environ, "RUMOUR_KAFKA_BROKER": kafka_bootstrap, "RUMOUR_TOPIC": topic}
        proc = subprocess.run([sys.executable, "-m", "streams.cli", "produce", str(path),
                               "--topic-replication-factor", "3"], cwd=ROOT, env=env,
                              capture_output=True, timeout=120)
        err = one_line_error(proc)
        assert "is 3, but Kafka at" in err and "lower the setting or start the missing brokers" in err
        assert proc.stdout == b""

        # `rumour worker`: the same line before anything else runs (no store is reachable here)
        err = one_line_error(worker({"RUMOUR_KAFKA_BROKER": kafka_bootstrap, "RUMOUR_TOPIC": topic,
                                     "RUMOUR_DEAD_LETTER_TOPIC": topic + "-dead", "RUMOUR_TOPIC_REPLICATION_FACTOR": "3",
                                     "RUMOUR_DATA_DIR": str(tmp_path / "w"),
                                     "RUMOUR_TOKENS_FILE": str(tmp_path / "w" / "tokens.json")}))
        assert "topic_replication_factor" in err and f"{topic}, {topic}-dead" in err

        assert not {topic, topic + "-dead"} & asyncio.run(_listed_topics(kafka_bootstrap))
    finally:
        asyncio.run(_delete_topics(kafka_bootstrap, [topic, topic + "-dead"]))


@pytest.mark.kafka
def test_faust_own_topic_too_few_brokers_is_the_same_one_line_refusal(kafka_bootstrap, tmp_path):
    # The engine's topics exist (made earlier, with one replica): only Faust's assignor topic is
    # still to be made. It was left to Faust, which failed after the store and the warm-up with
    # its own error (Kafka's 38); now the worker makes it first, so the refusal is the same line.
    from streams.topics import ensure_topics

    app_id = f"repl3-app-{uuid.uuid4().hex[:12]}"
    topic = f"repl3-{uuid.uuid4().hex[:12]}"
    ours = [topic, topic + "-dead", topic + "-alerts", topic + "-reports"]
    leader = f"{app_id}-__assignor-__leader"
    try:
        ensure_topics(kafka_bootstrap, {name: 1 for name in ours})
        proc = worker({"RUMOUR_KAFKA_BROKER": kafka_bootstrap, "RUMOUR_TOPIC": topic, "RUMOUR_APP_ID": app_id,
                       "RUMOUR_DEAD_LETTER_TOPIC": topic + "-dead", "RUMOUR_ALERTS_TOPIC": topic + "-alerts",
                       "RUMOUR_REPORTS_TOPIC": topic + "-reports", "RUMOUR_TOPIC_REPLICATION_FACTOR": "3",
                       "RUMOUR_DATA_DIR": str(tmp_path / "w"),
                       "RUMOUR_TOKENS_FILE": str(tmp_path / "w" / "tokens.json")}, timeout=90)
        err = one_line_error(proc)
        assert f"cannot create topic {leader} with 3 replicas" in err, err

        assert leader not in asyncio.run(_listed_topics(kafka_bootstrap))
    finally:
        asyncio.run(_delete_topics(kafka_bootstrap, [*ours, leader]))


@pytest.mark.kafka
def test_the_topics_are_created_with_the_min_insync_replicas_setting(kafka_bootstrap):
    # One broker: a factor of 1 with min.insync.replicas 1 set on the topic itself (what a
    # three-broker cluster gets as 3 and 2: tests/test_kafka_quorum.py).
    from streams.topics import ensure_engine_topics

    topic = f"repl1-{uuid.uuid4().hex[:12]}"
    settings = Settings.load({"broker": kafka_bootstrap}, environ={})
    try:
        ensure_engine_topics(settings, {topic: 2})
        assert asyncio.run(_replicas_and_min_isr(kafka_bootstrap, topic)) == ({1}, "1", True)
    finally:
        asyncio.run(_delete_topics(kafka_bootstrap, [topic]))


@pytest.mark.kafka
def test_an_existing_topic_with_fewer_replicas_is_kept_with_a_warning(kafka_bootstrap, kafka_topic, caplog):
    # Nothing to create, so no refusal (a worker restarted while a broker is down must start),
    # but the topic's single copy is said, not silent.
    from streams.topics import ensure_engine_topics

    topic = kafka_topic(partitions=1, prefix="repl-old")
    settings = Settings.load({"broker": kafka_bootstrap, "topic_replication_factor": 3}, environ={})
    with caplog.at_level("WARNING", logger="streams.topics"):
        ensure_engine_topics(settings, {topic: 1})
    assert [r.getMessage() for r in caplog.records if r.name == "streams.topics"] == [
        f"Kafka topic {topic} has 1 replica(s), fewer than topic_replication_factor 3: a broker's loss can "
        "lose its events until it is reassigned (kafka-reassign-partitions.sh)"]
