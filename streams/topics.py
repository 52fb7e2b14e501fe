"""Kafka topics the engine needs, created before use with the configured partition count.

Faust does not create a source topic that is missing when the worker starts (it logs "Ignoring
missing topic" and never consumes it), and a producer that auto-creates it gets the broker's
default of one partition; so both `rumour worker` and `rumour produce` create them first.
Also what lands on them: the partition a rumour's messages go to (:func:`partitioner`) and the
dead-letter topic's message (:func:`dead_letter_message`).
"""
from __future__ import annotations

import asyncio
import base64

import orjson


async def _ensure(bootstrap: str, wanted: dict[str, int], configs: dict[str, dict]) -> dict[str, int | None]:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from streams.topic_config import raise_message_limit

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name=n, num_partitions=p, replication_factor=1, topic_configs=configs.get(n, {}))
                   for n, p in wanted.items() if n not in existing]
        if missing:
            response = await admin.create_topics(missing, timeout_ms=30000)
            # 36 = TOPIC_ALREADY_EXISTS: another worker won the race, which is fine; that topic
            # has the other one's configuration, so it is judged below like one that existed.
            errors = [e for e in response.topic_errors if int(e[1]) not in (0, 36)]
            if errors:
                raise RuntimeError(f"creating Kafka topics failed: {errors}")
            existing |= {e[0] for e in response.topic_errors if int(e[1]) == 36}
            for _ in range(100):
                if {t.name for t in missing} <= set(await admin.list_topics()):
                    break
                await asyncio.sleep(0.1)
        limits: dict[str, int | None] = {}
        for name in wanted:
            limit = configs.get(name, {}).get("max.message.bytes")
            if limit is None:
                limits[name] = None  # not asked for: the broker's default, not read
            elif name not in existing:
                limits[name] = int(limit)  # created with it
            else:
                # A topic created earlier keeps the message limit it was created with (the
                # broker's ~1 MB for those made before the setting existed): raised here when
                # smaller than needed.
                limits[name] = await raise_message_limit(admin, name, int(limit))
        return limits
    finally:
        await admin.close()


def ensure_topics(bootstrap: str, wanted: dict[str, int],
                  configs: dict[str, dict] | None = None) -> dict[str, int | None]:
    """Create the topics of ``wanted`` (name -> partitions) that do not exist, each with its
    ``configs`` (name -> Kafka topic configuration) if any. An existing topic's
    ``max.message.bytes`` is raised to its ``configs`` value when smaller
    (streams/topic_config.py; a refusal is one warning line, not an error).

    Returns each wanted topic's effective ``max.message.bytes``, as created, read or raised here
    (what :func:`streams.topic_config.message_limit` would read after), so a caller needs no
    second round trip; None where ``configs`` asks for no limit (the broker's default, not read)
    or the broker did not report it."""
    return asyncio.run(_ensure(bootstrap, wanted, configs or {}))


# Kafka record batch overhead beside a message's own bytes (headers, key, batch header).
MESSAGE_OVERHEAD_BYTES = 64 << 10


def share_topic_config(max_message_bytes: int) -> dict:
    """The share topic's configuration: it takes messages up to the ``max_message_bytes`` setting
    (the broker's default, about 1 MB, refused a larger one at the producer, which failed the
    messages batched with it: the worker, which dead-letters an event above ``max_event_bytes``
    with its reason, never saw them).

    >>> share_topic_config(16 << 20)
    {'max.message.bytes': '16842752'}
    """
    return {"max.message.bytes": str(max_message_bytes + MESSAGE_OVERHEAD_BYTES)}


def partitioner(n_partitions: int):
    """The partition a rumour id lands on when used as the message key (Kafka's murmur2, as the
    Java and aiokafka default partitioners compute it)."""
    from aiokafka.partitioner import murmur2

    def partition(rumour_id: str) -> int:
        return (murmur2(rumour_id.encode("utf-8")) & 0x7FFFFFFF) % n_partitions

    return partition


DEAD_LETTER_RAW_BYTES = 64 << 10  # a Kafka message must stay under the broker's ~1 MB limit


def dead_letter_message(dead) -> bytes:
    """A dead letter as the JSON sent to the dead-letter topic (raw bytes base64-encoded; at most
    the first 64 KiB: the store keeps the rest)."""
    return orjson.dumps({
        "reason": dead.reason,
        "source": dead.source,
        "received_ms": dead.received_ms,
        "rumour_id": dead.rumour_id,
        "event_id": dead.event_id,
        "raw_base64": base64.b64encode(dead.raw[:DEAD_LETTER_RAW_BYTES]).decode("ascii"),
        "raw_bytes": len(dead.raw),
    })
