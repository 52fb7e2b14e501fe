"""The worker's counters (``app.stats``, served by /healthz and /metrics): their first values
and the timer's refresh of the figures read rather than counted (lag, memory, graphs, store).

The agent counts batches, events and failures as they happen (streams/app.py); the rest is read
here every two seconds, so a request never waits on the consumer or /proc.
"""
from __future__ import annotations

import os
import time


def new_stats() -> dict:
    """Every counter of a fresh worker, at zero."""
    return {"batches": 0, "events_in": 0, "stored": 0, "duplicates": 0, "dead_letters": 0,
            "last_batch_ms": 0.0,
            # reliability: store retries, lag, ownership, memory
            "store_failures": 0, "store_retrying": 0, "store_wait_seconds": 0.0,
            "inflight_messages": 0, "batch_age_seconds": 0.0, "lag": 0,
            "released_rumours": 0, "rebalances": 0,
            "rss_bytes": 0, "dead_letter_send_failures": 0,
            "store_write_retries": 0, "graph_bytes": 0, "graph_evictions": 0,
            "restore_queries": 0, "late_links": 0, "stats_at_ms": 0,
            # Kafka: seconds the consumer has held no broker connection (0: connected), and 1
            # once that passed the kafka_lost_seconds setting (then /healthz is 503)
            "kafka_unreachable_seconds": 0.0, "kafka_unreachable": 0,
            "gc_collected": 0, "gc_seconds": 0.0}


def refresh_stats(app, pipeline, topic: str, done_offsets: dict, batch_started: float,
                  kafka_watch: "KafkaWatch | None" = None) -> None:
    """The timer's update of ``app.stats``; ``batch_started`` is the monotonic time the batch
    in flight was taken (0.0: none); ``kafka_watch`` judges the consumer's broker connections."""
    s = app.stats
    # When these timer fields were read (epoch ms), so a client can tell a stale copy.
    s["stats_at_ms"] = int(time.time() * 1000)
    s["lag"] = consumer_lag(app, topic, done_offsets)
    s["batch_age_seconds"] = round(time.monotonic() - batch_started, 1) if batch_started else 0.0
    s["rss_bytes"] = rss_bytes()
    s["store_write_retries"] = pipeline.write_retries
    s["graph_bytes"] = pipeline.memory.nbytes()
    s["graph_evictions"] = pipeline.memory.evictions
    s["restore_queries"] = pipeline.restore_queries
    if pipeline.retrying:
        s["store_retrying"] = 1
    if kafka_watch is not None:
        seconds = kafka_watch.update(kafka_connected(app), time.monotonic())
        s["kafka_unreachable_seconds"] = round(seconds, 1)
        s["kafka_unreachable"] = int(kafka_watch.lost)


def kafka_connected(app) -> bool | None:
    """Whether the worker's Kafka consumer holds an open connection to a broker (None: no
    consumer yet). Read from the aiokafka client's connection table, which the consumer's own
    thread keeps: no request is sent. A running consumer always holds one (its fetches and the
    group's heartbeats); with every broker gone aiokafka closes them and fails to open new ones."""
    thread = getattr(getattr(app, "consumer", None), "_thread", None)
    client = getattr(getattr(thread, "_consumer", None), "_client", None)
    conns = getattr(client, "_conns", None)
    if conns is None:
        return None
    try:
        return any(conn.connected() for conn in list(conns.values()))
    except RuntimeError:  # the consumer's thread changed the table meanwhile: next tick
        return None


class KafkaWatch:
    """How long the consumer has been without a broker (:func:`kafka_connected` every tick), and
    whether that is longer than ``lost_seconds`` (``lost``). Unknown (None) changes nothing.

    >>> watch = KafkaWatch(lost_seconds=30)
    >>> watch.update(True, 0.0), watch.update(False, 2.0), watch.update(False, 40.0), watch.lost
    (0.0, 0.0, 38.0, True)
    >>> watch.update(None, 42.0), watch.update(True, 44.0), watch.lost
    (40.0, 0.0, False)
    """

    def __init__(self, lost_seconds: float):
        self.lost_seconds = lost_seconds
        self.since: float | None = None  # monotonic time the connections were first seen gone
        self.lost = False

    def update(self, connected: bool | None, now: float) -> float:
        """Seconds without a broker as of ``now`` (0.0: connected)."""
        if connected:
            self.since = None
        elif connected is False and self.since is None:
            self.since = now
        seconds = 0.0 if self.since is None else now - self.since
        self.lost = seconds > self.lost_seconds
        return seconds


def consumer_lag(app, topic: str, done_offsets: dict) -> int:
    """Messages in the partitions this worker holds that it has not processed yet."""
    consumer = getattr(app, "consumer", None)
    if consumer is None:
        return 0
    total = 0
    try:
        for tp in consumer.assignment():
            if tp.topic != topic:
                continue
            high = consumer.highwater(tp)
            done = done_offsets.get(tp)
            if done is None:
                done = consumer._committed_offset.get(tp)  # faust's last commit, if any
            if high is not None and high >= 0 and done is not None:
                total += max(0, int(high) - int(done))
    except Exception:  # the consumer may be mid-rebalance; the next tick tries again
        return app.stats.get("lag", 0)
    return total


def rss_bytes() -> int:
    """Resident memory of this process (0 where /proc is missing)."""
    try:
        with open(f"/proc/{os.getpid()}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


# /healthz reports the counters older than this as a problem: the timer refreshes them every
# 2 s, so a copy this old means the worker's event loop is blocked (or its timer died).
STALE_STATS_SECONDS = 30.0


def health_problems(stats: dict, now_ms: int | None = None) -> list[str]:
    """What /healthz reports as wrong, from the worker's counters (empty: healthy). Counters a
    process does not keep (``rumour serve`` has no store retry or timer) are not judged.

    >>> health_problems({"store_retrying": 0, "stats_at_ms": 1_000}, now_ms=2_000)
    []
    >>> health_problems({"kafka_unreachable": 1, "kafka_unreachable_seconds": 41.5})
    ['Kafka unreachable: no connection to any broker for 42 s (the consumer keeps trying)']
    >>> health_problems({"store_retrying": 1, "inflight_messages": 40, "batch_age_seconds": 12.0,
    ...                  "store_failures": 3, "stats_at_ms": 1_000}, now_ms=61_000)  # doctest: +NORMALIZE_WHITESPACE
    ['store unreachable: a batch of 40 messages waits for it (12 s; 3 failed attempts so far)',
     'counters not refreshed for 60 s (the event loop is blocked)']
    """
    problems = []
    if stats.get("kafka_unreachable"):
        problems.append(f"Kafka unreachable: no connection to any broker for "
                        f"{stats.get('kafka_unreachable_seconds', 0):.0f} s (the consumer keeps trying)")
    if stats.get("store_retrying"):
        problems.append(f"store unreachable: a batch of {stats.get('inflight_messages', 0)} messages "
                        f"waits for it ({stats.get('batch_age_seconds', 0):.0f} s; "
                        f"{stats.get('store_failures', 0)} failed attempts so far)")
    at = stats.get("stats_at_ms") or 0
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if at and now_ms - at > STALE_STATS_SECONDS * 1000:
        problems.append(f"counters not refreshed for {(now_ms - at) / 1000:.0f} s (the event loop is blocked)")
    return problems
