"""Worker faults on the real Kafka and clickhouse-server: SIGKILL mid-batch and restart, a
rebalance (a second worker joins and leaves), and hostile input end to end. These use the shared
services (nothing here stops a service); each test has its own topic, consumer group and database.
"""
from __future__ import annotations

import random
import time
import uuid

import orjson
import pytest

from streams.synthetic import synthetic_events
from tests.faults import (Producing, Worker, create_topic, embedded_traces, fresh_stats, keyed, produce,
                          sentinels, wait_committed, wait_until)
from tests.plugins.clickhouse import database_url
from tests.test_reliability_input import hostile_messages

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


@pytest.fixture
def database(clickhouse_server):
    from streams.store import open_store

    name = "rt_rel_" + uuid.uuid4().hex[:12]
    store = open_store(database_url(clickhouse_server, name))
    store.migrate()
    yield store
    store.drop()
    store.close()


def _assert_store_exact(store, events):
    """Exactly the distinct valid events, each once in query results."""
    distinct = {(e["rumour_id"], e["event_id"]) for e in events}
    assert store.count_events() == len(distinct)
    loaded = store.load_events()
    pairs = list(zip(loaded.rumour_id, loaded.event_id))
    assert len(pairs) == len(set(pairs)) == len(distinct)
    assert set(pairs) == distinct


def _assert_traces(worker, events, k=10):
    expected = embedded_traces(events, k)
    for rumour_id, answer in expected.items():
        assert worker.trace(rumour_id, k) == answer, rumour_id


def test_sigkill_mid_batch_then_restart(kafka_bootstrap, clickhouse_server, database, tmp_path):
    topic = create_topic(kafka_bootstrap, 4)
    events = list(synthetic_events(n_rumours=6, shares_per_rumour=2500, seed=61, prefix="kill"))
    rng = random.Random(61)
    total = len({(e["rumour_id"], e["event_id"]) for e in events})
    messages = keyed(events)
    rng.shuffle(messages)
    messages += rng.sample(messages, 300)  # re-sent copies: must not be counted twice
    app_id = "rt-kill-" + uuid.uuid4().hex[:8]
    # Two thirds go out before the kill, the rest after it: the kill lands mid-ingest however
    # the producer, the worker and the test are scheduled (all at once, a fast worker could
    # store everything before the test's first poll).
    cut = len(messages) * 2 // 3
    before_kill, after_kill = messages[:cut], messages[cut:]
    assert {m for m in after_kill} - set(before_kill), "events must remain for after the kill"
    worker = Worker(tmp_path, "a", kafka_bootstrap, database_url(clickhouse_server, database.database), topic, 4,
                    app_id, RUMOUR_BATCH_SIZE="500")
    try:
        worker.start().wait_ready()
        # At a capped rate from a thread, so that batches are still arriving when it is killed.
        producer = Producing(kafka_bootstrap, topic, before_kill, rate=3000.0)
        # Kill while batches are being written: some stored, most not yet.
        wait_until(lambda: database.count_events() >= 2000 or database.count_events(), 300,
                   "first batches stored", [worker], interval=0.05)
        worker.kill()
        producer.join()
        stored_at_kill = database.count_events()
        assert 0 < stored_at_kill < total, "the kill must land mid-ingest"
        produce(kafka_bootstrap, topic, after_kill)
        worker.start().wait_ready()
        wait_until(lambda: database.count_events() == total or database.count_events(), 600,
                   "all events stored after restart", [worker])
        # Re-delivered copies still in flight must not add rows: one sentinel per partition,
        # produced last, is processed after every message before it in its partition.
        marks = sentinels(4, "kill")
        produce(kafka_bootstrap, topic, keyed(marks))
        wait_until(lambda: database.count_events() == total + len(marks) or database.count_events(), 300,
                   "sentinels stored", [worker])
        wait_committed(kafka_bootstrap, app_id, topic, 4, 300, [worker])
        caught_up = time.monotonic()
        _assert_store_exact(database, events + marks)
        _assert_traces(worker, [e for e in events if e["kind"] != "debunk"])
        # Everything is committed: the first lag the timer computes after that must be 0.
        stats = fresh_stats(worker, caught_up)
        assert stats["lag"] == 0
        print(f"\nRELIABILITY sigkill: produced={len(messages)} distinct={total} stored_at_kill={stored_at_kill} "
              f"stored={database.count_events()} rows={len(database.load_events())} "
              f"duplicates_after_restart={stats['duplicates']}")
    finally:
        worker.stop()


def test_rebalance_second_worker_joins_and_leaves(kafka_bootstrap, clickhouse_server, database, tmp_path):
    partitions = 6
    topic = create_topic(kafka_bootstrap, partitions)
    events = list(synthetic_events(n_rumours=12, shares_per_rumour=150, seed=62, prefix="reb"))
    rumours = sorted({e["rumour_id"] for e in events})
    thirds = [[e for i, e in enumerate(events) if i % 150 < 50], [e for i, e in enumerate(events) if 50 <= i % 150 < 100],
              [e for i, e in enumerate(events) if i % 150 >= 100]]
    app_id = "rt-reb-" + uuid.uuid4().hex[:8]
    url = database_url(clickhouse_server, database.database)
    a = Worker(tmp_path, "a", kafka_bootstrap, url, topic, partitions, app_id).start()
    b = Worker(tmp_path, "b", kafka_bootstrap, url, topic, partitions, app_id)
    try:
        a.wait_ready()
        produce(kafka_bootstrap, topic, keyed(thirds[0]))
        wait_until(lambda: database.count_events() == len(thirds[0]) or database.count_events(), 300,
                   "first third stored", [a])
        wait_until(lambda: a.stats()["rumours_in_memory"] == len(rumours) or a.stats()["rumours_in_memory"],
                   120, "a holds every rumour", [a])

        b.start().wait_ready()
        def held(key):
            return a.stats()[key], b.stats()[key]

        # /healthz reads ownership live, so an old owner's counts never pass for the new ones.
        wait_until(lambda: (lambda on: sum(on) == partitions and min(on) > 0 or on)(held("assigned_partitions")),
                   300, "partitions split between a and b", [a, b])
        # released_rumours is counted in on_revoked, which ends before the new assignment that
        # the split above reads: no wait needed.
        assert a.stats()["released_rumours"] > 0
        produce(kafka_bootstrap, topic, keyed(thirds[1]))
        wait_until(lambda: database.count_events() == len(thirds[0]) + len(thirds[1]) or database.count_events(),
                   300, "second third stored", [a, b])
        # Every rumour got events after the split, so it is on its owner: held counts summing to
        # the number of rumours means no rumour is held twice.
        wait_until(lambda: sum(held("rumours_in_memory")) == len(rumours) or held("rumours_in_memory"), 120,
                   "each rumour on exactly one worker", [a, b])
        on_a, on_b = held("rumours_in_memory")
        assert on_a > 0 and on_b > 0
        seen = thirds[0] + thirds[1]
        # Either worker answers any rumour correctly; asking about the other's keeps nothing.
        _assert_traces(a, [e for e in seen if e["kind"] != "debunk"])
        _assert_traces(b, [e for e in seen if e["kind"] != "debunk"])
        # Answering the other worker's rumours must not leave graphs behind: nothing may change
        # over a while (an observation window, not a wait for a condition; the counts are live).
        time.sleep(2.5)
        assert held("rumours_in_memory") == (on_a, on_b)

        b.stop()
        wait_until(lambda: a.stats()["assigned_partitions"] == partitions or a.stats()["assigned_partitions"],
                   300, "a holds every partition again", [a])
        produce(kafka_bootstrap, topic, keyed(thirds[2]))
        wait_until(lambda: database.count_events() == len(events) or database.count_events(), 300,
                   "last third stored", [a])
        _assert_store_exact(database, events)
        _assert_traces(a, [e for e in events if e["kind"] != "debunk"])
        time.sleep(2.5)
        assert a.stats()["rumours_in_memory"] == len(rumours)
        print(f"\nRELIABILITY rebalance: produced={len(events)} stored={database.count_events()} "
              f"split={on_a}+{on_b} released_by_a={a.stats()['released_rumours']}")
    finally:
        b.stop()
        a.stop()


INJECTIONS = ["' OR 1=1 --", "x'; DROP DATABASE default; --", "r1\\' UNION SELECT * FROM system.users --",
              "../../etc/passwd", "%00", "r1\x00", "\u202e", "$(rm -rf /)", "{{7*7}}", "<script>",
              "r" * 300, "🙂", "a b", "r1%27", ""]


def test_hostile_input_end_to_end_and_api_injection(kafka_bootstrap, clickhouse_server, database, tmp_path):
    topic = create_topic(kafka_bootstrap, 2)
    valid = list(synthetic_events(n_rumours=2, shares_per_rumour=100, seed=63, prefix="hos"))
    hostile = [raw for name, raw, _ in hostile_messages() if "MB" not in name]
    hostile.append(orjson.dumps({"event_id": "hx", "rumour_id": "hos-r1", "account_id": "a",
                                 "ts": 1_764_547_300_000, "parent_event_id": "hos-r0-e3"}))  # other rumour
    # The 10 MB event travels too (Kafka's default message limit is 1 MB: it is sent in a batch
    # message cut to fit; the decoder's event limit is what refuses it).
    hostile.append(orjson.dumps({"event_id": "big", "rumour_id": "hos-r0", "account_id": "a",
                                 "ts": 1_764_547_300_000, "text": "x" * 900_000}))
    worker = Worker(tmp_path, "h", kafka_bootstrap, database_url(clickhouse_server, database.database), topic, 2,
                    "rt-hos-" + uuid.uuid4().hex[:8], RUMOUR_MAX_EVENT_BYTES=str(512 << 10))
    try:
        worker.start().wait_ready()
        # Valid first so the cross-rumour parent is in the store when its child comes.
        produce(kafka_bootstrap, topic, keyed(valid))
        wait_until(lambda: database.count_events() == len(valid) or database.count_events(), 300,
                   "valid events stored", [worker])
        produce(kafka_bootstrap, topic, [(b"hos-r0", raw) for raw in hostile] + keyed(valid[:20]))
        wait_until(lambda: database.count_dead_letters() == len(hostile) or database.count_dead_letters(),
                   300, "every hostile message dead-lettered", [worker])
        produced = len(valid) + 20 + len(hostile)
        # The counters move after a batch's write, and the 20 copies may travel in a later
        # batch (another partition) than the dead letters: wait until every message is counted.
        counted = ("stored", "duplicates", "dead_letters")
        wait_until(lambda: sum(worker.stats()[k] for k in counted) >= produced
                   or {k: worker.stats()[k] for k in counted}, 300, "every message counted", [worker])
        stats = worker.stats()
        assert stats["stored"] + stats["duplicates"] + stats["dead_letters"] == produced
        assert (stats["stored"], stats["duplicates"], stats["dead_letters"]) == (len(valid), 20, len(hostile))
        _assert_store_exact(database, valid)
        reasons = [d["reason"] for d in database.dead_letters(100)]
        assert "parent in another rumour" in reasons and any(r.startswith("event too large") for r in reasons)
        print(f"\nRELIABILITY hostile: produced={produced} valid={len(valid)} copies=20 hostile={len(hostile)} "
              f"stored={database.count_events()} dead={database.count_dead_letters()}")

        # HTTP API: injection strings and oversized input give a 4xx, never a changed query.
        before = database.count_events()
        for bad in INJECTIONS:
            status, body = worker.get_status(f"/api/rumours/{_q(bad)}/trace")
            assert status in (400, 404), (bad, status, body)
            assert "error" in body or status == 404
            if bad:  # an empty k means the default
                status, body = worker.get_status(f"/api/rumours/hos-r0/trace?k={_q(bad)}")
                assert status == 400, (bad, status)
        for k in ("-1", "1001", "1e9", "9" * 400):
            assert worker.get_status(f"/api/rumours/hos-r0/trace?k={k}")[0] == 400
        assert worker.get_status("/api/rumours/" + "r" * 20000 + "/trace")[0] in (400, 404, 414)
        assert worker.get_status("/api/rumours/hos-r0/trace?k=3")[0] == 200
        assert database.count_events() == before and sorted(database.rumour_ids()) == ["hos-r0", "hos-r1"]
    finally:
        worker.stop()


def _q(text: str) -> str:
    import urllib.parse

    return urllib.parse.quote(text, safe="")
