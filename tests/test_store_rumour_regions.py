"""The distinct (region, kind) pairs of one rumour (what the jurisdiction check of every rumour
route reads), on clickhouse-server 18.16 and on chDB: the same answer as the shares themselves
give, re-delivery included, a rumour with only debunks known (its pairs), and nothing for an
unknown rumour. Each run uses its own database (tests/plugins)."""
from __future__ import annotations

from streams.events import EventBatch
from streams.service.access import spread_regions
from tests.test_store import make_batch
from tests.test_store_insert_path import rich_batch


def _pairs_by_hand(batch, rumour: str) -> set | None:
    got = {(r["region"] or None, r["kind"]) for r in batch.rows() if r["rumour_id"] == rumour}
    return got or None


def _debunks_only() -> EventBatch:
    # A debunking platform in one county debunks a rumour that has no other share in the store.
    rows = [{"event_id": f"d{i}", "rumour_id": "dbk-only", "account_id": "police", "ts": 1_764_547_200_000 + i,
             "kind": "debunk", "region": region} for i, region in enumerate(("370102", "370102", None))]
    return make_batch(rows)


def test_rumour_region_kinds_are_those_of_its_shares(store):
    batch = rich_batch()  # every kind, three months, None regions; r0-é has no region at all
    store.write(batch)
    store.write(batch)  # re-delivered: still each pair once
    rumours = sorted(set(batch.rumour_id))
    for rumour in rumours:
        assert store.rumour_region_kinds(rumour) == _pairs_by_hand(batch, rumour), rumour
    # the batch has debunks among its rumours' shares, so the pairs tell them apart
    assert any(k == "debunk" for r in rumours for _, k in store.rumour_region_kinds(r))
    assert {region for region, _ in store.rumour_region_kinds(rumours[0])} == {None}  # known, not unknown
    assert store.rumour_region_kinds("no-such-rumour") is None
    assert store.rumour_region_kinds("r1-é' OR 1=1 --") is None  # quoted, not spliced


def test_a_rumour_with_only_debunks_is_known_and_spread_nowhere(store):
    store.write(_debunks_only())
    pairs = store.rumour_region_kinds("dbk-only")
    assert pairs == {("370102", "debunk"), (None, "debunk")}
    assert spread_regions(pairs) == set()  # known (not None), but no region gives jurisdiction


def test_rumour_region_kinds_reads_only_the_minute_counts_of_that_rumour():
    from sql import queries

    text = queries.rumour_region_kinds("db", "r'1")
    assert "share_minute_counts" in text and "WHERE rumour_id = 'r\\'1'" in text
    assert "uniqExactMerge" not in text and "GROUP BY" not in text  # no merge of the count states
