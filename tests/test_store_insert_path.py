"""ClickHouseStore's insert path (issue 5): events sent through share_event_rows
(sql/005_share_event_rows.sql) are stored exactly as the direct insert into share_events
stores them, nulls, empty strings, unicode and enum values included; batches the packed form
cannot carry fall back to the direct insert."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.events import KINDS, EventBatch
from streams.store.clickhouse import NULL_BITS, ROW_COLUMNS, ClickHouseStore, event_rows_columns
from tests.plugins.clickhouse import fresh_database, patient

TS0 = 1_347_557_095_000  # 2012-09-13
MONTH_MS = 31 * 86_400_000

# Every awkward value a string field may hold (no NUL or \x01: those take the fallback).
AWKWARD = ["", " ", "é", "转发微博", "😀 emoji", "quote ' and \\ backslash", "tab\tnew\nline\r",
           "x" * 300, "\x02\x7f", "trailing space "]


def rich_batch() -> EventBatch:
    """Events covering None and '' in every optional field, unicode, all kinds, 3 months."""
    n = 40
    opt = [None] + AWKWARD  # cycled through the optional fields, offset per field
    pick = lambda k: [opt[(i + k) % len(opt)] for i in range(n)]  # noqa: E731
    ids = [f"ev-{i}-{AWKWARD[i % 4 + 1]}" for i in range(n)]
    return EventBatch(
        event_id=ids,
        rumour_id=[f"r{i % 3}-é" for i in range(n)],
        account_id=[f"acct {i % 7} 转发" for i in range(n)],
        ts_ms=np.array([TS0 + (i % 3) * MONTH_MS + i * 17_000 for i in range(n)], np.int64),
        parent_event_id=[None if i % 5 == 0 else ids[i - 1] for i in range(n)],
        parent_account_id=pick(1),
        kind=np.array([i % len(KINDS) for i in range(n)], np.uint8),
        platform=pick(2),
        region=[None if i % 3 == 0 else f"CN-{10 + i % 4}" for i in range(n)],
        text=pick(3),
    )


def stored_rows(store) -> list[tuple]:
    """Every stored column except ingested_at (the insert time), raw, in key order."""
    cols = "event_id, rumour_id, account_id, ts_ms, ts, parent_event_id, parent_account_id, kind, platform, region, text"
    return store._rows(f"SELECT {cols} FROM {store.database}.share_events FINAL ORDER BY rumour_id, event_id")


def expected_rows(batch: EventBatch) -> list[tuple]:
    """What the test put in, as rows (kind as its name, ts to the second)."""
    rows = []
    for r in batch.rows():
        rows.append((r["event_id"], r["rumour_id"], r["account_id"], r["ts"], r["ts"] // 1000,
                     r["parent_event_id"], r["parent_account_id"], r["kind"], r["platform"],
                     r["region"], r["text"]))
    return sorted(rows, key=lambda t: (t[1], t[0]))


def comparable(rows: list[tuple]) -> list[tuple]:
    return [r[:4] + (int(r[4].timestamp()),) + r[5:] for r in rows]


@pytest.fixture
def twin(clickhouse_server):
    """A second migrated ClickHouse database, for the direct insert."""
    store = ClickHouseStore(patient(clickhouse_server), database=fresh_database())
    store.migrate()
    yield store
    try:
        store.drop()
    finally:
        store.close()


def test_new_path_stores_what_the_direct_insert_stores(ch_store, twin):
    batch = rich_batch()
    assert event_rows_columns(batch) is not None  # this batch takes the new path
    ch_store.write(batch)
    twin.insert_events_direct(batch)
    got, direct = stored_rows(ch_store), stored_rows(twin)
    assert got == direct
    assert comparable(got) == expected_rows(batch)
    # load_events (the read API) gives the batch back, in (ts, event_id) order
    loaded = ch_store.load_events()
    order = sorted(range(len(batch)), key=lambda i: (int(batch.ts_ms[i]), batch.event_id[i]))
    assert list(loaded.rows()) == list(batch.take(order).rows())


def test_minute_counts_match_the_direct_insert_and_a_plain_count(ch_store, twin):
    batch = rich_batch()
    ch_store.write(batch)
    twin.insert_events_direct(batch)
    for rumour in sorted(set(batch.rumour_id)):
        counts = ch_store.minute_counts(rumour)
        assert counts == twin.minute_counts(rumour)
        plain: dict = {}
        for r in batch.rows():
            if r["rumour_id"] == rumour:
                key = (r["ts"] // 60_000 * 60_000, r["region"], r["kind"])
                plain[key] = plain.get(key, 0) + 1
        assert {(m, reg, k): n for m, reg, k, n in counts} == plain


def test_redelivered_batch_collapses(ch_store):
    batch = rich_batch()
    ch_store.write(batch)
    before = (ch_store.count_events(), ch_store.minute_counts("r0-é"), stored_rows(ch_store))
    ch_store.write(batch)
    ch_store.write(batch.take(np.arange(0, len(batch), 2)))
    assert (ch_store.count_events(), ch_store.minute_counts("r0-é"), stored_rows(ch_store)) == before


@pytest.mark.parametrize("bad", ["nul\x00inside", "soh\x01inside", "\x01"])
@pytest.mark.parametrize("field", ["event_id", "account_id", "region", "text"])
def test_values_the_packed_form_cannot_carry_fall_back_to_the_direct_insert(ch_store, twin, field, bad):
    """NUL separates values everywhere, \\x01 marks rows only in the short fields (text has
    a column of its own): either way the stored rows are the direct insert's."""
    batch = rich_batch()
    getattr(batch, field)[7] = bad
    packable = "\x00" not in bad and field == "text"
    assert (event_rows_columns(batch) is not None) == packable
    ch_store.write(batch)
    twin.insert_events_direct(batch)
    assert stored_rows(ch_store) == stored_rows(twin)
    assert comparable(stored_rows(ch_store)) == expected_rows(batch)


def sparse_batch() -> EventBatch:
    """64 events whose optional fields are nearly all set: a few Nones (and a '') to patch."""
    n = 64
    b = rich_batch()
    full = lambda prefix: [f"{prefix}{i}-é" for i in range(n)]  # noqa: E731
    batch = EventBatch([f"s{i}" for i in range(n)], [f"rs{i % 2}" for i in range(n)], full("a"),
                       np.array([TS0 + i * 1000 for i in range(n)], np.int64), full("p"), full("pa"),
                       np.array([i % 4 for i in range(n)], np.uint8), full("w"), full("CN-"),
                       [b.text[i % len(b)] or "t" for i in range(n)])
    batch.parent_event_id[5] = None
    batch.parent_account_id[0] = batch.parent_account_id[63] = None
    batch.platform[7] = ""
    batch.region[9] = None
    batch.text[10], batch.text[11] = None, ""
    return batch


def test_a_few_nulls_among_values_are_patched(ch_store, twin):
    from streams.store.clickhouse import _nulls

    batch = sparse_batch()
    assert _nulls(batch.parent_account_id)[1:] == ([0, 63], True)  # the few-Nones branch
    ch_store.write(batch)
    twin.insert_events_direct(batch)
    assert stored_rows(ch_store) == stored_rows(twin)
    assert comparable(stored_rows(ch_store)) == expected_rows(batch)


def test_a_one_event_batch_with_empty_fields(ch_store, twin):
    batch = EventBatch(["e"], ["r"], ["a"], np.array([TS0], np.int64), [None], [""],
                       np.array([2], np.uint8), [""], [None], [""])
    ch_store.write(batch)
    twin.insert_events_direct(batch)
    assert stored_rows(ch_store) == stored_rows(twin)
    assert comparable(stored_rows(ch_store)) == expected_rows(batch)


# ---- the packed columns alone (no server) ---------------------------------------------------
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_opt = st.one_of(st.none(), _text)


@st.composite
def batches(draw):
    n = draw(st.integers(1, 6))
    col = lambda s: draw(st.lists(s, min_size=n, max_size=n))  # noqa: E731
    return EventBatch(col(_text), col(_text), col(_text), np.array(col(st.integers(0, 2**62))),
                      col(_opt), col(_opt), np.array(col(st.integers(0, 3)), np.uint8),
                      col(_opt), col(_opt), col(_opt))


@given(batches())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_packed_columns_unpack_to_the_batch_or_refuse_it(batch):
    cols = event_rows_columns(batch)
    short = batch.event_id + batch.rumour_id + batch.account_id + batch.parent_event_id + \
        batch.parent_account_id + batch.platform + batch.region
    if any(s is not None and ("\x00" in s or "\x01" in s) for s in short) or \
            any(s is not None and "\x00" in s for s in batch.text):
        assert cols is None
        return
    assert cols is not None and len(cols) == len(ROW_COLUMNS)
    named = dict(zip(ROW_COLUMNS, cols))
    # unpack the way share_event_rows_mv does: split at NUL, the 8th value is the code
    fields = [f.decode("utf-8").split("\x00") for f in named["fields"]]
    assert all(len(f) == 8 for f in fields)
    codes = [int(f[7]) for f in fields]
    assert [c // 32 for c in codes] == batch.kind.tolist()
    for j, name in enumerate(("event_id", "rumour_id", "account_id", "parent_event_id",
                              "parent_account_id", "platform", "region")):
        bit = NULL_BITS.get(name, 0)
        unpacked = [None if c & bit else f[j] for c, f in zip(codes, fields)]
        assert unpacked == getattr(batch, name)
    texts = [None if c & NULL_BITS["text"] else t.decode("utf-8") for c, t in zip(codes, named["text"])]
    assert texts == batch.text
    assert named["ts_ms"] == batch.ts_ms.tolist()


def test_a_kind_code_out_of_range_is_not_packed():
    batch = rich_batch()
    batch.kind[3] = 7
    assert event_rows_columns(batch) is None


# ---- the schema's views on a current engine (chDB) --------------------------------------------
def test_share_event_rows_views_on_chdb_count_each_event_once(chdb_store):
    """Newer engines also run share_events' own view for rows share_event_rows_mv writes: the
    minute counts still count each event once (sets of event ids). Codes: kind debunk (3 * 32)
    plus null bits (e1: parent_event_id 1, region 8, text 16; e2: parent_account_id 2)."""
    db = chdb_store.database
    sep = "\\0"
    chdb_store._command(
        f"INSERT INTO {db}.share_event_rows SELECT 'e1{sep}r{sep}a{sep}{sep}pa{sep}{sep}{sep}121', '', {TS0}")
    chdb_store._command(
        f"INSERT INTO {db}.share_event_rows SELECT 'e2{sep}r{sep}b{sep}e1{sep}{sep}w{sep}CN-11{sep}98', 'é', "
        f"{TS0 + 1000}")
    loaded = chdb_store.load_events()
    assert list(loaded.rows()) == [
        {"event_id": "e1", "rumour_id": "r", "account_id": "a", "ts": TS0, "parent_event_id": None,
         "parent_account_id": "pa", "kind": "debunk", "platform": "", "region": None, "text": None},
        {"event_id": "e2", "rumour_id": "r", "account_id": "b", "ts": TS0 + 1000, "parent_event_id": "e1",
         "parent_account_id": None, "kind": "debunk", "platform": "w", "region": "CN-11", "text": "é"},
    ]
    minute = TS0 // 60_000 * 60_000
    assert sorted(chdb_store.minute_counts("r"), key=str) == sorted(
        [(minute, None, "debunk", 1), (minute, "CN-11", "debunk", 1)], key=str)

