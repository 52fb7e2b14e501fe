"""`rumour produce`: send files of share events to Kafka, keyed by rumour."""
from __future__ import annotations

import asyncio

import orjson

from streams.events_columnar import encode_columns, is_columnar
from streams.inputs import iter_messages
from streams.settings import broker_servers

FORMATS = ("array", "columns")  # how a batch of events is packed into one message


def kafka_bootstrap(broker: str) -> str:
    """``kafka://host:port`` (Faust's form) to aiokafka's ``host:port``.

    >>> kafka_bootstrap("kafka://127.0.0.1:9092;kafka://127.0.0.2:9092")
    '127.0.0.1:9092,127.0.0.2:9092'
    """
    return ",".join(p.split("://", 1)[-1] for p in broker_servers(broker))


def _rumour_key(raw: bytes) -> bytes:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return b""
    if isinstance(obj, dict) and isinstance(obj.get("rumour_id"), str):
        return obj["rumour_id"].encode()
    if isinstance(obj, list) and obj and isinstance(obj[0], dict) and isinstance(obj[0].get("rumour_id"), str):
        return obj[0]["rumour_id"].encode()
    if is_columnar(obj) and isinstance(obj["columns"], dict):
        rumour = obj["columns"].get("rumour_id")
        if isinstance(rumour, list) and rumour:
            rumour = rumour[0]
        if isinstance(rumour, str):
            return rumour.encode()
    return b""


def pack_messages(messages, events_per_message: int, message_format: str = "array"):
    """Yield ``(key, value)``: single messages as they are, or batches of up to N events of one
    rumour, as a JSON array (``array``) or one columnar message (``columns``, see
    streams/events_columnar.py; with N <= 1 each event becomes a columnar message of one).
    Unparseable input is sent unchanged so the worker dead-letters it with a reason.

    >>> raw = [(b'{"event_id":"e%d","rumour_id":"r","account_id":"a","ts":1}' % i, "") for i in range(3)]
    >>> [v for _, v in pack_messages(raw, 2, "columns")][0]
    b'{"v":1,"columns":{"event_id":["e0","e1"],"rumour_id":"r","account_id":"a","ts":1}}'
    """
    if message_format not in FORMATS:
        raise ValueError(f"message format: expected one of {', '.join(FORMATS)}, got {message_format!r}")
    encode = orjson.dumps if message_format == "array" else encode_columns
    if events_per_message <= 1 and message_format == "array":
        for raw, _ in messages:
            yield _rumour_key(raw), raw
        return
    pending: dict[bytes, list] = {}
    for raw, _ in messages:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            yield b"", raw
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("rumour_id"), str):
            yield _rumour_key(raw), raw
            continue
        key = obj["rumour_id"].encode()
        group = pending.setdefault(key, [])
        group.append(obj)
        if len(group) >= events_per_message:
            yield key, encode(group)
            pending[key] = []
    for key, group in pending.items():
        if group:
            yield key, encode(group)


# Bytes Kafka adds to a message sent alone: the record batch header (61) and the record's own
# fields (lengths, attributes, deltas, header count: at most 21 with an empty header list).
RECORD_OVERHEAD_BYTES = 61 + 21


def record_bytes(key: bytes, value: bytes) -> int:
    """The size of the record batch a message alone makes, as the broker compares it with the
    topic's ``max.message.bytes`` (an upper bound by a few bytes).

    >>> record_bytes(b"r1", b"x" * 100)
    184
    """
    return len(key) + len(value) + RECORD_OVERHEAD_BYTES


async def _send_all(pairs, bootstrap: str, topic: str, max_request_size: int = 32 << 20,
                    topic_limit: int | None = None, ack_seconds: float = 60.0, min_insync: int = 1):
    """Send every ``(key, value)``; returns ``(sent, refused)``, refused being ``[(size, reason)]``
    of the messages Kafka would not take even alone.

    A message larger than ``topic_limit`` (the topic's ``max.message.bytes``) or the producer's
    ``max_request_size`` is refused here, unsent. Sent, it failed the whole batch it was packed
    into and every later batch of that partition (the idempotent producer's sequence numbers
    broke: OutOfOrderSequenceNumber), which were then all sent again one by one: slow, and each
    rumour's order then rested on every later send of the partition failing too. A batch that
    still fails (a refusal this check cannot foresee) is handled that way: its messages and
    the later ones of its partition are sent again one by one, in the order given, each after
    a refusal from a new producer; the messages of a rumour share a partition, so they keep
    their order.

    :class:`streams.kafka_acks.NotAcknowledged` when Kafka acknowledges nothing for
    ``ack_seconds``, or gives a new producer no producer id for that long (aiokafka waits for
    either for ever: too few brokers up for ``min_insync`` in-sync replicas, a lost controller
    quorum), counting what was acknowledged."""
    from aiokafka import AIOKafkaProducer

    from streams.kafka_acks import LastAnswer, Stalled, acknowledgements, close_within, not_acknowledged, reachable

    async def within(awaitable):
        # A send waits for room or metadata, a send_and_wait for its acknowledgement: bounded too.
        try:
            return await asyncio.wait_for(awaitable, ack_seconds)
        except asyncio.TimeoutError:
            raise Stalled() from None

    async def new_producer():
        started = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_request_size=max_request_size,
                                   acks="all", enable_idempotence=True)
        try:
            # start() waits for a producer id for as long as none is given: with the controller
            # quorum lost, a broker that holds no block of ids left hung there for good.
            await within(started.start())
        except BaseException as exc:
            await close_within(started, 2.0)
            if isinstance(exc, Stalled):
                raise Stalled("start") from None
            raise
        return started

    producer = None
    sent = 0
    refused = []
    unsettled = 0  # sent, neither acknowledged nor refused yet: what a stall leaves in doubt
    acknowledged = 0  # the same count as sent, but kept as each acknowledgement arrives

    async def send(key, value):
        nonlocal unsettled
        future = await within(producer.send(topic, value=value, key=key or None))
        unsettled += 1
        future.add_done_callback(settled)
        return future

    def settled(future):
        nonlocal unsettled, acknowledged
        unsettled -= 1
        acknowledged += not future.cancelled() and future.exception() is None

    async def settle(batch):
        nonlocal sent, producer
        outcomes = await acknowledgements([f for f, _ in batch], ack_seconds)
        failed = [pair for outcome, (_, pair) in zip(outcomes, batch) if isinstance(outcome, BaseException)]
        sent += len(batch) - len(failed)
        if not failed:
            return
        await producer.stop()
        producer = await new_producer()
        for key, value in failed:
            try:
                await within(asyncio.shield(await send(key, value)))
                sent += 1
            except Stalled:
                raise
            except Exception as exc:  # refused for itself: a new producer for what follows
                refused.append((len(value), f"{type(exc).__name__}: {exc}"))
                await producer.stop()
                producer = await new_producer()

    with LastAnswer() as last:
        try:
            producer = await new_producer()
            batch = []
            limit = min(max_request_size, topic_limit or max_request_size)
            for key, value in pairs:
                if record_bytes(key, value) > limit:
                    refused.append((len(value), f"larger than the topic takes ({limit} bytes with the record "
                                                f"overhead: its max.message.bytes or max_message_bytes); not sent"))
                    continue
                batch.append((await send(key, value), (key, value)))
                if len(batch) >= 10_000:
                    await settle(batch)
                    batch = []
            await settle(batch)
        except Stalled as stalled:
            up, down = await reachable(bootstrap)
            raise not_acknowledged(topic, ack_seconds, unsettled, acknowledged, up, down, min_insync,
                                   last.answer, starting=stalled.args == ("start",)) from None
        finally:
            if producer is not None:
                await close_within(producer, 2.0)
    return sent, refused


def produce_files(paths, settings, events_per_message: int = 1, message_format: str = "array") -> dict:
    """Send the files' messages; the summary counts those sent and lists those Kafka refused
    (``refused``: their sizes and reasons), so nothing goes missing unsaid."""
    from streams.topics import MESSAGE_OVERHEAD_BYTES, ensure_engine_topics, share_topic_config

    messages = iter_messages(paths)  # a missing or unreadable file is refused before connecting
    bootstrap = kafka_bootstrap(settings.broker)
    # What the topic takes (created with, raised to, or left smaller where not permitted).
    topic_limit = ensure_engine_topics(settings, {settings.topic: settings.topic_partitions},
                                       {settings.topic: share_topic_config(settings.max_message_bytes)})[settings.topic]
    pairs = pack_messages(messages, events_per_message, message_format)
    sent, refused = asyncio.run(_send_all(pairs, bootstrap, settings.topic,
                                          settings.max_message_bytes + MESSAGE_OVERHEAD_BYTES, topic_limit,
                                          settings.kafka_ack_seconds, settings.topic_min_insync_replicas))
    summary = {"messages": sent, "topic": settings.topic}
    if refused:
        summary["refused"] = [{"bytes": size, "reason": reason} for size, reason in refused]
    return summary
