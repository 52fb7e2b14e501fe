"""Fault injection helpers: private Kafka / ClickHouse instances and worker processes.

The shared services (127.0.0.1:9092 and :9000) are never stopped here: every test that breaks
a service starts its own instance through scripts/services/*.sh with other ports and its own
run folder (RUMOUR_RUN_DIR), and stops or kills only that instance.

The services and the worker process are shared with the soak run, so they live in benchmarks/
and are re-exported here under their old names:

- :class:`Service` (``private_kafka`` / ``private_clickhouse`` build one): start, stop, kill -9
  (benchmarks/private_services.py).
- :class:`Worker`: ``rumour worker`` as a subprocess with its own app id, web port and data dir;
  ``stats()`` reads /healthz (``app.stats``), ``trace()`` and ``get_json()`` the API;
  :func:`create_topic`, :func:`wait_until`, :func:`embedded_traces`, :func:`comparable`
  (benchmarks/worker_process.py).

Here:

- :func:`produce`, :class:`Producing`, :func:`keyed`.
- :class:`FlakyStore`: a store whose next writes fail, for an embedded pipeline (no service).
- On a loaded CI machine: :func:`fresh_stats` (the timer-refreshed /healthz fields from a tick
  after a given moment, by the tick's ``stats_at_ms``), :func:`sentinels` (one event per partition: once they are processed,
  every message before them was too), :func:`wait_committed` (the group's committed offsets reach
  the end of the topic). Waits are generous: they cost nothing when things are fast, and
  ``RUMOUR_TEST_SLOWDOWN`` (default 1) multiplies every wait for a machine slower still.
"""
from __future__ import annotations

import asyncio
import threading
import time

import orjson

from benchmarks.ingest_kit import free_port
from benchmarks.private_services import ROOT, Service, port_open, private_clickhouse, private_kafka, start_private
from benchmarks.worker_process import SLOWDOWN, Worker, comparable, create_topic, embedded_traces, wait_until

__all__ = [
    "ROOT", "SLOWDOWN", "FlakyStore", "Producing", "Service", "Worker", "committed_and_end", "comparable",
    "create_topic", "embedded_traces", "free_port", "fresh_stats", "keyed", "port_open", "private_clickhouse",
    "private_kafka", "produce", "sentinels", "start_private", "wait_committed", "wait_until",
]


# ---- Kafka client helpers ---------------------------------------------------------------------

async def _produce(bootstrap, topic, pairs, rate=None):
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=32 << 20,
                                request_timeout_ms=60000, linger_ms=5)
    await producer.start()
    try:
        started = time.monotonic()
        for n, (key, value) in enumerate(pairs):
            await producer.send(topic, key=key, value=value)
            if rate and n % 100 == 99:
                ahead = (n + 1) / rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await producer.flush()
    finally:
        await producer.stop()


def produce(bootstrap: str, topic: str, pairs, rate: float | None = None) -> int:
    """Send ``(key, value)`` pairs with acks=all; ``rate`` caps messages per second."""
    pairs = list(pairs)
    asyncio.run(_produce(bootstrap, topic, pairs, rate))
    return len(pairs)


class Producing:
    """:func:`produce` in a background thread; :meth:`join` waits for it and raises what it
    raised (a plain thread would only print it, and the test would time out on a wait)."""

    def __init__(self, bootstrap: str, topic: str, pairs, rate: float | None = None):
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(bootstrap, topic, list(pairs), rate),
                                       daemon=True)
        self.thread.start()

    def _run(self, bootstrap, topic, pairs, rate):
        try:
            produce(bootstrap, topic, pairs, rate)
        except BaseException as exc:  # noqa: BLE001 - re-raised in join()
            self.error = exc

    def join(self, timeout: float = 600) -> None:
        self.thread.join(timeout * SLOWDOWN)
        if self.thread.is_alive():
            raise AssertionError(f"producer still sending after {timeout * SLOWDOWN:g}s")
        if self.error is not None:
            raise self.error


def keyed(events) -> list[tuple[bytes, bytes]]:
    """Events as Kafka messages keyed by rumour (what `rumour produce` sends)."""
    return [(e["rumour_id"].encode(), orjson.dumps(e)) for e in events]


# ---- waiting and answers ----------------------------------------------------------------------

def fresh_stats(worker: "Worker", since: float) -> dict:
    """/healthz with its timer-refreshed fields computed after ``since`` (``time.monotonic()``).

    Those fields (lag, graph_bytes, ...) are copies the worker's 2-s timer makes; read right after
    a condition they may predate it. The timer stamps each tick in ``stats_at_ms`` (wall clock)
    before it reads them, so an answer stamped after ``since`` holds values from after it."""
    after_ms = (time.time() - (time.monotonic() - since)) * 1000
    found: dict = {}

    def ticked():
        s = found["stats"] = worker.stats()
        return s.get("stats_at_ms", 0) > after_ms or {"stats_at_ms": s.get("stats_at_ms")}

    wait_until(ticked, 60, "a stats tick after the condition", [worker], interval=0.1)
    return found["stats"]


def sentinels(n_partitions: int, prefix: str, ts_ms: int = 1_764_547_200_000) -> list[dict]:
    """One valid post per partition of a topic with ``n_partitions`` (rumour ids chosen with the
    producer's keyed partitioner, murmur2). Kafka keeps order within a partition: once all of
    them are processed, so is every message produced before them."""
    from streams.app import _partitioner

    partition = _partitioner(n_partitions)
    found: dict[int, dict] = {}
    i = 0
    while len(found) < n_partitions:
        rid = f"{prefix}-sentinel-{i}"
        part = partition(rid)
        found.setdefault(part, {"event_id": f"{rid}-e0", "rumour_id": rid, "account_id": f"{prefix}-sentinel",
                                "ts": ts_ms, "kind": "post", "parent_event_id": None,
                                "parent_account_id": None, "platform": "weibo", "region": None,
                                "text": "sentinel"})
        i += 1
    return [found[p] for p in sorted(found)]


async def _offsets(bootstrap: str, group: str, topic: str, partitions: int) -> tuple[dict, dict]:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.structs import TopicPartition

    tps = [TopicPartition(topic, p) for p in range(partitions)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)  # aiokafka's stop() of a consumer that never had partitions raises
        ends = await consumer.end_offsets(tps)
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        return ({tp.partition: ends[tp] for tp in tps},
                {tp.partition: (committed[tp].offset if tp in committed else -1) for tp in tps})
    finally:
        await consumer.stop()
        await admin.close()


def committed_and_end(bootstrap: str, group: str, topic: str, partitions: int) -> tuple[dict, dict]:
    """(end offsets, the group's committed offsets) per partition of ``topic``."""
    return asyncio.run(_offsets(bootstrap, group, topic, partitions))


def wait_committed(bootstrap: str, group: str, topic: str, partitions: int, timeout: float,
                   workers=()) -> None:
    """Until the consumer group (a worker's app id) has committed every partition of ``topic``
    up to its end: every message produced so far was processed, stored and acked."""
    def done():
        ends, committed = committed_and_end(bootstrap, group, topic, partitions)
        # -1: nothing committed, which is all there is to commit in an empty partition
        caught_up = all(max(committed[p], 0) == end for p, end in ends.items())
        return caught_up or {"end": ends, "committed": committed}

    wait_until(done, timeout, f"group {group} committed {topic} to its end", workers)


class FlakyStore:
    """A store whose writes raise ConnectionError while ``failures`` > 0 (each one counts down);
    everything else is the ``inner`` store's: an outage seen by an embedded pipeline."""

    def __init__(self, inner, failures: int):
        self.inner, self.failures = inner, failures

    def write(self, batch, dead=()):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("store down")
        self.inner.write(batch, dead)

    def __getattr__(self, name):
        return getattr(self.inner, name)
