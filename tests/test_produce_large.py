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


def test_a_message_an_older_topic_refuses_is_reported_and_the_others_are_sent(kafka_bootstrap, kafka_topic, tmp_path):
    topic = kafka_topic(partitions=2, prefix="produce-refused")  # the broker's default limit
    path = tmp_path / "events.jsonl"
    path.write_bytes(events_with_a_large_one("pr"))
    proc = produce(path, topic, kafka_bootstrap)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    summary = orjson.loads(proc.stdout)
    assert summary["messages"] == 30 and len(summary["refused"]) == 1, summary
    assert summary["refused"][0]["bytes"] > 1_100_000
    assert err.startswith("rumour: error: Kafka refused 1 message(s)"), err
    got = asyncio.run(_consume(kafka_bootstrap, topic, 30, timeout_s=180))
    assert sorted(orjson.loads(r.value)["event_id"] for r in got) == sorted(f"e{i}" for i in range(30))
