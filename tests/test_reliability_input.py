"""Hostile input: every kind of malformed event is a dead letter with a reason, the stream goes on,
and the accounting reconciles (valid + dead = produced). Property-based tests of the decoder and
of the graph's invariants. Runs without services (the pipeline with chDB or no store)."""
from __future__ import annotations

import time

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph import ADDED, DUPLICATE, REJECTED, CascadeGraph
from streams.events import Decoder, validate_event
from streams.pipeline import CROSS_RUMOUR, Pipeline
from tests.faults import FlakyStore

TS = 1_700_000_000_000


def ev(eid, rid="r1", acct="a", parent=None, **extra):
    row = {"event_id": eid, "rumour_id": rid, "account_id": acct, "ts": TS, "parent_event_id": parent}
    row.update(extra)
    return row


def hostile_messages() -> list[tuple[str, bytes, str]]:
    """(name, raw message, expected start of the reason): one of every malformed kind."""
    big_text = "x" * (10 << 20)
    return [
        ("not JSON", b"{not json", "invalid JSON"),
        ("empty message", b"", "invalid JSON"),
        ("JSON scalar", b"42", "event: expected JSON object"),
        ("JSON null", b"null", "event: expected JSON object"),
        ("empty array", b"[]", "empty batch"),
        ("deep nesting", b"[" * 5000 + b"]" * 5000, "invalid JSON"),
        ("huge integer", b'{"event_id":"h","rumour_id":"r1","account_id":"a","ts":1' + b"0" * 40 + b"}",
         "invalid JSON"),
        ("NaN literal", b'{"event_id":"n","rumour_id":"r1","account_id":"a","ts":NaN}', "invalid JSON"),
        ("invalid UTF-8 bytes", b"\xff\xfe\xfd", "invalid JSON"),
        ("invalid UTF-8 in a string", b'{"event_id":"\xc3\x28","rumour_id":"r1","account_id":"a","ts":1}',
         "invalid JSON"),
        ("lone surrogate escape", b'{"event_id":"\\ud800","rumour_id":"r1","account_id":"a","ts":1700000000000}',
         "invalid JSON"),
        ("missing event_id", orjson.dumps({"rumour_id": "r1", "account_id": "a", "ts": TS}), "event_id: required"),
        ("missing rumour_id", orjson.dumps({"event_id": "m", "account_id": "a", "ts": TS}), "rumour_id: required"),
        ("missing account_id", orjson.dumps({"event_id": "m", "rumour_id": "r1", "ts": TS}), "account_id: required"),
        ("missing ts", orjson.dumps({"event_id": "m", "rumour_id": "r1", "account_id": "a"}), "ts: required"),
        ("event_id a number", orjson.dumps(ev(5)), "event_id: expected string"),
        ("account_id a list", orjson.dumps(ev("w1", acct=["a"])), "account_id: expected string"),
        ("ts a list", orjson.dumps(ev("w2", ts=[1])), "ts: expected"),
        ("ts a boolean", orjson.dumps(ev("w3", ts=True)), "ts: boolean"),
        ("ts fractional", orjson.dumps(ev("w4", ts=1.5e12 + 0.5)), "ts: epoch milliseconds"),
        ("ts not RFC 3339", orjson.dumps(ev("w5", ts="yesterday")), "ts: not RFC 3339"),
        ("ts without offset", orjson.dumps(ev("w6", ts="2024-01-01T00:00:00")), "ts: RFC 3339 needs"),
        ("ts in 1970", orjson.dumps(ev("t1", ts=0)), "ts: 0 is before"),
        ("ts negative", orjson.dumps(ev("t2", ts=-10**15)), "ts: -"),
        ("ts year 3000", orjson.dumps(ev("t3", ts=32_503_680_000_000)), "ts: 32503680000000 is more"),
        ("ts year 9999 string", orjson.dumps(ev("t4", ts="9999-12-31T23:59:59Z")), "ts: "),
        ("kind unknown", orjson.dumps(ev("k1", kind="retweet")), "kind: expected one of"),
        ("parent a dict", orjson.dumps(ev("p1", parent={"x": 1})), "parent_event_id: expected"),
        ("empty event_id", orjson.dumps(ev("   ")), "event_id: empty"),
        ("id too long", orjson.dumps(ev("i" * 300)), "event_id: longer than"),
        ("10 MB event", orjson.dumps(ev("big", text=big_text)), "event too large"),
        ("10 MB event in a batch", orjson.dumps([ev("big2", text=big_text)]), "event too large"),
        ("20 MB message", b"[" + b" " * (20 << 20) + b"]", "message too large"),
        ("self-parent", orjson.dumps(ev("s1", parent="s1")), "parent_event_id: an event cannot be its own"),
    ]


def test_every_malformed_kind_is_a_dead_letter_and_the_stream_goes_on(chdb_store):
    pipeline = Pipeline(chdb_store, store_retry_seconds=5)
    valid = [ev(f"v{i}", parent=f"v{i - 1}" if i else None) for i in range(50)]
    hostile = hostile_messages()
    # Valid events before, between and after the hostile ones: the stream must go on.
    messages = [orjson.dumps(e) for e in valid[:20]]
    for _, raw, _ in hostile:
        messages.append(raw)
    messages += [orjson.dumps(e) for e in valid[20:]]
    stats = pipeline.process(messages, [f"m{i}" for i in range(len(messages))])
    assert stats.stored == len(valid)
    assert stats.dead_letters == len(hostile)
    assert stats.read == stats.stored + stats.duplicates + stats.dead_letters == len(messages)
    reasons = sorted(d.reason for d in stats.dead)
    for name, _, expected in hostile:
        assert any(r.startswith(expected) for r in reasons), (name, expected, reasons)
    # The store holds exactly the valid events and every dead letter; a dead letter's raw bytes
    # are bounded by the message limit (a message over it keeps only its first bytes).
    assert chdb_store.count_events() == len(valid)
    assert chdb_store.count_dead_letters() == len(hostile)
    assert all(len(d["raw"]) <= (16 << 20) for d in chdb_store.dead_letters(100))
    assert max(len(d.raw) for d in stats.dead if d.reason.startswith("message too large")) == 1 << 20


def test_parent_cycles_are_refused_whatever_the_batch_split():
    # a <- b <- c <- a: the event closing the cycle is refused; which one depends on arrival.
    rows = [ev("a", parent="c"), ev("b", parent="a"), ev("c", parent="b")]
    for split in (1, 2, 3):
        pipeline = Pipeline(None)
        dead = []
        for start in range(0, 3, split):
            stats = pipeline.process([orjson.dumps(r) for r in rows[start:start + split]])
            dead += stats.dead
        assert [d.reason for d in dead] == ["parent cycle"]
        assert pipeline.graphs["r1"].n_events == 2


def test_parent_in_another_rumour_is_refused_in_batch_and_from_the_store(chdb_store):
    pipeline = Pipeline(chdb_store, store_retry_seconds=5)
    first = pipeline.process([orjson.dumps(ev("x1", rid="rA"))])
    assert first.stored == 1
    # Same batch: y1 (rumour rB) names y0, an event of rumour rC in the batch.
    # Later batch: z1 (rB) names x1, already stored under rumour rA.
    # Legit: w1 (rB) names w0 of its own rumour that arrives later (a placeholder, not refused).
    batch = [ev("y0", rid="rC"), ev("y1", rid="rB", parent="y0")]
    second = pipeline.process([orjson.dumps(e) for e in batch])
    third = pipeline.process([orjson.dumps(ev("z1", rid="rB", parent="x1")),
                              orjson.dumps(ev("w1", rid="rB", parent="w0"))])
    assert [d.event_id for d in second.dead] == ["y1"]
    assert [d.event_id for d in third.dead] == ["z1"]
    assert {d.reason for d in second.dead + third.dead} == {CROSS_RUMOUR}
    assert third.stored == 1
    # Restarted worker (fresh pipeline, same store): still refused, from the store alone.
    again = Pipeline(chdb_store).process([orjson.dumps(ev("z2", rid="rB", parent="y0"))])
    assert [d.reason for d in again.dead] == [CROSS_RUMOUR]
    # An id that exists in both its own rumour and another is its own rumour's event.
    own = Pipeline(chdb_store).process([orjson.dumps(ev("x1", rid="rD")),
                                        orjson.dumps(ev("x2", rid="rD", parent="x1"))])
    assert own.dead == [] and own.stored == 2


# ---- property-based ------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)

field_values = st.one_of(st.none(), st.integers(-10**16, 10**16), st.text(max_size=12),
                         st.sampled_from(["2024-01-01T00:00:00Z", "2024-13-01T00:00:00Z", "e1", "post",
                                          "debunk", ""]), st.lists(st.integers(-5, 5), max_size=2))
event_like = st.fixed_dictionaries({}, optional={
    name: field_values for name in ("event_id", "rumour_id", "account_id", "ts", "parent_event_id",
                                    "parent_account_id", "kind", "platform", "region", "text")})


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=200) | json_values.map(orjson.dumps) | event_like.map(orjson.dumps),
                max_size=20))
def test_decoder_accounts_for_every_message_and_never_raises(messages):
    batch, dead = Decoder().decode(messages, [str(i) for i in range(len(messages))])
    # Every message is at least one row or dead letter; arrays expand to their items.
    sources = {d.source.split("[")[0] for d in dead}
    assert len(batch) + len(dead) >= len(messages)
    for i, raw in enumerate(messages):
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            assert str(i) in sources
            continue
        n_items = len(obj) if isinstance(obj, list) and obj else 1
        assert n_items >= 1
    assert all(d.reason for d in dead)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(event_like)
def test_decoder_agrees_with_validate_event(obj):
    batch, dead = Decoder().decode([orjson.dumps(obj)])
    try:
        validate_event(obj)
        ok = True
    except ValueError:
        ok = False
    assert (len(batch), len(dead)) == ((1, 0) if ok else (0, 1))
    if ok:
        assert batch.event_id == [obj["event_id"]]


@st.composite
def random_batches(draw):
    n_ids = draw(st.integers(1, 30))
    ids = [f"e{i}" for i in range(n_ids)]
    accounts = [f"u{i}" for i in range(draw(st.integers(1, 8)))]
    rows = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(accounts),
                                   st.integers(0, 50), st.none() | st.sampled_from(ids + ["ghost"]),
                                   st.none() | st.sampled_from(accounts)), min_size=1, max_size=60))
    cuts = sorted(draw(st.lists(st.integers(0, len(rows)), max_size=3)))
    return rows, cuts


@settings(max_examples=200, deadline=None, derandomize=True)
@given(random_batches())
def test_graph_invariants_on_random_batches(data):
    rows, cuts = data
    g = CascadeGraph("r")
    statuses = []
    for lo, hi in zip([0] + cuts, cuts + [len(rows)]):
        part = rows[lo:hi]
        if not part:
            continue
        res = g.add_batch([r[0] for r in part], [r[1] for r in part], np.array([r[2] for r in part]),
                          [r[3] for r in part], [r[4] for r in part])
        assert set(res.reasons) == set(np.flatnonzero(res.status == REJECTED).tolist())
        statuses += res.status.tolist()
    added = [rows[i][0] for i, s in enumerate(statuses) if s == ADDED]
    # Status counts: each id added at most once; every repeat of an added id is a duplicate.
    assert len(added) == len(set(added)) == g.n_events
    assert statuses.count(ADDED) + statuses.count(DUPLICATE) + statuses.count(REJECTED) == len(rows)
    for i, s in enumerate(statuses):
        if s == DUPLICATE:
            assert rows[i][0] in added
    # Trees: origins' reaches sum to the present events; no event is its own ancestor.
    assert sum(o.reach for o in g.origins()) == g.n_events
    for eid in added:
        hops = [h.event_id for h in g.chain(eid) if h.event_id is not None]
        assert hops[0] == eid and len(hops) == len(set(hops))


def test_pipeline_forgets_rumours_whose_write_failed(chdb_store):
    """A batch the store refused is not remembered as seen: its retry stores it."""
    pipeline = Pipeline(FlakyStore(chdb_store, failures=100), store_retry_seconds=0.3)
    msgs = [orjson.dumps(ev(f"f{i}", parent=f"f{i - 1}" if i else None)) for i in range(10)]
    started = time.monotonic()
    with pytest.raises(ConnectionError):
        pipeline.process(msgs)
    assert time.monotonic() - started < 5
    assert "r1" not in pipeline.graphs
    pipeline.store.failures = 0
    stats = pipeline.process(msgs)
    assert (stats.stored, stats.duplicates) == (10, 0)
    assert chdb_store.count_events() == 10
