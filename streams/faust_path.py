"""The engine's Faust per-message path: a drain loop without four tasks per message, the share
topic's raw schema and a monitor without per-message bookkeeping (all used by streams/app.py).

faust-streaming 0.15.3 ``Consumer._drain_messages`` hands every fetched message to the
conductor with ``await self.wait_first(callback(message), self.suspend_flow.wait())``. That
creates four tasks per message (the callback, the suspend-flow event, the consumer's stopped and
crashed events) and an ``asyncio.wait``, and cancels three of them again: more than half of
Faust's CPU per message on one-event messages (benchmarks/RESULTS.md, "Session 6").

The callback almost never waits: it puts the message's event into the stream's buffer. So the
loop here runs the callback's first step at once, in the drain loop's own task; only when that
step suspends (flow control paused, a full buffer, the producer's buffer high) is the rest of
the callback run exactly as Faust runs it: under ``wait_first`` with the suspend-flow, stopped
and crashed events, abandoned (cancelled) when one of them fires first. Faust's own loop also
runs the callback's first step in every case (its task is scheduled before the event tasks), so
a message is delivered, abandoned or re-fetched after a rebalance exactly as before.

The loop is otherwise faust-streaming's own (BSD licence, Copyright (c) 2017-2020, Robinhood
Markets, Inc.), adapted: :func:`install` applies it only to the version it was
copied from and leaves any other version's own loop in place.
"""
from __future__ import annotations

import asyncio
import logging
import types
from typing import Any

import faust
from faust.sensors import Monitor

log = logging.getLogger(__name__)

COPIED_FROM = "0.15.3"  # faust-streaming's transport/consumer.py Consumer._drain_messages

# Faust stops fetching a partition while its stream buffer is over 80% full and resumes it at
# 40%, but a getmany already waiting keeps the partition set it started with: with every share
# partition paused it waits out its whole timeout (1 s) even after they resume. That stall
# paced one-event ingest at ~4,500 events/s (benchmarks/RESULTS.md, "single-event pacing"), so
# while any partition is paused the loop asks again after this many seconds instead.
PAUSED_FETCH_TIMEOUT = 0.02
FETCH_TIMEOUT = 1.0  # Faust's own

# Faust creates its aiokafka consumer with fetch_max_wait_ms=1500 (not a setting). aiokafka keeps
# one fetch in flight per broker; one that asks only for caught-up partitions (the others still
# had unconsumed records when it left) is held by the broker that long, and the drained
# partitions wait behind it: 1-3 waits of ~1 s per 60,000 single events after the change above.
FETCH_MAX_WAIT_MS = 100


def install(app) -> bool:
    """Make ``app``'s consumer use :func:`drain_messages` (when created); ``False`` (nothing
    changed) on a faust-streaming other than the one the loop was copied from.

    >>> app = faust.App("doc-drain", broker="kafka://127.0.0.1:1")
    >>> install(app) == (faust.__version__ == COPIED_FROM)
    True
    """
    if faust.__version__ != COPIED_FROM:
        log.warning("faust-streaming %s: keeping its own drain loop (ours is from %s)",
                    faust.__version__, COPIED_FROM)
        return False
    new_consumer = app._new_consumer

    def _new_consumer():
        consumer = new_consumer()
        consumer._drain_messages = types.MethodType(drain_messages, consumer)
        thread = getattr(consumer, "_thread", None)
        if thread is not None and hasattr(thread, "_create_worker_consumer"):
            create = thread._create_worker_consumer

            def _create_worker_consumer(transport):
                kafka_consumer = create(transport)
                kafka_consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read at its start()
                return kafka_consumer

            thread._create_worker_consumer = _create_worker_consumer
        return consumer

    app._new_consumer = _new_consumer
    return True


class RawBytesSchema(faust.Schema):
    """Keys and values as the bytes Kafka delivered: what ``key_type=bytes, value_type=bytes``
    with the ``raw`` serializers give (the raw codec returns bytes unchanged, and None stays
    None), without a codec lookup and two calls per message (about a tenth of Faust's CPU per
    one-event message). Serializing (``dumps``) is Faust's own.

    >>> from faust.types import Message
    >>> m = Message("t", 0, 7, 0.0, 0, {}, b"r1", b'{"event_id":"e"}', None)
    >>> s = RawBytesSchema()
    >>> s.loads_key(None, m), s.loads_value(None, m), s.key_serializer
    (b'r1', b'{"event_id":"e"}', 'raw')
    """

    def __init__(self):
        super().__init__(key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw")

    def loads_key(self, app, message, *, loads=None, serializer=None):
        return message.key

    def loads_value(self, app, message, *, loads=None, serializer=None):
        return message.value


class QuietMonitor(Monitor):
    """Faust's Monitor without its bookkeeping per message and per event (counters, clocks,
    per-stream dicts, a latency deque): four sensor calls on Faust's path of every message. The
    engine reads none of it (/healthz serves ``app.stats``); commit, send and rebalance figures
    are still kept. Faust's own /stats/ page then shows zero messages and events."""

    def on_message_in(self, tp, offset, message) -> None:
        pass

    def on_stream_event_in(self, tp, offset, stream, event):
        return None

    def on_stream_event_out(self, tp, offset, stream, event, state=None) -> None:
        pass

    def on_message_out(self, tp, offset, message) -> None:
        pass


class _Rest:
    """The rest of a coroutine whose first step already ran and yielded ``first``: awaiting this
    passes each step's future to the task that awaits it and sends (or throws) what it gets back
    into the coroutine, as ``await coro`` would have from the start."""

    __slots__ = ("coro", "first")

    def __init__(self, coro, first):
        self.coro, self.first = coro, first

    def __await__(self):
        coro, step = self.coro, self.first
        while True:
            try:
                yield step
            except BaseException as exc:  # e.g. the task's cancellation: the coroutine's own
                try:
                    step = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                step = coro.send(None)
            except StopIteration as stop:
                return stop.value


async def _rest(coro, first):
    return await _Rest(coro, first)


async def deliver(consumer: Any, callback, message) -> None:
    """``callback(message)``: its first step now; the rest, if any, as Faust's loop runs it."""
    coro = callback(message)
    try:
        first = coro.send(None)
    except StopIteration:
        return
    except BaseException:
        coro.close()
        raise
    await consumer.wait_first(_rest(coro, first), consumer.suspend_flow.wait())


def fetch_timeout(consumer: Any) -> float:
    """Seconds the drain loop's next getmany may wait: short while any partition is paused
    because its stream buffer is under pressure (so it is fetched again soon after it resumes).

    >>> class C: _buffered_partitions = set()
    >>> fetch_timeout(C()) == FETCH_TIMEOUT
    True
    >>> C._buffered_partitions = {("shares", 0)}
    >>> fetch_timeout(C()) == PAUSED_FETCH_TIMEOUT
    True
    """
    return PAUSED_FETCH_TIMEOUT if getattr(consumer, "_buffered_partitions", None) else FETCH_TIMEOUT


async def drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover (Kafka tests)
    # faust-streaming 0.15.3's Consumer._drain_messages with ``deliver`` for its wait_first
    # and a short fetch timeout while partitions are paused (``fetch_timeout``).
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    from faust.transport.consumer import CONSUMER_FETCHING

    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    yield_every = 100
    num_since_yield = 0
    sleep = asyncio.sleep
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(CONSUMER_FETCHING)
            ait = getmany(timeout=fetch_timeout(self))
            # Sleeping because sometimes getmany is called in a loop never releasing to the loop
            await self.sleep(0)
            if not self.should_stop:
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await sleep(0)
                        num_since_yield = 0
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        gap = offset - (r_offset or 0)
                        if gap > 1 and r_offset:  # a gap in the incoming messages
                            if acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None:
                            if self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                        await deliver(self, callback, message)
                        set_read_offset(tp, offset)
                    else:
                        self.log.dev("DROPPED MESSAGE ROFF %r: k=%r v=%r", offset, message.key,
                                     message.value)
                unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(CONSUMER_FETCHING)
