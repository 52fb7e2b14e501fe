"""The distinct regions of one rumour (the jurisdiction check of every rumour route), on
clickhouse-server 18.16 and on chDB: the same answer as the shares themselves give, re-delivery
included, and nothing for an unknown rumour. Each run uses its own database (tests/plugins)."""
from __future__ import annotations

from tests.test_store_insert_path import rich_batch


def _regions_by_hand(batch, rumour: str) -> set | None:
    got = {r["region"] or None for r in batch.rows() if r["rumour_id"] == rumour}
    return got or None


def test_rumour_regions_are_the_regions_of_its_shares(store):
    batch = rich_batch()  # every kind, three months, None regions; r0-é has no region at all
    store.write(batch)
    store.write(batch)  # re-delivered: still each region once
    rumours = sorted(set(batch.rumour_id))
    for rumour in rumours:
        assert store.rumour_regions(rumour) == _regions_by_hand(batch, rumour), rumour
    assert store.rumour_regions(rumours[0]) == {None}  # shares without a region: known, not unknown
    assert store.rumour_regions("no-such-rumour") is None
    assert store.rumour_regions("r1-é' OR 1=1 --") is None  # quoted, not spliced


def test_rumour_regions_reads_only_the_minute_counts_of_that_rumour():
    from sql import queries

    text = queries.rumour_regions("db", "r'1")
    assert "share_minute_counts" in text and "WHERE rumour_id = 'r\\'1'" in text
    assert "uniqExactMerge" not in text and "GROUP BY" not in text  # no merge of the count states
