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
            "gc_collected": 0, "gc_seconds": 0.0}


def refresh_stats(app, pipeline, topic: str, done_offsets: dict, batch_started: float) -> None:
    """The timer's update of ``app.stats``; ``batch_started`` is the monotonic time the batch
    in flight was taken (0.0: none)."""
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
    >>> health_problems({"store_retrying": 1, "inflight_messages": 40, "batch_age_seconds": 12.0,
    ...                  "store_failures": 3, "stats_at_ms": 1_000}, now_ms=61_000)  # doctest: +NORMALIZE_WHITESPACE
    ['store unreachable: a batch of 40 messages waits for it (12 s; 3 failed attempts so far)',
     'counters not refreshed for 60 s (the event loop is blocked)']
    """
    problems = []
    if stats.get("store_retrying"):
        problems.append(f"store unreachable: a batch of {stats.get('inflight_messages', 0)} messages "
                        f"waits for it ({stats.get('batch_age_seconds', 0):.0f} s; "
                        f"{stats.get('store_failures', 0)} failed attempts so far)")
    at = stats.get("stats_at_ms") or 0
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if at and now_ms - at > STALE_STATS_SECONDS * 1000:
        problems.append(f"counters not refreshed for {(now_ms - at) / 1000:.0f} s (the event loop is blocked)")
    return problems
