"""One event per message, checked column-wise (Decoder._singles_as_columns): the same batch and
the same dead letters as decoding message by message."""
from unittest import mock

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.decoder import Decoder
from streams.events_columnar import encode_columns
from streams.synthetic import synthetic_events

NOW = 1_800_000_000_000
COLUMNS = ("event_id", "rumour_id", "account_id", "parent_event_id", "parent_account_id",
           "platform", "region", "text")


def events(n, seed=0):
    evs = synthetic_events(max(1, n // 50 + 1), 50, seed=seed, prefix="s", debunk_fraction=0.0)
    return [e for e, _ in zip(evs, range(n))]


def message_by_message(decoder, messages, now_ms=NOW):
    """The reference: the fast path switched off, every message through _decode_one."""
    with mock.patch.object(Decoder, "_singles_as_columns", return_value=(None, None)):
        return decoder.decode(messages, now_ms=now_ms)


def assert_same(a, b):
    batch_a, dead_a = a
    batch_b, dead_b = b
    for name in COLUMNS:
        assert getattr(batch_a, name) == getattr(batch_b, name), name
    assert batch_a.ts_ms.tolist() == batch_b.ts_ms.tolist()
    assert batch_a.kind.tolist() == batch_b.kind.tolist()
    assert [(d.reason, d.source, d.raw, d.rumour_id, d.event_id) for d in dead_a] == \
        [(d.reason, d.source, d.raw, d.rumour_id, d.event_id) for d in dead_b]


def test_valid_single_events_take_the_column_wise_path():
    d = Decoder()
    msgs = [orjson.dumps(e) for e in events(200)]
    with mock.patch.object(Decoder, "_decode_one") as per_message:
        batch, dead = d.decode(msgs, now_ms=NOW)
    assert per_message.call_count == 0 and dead == [] and len(batch) == 200
    assert_same((batch, dead), message_by_message(d, msgs))
    assert batch.event_id == [e["event_id"] for e in events(200)]


def test_two_broken_messages_that_join_into_a_valid_array_stay_dead_letters():
    # Each of these is invalid JSON alone; b"[" + b",".join(...) + b"]" would parse as two events.
    first = b'{"event_id":"e1","rumour_id":"r","account_id":"a","ts":1347557095000,"text":"},{'
    second = b'","event_id":"e2","rumour_id":"r","account_id":"b","ts":1347557095000}'
    good = [orjson.dumps(e) for e in events(20)]
    d = Decoder()
    batch, dead = d.decode(good + [first, second], now_ms=NOW)
    assert len(batch) == 20 and [x.reason[:12] for x in dead] == ["invalid JSON"] * 2
    assert_same((batch, dead), message_by_message(d, good + [first, second]))


def test_oversized_event_message_is_refused_as_before():
    d = Decoder(max_event_bytes=300)
    msgs = [orjson.dumps(e) for e in events(20)]
    big = dict(events(1)[0], event_id="big", text="x" * 400)
    msgs.insert(7, orjson.dumps(big))
    batch, dead = d.decode(msgs, now_ms=NOW)
    assert len(batch) == 20 and len(dead) == 1 and dead[0].reason.startswith("event too large")
    assert_same((batch, dead), message_by_message(d, msgs))


def test_batch_messages_are_parsed_once():
    # Arrays never reach the column-wise attempt; columnar batches (and a batch with one bad
    # event) are judged from the objects it parsed, not parsed a second time.
    evs = events(100)
    arrays = [orjson.dumps(evs[i:i + 5]) for i in range(0, 100, 5)]
    columnar = [encode_columns(evs[i:i + 5]) for i in range(0, 100, 5)]
    singles_one_bad = [orjson.dumps(e) for e in evs[:30]] + [b'{"event_id":"x","ts":1}']
    import streams.decoder as decoder_module

    for msgs in (arrays, columnar, singles_one_bad):
        with mock.patch.object(decoder_module.orjson, "loads", wraps=orjson.loads) as loads:
            got = Decoder().decode(msgs, now_ms=NOW)
        assert loads.call_count == len(msgs)
        assert_same(got, message_by_message(Decoder(), msgs))
    assert len(got[1]) == 1 and len(got[0]) == 30


BAD = st.sampled_from([
    b"not json", b"[]", b"{}", b"null", b"3",
    b'{"event_id":"x","rumour_id":"r","account_id":"a","ts":"yesterday"}',
    b'{"event_id":"x","rumour_id":"r","account_id":"a","ts":1347557095000,"parent_event_id":"x"}',
    b'{"event_id":"x","rumour_id":"r","account_id":"a","ts":1347557095000,"kind":"bogus"}',
])


@st.composite
def message_lists(draw):
    n = draw(st.integers(0, 60))
    evs = events(n, seed=draw(st.integers(0, 3)))
    msgs = [orjson.dumps(e) for e in evs]
    for _ in range(draw(st.integers(0, 3))):  # some broken messages, arrays or columnar ones
        kind = draw(st.sampled_from(["bad", "array", "columnar"]))
        at = draw(st.integers(0, len(msgs)))
        if kind == "bad":
            msgs.insert(at, draw(BAD))
        elif evs:
            part = evs[: draw(st.integers(1, min(5, len(evs))))]
            msgs.insert(at, orjson.dumps(part) if kind == "array" else encode_columns(part))
    return msgs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message_lists())
def test_same_as_message_by_message(msgs):
    d = Decoder()
    assert_same(d.decode(msgs, now_ms=NOW), message_by_message(d, msgs))


def test_sources_name_the_dead_letters_and_keep_the_column_wise_path():
    # The worker passes topic/partition@offset for each message: dead letters carry it, and the
    # column-wise path (all valid) is still taken.
    d = Decoder()
    msgs = [orjson.dumps(e) for e in events(40)]
    names = [f"t/0@{i}" for i in range(40)]
    with mock.patch.object(Decoder, "_decode_one") as per_message:
        batch, dead = d.decode(msgs, names, now_ms=NOW)
    assert per_message.call_count == 0 and dead == [] and len(batch) == 40
    bad = dict(orjson.loads(msgs[7]), kind="like")
    msgs[7] = orjson.dumps(bad)
    batch, dead = d.decode(msgs, names, now_ms=NOW)
    assert [(x.source, x.reason[:5]) for x in dead] == [("t/0@7", "kind:")] and len(batch) == 39
