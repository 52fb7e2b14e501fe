"""`ensure_topics` returns each topic's effective ``max.message.bytes`` (created with, raised to,
or left as the broker reports it), so `rumour produce` needs no second describe round trip: what
it returns is what a fresh ``message_limit`` read finds afterwards."""
from __future__ import annotations

import asyncio
import uuid

from streams.topic_config import message_limit
from streams.topics import ensure_topics
from tests.plugins.kafka import _delete_topics
from tests.test_produce_large import _create_topic_with

WANTED = 16842752  # share_topic_config(16 MiB)


def test_the_returned_limit_is_what_the_broker_reads_for_created_raised_and_unasked_topics(kafka_bootstrap):
    tag = uuid.uuid4().hex[:12]
    fresh, older, larger, plain = (f"limits-{kind}-{tag}" for kind in ("fresh", "older", "larger", "plain"))
    asyncio.run(_create_topic_with(kafka_bootstrap, older, {}))  # the broker's ~1 MB default
    asyncio.run(_create_topic_with(kafka_bootstrap, larger, {"max.message.bytes": str(WANTED + 1000)}))
    try:
        limits = ensure_topics(kafka_bootstrap, {fresh: 1, older: 1, larger: 1, plain: 1},
                               {name: {"max.message.bytes": str(WANTED)} for name in (fresh, older, larger)})
        assert limits == {fresh: WANTED, older: WANTED, larger: WANTED + 1000, plain: None}
        for name in (fresh, older, larger):
            assert limits[name] == message_limit(kafka_bootstrap, name), name
        # Asked again: nothing to raise, the same answers.
        again = ensure_topics(kafka_bootstrap, {older: 1, larger: 1},
                              {name: {"max.message.bytes": str(WANTED)} for name in (older, larger)})
        assert again == {older: WANTED, larger: WANTED + 1000}
    finally:
        asyncio.run(_delete_topics(kafka_bootstrap, [fresh, older, larger, plain]))


def test_a_refused_raise_returns_the_limit_the_topic_kept(kafka_bootstrap, kafka_topic, monkeypatch):
    from streams.topic_config import IncrementalAlterConfigs

    # A value the broker rejects, in place of an ACL that denies the change.
    monkeypatch.setattr(IncrementalAlterConfigs, "build",
                        lambda self, cls: cls([(2, self.topic, [("max.message.bytes", 0, "-5")])], False))
    topic = kafka_topic(prefix="limits-refused")
    limits = ensure_topics(kafka_bootstrap, {topic: 1}, {topic: {"max.message.bytes": str(WANTED)}})
    kept = message_limit(kafka_bootstrap, topic)
    assert kept is not None and kept < WANTED
    assert limits == {topic: kept}
