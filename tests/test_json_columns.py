"""The byte scanner of JSON arrays of events (streams/json_columns.py) against orjson: it either
declines (None) or gives exactly the columns ``orjson.loads`` + ``map(dict.get)`` give; and the
Decoder with it gives the same batches and dead letters as without it."""
from __future__ import annotations

import random
from itertools import repeat

import numpy as np
import orjson
import pytest

from benchmarks import ingest_kit as kit
from benchmarks.bench_ingest import columnar_pairs
from streams.decoder import Decoder
from graph.ids_encode import encode_batch
from streams.json_columns import FIELDS, array_batch_columns, array_columns

NOW = 1_800_000_000_000


def oracle(raw: bytes):
    """What orjson's path reads from ``raw``: (columns, n), or None when it raises or the
    message is not a non-empty array of objects."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not list or not obj or set(map(type, obj)) != {dict}:
        return None
    return {f: list(map(dict.get, obj, repeat(f, len(obj)))) for f in FIELDS}, len(obj)


def check(raw: bytes):
    """The scanner's answer is None or orjson's, value types included, in both shapes it gives
    (lists; folded columns with the ids' encoding); returns the lists."""
    got = array_columns(raw)
    folded = array_batch_columns(raw)
    assert (got is None) == (folded is None), raw
    if got is not None:
        want = oracle(raw)
        assert want is not None, raw
        assert got == want, raw
        for name in FIELDS:
            assert list(map(type, got[0][name])) == list(map(type, want[0][name])), (name, raw)
        check_folded(folded, want)
    return got


def check_folded(folded, want):
    """array_batch_columns: each column the list, or its one repeated string (never event_id),
    or None for a column with no value; the encoding that of encode_batch on the id columns."""
    columns, n, encoded = folded
    lists, count = want
    assert n == count
    for name in FIELDS:
        col = columns[name]
        if type(col) is list:
            assert col == lists[name] and list(map(type, col)) == list(map(type, lists[name])), name
        elif col is None:
            assert lists[name] == [None] * n, name
        else:
            assert name != "event_id" and type(col) is str and lists[name] == [col] * n, name
    ids = [lists[f] for f in ("event_id", "account_id", "parent_event_id", "parent_account_id")]
    if any(type(v) is int for c in ids for v in c):
        assert encoded is None
    else:
        assert encoded is not None
        for mine, theirs in zip(encoded, encode_batch(*ids)):
            assert np.array_equal(mine, theirs)


def test_folded_on_the_bench_stream():
    """The bench's messages carry one rumour each: rumour_id and platform come as one string."""
    for _, v in stream(2000):
        columns, n, encoded = array_batch_columns(v)
        assert type(columns["rumour_id"]) is str and type(columns["platform"]) is str
        assert type(columns["event_id"]) is list and columns["text"] is None and encoded is not None


@pytest.mark.parametrize("values", [
    ["r", "r", "r"], ["r", "r", "rr"], ["rr", "r", "r"], ["r", "r", "s"], ["r", None, "r"],
    [None, "r", "r"], ["r", "r", 5], ["", "", ""], ["é", "é", "é"], ["a\n", "a\n", "a\n"],
    ["a\n", "a\n", "a\t"], ["r", "r", None], ["r", "r"],
])
def test_folding_only_what_repeats(values):
    events = [ev(i, platform=v) for i, v in enumerate(values)]
    events = [{k: x for k, x in e.items() if not (k == "platform" and x == "absent")} for e in events]
    raw = orjson.dumps(events)
    check(raw)
    columns = array_batch_columns(raw)[0]
    repeated = len(set(map(repr, values))) == 1 and type(values[0]) is str
    assert (type(columns["platform"]) is str) == repeated


def test_folding_with_a_missing_field():
    raw = orjson.dumps([ev(0, platform="w"), ev(1), ev(2, platform="w")])
    check(raw)
    assert array_batch_columns(raw)[0]["platform"] == ["w", None, "w"]


def ev(i: int, **extra) -> dict:
    e = {"event_id": f"e{i}", "rumour_id": "r", "account_id": f"a{i}", "ts": 1347557095000 + i}
    e.update(extra)
    return e


def stream(n_events=4000, per=500):
    return kit.stream_messages(n_events, per, 7, "p")


def test_bench_stream_read_exactly():
    msgs = [v for _, v in stream()]
    assert all(check(m) is not None for m in msgs)  # the bench's arrays are all read here


def test_columnar_messages_are_declined():
    # The scanner reads arrays only; the Decoder sends a columnar batch to orjson.
    for _, v in columnar_pairs(stream(1000)):
        assert array_columns(v) is None


@pytest.mark.parametrize("events", [
    [ev(i, text="谣言：某地发生地震" * (i % 3), region=None if i % 2 else "370100") for i in range(5)],
    [ev(i, account_id=f"用户{i}", parent_event_id="e0" if i else None) for i in range(5)],
    [{"ts": 5}, {"event_id": ""}, {}],  # missing keys, an empty string, an empty object
    [{"event_id": "e", "ts": t} for t in (0, -0, -1, 9, 10**17, -(10**17), 999999999999999999)],
    [{"text": "emoji 😀 and \u2028 and ÿ"}],
    [{"event_id": "a"}, {"event_id": None}, {"event_id": 7}],  # a mixed column
])
def test_values_read_exactly(events):
    for raw in (orjson.dumps(events), orjson.dumps(events, option=orjson.OPT_INDENT_2),
                orjson.dumps([dict(reversed(list(e.items()))) for e in events])):
        assert check(raw) is not None


@pytest.mark.parametrize("raw", [
    b' \t\r\n[ {"event_id" : "e" , "ts" :1 } ,\n{ } ]\n ',
    b'[{"ts":-0}]',
    b'[{"text":"a\\"b"}]', b'[{"text":"a\\\\b"}]', b'[{"text":"a\\/b"}]', b'[{"text":"\\n\\t\\r\\b\\f"}]',
    b'[{"text":"\\u00e9\\u00E9\\u4e2d\\u0001\\u007f\\u0080\\u07ff\\u0800\\uffff"}]',
    b'[{"text":"\\ud83d\\ude00 \\uD83D\\uDE00\\udbff\\udfff\\ud800\\udc00"}]',
    b'[{"event_id":"\\"\\u4e2d\\"","account_id":"\\\\"},{"event_id":"x\\ny"}]',
])
def test_whitespace_escapes_and_odd_but_valid(raw):
    assert check(raw) is not None


@pytest.mark.parametrize("raw", [
    b'[]', b'[ ]', b'{}', b'"x"', b'', b' ', b'[{}', b'[{"event_id":"e"}',
    b'[{"event_id":"e"}] x', b'[{"event_id":"e"}][]', b'[{"event_id":"e"},]', b'[{"event_id":"e",}]',
    b'[{"unknown":"e"}]', b'[{"event_id":"e","event_id":"f"}]', b'[{"event_id":{"a":1}}]',
    b'[{"event_id":["a"]}]', b'[{"event_id":true}]', b'[{"event_id":false}]', b'[{"ts":1.5}]',
    b'[{"ts":1e3}]', b'[{"ts":1E3}]', b'[{"ts":01}]', b'[{"ts":-}]', b'[{"ts":+1}]', b'[{"ts":nul}]',
    b'[{"ts":nullx}]', b'[{"ts":12a}]', b'[{"ts":9223372036854775807}]',
    b'[{"ts":-9223372036854775808}]', b'[{"ts":9223372036854775808}]', b'[{"ts":1234567890123456789}]',
    b'[{"text":"\\u0000"}]', b'[{"text":"a\\u0000"}]', b'[{"text":"\\ud800"}]', b'[{"text":"\\ud800x"}]',
    b'[{"text":"\\udc00x"}]', b'[{"text":"\\ude00\\ud83d"}]', b'[{"text":"\\ud83d\\u0041"}]',
    b'[{"text":"\\ud83d\\ud83d"}]', b'[{"text":"\\a"}]', b'[{"text":"\\u12"}]', b'[{"text":"\\u12g4"}]',
    b'[{"text":"\\"}]', b'[{"text":"\\', b'[{"event\\u005fid":"e"}]', b'[{"text":"\\x41"}]',
    b'[{"text":"a\x00b"}]', b'[{"text":"a\nb"}]', b'[{"text":"a\x1fb"}]',
    b'[{"text":"\xff"}]', b'[{"text":"\xc3"}]', b'[{"text":"\xed\xa0\x80"}]', b'[{"text":"\xc0\xaf"}]',
    b'[{"text":"abc', b'[{"event_id\xff":"e"}]', b'[{"text":"a"}]\x00', b'\xef\xbb\xbf[{"ts":1}]',
    b'[{\'ts\':1}]', b'[{ts:1}]', b'[[]]', b'[1]', b'[null]', b'[{"ts":NaN}]', b'[{"ts":Infinity}]',
])
def test_declines_what_it_does_not_read_exactly(raw):
    assert check(raw) is None


@pytest.mark.parametrize("seed", range(4))
def test_fuzz_mutated_messages(seed):
    """Random byte edits of valid messages (with escapes, non-ASCII, nulls, ints): the scanner
    never crashes, never differs from orjson, and declines whatever orjson refuses."""
    rng = random.Random(seed)
    base = [orjson.dumps([ev(i, text=rng.choice(["a\nb", "引号\"", None, "x", ""]),
                             region=rng.choice([None, "370100"]),
                             parent_event_id=rng.choice([None, "e0"])) for i in range(rng.randint(1, 6))])
            for _ in range(20)]
    base += [v for _, v in stream(200, 10)]
    alphabet = b'{}[]",:\\ \n0123456789-.eEnulltruefalse\x00\x1f\x7f\x80\xc3\xa9\xed\xff'
    read = 0
    for _ in range(3000):
        raw = bytearray(rng.choice(base))
        for _ in range(rng.randint(1, 3)):
            op = rng.randrange(3)
            pos = rng.randrange(len(raw) + 1)
            if op == 0 and pos < len(raw):
                raw[pos] = rng.choice(alphabet)
            elif op == 1:
                raw[pos:pos] = bytes([rng.choice(alphabet)])
            elif pos < len(raw):
                del raw[pos]
        raw = bytes(raw)
        got = check(raw)
        read += got is not None
        try:
            orjson.loads(raw)
        except orjson.JSONDecodeError:
            assert got is None, raw
    assert read > 100  # mutations that keep a readable array (e.g. inside a string) are read


# --- The Decoder with and without the scanner --------------------------------------------------

def decode_both(messages, sources=None, **kw):
    on, off = Decoder(**kw), Decoder(**kw)
    off.scan_bytes = False
    return on.decode(messages, sources, NOW), off.decode(messages, sources, NOW)


def assert_same(a, b):
    (ba, da), (bb, db) = a, b
    assert len(ba) == len(bb)
    for name in FIELDS:
        key = "ts_ms" if name == "ts" else name
        x, y = getattr(ba, key), getattr(bb, key)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert np.array_equal(np.asarray(x), np.asarray(y)), name
            assert np.asarray(x).dtype == np.asarray(y).dtype, name
        else:
            assert list(x) == list(y), name
    ea, eb = getattr(ba, "encoded", None), getattr(bb, "encoded", None)
    assert (ea is None) == (eb is None)
    if ea is not None:
        assert all(np.array_equal(p, q) for p, q in zip(ea, eb))
    assert [(d.raw, d.reason, d.source, d.rumour_id, d.event_id) for d in da] == \
           [(d.raw, d.reason, d.source, d.rumour_id, d.event_id) for d in db]


def test_decoder_same_batch_on_the_bench_stream():
    msgs = [v for _, v in stream(20_000)]
    for i in range(0, len(msgs), 20):
        assert_same(*decode_both(msgs[i:i + 20]))
    on = Decoder()
    calls = []
    import streams.decoder as dm
    real = dm.array_batch_columns
    dm.array_batch_columns = lambda raw: calls.append(1) or real(raw)
    try:
        on.decode(msgs[:3], None, NOW)
    finally:
        dm.array_batch_columns = real
    assert len(calls) == 3  # the scanner did read them (the comparison is not off vs off)


def test_decoder_same_with_bad_events_and_messages():
    good = [ev(i) for i in range(40)]
    bad_ts = [ev(i, ts=5) if i == 7 else ev(i) for i in range(40)]
    self_parent = [ev(i, parent_event_id=f"e{i}") if i == 3 else ev(i) for i in range(40)]
    blank = [ev(i, account_id=" ") if i == 9 else ev(i) for i in range(40)]
    escaped = [ev(i, text="line\nbreak") for i in range(40)]
    chinese = [ev(i, account_id=f"用户{i}", region="") for i in range(40)]
    msgs = [orjson.dumps(good), orjson.dumps(bad_ts), b"not json", orjson.dumps(self_parent),
            b"[]", orjson.dumps(blank), orjson.dumps(escaped), orjson.dumps(good[:5]),
            orjson.dumps(chinese), b'[{"event_id":"e","ts":1}] junk', orjson.dumps(ev(99)),
            b'[{"text":"\xff"}' + b',{"ts":1}' * 20 + b']', orjson.dumps(good + [{"ts": 1.5}]),
            orjson.dumps(columnar_pairs([("k", orjson.dumps(good))])[0][1] and good)]
    sources = [f"t/0@{i}" for i in range(len(msgs))]
    a, b = decode_both(msgs, sources)
    assert_same(a, b)
    assert len(a[1]) >= 7
    assert_same(*decode_both(msgs))


def test_decoder_size_limits_unchanged():
    big = orjson.dumps([ev(i, text="x" * 200) for i in range(40)])
    assert_same(*decode_both([big], max_message_bytes=len(big) - 1))
    assert_same(*decode_both([big], max_event_bytes=100))
    a, _ = decode_both([big], max_message_bytes=len(big) - 1)
    assert len(a[0]) == 0 and a[1][0].reason.startswith("message too large")
