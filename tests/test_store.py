"""Store behaviour on both backends: idempotent writes, distinct counts, round trips."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.events import KINDS, DeadLetter, EventBatch

T0 = 1_347_557_095_123  # 2012-09-13T17:24:55.123Z


def make_batch(rows) -> EventBatch:
    """rows: dicts with the v1 field names (ts as epoch ms, kind as a name)."""
    rows = list(rows)
    get = lambda name: [r.get(name) for r in rows]  # noqa: E731
    return EventBatch(
        event_id=get("event_id"), rumour_id=get("rumour_id"), account_id=get("account_id"),
        ts_ms=np.array([r["ts"] for r in rows], np.int64),
        parent_event_id=get("parent_event_id"), parent_account_id=get("parent_account_id"),
        kind=np.array([KINDS.index(r.get("kind", "share")) for r in rows], np.uint8),
        platform=get("platform"), region=get("region"), text=get("text"),
    )


def seeded_rows(seed: int, n: int, rumours=3):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rows.append({
            "event_id": f"e{i}",
            "rumour_id": f"r{rng.integers(rumours)}",
            "account_id": f"a{rng.integers(50)}",
            "ts": T0 + int(rng.integers(0, 10 * 60_000)),
            "parent_event_id": None if i == 0 or rng.random() < 0.2 else f"e{rng.integers(i)}",
            "parent_account_id": None if rng.random() < 0.5 else f"a{rng.integers(50)}",
            "kind": KINDS[rng.integers(len(KINDS))],
            "platform": None if rng.random() < 0.3 else "weibo",
            "region": None if rng.random() < 0.4 else f"CN-{rng.integers(10, 13)}",
            "text": None if rng.random() < 0.3 else f"转发 {i} \U0001f600",
        })
    return rows


def full_rows(row):
    out = {k: None for k in ("parent_event_id", "parent_account_id", "platform", "region", "text")}
    out["kind"] = "share"
    out.update(row)
    return out


def by_key(rows):
    return sorted((full_rows(r) for r in rows), key=lambda r: (r["ts"], r["event_id"], r["rumour_id"]))


def test_duplicates_within_and_across_inserts_count_once(store):
    rows = seeded_rows(seed=1, n=300)
    # first write: every row plus a copy of the first 50 in the same insert
    store.write(make_batch(rows + rows[:50]), [])
    # second and third writes: re-delivery of half of them
    store.write(make_batch(rows[::2]), [])
    store.write(make_batch(rows[100:200]), [])
    distinct = {(r["rumour_id"], r["event_id"]) for r in rows}
    assert store.count_events() == len(distinct)
    for rumour in {r["rumour_id"] for r in rows}:
        assert store.count_events(rumour) == sum(1 for k in distinct if k[0] == rumour)
    assert store.rumour_ids() == sorted({r["rumour_id"] for r in rows})
    loaded = list(store.load_events().rows())
    assert loaded == by_key(rows)
    picked = {"r0", "r2"}
    assert list(store.load_events(rumour_ids=iter(sorted(picked))).rows()) == \
        by_key(r for r in rows if r["rumour_id"] in picked)
    assert len(store.load_events(rumour_ids=[])) == 0
    assert len(store.load_events(rumour_ids=["no-such-rumour"])) == 0


def test_minute_counts_are_distinct_under_redelivery(store):
    rows = seeded_rows(seed=2, n=400, rumours=2)
    store.write(make_batch(rows), [])
    store.write(make_batch(rows[:200]), [])
    store.write(make_batch(rows[150:]), [])
    for rumour in ("r0", "r1"):
        expected = defaultdict(int)
        for r in rows:
            if r["rumour_id"] == rumour:
                expected[(r["ts"] // 60_000 * 60_000, r["region"], r["kind"])] += 1
        got = store.minute_counts(rumour)
        assert {(m, reg, k): n for m, reg, k, n in got} == dict(expected)
        order = [(m, reg or "", KINDS.index(k)) for m, reg, k, _ in got]
        assert order == sorted(order)


def test_dead_letters_round_trip_bytes_and_reasons(store):
    dead = [
        DeadLetter(b"\xff\xfe\x00not json\x80", "invalid JSON: bad byte", "file.jsonl:7", T0),
        DeadLetter(b"", "empty message", "kafka:shares/0@12", T0 + 1),
        DeadLetter('{"event_id": "x"}'.encode(), "rumour_id: required \u8f6c", "f:1", T0 + 2, "", "x"),
        DeadLetter(bytes(range(256)), "every byte", "f:2", T0 + 3, "r'1", "e\n2"),
    ]
    store.write(EventBatch(), dead)
    store.write(EventBatch(), dead[1:])  # re-delivered copies do not multiply
    got = store.dead_letters(limit=100)
    assert got == [vars_of(d) for d in sorted(dead, key=lambda d: -d.received_ms)]
    assert store.count_dead_letters() == len(dead)
    assert len(store.dead_letters(limit=2)) == 2
    assert store.count_events() == 0


def test_dead_letters_filtered_by_reason_before_the_limit(store):
    # The oldest is the only one of its reason: a filter applied to the newest rows missed it.
    dead = [DeadLetter(b"{k", "kind: expected one of post, share, comment, debunk, got 'like'", "f:1", T0),
            DeadLetter(b"{q", "it's \u8f6c: quoted", "f:2", T0 + 1)]
    dead += [DeadLetter(b"{%d" % i, "invalid JSON: unexpected end", f"f:{i + 3}", T0 + 2 + i) for i in range(5)]
    store.write(EventBatch(), dead)
    assert [d["raw"] for d in store.dead_letters(limit=1, reason_prefix="kind:")] == [b"{k"]
    assert [d["raw"] for d in store.dead_letters(limit=1, reason_prefix="it's \u8f6c")] == [b"{q"]
    assert [d["raw"] for d in store.dead_letters(limit=2, reason_prefix="invalid JSON")] == [b"{4", b"{3"]
    assert store.dead_letters(limit=10, reason_prefix="kind: z") == []
    assert len(store.dead_letters(limit=10, reason_prefix="")) == len(dead)


def vars_of(d: DeadLetter) -> dict:
    return {k: getattr(d, k) for k in ("raw", "reason", "source", "received_ms", "rumour_id", "event_id")}


def test_events_and_dead_letters_in_one_write(store):
    rows = seeded_rows(seed=3, n=20)
    dead = [DeadLetter(b"{", "invalid JSON", "f:99", T0)]
    store.write(make_batch(rows), dead)
    assert store.count_events() == 20
    assert [d["raw"] for d in store.dead_letters(10)] == [b"{"]


def test_load_events_preserves_nulls_unicode_and_edge_text(store):
    rows = [
        {"event_id": "e1", "rumour_id": "r", "account_id": "a", "ts": T0, "kind": "post"},
        {"event_id": "e2", "rumour_id": "r", "account_id": "b", "ts": T0 + 1, "parent_event_id": "e1",
         "parent_account_id": "a", "kind": "debunk", "platform": "", "region": "CN-11",
         "text": "line1\nline2\t'quoted' \\ \u0000 \U0001f600 \u8f6c\u53d1\u5fae\u535a"},
        {"event_id": "é\u00e9'\"", "rumour_id": "r", "account_id": "c", "ts": T0 + 1, "text": ""},
    ]
    store.write(make_batch(rows), [])
    batch = store.load_events("r")
    assert batch.ts_ms.dtype == np.int64 and batch.kind.dtype == np.uint8
    assert list(batch.rows()) == by_key(rows)
    # '' and None stay distinct
    loaded = {r["event_id"]: r for r in batch.rows()}
    assert loaded["e2"]["platform"] == "" and loaded["e1"]["platform"] is None
    assert loaded["é\u00e9'\""]["text"] == "" and loaded["e1"]["text"] is None


def test_queries_with_hostile_rumour_ids(store):
    rumour = "r'); DROP DATABASE x; --\\"
    rows = [{"event_id": "e1", "rumour_id": rumour, "account_id": "a", "ts": T0, "region": "X"}]
    store.write(make_batch(rows), [])
    assert store.count_events(rumour) == 1
    assert store.count_events("other") == 0
    assert store.load_events(rumour).event_id == ["e1"]
    assert store.minute_counts(rumour) == [(T0 // 60_000 * 60_000, "X", "share", 1)]


def test_empty_store_answers(store):
    assert store.count_events() == 0
    batch = store.load_events()
    assert len(batch) == 0 and batch.ts_ms.dtype == np.int64
    assert store.rumour_ids() == []
    assert store.dead_letters(5) == []
    assert store.minute_counts("r") == []
    store.write(EventBatch(), [])  # nothing to send: no error
    assert store.count_events() == 0


def test_drop_removes_the_database(store):
    store.drop()
    assert store._rows(f"SELECT count() FROM system.databases WHERE name = '{store.database}'") == [(0,)]
    store.migrate()  # the fixture's teardown drops it again


text_values = st.one_of(st.none(), st.text(st.characters(exclude_categories=("Cs",)), max_size=40))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(text_values, min_size=1, max_size=8))
def test_arbitrary_text_round_trips(store, texts):
    start = store.count_events()
    rows = [{"event_id": f"h{start + i}", "rumour_id": "hyp", "account_id": "a", "ts": T0 + start + i,
             "text": t, "region": t if t is None else t[:5]} for i, t in enumerate(texts)]
    store.write(make_batch(rows), [])
    loaded = {r["event_id"]: r for r in store.load_events("hyp").rows()}
    for r in rows:
        assert loaded[r["event_id"]]["text"] == r["text"]
        assert loaded[r["event_id"]]["region"] == r["region"]
