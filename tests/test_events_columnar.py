"""The columnar batch form of the v1 format: same events, same dead letters as the array form."""
import re
from unittest import mock

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from streams.events import KINDS, MIN_TS_MS, Decoder, EventBatch
from streams.events_columnar import columns_of, encode_columns, fast_batch, is_columnar
from streams.synthetic import synthetic_events

NOW = 1_800_000_000_000
FIELDS = ("event_id", "rumour_id", "account_id", "ts", "parent_event_id", "parent_account_id",
          "kind", "platform", "region", "text")
LIST_COLUMNS = ("event_id", "rumour_id", "account_id", "parent_event_id", "parent_account_id",
                "platform", "region", "text")


def decoder():
    d = Decoder(max_message_bytes=1 << 22, max_event_bytes=4096)
    d.min_array_columns = 1  # JSON arrays of any length take the column-wise path too
    return d


def decode(messages, now_ms=NOW):
    return decoder().decode(messages, [f"m{i}" for i in range(len(messages))], now_ms=now_ms)


def decode_event_by_event(messages, now_ms=NOW):
    """The reference: every event through validate_event, no column-wise path."""
    with mock.patch("streams.events_columnar.fast_batch", return_value=None):
        return decode(messages, now_ms)


def assert_same_batch(a: EventBatch, b: EventBatch):
    for name in LIST_COLUMNS:
        assert getattr(a, name) == getattr(b, name), name
    assert a.ts_ms.dtype == b.ts_ms.dtype == np.int64 and a.kind.dtype == b.kind.dtype == np.uint8
    assert a.ts_ms.tolist() == b.ts_ms.tolist()
    assert a.kind.tolist() == b.kind.tolist()


def without_nulls(raw: bytes) -> dict:
    # An omitted column and an explicit null are the same field value.
    return {k: v for k, v in orjson.loads(raw).items() if v is not None}


def assert_same_dead(a, b, exact_raw: bool):
    """Same reasons, sources and ids. A columnar message cannot tell a missing field from a null
    one, so unless every event had exactly the same fields, the per-event bytes (and the size
    named by "event too large") may differ by those nulls."""
    def key(d):
        reason = d.reason if exact_raw else re.sub(r"event too large: \d+ bytes", "event too large", d.reason)
        return reason, d.source, d.rumour_id, d.event_id
    assert [key(d) for d in a] == [key(d) for d in b]
    if exact_raw:
        assert [d.raw for d in a] == [d.raw for d in b]
    else:
        assert [without_nulls(d.raw) for d in a if "too large" not in d.reason] == \
            [without_nulls(d.raw) for d in b if "too large" not in d.reason]


# Values for each field: (valid, invalid); the invalid ones are those the per-event path names.
GOOD_TS = st.integers(MIN_TS_MS, NOW)
FIELD_VALUES = {
    "rumour_id": (st.sampled_from(["r1", "r2", "谣言"]), st.sampled_from([None, "", "  ", 5, "x" * 300])),
    "account_id": (st.sampled_from(["a1", "a2", "a3"]), st.sampled_from([None, "\t", [1], "y" * 257])),
    "ts": (GOOD_TS | st.sampled_from(["2024-05-01T08:00:00+08:00", "2024-05-01T00:00:00Z",
                                      1_700_000_000_000.0]),
           st.sampled_from([None, True, 1.5, "2024-05-01T08:00:00", "yesterday", MIN_TS_MS - 1,
                            NOW + 2 * 86_400_000, (1 << 63) + 5, -(1 << 62), {"ms": 1}])),
    "parent_account_id": (st.sampled_from([None, "", "a1", "a9"]), st.sampled_from([3, "z" * 257])),
    "kind": (st.sampled_from([None, *KINDS]), st.sampled_from(["bogus", 1, [1], {"k": 1}, False])),
    "platform": (st.sampled_from([None, "", "weibo", "twitter"]), st.sampled_from([3, "p" * 65])),
    "region": (st.sampled_from([None, "", "370102"]), st.sampled_from(["q" * 65, 7.5])),
    "text": (st.sampled_from([None, "", "谣言", "a\u2028b"]), st.sampled_from([5, "t" * 5000])),
}


@st.composite
def event_lists(draw, min_size=1, max_size=25):
    n = draw(st.integers(min_size, max_size))
    bad_rate = draw(st.sampled_from([0.0, 0.0, 0.05, 0.3]))
    events = []
    for i in range(n):
        ev = {"event_id": f"e{i}"}
        for name, (good, bad) in FIELD_VALUES.items():
            ev[name] = draw(bad if draw(st.floats(0, 1)) < bad_rate / 4 else good)
        # Parent: none, an earlier event, a blank, itself (refused) or not a string.
        pick = draw(st.integers(0, 9))
        ev["parent_event_id"] = f"e{draw(st.integers(0, i))}" if pick < 4 and i else "" if pick == 4 else None
        if draw(st.floats(0, 1)) < bad_rate / 4:
            ev["parent_event_id"] = draw(st.sampled_from([f"e{i}", 7, "p" * 257]))
        if draw(st.floats(0, 1)) < bad_rate / 4:
            ev["event_id"] = draw(st.sampled_from([None, "", " ", 12, "e" * 257]))
        if draw(st.integers(0, 19)) == 0:
            ev["extra"] = {"nested": [1, 2]}  # unknown fields are ignored
        if draw(st.integers(0, 19)) == 0:
            del ev[draw(st.sampled_from(FIELDS))]  # a missing field is null
        events.append({k: ev[k] for k in (*FIELDS, "extra") if k in ev})
    return events


# Shrinking lists of events with 5,000-character values takes minutes: generate only.
QUICK = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow],
             phases=[Phase.explicit, Phase.reuse, Phase.generate])


@settings(max_examples=150, **QUICK)
@given(event_lists(), st.booleans(), st.integers(1, 4))
def test_columns_and_array_give_the_same_batch_and_dead_letters(events, compact, n_messages):
    # The same events split into the same messages: JSON arrays vs columnar messages (exact
    # columns, or with null columns left out and constant columns folded to one value).
    cut = [len(events) * j // n_messages for j in range(n_messages + 1)]
    groups = [events[a:b] for a, b in zip(cut, cut[1:]) if b > a]
    arrays = [orjson.dumps(g) for g in groups]
    columns = [encode_columns(g, omit_null=compact, fold_constants=compact) for g in groups]
    r_batch, r_dead = decode_event_by_event(arrays)
    a_batch, a_dead = decode(arrays)
    c_batch, c_dead = decode(columns)
    assert_same_batch(a_batch, r_batch)
    assert_same_dead(a_dead, r_dead, exact_raw=True)
    assert_same_batch(c_batch, r_batch)
    exact = not compact and all(tuple(e) == FIELDS for e in events)
    assert_same_dead(c_dead, r_dead, exact_raw=exact)
    assert len(c_batch) + len(c_dead) == len(events)


@settings(max_examples=200, **QUICK)
@given(event_lists(max_size=20))
def test_fast_path_is_taken_exactly_when_every_event_is_valid(events):
    columns, n = columns_of(orjson.loads(encode_columns(events)))
    _, dead = decode_event_by_event([orjson.dumps(events)])
    assert (fast_batch(columns, n, NOW) is not None) == (not dead)


@settings(max_examples=50, **QUICK)
@given(event_lists(max_size=10), event_lists(max_size=10))
def test_forms_mixed_in_one_decode_keep_arrival_order(first, second):
    single = first[0]
    mixed = [encode_columns(first), orjson.dumps(single), orjson.dumps(second), encode_columns(second)]
    plain = [orjson.dumps(first), orjson.dumps(single), orjson.dumps(second), orjson.dumps(second)]
    m_batch, m_dead = decode(mixed)
    p_batch, p_dead = decode_event_by_event(plain)
    assert_same_batch(m_batch, p_batch)
    assert_same_dead(m_dead, p_dead, exact_raw=False)


def test_synthetic_stream_decodes_identically_and_compactly():
    events = list(synthetic_events(2, 300, seed=3))
    by_rumour = {}
    for ev in events:
        by_rumour.setdefault(ev["rumour_id"], []).append(ev)
    arrays = [orjson.dumps(g) for g in by_rumour.values()]
    columns = [encode_columns(g) for g in by_rumour.values()]
    a_batch, a_dead = decode_event_by_event(arrays)
    c_batch, c_dead = decode(columns)
    assert not a_dead and not c_dead and len(c_batch) == len(events)
    assert_same_batch(c_batch, a_batch)
    msg = orjson.loads(columns[0])
    assert msg["columns"]["rumour_id"] == events[0]["rumour_id"]  # one rumour: one value
    assert "text" not in msg["columns"]  # all null: left out
    assert sum(map(len, columns)) < 0.6 * sum(map(len, arrays))


def cols(**over):
    base = {"event_id": ["e1", "e2"], "rumour_id": ["r", "r"], "account_id": ["a", "b"],
            "ts": [1_700_000_000_000, 1_700_000_001_000]}
    base.update(over)
    return {k: v for k, v in base.items() if v is not ...}


@pytest.mark.parametrize("message, fragment", [
    ({"columns": cols()}, '"v" must be 1'),
    ({"v": 2, "columns": cols()}, '"v" must be 1'),
    ({"v": "1", "columns": cols()}, '"v" must be 1'),
    ({"v": True, "columns": cols()}, '"v" must be 1'),
    ({"v": 1, "columns": [["e1"]]}, '"columns" must be a JSON object'),
    ({"v": 1, "columns": "event_id"}, '"columns" must be a JSON object'),
    ({"v": 1, "columns": cols(ts=...)}, "required column 'ts' missing"),
    ({"v": 1, "columns": cols(event_id=...)}, "required column 'event_id' missing"),
    ({"v": 1, "columns": cols(event_id="e1")}, "column 'event_id' must be an array"),
    ({"v": 1, "columns": cols(account_id=["a"])}, "unequal length (event_id 2, account_id 1)"),
    ({"v": 1, "columns": cols(region=[None, None, None])}, "unequal length (event_id 2, region 3)"),
    ({"v": 1, "columns": cols(extra=[1])}, "unequal length (event_id 2, extra 1)"),
    ({"v": 1, "columns": cols(event_id=[], rumour_id=[], account_id=[], ts=[])}, "empty batch"),
])
def test_malformed_columnar_message_is_one_dead_letter_and_the_rest_goes_on(message, fragment):
    raw = orjson.dumps(message)
    good = orjson.dumps({"v": 1, "columns": cols(event_id=["g1", "g2"])})
    batch, dead = decode([raw, good])
    assert batch.event_id == ["g1", "g2"]
    assert len(dead) == 1 and fragment in dead[0].reason
    assert dead[0].raw == raw and dead[0].source == "m0"


def test_bad_events_inside_a_columnar_message_are_dead_one_by_one():
    message = {"v": 1, "columns": cols(event_id=["e1", "e2", "e3", "e4"], rumour_id="r",
                                       account_id=["a", None, "c", "d"],
                                       ts=[1_700_000_000_000, 1_700_000_000_000, "soon", 1_700_000_000_000],
                                       parent_event_id=[None, None, None, "e4"])}
    batch, dead = decode([orjson.dumps(message)])
    assert batch.event_id == ["e1"]
    assert [(d.source, d.event_id, d.rumour_id) for d in dead] == [
        ("m0[1]", "e2", "r"), ("m0[2]", "e3", "r"), ("m0[3]", "e4", "r")]
    assert dead[0].reason == "account_id: required"
    assert dead[1].reason.startswith("ts: not RFC 3339")
    assert dead[2].reason == "parent_event_id: an event cannot be its own parent"
    assert orjson.loads(dead[1].raw) == {"event_id": "e3", "rumour_id": "r", "account_id": "c",
                                         "ts": "soon", "parent_event_id": None}


def test_a_single_value_column_is_shared_by_every_event():
    shared = decode([orjson.dumps({"v": 1, "columns": cols(rumour_id="r", kind="debunk",
                                                            platform="weibo", region="")})])
    spelled = decode([orjson.dumps({"v": 1, "columns": cols(kind=["debunk"] * 2, platform=["weibo"] * 2,
                                                             region=["", ""])})])
    assert not shared[1] and not spelled[1]
    assert_same_batch(shared[0], spelled[0])
    assert shared[0].region == [None, None] and shared[0].kind.tolist() == [KINDS.index("debunk")] * 2


def test_an_event_with_an_unknown_columns_field_is_still_one_event():
    ev = {"event_id": "e1", "rumour_id": "r", "account_id": "a", "ts": 1_700_000_000_000, "columns": {}}
    batch, dead = decode([orjson.dumps(ev)])
    assert not is_columnar(ev) and batch.event_id == ["e1"] and not dead


def test_produce_packs_the_same_events_as_columns_or_arrays():
    from streams.produce import _rumour_key, pack_messages

    lines = [(orjson.dumps(ev), "") for ev in synthetic_events(3, 50, seed=5)] + [(b"not json", "")]
    arrays = list(pack_messages(lines, 20, "array"))
    columns = list(pack_messages(lines, 20, "columns"))
    assert [k for k, _ in columns] == [k for k, _ in arrays]
    assert all(_rumour_key(v) == k for k, v in columns if v != b"not json")
    a_batch, a_dead = decode([v for _, v in arrays])
    c_batch, c_dead = decode([v for _, v in columns])
    assert len(c_batch) == 3 * 55 and [d.reason[:12] for d in c_dead] == ["invalid JSON"]
    assert_same_batch(c_batch, a_batch)
    with pytest.raises(ValueError):
        list(pack_messages(lines, 20, "csv"))


# Ids the byte-level checks (graph/ids_check.py) must judge as str.strip and len do: whitespace
# outside ASCII, characters of several bytes at the length limit, NUL inside an id.
EDGE_IDS = ["\u3000", "\xa0 \u2003", "\x1c", " \x85", "é" * 256, "é" * 257, "谣" * 256,
            "x" * 255 + "é", "a\x00b", "\x00", "a b"]


@pytest.mark.parametrize("value", EDGE_IDS)
@pytest.mark.parametrize("field", ["event_id", "account_id", "parent_event_id", "parent_account_id"])
def test_the_id_checks_on_utf8_bytes_judge_as_the_per_event_path(field, value):
    events = [{"event_id": f"e{i}", "rumour_id": "r", "account_id": "a", "ts": NOW - i,
               "parent_event_id": "e0" if i else None} for i in range(3)]
    events[1][field] = value
    columns, n = columns_of(orjson.loads(encode_columns(events)))
    r_batch, r_dead = decode_event_by_event([orjson.dumps(events)])
    batch = fast_batch(columns, n, NOW)
    assert (batch is not None) == (not r_dead), [d.reason for d in r_dead]
    if batch is not None:
        assert_same_batch(batch, r_batch)


@pytest.mark.parametrize("value", ["e1", "é1", "a\x00b"])
def test_an_event_that_is_its_own_parent_is_found_on_the_bytes_too(value):
    events = [{"event_id": "e0", "rumour_id": "r", "account_id": "a", "ts": NOW},
              {"event_id": value, "rumour_id": "r", "account_id": "a", "ts": NOW,
               "parent_event_id": value}]
    columns, n = columns_of(orjson.loads(encode_columns(events)))
    assert fast_batch(columns, n, NOW) is None
    _, dead = decode([encode_columns(events)])
    assert [(d.reason, d.event_id) for d in dead] == \
        [("parent_event_id: an event cannot be its own parent", value)]


def test_the_batch_keeps_the_encoding_its_ids_were_checked_on():
    from graph.ids import encode_batch
    from streams.rumour_graphs import batch_ids

    events = [{"event_id": f"e{i}", "rumour_id": "r", "account_id": f"a{i % 2}", "ts": NOW,
               "parent_event_id": [None, "", "e0"][i % 3], "parent_account_id": "a0"}
              for i in range(6)]
    batch, dead = decode([encode_columns(events)])
    assert not dead and batch.encoded is not None
    assert batch.parent_event_id[:3] == [None, None, "e0"]  # a blank parent is null
    fresh = encode_batch(batch.event_id, batch.account_id, batch.parent_event_id,
                         batch.parent_account_id)
    for kept, made in zip(batch.encoded, fresh):
        assert kept.tolist() == made.tolist()
    assert batch_ids(batch).buf is batch.encoded[0]  # the graphs take it as is
    assert batch.take([0, 1]).encoded is None  # other rows: encoded again when needed
