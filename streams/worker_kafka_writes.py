"""The worker's own Kafka writes (dead letters, alerts), each acknowledged within
``kafka_ack_seconds`` or the worker stops, losing none of them.

Faust's producer (acks=all, not idempotent) retries a write Kafka does not acknowledge for its
request timeout, 20 minutes, without a word. With two brokers of three down (the compose
deployment's KRaft quorum lost with them: no leader moves, no in-sync replica set shrinks) no
acks=all write is acknowledged, so the worker went on storing batches and acking them while
their dead letters and alerts waited in the producer's buffer; a stop (or the 20 minutes) then
dropped them from their topics, with nothing said (tests/test_kafka_outage_worker.py).

What a stream processor does about a write it cannot deliver (Kafka Streams commits a task's
offsets only after its producer flushed, and fails the task when a send times out) is done here:

- a batch's dead letters are sent, and acknowledged, before its messages are acked
  (streams/app.py), so an offset is never committable past a message whose dead letter Kafka has
  not taken;
- alerts are raised after their batch's ack (they are not part of getting a batch queryable), so
  a message read again would not raise them again: those not acknowledged are kept in a file of
  the worker's ``data_dir`` (:class:`AlertSpool`) and sent first at the next start;
- when Kafka acknowledges none of them within ``kafka_ack_seconds`` the worker writes that file,
  logs one error line (the brokers reachable, the cause, what is pending) and exits with code 75
  (EX_TEMPFAIL, as a stop with messages not stored: streams/worker_stop.py); the messages of the
  batch are delivered again at the next start, their events and dead letters stored once
  (ReplacingMergeTree), their dead letters sent again.

An answer that is an error (a topic refused, a message too large) is not a stall: it is counted
and logged as before (the store holds every dead letter and alert), and the worker goes on.
"""
from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import orjson

from streams.kafka_acks import Stalled, acknowledgements, likely_cause, reachable

log = logging.getLogger(__name__)

# As streams/worker_stop.py's EXIT_UNSTORED: stopped with messages taken not acked, delivered
# again at the next start.
EXIT_UNACKNOWLEDGED = 75

SPOOL_NAME = "alerts-unsent.jsonl"


class AlertSpool:
    """Alerts handed to Kafka and not acknowledged yet, by send; written to ``path`` when the
    worker stops with them pending and read back (to be sent first) at the next start.

    >>> import tempfile
    >>> spool = AlertSpool(Path(tempfile.mkdtemp()) / SPOOL_NAME)
    >>> token = spool.add([(b"370100", b'{"alert_id":"a1"}')])
    >>> spool.write()
    1
    >>> AlertSpool(spool.path).load()
    [(b'370100', b'{"alert_id":"a1"}')]
    >>> spool.done(token); spool.write(), spool.path.exists()
    (0, False)
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._pending: dict[int, list] = {}
        self._next = 0

    def add(self, messages) -> int:
        """Record ``messages`` as pending; the token :meth:`done` takes once they are acknowledged."""
        self._next += 1
        self._pending[self._next] = list(messages)
        return self._next

    def done(self, token: int) -> None:
        self._pending.pop(token, None)

    def pending(self) -> list:
        # A copy first: the stop's watchdog thread may call this while the loop adds a list.
        return [m for messages in list(self._pending.values()) for m in messages]

    def load(self) -> list:
        """The messages a stopped worker left (none: ``[]``)."""
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return []
        out = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
                out.append((row["key"].encode("utf-8"), row["value"].encode("utf-8")))
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                # Written whole (a renamed, synced file): this is someone's edit. Refused, not
                # skipped: the rest of the file would be lost with it at the next write.
                raise ValueError(f"{self.path} line {number} is not an alert kept by a stopped worker "
                                 f"({type(exc).__name__}: {exc}); fix or move the file aside to start "
                                 "(the store holds every alert)") from None
        return out

    def write(self) -> int:
        """Replace the file with the pending messages (removed when none); their number. Atomic
        (a new file renamed over the old) and synced: it is the only copy of their topic message."""
        messages = self.pending()
        if not messages:
            self.path.unlink(missing_ok=True)
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = self.path.with_suffix(".tmp")
        with open(new, "wb") as out:
            for key, value in messages:
                out.write(orjson.dumps({"key": key.decode("utf-8"), "value": value.decode("utf-8")}) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(new, self.path)
        return len(messages)


class KafkaWrites:
    """The bound and the stop, for the worker's app (``app.unstored_messages()``, its settings)."""

    def __init__(self, app, settings, spool: AlertSpool | None = None):
        from streams.produce import kafka_bootstrap

        self.app = app
        self.seconds = float(settings.kafka_ack_seconds)
        self.bootstrap = kafka_bootstrap(settings.broker)
        self.min_insync = settings.topic_min_insync_replicas
        self.spool = spool or AlertSpool(Path(settings.data_dir) / SPOOL_NAME)
        self.stopping = False

    async def acknowledged(self, sends, what: str, topic: str, sizes: list[int] | None = None) -> list:
        """Await each send (a coroutine giving its delivery future), then every acknowledgement:
        each outcome (the record's metadata or the error Kafka answered). A send or an
        acknowledgement that does not come within ``kafka_ack_seconds`` stops the worker
        (:meth:`stop`: it does not return). ``sizes``: the messages of each send (a record
        batch: several), for the count the stop's line gives (default 1 each)."""
        sizes = sizes or [1] * len(sends)
        futures = []
        try:
            for send in sends:
                try:
                    result = await asyncio.wait_for(send, self.seconds)
                except asyncio.TimeoutError:
                    raise Stalled() from None
                except Exception as exc:  # an answer (refused), not a stall
                    result = exc
                if not isinstance(result, asyncio.Future):  # already settled
                    settled, result = result, asyncio.get_running_loop().create_future()
                    result.set_result(settled)
                futures.append(result)
            return await acknowledgements(futures, self.seconds)
        except Stalled:
            waiting = (sum(n for f, n in zip(futures, sizes) if not f.done()) + sum(sizes[len(futures):]))
            await self.stop(waiting, what, topic)

    async def within(self, awaitable, waiting: int, what: str, topic: str):
        """``awaitable``'s result (e.g. the topic's partitions, which the producer waits for as
        long as its request timeout), or the worker's stop when it takes ``kafka_ack_seconds``."""
        try:
            return await asyncio.wait_for(awaitable, self.seconds)
        except asyncio.TimeoutError:
            await self.stop(waiting, what, topic)

    async def stop(self, waiting: int, what: str, topic: str) -> None:
        """Keep the alerts not acknowledged, say what is pending in one line, exit 75."""
        if self.stopping:  # another write stalled too: the first one's stop is under way
            await asyncio.Event().wait()
        self.stopping = True
        up, down = await reachable(self.bootstrap)
        from streams.settings import setting, setting_label

        unacked = self.app.unstored_messages()
        pending = [f"{unacked} message(s) taken and not acked (offsets not committed: read again at the next "
                   "start, their dead letters sent again, their events stored once)"]
        try:
            kept = self.spool.write()
        except OSError as exc:  # said in the line: these alerts are then only in the store
            pending.append(f"{len(self.spool.pending())} alert(s) not acknowledged NOT kept ({self.spool.path}: "
                           f"{exc}; the store holds them)")
        else:
            if kept:
                pending.append(f"{kept} alert(s) not acknowledged kept in {self.spool.path} (sent first at the "
                               "next start)")
        log.error("Kafka acknowledged none of %d %s to topic %s within %g s (%s): %s. Pending: %s. Stopping "
                  "(exit %d)", waiting, what, topic, self.seconds, setting_label(setting("kafka_ack_seconds")),
                  likely_cause(up, down, self.min_insync), "; ".join(pending), EXIT_UNACKNOWLEDGED)
        for handler in logging.getLogger().handlers:  # os._exit skips logging's own flush
            handler.flush()
        os._exit(EXIT_UNACKNOWLEDGED)
