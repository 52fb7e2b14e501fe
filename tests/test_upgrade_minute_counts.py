"""The per-minute counts of a store upgraded from the first release (sql/001 alone) count every
old event, even one whose rumour and minute got a new event counted while the upgrade ran (a
worker of the old release still writing between sql/002 and sql/025): 025 filled only the
(rumour, minute) pairs with no counts and missed it; sql/026 counts every event ingested before
002 was recorded. On chDB, 18.16 and the cluster."""
from __future__ import annotations

import pytest

import sql
from tests.test_upgrade import bare_store  # noqa: F401  (the fixture)
from tests.upgrade_fill import T0, columns, copy_cut, insert

RUMOUR = "r-race"
MINUTE = T0 - T0 % 60_000


def _event(event_id: str, offset_ms: int, kind="share", region="4401") -> dict:
    return dict(event_id=event_id, rumour_id=RUMOUR, account_id="a-" + event_id, ts_ms=MINUTE + offset_ms,
                parent_event_id=None, parent_account_id=None, kind=kind, platform="weibo", region=region,
                text=None)


def _counted(store) -> int:
    return sum(n for _, _, _, n in store.minute_counts(RUMOUR))


def race(store, tmp_path) -> None:
    """The first release's events, a worker's new event in the same minute once 002's view is
    there, then the rest of the upgrade: every event counted, once."""
    old = tmp_path / "release1"
    old.mkdir()
    assert sql.migrate(store._execute, store.database, directory=copy_cut(old, 1), cluster=store.cluster)
    share_events = columns(store)["share_events"]
    insert(store, "share_events", share_events, _event("old-post", 1_000, kind="post"))
    insert(store, "share_events", share_events, _event("old-share", 2_000))
    up_to_002 = tmp_path / "upgrading"
    up_to_002.mkdir()
    # the upgrade run has made 002's view, and an old worker writes one more share of that minute
    assert sql.migrate(store._execute, store.database, directory=copy_cut(up_to_002, 2),
                       cluster=store.cluster) == ["002_share_minute_counts"]
    insert(store, "share_events", share_events, _event("new-share", 30_000))
    assert _counted(store) == 1  # 002 counts what is inserted after it only
    store.migrate()
    assert _counted(store) == 3  # 025 alone counted 1: the minute had counts, so it skipped it
    assert store.minute_counts(RUMOUR) == [(MINUTE, "4401", "post", 1), (MINUTE, "4401", "share", 2)]
    assert store.migrate() == []


@pytest.mark.parametrize("bare_store", ["chdb", pytest.param("clickhouse", marks=pytest.mark.clickhouse)],
                         indirect=True)
def test_an_old_event_is_counted_when_a_new_one_of_its_minute_came_during_the_upgrade(bare_store, tmp_path):
    race(bare_store, tmp_path)


@pytest.mark.clickhouse
def test_the_race_on_the_cluster(cluster_server, tmp_path):
    from streams.store.clickhouse import ClickHouseStore
    from tests.plugins.clickhouse import database_url, fresh_database
    from tests.plugins.clickhouse_cluster import cluster_name

    store = ClickHouseStore(database_url(cluster_server, fresh_database()), cluster=cluster_name())
    try:
        race(store, tmp_path)
    finally:
        try:
            store.drop()
        finally:
            store.close()


def test_026_reads_only_the_events_ingested_before_002_was_recorded(chdb_store):
    # what makes it cheap on every store made since 002: it holds no set of their event ids
    db = chdb_store.database
    (recorded,) = chdb_store._rows(f"SELECT toUInt32(max(applied_at)) FROM {db}.schema_migrations WHERE version = 2")
    share_events = columns(chdb_store)["share_events"]  # ingested_at among them: sent here
    for event_id, ingested in (("before", recorded[0] - 86_400), ("at", recorded[0] + 600),
                               ("after", recorded[0] + 601), ("a-day-after", recorded[0] + 86_400)):
        row = dict(_event(event_id, 0), ingested_at=ingested)
        insert(chdb_store, "share_events", share_events, row)
    (m026,) = [m for m in sql.load_migrations() if m.version == 26]
    ((statement, _),) = m026.steps(db)
    select = statement.split("\n", 1)[1]
    assert statement.startswith(f"INSERT INTO {db}.share_minute_counts\nSELECT")
    read = chdb_store._rows(f"SELECT finalizeAggregation(shares) FROM ({select})")
    assert read == [(2,)]  # "before" and "at" (the margin for a cluster's clocks), nothing later
