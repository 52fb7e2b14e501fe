"""The rumour list's summaries refreshed from what changed (streams/service/rumour_summary.py)
equal a full recomputation over the store, on both backends: after new events in old and new
rumours, late events, a clock that moves past the last hour (statuses change), re-delivered
events, a restart, and events another worker wrote through its own store."""
from __future__ import annotations

import time

import pytest

from streams.service import rumour_summary as rs
from streams.service.access import Principal
from streams.service.views import Views
from tests.test_store import T0, make_batch

MIN = 60_000
HOUR = 3_600_000
REGIONS = ["370102", "370211", "110105", None, "440305"]


def _events(rumour, n, start_ms, step_ms=MIN, kind="share", first=0):
    return [{"event_id": f"{rumour}-{kind[0]}{first + i}", "rumour_id": rumour, "account_id": f"a{i % 7}",
             "ts": start_ms + i * step_ms, "kind": kind, "region": REGIONS[(first + i) % len(REGIONS)]}
            for i in range(n)]


def _seed():
    rows = []
    for k in range(8):  # rumours at different times: some in the last hour, some long quiet
        rows += _events(f"r{k}", 5 + k, T0 - k * 40 * MIN, step_ms=7 * MIN)
    rows += _events("r1", 2, T0, kind="debunk")  # r1 contested, r5 debunked
    rows += _events("r5", 1, T0 - 5 * HOUR, kind="debunk")
    rows += _events("only-debunks", 3, T0 - HOUR, kind="debunk")
    return rows


def full(store) -> dict:
    whole = rs.full_summary(store)
    return {"as_of_ms": whole["as_of_ms"], "rumours": whole["rumours"]}


def _other_worker(store):
    """A second store on the same database, as another worker process has."""
    from streams.store.clickhouse import ClickHouseStore
    from streams.store.embedded import ChdbStore

    if isinstance(store, ClickHouseStore):
        s = store.settings
        return ClickHouseStore(f"clickhouse://{s['host']}:{s['port']}/{store.database}?retry_seconds=300")
    return ChdbStore("chdb://", database=store.database)


def _next_second():
    # The store's clock has seconds: a refresh after this reads nothing of that second again, so
    # the next one recomputes only what is written from here on.
    time.sleep(1.1)


@pytest.fixture
def no_overlap(monkeypatch):
    # Inserts here are synchronous, so a refresh needs to read no earlier second again; with the
    # default overlap every refresh of a test this short would re-read every rumour (a full one).
    monkeypatch.setattr(rs, "OVERLAP_S", 0)


def test_refreshed_summaries_equal_the_full_recomputation(store, no_overlap):
    store.write(make_batch(_seed()))
    _next_second()
    kept = rs.RumourSummaries(store)
    first = kept.refresh()
    assert first == full(store) and kept.recomputed == 9
    statuses = {rid: r["status"] for rid, r in first["rumours"].items()}
    assert statuses["r0"] == "spreading" and statuses["r1"] == "contested"
    assert statuses["r5"] == "debunked" and statuses["r7"] == "dormant"
    # nothing changed: nothing recomputed, the same answer object
    assert kept.refresh() is first and kept.recomputed == 0

    # new events in an old rumour and a new rumour, within the current minute's hour
    store.write(make_batch(_events("r6", 3, T0 - 30 * MIN, first=100) + _events("new", 2, T0 - 10 * MIN)))
    _next_second()
    got = kept.refresh()
    assert got == full(store) and kept.recomputed == 2
    assert got["rumours"]["new"]["size"] == 2 and got["rumours"]["r6"]["status"] == "spreading"

    # a late event (long ago) and a re-delivered batch: counts stay distinct, "now" stays
    store.write(make_batch(_events("r7", 1, T0 - 50 * HOUR, first=200) + _events("r0", 3, T0 - 28 * MIN)))
    _next_second()
    got = kept.refresh()
    # (only r7: r0's re-delivered events leave its counts as they were)
    assert got == full(store) and got["as_of_ms"] == first["as_of_ms"] and kept.recomputed == 1

    # the clock moves two hours on (a debunk of r2): the rumours of the old last hour go quiet
    store.write(make_batch(_events("r2", 1, T0 + 2 * HOUR, kind="debunk", first=300)))
    _next_second()
    got = kept.refresh()
    assert got == full(store) and got["as_of_ms"] > first["as_of_ms"]
    assert got["rumours"]["r0"]["status"] == "dormant" and got["rumours"]["r1"]["status"] == "debunked"
    assert got["rumours"]["r2"]["debunk_growth_last_hour"] == 1
    assert kept.recomputed < len(got["rumours"])  # not a full one: the active rumours and r2

    # a restart: a fresh process's first refresh gives the same
    assert rs.RumourSummaries(store).refresh() == got


def test_rumours_read_again_for_the_overlap_are_recomputed_only_if_their_counts_changed(store, monkeypatch):
    # With the default overlap every rumour written in the last 30 s is read again at each
    # refresh; those whose counts are the ones held keep their summary (the same object).
    monkeypatch.setattr(rs, "FULL_SHARE", 2.0)  # all of them read again: still not a full one
    store.write(make_batch(_seed()))
    kept = rs.RumourSummaries(store)
    first = kept.refresh()
    assert kept.recomputed == 9
    store.write(make_batch(_events("r6", 3, T0 - 30 * MIN, first=100) + _events("new", 2, T0 - 10 * MIN)))
    _next_second()
    got = kept.refresh()
    assert got == full(store) and got["as_of_ms"] == first["as_of_ms"] and kept.recomputed == 2
    assert all(got["rumours"][rid] is r for rid, r in first["rumours"].items() if rid != "r6")
    assert got["rumours"]["r6"]["size"] == first["rumours"]["r6"]["size"] + 3
    _next_second()
    assert kept.refresh() is got and kept.recomputed == 0  # read again, nothing changed


def test_the_list_shows_rumours_another_worker_wrote(store, no_overlap):
    store.write(make_batch(_seed()))
    _next_second()
    views = Views(None, store, lambda a: a, cache_seconds=0.0)
    national = Principal("t", "n", "analyst", "000000")
    before = views.rumour_list(national)
    other = _other_worker(store)
    try:
        other.write(make_batch(_events("elsewhere", 4, T0 - 20 * MIN) + _events("r3", 2, T0 - 15 * MIN, first=50)))
        _next_second()
        after = views.rumour_list(national)
    finally:
        other.close()
    assert views.summaries.recomputed == 2
    assert len(after["rumours"]) == len(before["rumours"]) + 1
    # the same list a process that never saw it before answers (a full recomputation)
    assert after == Views(None, store, lambda a: a).rumour_list(national)
    sizes = {r["rumour_id"]: r["size"] for r in after["rumours"]}
    assert sizes["elsewhere"] == 4 and sizes["r3"] == 8 + 2


def test_a_refresh_where_most_rumours_changed_is_a_full_one(store, no_overlap):
    store.write(make_batch(_seed()))
    _next_second()
    kept = rs.RumourSummaries(store)
    kept.refresh()
    store.write(make_batch([e for k in range(6) for e in _events(f"r{k}", 1, T0 - MIN, first=500)]))
    _next_second()
    assert kept.refresh() == full(store) and kept.recomputed == 9


def test_rumours_changed_since_reads_the_servers_clock(store):
    now_s, started_s, changed = store.rumours_changed_since(0)
    assert changed == set() and abs(now_s - time.time()) < 120 and started_s <= now_s
    store.write(make_batch(_events("a", 2, T0) + _events("b", 1, T0)))
    later, started_again, changed = store.rumours_changed_since(now_s)
    assert changed == {"a", "b"} and later >= now_s and abs(started_again - started_s) <= 2
    assert store.rumours_changed_since(later + 3600)[2] == set()


@pytest.mark.clickhouse
def test_both_insert_paths_of_the_server_record_the_change(ch_store):
    ch_store.write(make_batch(_events("packed", 2, T0)))  # share_event_rows and its views
    ch_store.insert_events_direct(make_batch(_events("direct", 2, T0)))  # share_events' view
    assert ch_store.rumours_changed_since(0)[2] == {"packed", "direct"}
    # through the buffer into the table (flushed at the latest after 30 s; here at once)
    ch_store._command(f"OPTIMIZE TABLE {ch_store.database}.rumour_changes_buffer")
    rows = ch_store._rows(f"SELECT rumour_id FROM {ch_store.database}.rumour_changes ORDER BY rumour_id")
    assert rows == [("direct",), ("packed",)]


def test_a_restarted_server_means_a_full_refresh(store, no_overlap, monkeypatch):
    # The change buffer's rows die with an abnormal stop: after a restart nothing it says is
    # trusted. The server reads as started a minute later than it did.
    store.write(make_batch(_seed()))
    _next_second()
    kept = rs.RumourSummaries(store)
    kept.refresh()
    assert kept.refresh() is not None and kept.recomputed == 0
    real = store.rumours_changed_since
    monkeypatch.setattr(store, "rumours_changed_since",
                        lambda since: (lambda now, started, changed: (now, started + 60, changed))(*real(since)))
    assert kept.refresh() == full(store) and kept.recomputed == 9


def test_the_lists_jurisdiction_check_is_covers_any():
    from streams.service.access import covering_prefixes, prefix

    regions = [set(), {None}, {"370102"}, {"370211", None}, {"110105", "440305"}, {"北京 东城区"},
               {"Jinan"}, {"not a place"}, {"3701"}]
    codes = ["000000", "370000", "370100", "370102", "370200", "370211", "110000", "110101", "440300"]
    for code in codes:
        p = Principal("t", "n", "analyst", code)
        for rs_ in regions:
            assert p.covers_any(rs_) == (not prefix(code) or prefix(code) in covering_prefixes(rs_)), (code, rs_)
