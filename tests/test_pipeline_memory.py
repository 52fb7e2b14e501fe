"""Restore without a query per batch, write-behind (prepare N+1 before N is stored) and the graph
memory budget: none of them may change a batch's accounting or any trace answer."""
from __future__ import annotations

import orjson
import pytest

from benchmarks import ingest_kit
from streams.pipeline import Pipeline
from tests.faults import FlakyStore
from tests.plugins.clickhouse import fresh_database

TS = 1_700_000_000_000


def ev(eid, rid, parent=None, kind=None):
    row = {"event_id": eid, "rumour_id": rid, "account_id": "a-" + eid, "ts": TS,
           "parent_event_id": parent}
    if kind:
        row["kind"] = kind
    return orjson.dumps(row)


def chunks():
    """Batches of messages that interleave rumours, repeat some messages (duplicates), carry a
    debunk cascade and a parent from another rumour (a dead letter)."""
    msgs = [v for _, v in ingest_kit.stream_messages(4000, 25, 3, "m", 400)][::-1]
    msgs += msgs[5:15]  # re-delivered: duplicates
    msgs.insert(7, orjson.dumps([orjson.loads(ev(f"d{i}", "m-r0", f"d{i - 1}" if i else None,
                                                 "debunk")) for i in range(20)]))
    msgs.insert(30, ev("x1", "m-r1", parent="d3"))  # d3 belongs to m-r0: another rumour
    return [msgs[i:i + 9] for i in range(0, len(msgs), 9)]


def answers(pipeline, rumours):
    return {r: pipeline.trace(r, 5) for r in rumours}


def run(pipeline, batches):
    return [pipeline.process(b).summary() for b in batches]


def reference(batches):
    """Accounting, answers and stored count of one plain run over a store of its own."""
    from streams.store.embedded import ChdbStore

    store = ChdbStore("chdb://", database=fresh_database())
    store.migrate()
    try:
        pipeline = Pipeline(store)
        stats = run(pipeline, batches)
        return stats, answers(pipeline, all_rumours(batches)), store.count_events()
    finally:
        store.drop()
        store.close()


def all_rumours(batches):
    ids = set()
    for b in batches:
        for m in b:
            obj = orjson.loads(m)
            ids.update(o["rumour_id"] for o in (obj if isinstance(obj, list) else [obj]))
    return sorted(ids)


def test_no_restore_query_for_rumours_the_store_lacks(chdb_store):
    batches = chunks()
    pipeline = Pipeline(chdb_store)
    run(pipeline, batches[:4])
    # Every rumour was new: the store was asked once which rumours it holds, never for events.
    assert pipeline.restore_queries == 0
    restarted = Pipeline(chdb_store)
    restarted.process(batches[4])
    assert restarted.restore_queries == 1  # one query for all stored rumours of the batch


def test_restart_midway_gives_the_answers_of_one_run(chdb_store, tmp_path):
    from streams.store.embedded import ChdbStore

    batches = chunks()
    rumours = all_rumours(batches)
    other = ChdbStore("chdb://", database=fresh_database())
    other.migrate()
    try:
        one = Pipeline(other)
        ref = run(one, batches)
        first = Pipeline(chdb_store)
        got = run(first, batches[:6])
        second = Pipeline(chdb_store)  # a restart: everything comes back from the store
        got += run(second, batches[6:])
        assert got == ref
        assert answers(second, rumours) == answers(one, rumours)
        assert chdb_store.count_events() == other.count_events()
    finally:
        other.drop()
        other.close()


def test_tiny_memory_budget_gives_the_answers_of_a_huge_one(chdb_store):
    from streams.store.embedded import ChdbStore

    batches = chunks()
    rumours = all_rumours(batches)
    big_store = ChdbStore("chdb://", database=fresh_database())
    big_store.migrate()
    try:
        big = Pipeline(big_store, graph_memory_bytes=1 << 40)
        tiny = Pipeline(chdb_store, graph_memory_bytes=1)
        for b in batches:
            assert tiny.process(b).summary() == big.process(b).summary()
            # Only the rumours of the last batch stay in memory.
            assert len(set(tiny.graphs) | set(tiny.debunks)) <= len(b)
        assert tiny.memory.evictions > 0 and big.memory.evictions == 0
        assert tiny.restore_queries > 0
        assert answers(tiny, rumours) == answers(big, rumours)
        # A query loads an evicted rumour; the next batch may evict it again: same answers.
        run(tiny, batches[:2])
        run(big, batches[:2])
        assert answers(tiny, rumours) == answers(big, rumours)
    finally:
        big_store.drop()
        big_store.close()


def test_write_behind_prepares_the_next_batch_before_the_last_is_stored(chdb_store):
    batches = chunks()
    # The cross-rumour parent arrives in the batch right after its parent's, whose write is
    # still pending: the pending batch must count as stored.
    batches[1].insert(0, ev("x2", "m-r2", parent="d5"))
    rumours = all_rumours(batches)
    ref_stats, ref_answers, ref_count = reference(batches)
    assert sum(s["dead_letters"] for s in ref_stats) >= 2
    pipeline = Pipeline(chdb_store, graph_memory_bytes=1)
    got, pending = [], None
    for b in batches:
        prepared = pipeline.prepare(b)
        if pending is not None:
            got.append(pipeline.store_prepared(pending).summary())
        pending = prepared
    got.append(pipeline.store_prepared(pending).summary())
    assert got == ref_stats
    assert answers(pipeline, rumours) == ref_answers
    assert chdb_store.count_events() == ref_count


def test_failed_write_behind_then_redo_gives_the_same_store(chdb_store):
    """Batch N's write fails after N+1 was prepared: both are forgotten and redone in order."""
    batches = chunks()
    rumours = all_rumours(batches)
    ref_stats, ref_answers, ref_count = reference(batches)
    store = FlakyStore(chdb_store, failures=0)
    pipeline = Pipeline(store, store_retry_seconds=0)
    got = run(pipeline, batches[:3])
    first = pipeline.prepare(batches[3])
    second = pipeline.prepare(batches[4])
    store.failures = 1
    with pytest.raises(ConnectionError):
        pipeline.store_prepared(first)
    pipeline.discard(second)  # what the worker does before redoing both
    got += run(pipeline, batches[3:])
    assert got == ref_stats
    assert answers(pipeline, rumours) == ref_answers
    assert chdb_store.count_events() == ref_count


def test_embedded_replay_honours_the_graph_budget_and_answers_alike():
    """`rumour replay`/`trace` (embedded) use graph_memory_mb only with a store to rebuild from."""
    from streams.embedded import make_pipeline, replay_events
    from streams.settings import Settings
    from streams.store.embedded import ChdbStore
    from streams.synthetic import synthetic_events

    tiny = Settings.load({"graph_memory_mb": 1})
    assert make_pipeline(None, tiny).memory.budget_bytes is None  # nothing to rebuild from
    events = list(synthetic_events(n_rumours=40, shares_per_rumour=300, seed=5, prefix="emb"))
    results = []
    for settings in (tiny, Settings.load({"graph_memory_mb": 0})):
        store = ChdbStore("chdb://", database=fresh_database())
        store.migrate()
        try:
            pipeline, stats = replay_events(events, store, settings)
            assert pipeline.memory.budget_bytes == (1 << 20 if settings.graph_memory_mb else None)
            rumours = sorted({e["rumour_id"] for e in events})
            results.append((stats.summary(), answers(pipeline, rumours), pipeline.memory.evictions))
        finally:
            store.drop()
            store.close()
    (tiny_stats, tiny_answers, evicted), (big_stats, big_answers, none_evicted) = results
    assert evicted > 0 and none_evicted == 0  # the tiny budget really evicted graphs
    assert tiny_stats == big_stats and tiny_answers == big_answers
