"""The share-event format v1: every message ends up an event or a dead letter with a reason."""
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.events import (KINDS, MIN_TS_MS, Decoder, EventError, format_ts, parse_ts,
                            validate_event)

NOW = 1_800_000_000_000
GOOD = {"event_id": "e1", "rumour_id": "r1", "account_id": "a1", "ts": "2024-05-01T08:00:00+08:00",
        "parent_event_id": None, "parent_account_id": None, "kind": "share", "platform": "weibo",
        "region": "370102", "text": "谣言"}


def decode(*messages):
    return Decoder(max_message_bytes=1 << 20, max_event_bytes=4096).decode(
        list(messages), [f"m{i}" for i in range(len(messages))], now_ms=NOW)


def test_valid_event_columns():
    batch, dead = decode(orjson.dumps(GOOD))
    assert dead == []
    assert batch.event_id == ["e1"] and batch.rumour_id == ["r1"] and batch.account_id == ["a1"]
    assert int(batch.ts_ms[0]) == parse_ts("2024-05-01T00:00:00Z")
    assert KINDS[int(batch.kind[0])] == "share"
    assert batch.region == ["370102"] and batch.text == ["谣言"]


def test_defaults_and_unknown_fields():
    ev = {"event_id": "e", "rumour_id": "r", "account_id": "a", "ts": 1_700_000_000_000,
          "extra": {"nested": [1, 2]}}
    batch, dead = decode(orjson.dumps(ev))
    assert not dead
    assert KINDS[int(batch.kind[0])] == "share"
    assert batch.parent_event_id == [None] and batch.platform == [None] and batch.text == [None]


def test_array_message_is_a_batch_and_bad_elements_are_dead():
    good2 = dict(GOOD, event_id="e2")
    msg = orjson.dumps([GOOD, {"event_id": 5}, good2, "x"])
    batch, dead = decode(msg)
    assert batch.event_id == ["e1", "e2"]
    assert [d.source for d in dead] == ["m0[1]", "m0[3]"]
    assert "event_id" in dead[0].reason and "object" in dead[1].reason
    assert orjson.loads(dead[0].raw) == {"event_id": 5}


@pytest.mark.parametrize("raw, fragment", [
    (b"not json", "invalid JSON"),
    (b"\xff\xfe{}", "invalid JSON"),
    (b"42", "expected JSON object"),
    (orjson.dumps({k: v for k, v in GOOD.items() if k != "account_id"}), "account_id: required"),
    (orjson.dumps(dict(GOOD, account_id=7)), "account_id: expected string"),
    (orjson.dumps(dict(GOOD, event_id="  ")), "event_id: empty"),
    (orjson.dumps(dict(GOOD, ts="yesterday")), "not RFC 3339"),
    (orjson.dumps(dict(GOOD, ts="2024-05-01T08:00:00")), "needs an offset"),
    (orjson.dumps(dict(GOOD, ts=True)), "boolean"),
    (orjson.dumps(dict(GOOD, ts=1.5)), "integer"),
    (orjson.dumps(dict(GOOD, ts=12)), "before 2000"),
    (orjson.dumps(dict(GOOD, ts=NOW + 3 * 86_400_000)), "future"),
    (orjson.dumps(dict(GOOD, kind="like")), "kind"),
    (orjson.dumps(dict(GOOD, parent_event_id="e1")), "own parent"),
    (orjson.dumps(dict(GOOD, region=["370102"])), "region"),
    (orjson.dumps(dict(GOOD, text="x" * 5000)), "too large"),
])
def test_malformed_goes_to_dead_letters_with_reason(raw, fragment):
    batch, dead = decode(orjson.dumps(GOOD | {"event_id": "ok"}), raw)
    assert batch.event_id == ["ok"], "the rest of the batch goes on"
    assert len(dead) == 1
    assert fragment in dead[0].reason
    assert dead[0].raw == raw and dead[0].source == "m1"


def test_oversized_message_keeps_its_head():
    d = Decoder(max_message_bytes=100, max_event_bytes=50)
    batch, dead = d.decode([b"[" + b" " * 200 + b"]"], now_ms=NOW)
    assert len(batch) == 0 and len(dead) == 1
    assert "message too large" in dead[0].reason and len(dead[0].raw) == 50


def test_format_and_parse_round_trip():
    for ms in (MIN_TS_MS, 1_347_557_095_123, NOW):
        assert parse_ts(format_ts(ms)) == ms


def test_empty_parent_strings_are_null():
    batch, dead = decode(orjson.dumps(dict(GOOD, parent_event_id="", parent_account_id="")))
    assert not dead and batch.parent_event_id == [None] and batch.parent_account_id == [None]


def test_take_and_concat_keep_rows_aligned():
    msgs = [orjson.dumps(dict(GOOD, event_id=f"e{i}", ts=1_700_000_000_000 + i)) for i in range(5)]
    batch, _ = decode(*msgs)
    sub = batch.take([3, 1])
    assert sub.event_id == ["e3", "e1"] and sub.ts_ms.tolist() == [1_700_000_000_003, 1_700_000_000_001]
    both = type(batch).concat([sub, batch.take([0])])
    assert both.event_id == ["e3", "e1", "e0"] and len(both.kind) == 3
    assert [r["event_id"] for r in both.rows()] == ["e3", "e1", "e0"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10)
field_values = st.one_of(st.none(), st.integers(-2**63, 2**63 - 1), st.text(max_size=30), st.booleans(),
                         st.floats(allow_nan=False, allow_infinity=False), st.lists(st.integers(0, 9), max_size=2),
                         st.sampled_from(["2024-05-01T08:00:00+08:00", "share", "post", ""]))
events = st.fixed_dictionaries({}, optional={k: field_values for k in GOOD})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(events, json_values), max_size=6), st.binary(max_size=30))
def test_every_event_is_accounted_for(items, junk):
    """Property: valid + dead = number of events in the messages, whatever they hold."""

    def events_in(obj):  # a message counts its events; an empty array is one dead letter
        return max(1, len(obj)) if isinstance(obj, list) else 1

    try:
        junk_count = events_in(orjson.loads(junk))
    except orjson.JSONDecodeError:
        junk_count = 1
    messages = [orjson.dumps(x) for x in items] + [junk, orjson.dumps(items)]
    batch, dead = Decoder().decode(messages, now_ms=NOW)
    expected = sum(events_in(x) for x in items) + junk_count + events_in(items)
    assert len(batch) + len(dead) == expected
    for row in batch.rows():
        validate_event(row, now_ms=NOW)  # everything accepted re-validates
    assert all(d.reason for d in dead)


@given(st.integers(min_value=MIN_TS_MS, max_value=NOW))
def test_epoch_ms_round_trip(ms):
    assert parse_ts(ms) == ms and parse_ts(format_ts(ms)) == ms


def test_event_error_is_value_error():
    with pytest.raises(ValueError):
        validate_event({"event_id": "e"}, now_ms=NOW)
    assert issubclass(EventError, ValueError)
