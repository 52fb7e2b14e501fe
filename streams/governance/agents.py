"""Kafka side of the governance loop for the Faust worker.

``register_governance_agents(app, hub)`` adds to a Faust app:

* an agent on the ``reports`` topic (``hub.config.reports_topic``): each message is one
  report (JSON object) or a JSON array of reports; each goes through the same intake as
  HTTP (``source="kafka"``); refused ones are logged with their reason;
* an alert sink that sends every alert (JSON, keyed by the unit's code, so one unit's alerts
  stay in order on one partition) to the ``alerts`` topic (``hub.config.alerts_topic``): one
  message per alert as before, but a batch's alerts go to the producer as one record batch per
  partition (:class:`AlertSender`) instead of one Faust ``send`` each, which cost the worker's
  event loop a produce request per alert (about half its busy time in the ingest bench).

Call it after ``create_app`` (the worker must also create both topics, e.g. with
``streams.topics.ensure_topics``), and attach the hub to the pipeline (``hub.attach()``).
"""
from __future__ import annotations

import asyncio
import logging

import orjson
from aiokafka.partitioner import murmur2

log = logging.getLogger(__name__)


def decode_reports(value: bytes) -> list:
    """The reports carried by one message (an object, or an array of objects)."""
    obj = orjson.loads(value)
    return obj if isinstance(obj, list) else [obj]


def alert_message(alert: dict) -> tuple[bytes, bytes]:
    return alert["unit"].encode(), orjson.dumps(alert, default=str)


def partition_of_key(key: bytes, n_partitions: int) -> int:
    """The partition aiokafka's default partitioner gives a keyed message (Kafka's murmur2).

    >>> partition_of_key(b"370100", 1), 0 <= partition_of_key(b"370100", 4) < 4
    (0, True)
    """
    return (murmur2(key) & 0x7FFFFFFF) % n_partitions


def by_partition(messages, partitions) -> dict[int, list]:
    """``(key, value)`` messages grouped by the partition of their key, in order within each.

    >>> by_partition([(b"a", b"1"), (b"b", b"2"), (b"a", b"3")], [0])
    {0: [(b'a', b'1'), (b'b', b'2'), (b'a', b'3')]}
    """
    ordered = sorted(partitions)
    out: dict[int, list] = {}
    for key, value in messages:
        out.setdefault(ordered[partition_of_key(key, len(ordered))], []).append((key, value))
    return out


class AlertSender:
    """Sends lists of ``(key, value)`` alert messages to ``topic`` through the app's aiokafka
    producer, one record batch per partition and list (``create_batch`` / ``send_batch``), in
    the order given; lists are sent one after another (a lock), so a unit's alerts keep their
    order across batches. Without an aiokafka producer (another transport) each message goes
    through ``fallback.send``.

    With ``writes`` (the worker's :class:`streams.worker_kafka_writes.KafkaWrites`) each list is
    acknowledged by Kafka within ``kafka_ack_seconds`` before the next is sent, or the worker
    stops with the alerts not acknowledged kept in its spool file; those a stopped worker left
    there are sent first (:meth:`send_left`). Without it (tests, tools) a list is handed to the
    producer and its delivery only checked."""

    def __init__(self, app, topic: str, fallback, writes=None):
        self.app, self.topic, self.fallback, self.writes = app, topic, fallback, writes
        self._lock: asyncio.Lock | None = None
        self.failures = 0  # messages whose delivery failed (logged; the store holds every alert)
        self.spool = writes.spool if writes is not None else None
        # Pending from now on: a stop before they are sent again writes them back.
        self.left = self.spool.load() if self.spool is not None else []
        self._left_token = self.spool.add(self.left) if self.left else None

    def _producer(self):
        ensure = getattr(getattr(self.app, "producer", None), "_ensure_producer", None)
        try:
            producer = ensure() if ensure is not None else None
        except Exception:  # not started yet (faust's NotReady): Topic.send starts it
            return None
        return producer if hasattr(producer, "send_batch") else None

    async def send_left(self) -> int:
        """Send the alerts a stopped worker kept in the spool file (at start); their number."""
        if self._left_token is None:
            return 0
        log.warning("sending %d alert(s) a stopped worker kept in %s", len(self.left), self.spool.path)
        await self.send(self.left, token=self._left_token)
        self._left_token = None
        self.spool.write()  # the file holds only what is still pending
        return len(self.left)

    async def send(self, messages, token: int | None = None) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()  # made in the event loop that sends
        if self.spool is not None and token is None:
            # Pending from the moment it is handed over: a list still waiting for the lock when
            # the worker stops is kept too.
            token = self.spool.add(messages)
        async with self._lock:
            try:
                await self._send(messages)
            except asyncio.CancelledError:  # a stop: what is not acknowledged is kept
                if self.spool is not None:
                    self.spool.write()
                raise
            except Exception as exc:  # nobody awaits this task: say it here (the store has them)
                self.failures += len(messages)
                log.warning("alerts not sent to %s: %s: %s", self.topic, type(exc).__name__, exc)
            if token is not None:
                self.spool.done(token)

    async def _send(self, messages) -> None:
        producer = self._producer()
        if producer is None:
            sends, counts = [self.fallback.send(key=k, value=v) for k, v in messages], [1] * len(messages)
        else:
            what = "alert(s)"
            partitions = (await self.writes.within(producer.partitions_for(self.topic), len(messages), what,
                                                   self.topic) if self.writes is not None
                          else await producer.partitions_for(self.topic))
            sends, counts = [], []
            for partition, group in by_partition(messages, partitions).items():
                for batch, n in self._batches(producer, group):
                    sends.append(producer.send_batch(batch, self.topic, partition=partition))
                    counts.append(n)
        if self.writes is None:
            for send, n in zip(sends, counts):
                future = await send
                if isinstance(future, asyncio.Future):
                    self._delivered(future, n)
            return
        outcomes = await self.writes.acknowledged(sends, "alert(s)", self.topic, counts)
        for outcome, n in zip(outcomes, counts):
            if isinstance(outcome, BaseException):
                self.failures += n
                log.warning("%d alerts not delivered to %s: %s: %s", n, self.topic, type(outcome).__name__, outcome)

    @staticmethod
    def _batches(producer, group):
        """``group``'s messages as record batches, each with its number of messages."""
        batch, n = producer.create_batch(), 0
        for key, value in group:
            if batch.append(key=key, value=value, timestamp=None) is None:
                # Full (max_batch_size): a new one; an empty batch takes any one message.
                yield batch, n
                batch, n = producer.create_batch(), 0
                batch.append(key=key, value=value, timestamp=None)
            n += 1
        yield batch, n

    def _delivered(self, future, n: int) -> None:
        def check(f):
            exc = f.exception() if not f.cancelled() else None
            if exc is not None:
                self.failures += n
                log.warning("%d alerts not delivered to %s: %s", n, self.topic, exc)

        future.add_done_callback(check)


def register_governance_agents(app, hub):
    reports = app.topic(hub.config.reports_topic, key_type=bytes, value_type=bytes,
                        key_serializer="raw", value_serializer="raw")
    alerts_topic = app.topic(hub.config.alerts_topic, key_type=bytes, value_type=bytes,
                             key_serializer="raw", value_serializer="raw")
    loop_holder = {}

    @app.agent(reports, concurrency=1)
    async def intake(stream):
        loop_holder["loop"] = asyncio.get_running_loop()
        async for value in stream:
            try:
                payloads = decode_reports(value)
            except orjson.JSONDecodeError as exc:
                log.warning("report refused: invalid JSON (%s)", exc)
                continue
            for payload in payloads:
                status, body = hub.submit_report(payload, "kafka")
                if status >= 400:
                    log.warning("report refused: %s", body.get("error"))

    def send_alerts(alerts):
        # Alerts are raised in the pipeline's worker thread; hand them to the event loop.
        loop = loop_holder.get("loop") or getattr(app, "loop", None)
        if loop is None:
            return
        messages = [alert_message(alert) for alert in alerts]
        # One hand-over per batch of alerts, not one per alert (a thread-safe future each).
        asyncio.run_coroutine_threadsafe(sender.send(messages), loop)

    sender = AlertSender(app, hub.config.alerts_topic, alerts_topic, writes=getattr(app, "kafka_writes", None))
    app.alert_sender = sender

    @app.task
    async def send_left_alerts():
        # Alerts a worker stopped by a stalled Kafka kept (streams/worker_kafka_writes.py).
        await sender.send_left()

    hub.alerts.sinks.append(send_alerts)
    app.governance_intake_agent = intake
    return intake
