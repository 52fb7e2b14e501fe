"""The worker app's helpers outside ``create_app``: the rumour -> partition map and the
dead-letter message (streams/topics.py), the timer's counters (streams/worker_stats.py), and the
old import paths that tests and benchmarks still use."""
from __future__ import annotations

import base64
import random
import time
from collections import namedtuple
from types import SimpleNamespace

import orjson
from aiokafka.partitioner import DefaultPartitioner

from streams.events import DeadLetter
from streams.topics import DEAD_LETTER_RAW_BYTES, dead_letter_message, partitioner
from streams.worker_stats import consumer_lag, new_stats, refresh_stats, rss_bytes


def test_partitioner_matches_aiokafka_default_partitioner():
    rng = random.Random(11)
    keys = [f"rumour-{rng.randrange(10**9)}-\u8c23\u8a00" for _ in range(200)]
    for n in (1, 3, 8):
        partition = partitioner(n)
        every = list(range(n))
        assert [partition(k) for k in keys] == [DefaultPartitioner()(k.encode(), every, every) for k in keys]


def test_dead_letter_message_keeps_the_first_64_kib_of_the_raw_bytes():
    raw = bytes(random.Random(5).randrange(256) for _ in range(DEAD_LETTER_RAW_BYTES + 1000))
    dead = DeadLetter(raw, "too_large", source="kafka", received_ms=12, rumour_id="r", event_id="e")
    msg = orjson.loads(dead_letter_message(dead))
    assert base64.b64decode(msg["raw_base64"]) == raw[:DEAD_LETTER_RAW_BYTES]
    assert msg["raw_bytes"] == len(raw)
    assert (msg["reason"], msg["source"], msg["received_ms"], msg["rumour_id"], msg["event_id"]) == \
        ("too_large", "kafka", 12, "r", "e")


class _Consumer:
    def __init__(self, high, committed):
        self.high, self._committed_offset = high, committed

    def assignment(self):
        return set(self.high)

    def highwater(self, tp):
        return self.high[tp]


def test_consumer_lag_counts_only_the_topic_and_prefers_processed_offsets():
    a0, a1, other = ("shares", 0), ("shares", 1), ("alerts", 0)
    TP = namedtuple("TP", "topic partition")
    tp = {k: TP(*k) for k in (a0, a1, other)}
    app = SimpleNamespace(consumer=_Consumer({tp[a0]: 100, tp[a1]: 50, tp[other]: 999},
                                             {tp[a0]: 10, tp[a1]: 20}), stats={"lag": 7})
    # partition 0: processed up to 90 (beats the commit at 10); partition 1: only the commit
    assert consumer_lag(app, "shares", {tp[a0]: 90}) == (100 - 90) + (50 - 20)
    assert consumer_lag(SimpleNamespace(consumer=None), "shares", {}) == 0

    class Broken(_Consumer):
        def assignment(self):
            raise RuntimeError("rebalancing")

    app.consumer = Broken({}, {})
    assert consumer_lag(app, "shares", {}) == 7  # the last figure stays


def test_refresh_stats_reads_the_pipeline_and_the_batch_age():
    memory = SimpleNamespace(nbytes=lambda: 4096, evictions=3)
    pipeline = SimpleNamespace(write_retries=2, memory=memory, restore_queries=5, retrying=True)
    app = SimpleNamespace(consumer=None, stats=new_stats())
    before = int(time.time() * 1000)
    refresh_stats(app, pipeline, "shares", {}, time.monotonic() - 4.0)
    s = app.stats
    assert (s["store_write_retries"], s["graph_bytes"], s["graph_evictions"], s["restore_queries"]) == (2, 4096, 3, 5)
    assert s["store_retrying"] == 1 and s["stats_at_ms"] >= before
    assert 4.0 <= s["batch_age_seconds"] < 60 and s["rss_bytes"] > 0
    refresh_stats(app, pipeline, "shares", {}, 0.0)
    assert s["batch_age_seconds"] == 0.0  # no batch in flight


def test_rss_bytes_grows_with_a_large_allocation():
    before = rss_bytes()
    block = bytearray(64 << 20)
    block[::4096] = b"x" * len(block[::4096])  # touch every page
    assert rss_bytes() - before >= 32 << 20
    del block


def test_old_import_paths_still_work():
    from streams.app import _partitioner, create_app, dead_letter_message as app_dead_letter
    from streams.cli import cmd_worker
    from streams.worker_run import run_worker

    assert _partitioner is partitioner and app_dead_letter is dead_letter_message
    assert callable(create_app) and callable(run_worker) and callable(cmd_worker)
