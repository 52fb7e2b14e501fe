"""An operator upgrades a live deployment: a store made by an older release (migrated up to a cut
point, after each migration that exists), holding events, dead letters, audit rows, reports,
statuses and alerts, gets the current migrations; the current read paths then return the old
rows with sensible values, the workers' current writes land beside them, and migrating again
does nothing. On chDB, on clickhouse-server 18.16 and (a few cut points) on the cluster."""
from __future__ import annotations

import os

import pytest

import sql
from sql import queries
from streams.store.governance import governance_store
from tests.upgrade_fill import OLD, T0, columns, copy_cut, due_names, fill, insert

ALL_CUTS = [m.version for m in sql.load_migrations()]
# Each cut costs a whole migration (1-2 s on chDB and on 18.16, 14 s on the cluster, where every
# DDL statement waits for ZooKeeper and three servers). By default the cuts after which a later
# file meets rows it changes or must count: 1 (events before 002's counts: 025, 026), 4 (dead letters
# and audit rows before 005's packed path, 013's column, 014/015's backfills), 19 (refusal rows
# before 020/021's backfills and 022's drop), 22 (reports before 023's columns), the newest but
# one; 12 (reports, statuses, alerts before 016's column and 017's backfill) is the cut of the
# stopped-upgrade tests below and the cluster's. RUMOUR_TEST_UPGRADE_CUTS=all runs every cut
# everywhere (before a release that adds a migration: about 30 s per backend, 5 min on the cluster).
_EVERY = os.environ.get("RUMOUR_TEST_UPGRADE_CUTS", "") == "all"
CUTS = ALL_CUTS if _EVERY else sorted({1, 4, 19, 22, ALL_CUTS[-2]})
CLUSTER_CUTS = ALL_CUTS if _EVERY else [12]


def _has(written: dict, table: str, column: str) -> bool:
    return bool(written.get(table)) and column in written[table][0]


def old_store(store, tmp_path, cut: int) -> dict:
    """Migrate ``store`` as the release that ended at ``cut`` did, and fill it (what was written)."""
    assert sql.migrate(store._execute, store.database, directory=copy_cut(tmp_path, cut), cluster=store.cluster)
    return fill(store)


def upgrade_and_check(store, tmp_path, cut: int) -> None:
    written = old_store(store, tmp_path, cut)
    assert sql.migrate(store._execute, store.database, cluster=store.cluster) == due_names(store, cut)
    check_upgraded(store, written)


def check_upgraded(store, written: dict) -> None:
    """The current read paths over the old rows of an upgraded store, then the current writes."""
    db = store.database
    assert store.migrate() == []  # a re-run (a worker restarting) is a no-op
    gov = governance_store(store)

    # events: two inserted straight into share_events, a third packed (sql/005) from then on
    packed = "share_event_rows" in written
    n_events = 3 if packed else 2
    assert store.count_events(OLD) == n_events
    batch = store.load_events(OLD)
    assert list(batch.event_id) == ["e1", "e2", "e3"][:n_events]
    assert list(batch.parent_event_id) == [None, "e1", "e2"][:n_events]
    assert list(batch.region) == ["4401", "4403", "4401"][:n_events]
    assert OLD in store.rumour_ids()
    # per-minute counts exist from sql/002 on; events stored before it are counted too
    assert sum(n for _, _, _, n in store.minute_counts(OLD)) == n_events
    assert store.rumour_region_kinds(OLD) == {("4401", "post"), ("4403", "share")} | (
        {("4401", "share")} if packed else set())
    counts = {(r, region, kind): n for r, region, kind, n, _ in store.rumour_region_counts(rumour_ids=[OLD])}
    assert sum(counts.values()) == n_events
    _, _, changed = store.rumours_changed_since(0)
    assert OLD in changed  # sql/017 backfilled the rumours stored before it
    assert store.top_spreaders(OLD)[0][0] == "a1"
    assert store.event_details(OLD, ["e1"]) == {"e1": ("weibo", "4401", "the source post")}
    assert store.account_regions(OLD, ["a1", "a2"]) == {"a1": {"4401"}, "a2": {"4403"}}
    assert {"a1", "a2"} <= set(store.rumour_accounts(OLD))
    assert gov.source_texts()[OLD] == "the source post"
    assert OLD in gov.active_rumours(T0, T0 + 3_600_000)
    assert OLD in gov.rumours_ingested_since(86_400)  # ingested_at: the server's clock at the INSERT

    # dead letters, and their hourly counts (sql/014 backfilled the letters stored before it)
    if "dead_letters" in written:
        (letter,) = [d for d in store.dead_letters() if d["source"] == "old.jsonl:7"]
        assert store.count_dead_letters() == 1
        assert letter["raw"] == b'{"ts": "yesterday"}' and letter["received_ms"] == T0
        assert store.dead_letters(reason_prefix="ts:")[0]["event_id"] == "e9"
        ((kind, letters),) = store._rows(
            f"SELECT reason_kind, uniqExactMerge(letters) FROM {db}.dead_letter_hour_counts "
            "WHERE reason_kind = 'ts' GROUP BY reason_kind")
        assert letters == 1

    # audit rows: the columns added since read their documented "not recorded" values
    if "audit_log" in written:
        rows = {r["audit_id"]: r for r in store.audit_rows(limit=100)}
        old = rows["au1"]
        assert old["case_id"] == "case-1" and old["status"] == 200 and old["ts_ms"] == T0
        has_expiry = _has(written, "audit_log", "token_expires_ms")
        assert old["token_expires_ms"] == (T0 + 86_400_000 if has_expiry else queries.AUDIT_EXPIRY_UNRECORDED)
        assert old["auth_failure"] == "" and old["token_fingerprint"] == ""
        assert [r["audit_id"] for r in store.audit_rows(case_id="case-1")] == ["au1"]
        refusals = _has(written, "audit_log", "auth_failure")
        hours = store.audit_refusal_hours(T0, T0 + 3_600_000)
        assert sorted((h["reason"], h["requests"]) for h in hours) == (
            [("expired", 1), ("unknown", 3)] if refusals else [])
        # the hourly aggregates (sql/015, 021) count the rows logged before their views existed
        served = {a: n for _, a, n in store._rows(queries.audit_hour_served(db))}
        assert served == {"trace": 1}
        refused = {r: n for _, r, n in store._rows(queries.audit_hour_refused(db))}
        assert refused == ({"expired": 1, "unknown": 3} if refusals else {})

    # reports: client id, manual-link columns read '' / 0 on rows older than the files adding them
    if "public_reports" in written:
        rep1 = gov.find_report("rep1")
        assert rep1["rumour_id"] == OLD and rep1["link_method"] == "event_id" and rep1["similarity"] == 1.0
        assert rep1["client_report_id"] == ("desk-1" if _has(written, "public_reports", "client_report_id") else "")
        assert (rep1["linked_by"], rep1["linked_ms"], rep1["link_note"]) == ("", 0, "")
        assert [r["report_id"] for r in gov.load_reports(OLD)] == ["rep1"]
        assert [r["report_id"] for r in gov.unlinked_reports()] == ["rep2"]
        assert [r["report_id"] for r in gov.load_reports(received_since_ms=T0)] == ["rep1", "rep2"]

    if "rumour_status_history" in written:
        current = gov.latest_statuses([OLD])[OLD]
        assert (current["status"], current["changed_by"], current["note"]) == ("verified", "analyst", "checked")
        assert [r["status"] for r in gov.status_history(OLD)] == ["received", "verified"]

    if "alerts" in written:
        assert [a["alert_id"] for a in gov.load_alerts()] == ["al1"]
        assert gov.alert_ids([OLD]) == {"al1": (OLD, T0)}

    # a worker of the old release still running while the files are applied writes its columns
    if "audit_log" in written:
        late = dict(written["audit_log"][0], audit_id="au-late", case_id="case-late")
        insert(store, "audit_log", columns(store)["audit_log"], late)
        (row,) = store.audit_rows(case_id="case-late")
        assert row["token_expires_ms"] == late.get("token_expires_ms", queries.AUDIT_EXPIRY_UNRECORDED)

    # the restarted workers write with the current columns, beside the old rows
    store.write_audit([{"audit_id": "new1", "ts_ms": T0 + 10_000, "action": "trace", "status": 200,
                        "token_expires_ms": 0, "case_id": "case-2"}])
    assert store.audit_rows(case_id="case-2")[0]["token_expires_ms"] == 0
    gov.insert_reports([{"report_id": "rep3", "rumour_id": OLD, "link_method": "manual", "report_ms": T0,
                         "received_ms": T0 + 20_000, "linked_by": "desk", "linked_ms": T0 + 20_000}])
    assert gov.find_report("rep3")["linked_by"] == "desk"
    if "public_reports" in written:  # a desk links an old unlinked report by hand: its row written again
        gov.insert_reports([dict(gov.find_report("rep2"), rumour_id=OLD, link_method="manual", linked_by="desk",
                                 linked_ms=T0 + 40_000, link_note="same rumour")])
        assert gov.unlinked_reports() == [] and gov.find_report("rep2")["link_method"] == "manual"
    gov.append_status([{"rumour_id": OLD, "status": "debunked", "changed_by": "analyst", "changed_ms": T0 + 30_000}])
    assert gov.latest_statuses([OLD])[OLD]["status"] == "debunked"


@pytest.fixture
def bare_store(request, tmp_path):
    """A store on a fresh, unmigrated database (chDB or the shared 18.16 server), dropped after."""
    from tests.plugins.clickhouse import fresh_database, patient

    if request.param == "clickhouse":
        from streams.store.clickhouse import ClickHouseStore

        store = ClickHouseStore(patient(request.getfixturevalue("clickhouse_server")), database=fresh_database())
    else:
        from streams.store.embedded import ChdbStore

        store = ChdbStore("chdb://", database=fresh_database())
    try:
        yield store
    finally:
        try:
            store.drop()
        finally:
            store.close()


@pytest.mark.parametrize("bare_store", ["chdb", pytest.param("clickhouse", marks=pytest.mark.clickhouse)],
                         indirect=True)
@pytest.mark.parametrize("cut", CUTS)
def test_upgrade_from_every_cut_point_keeps_old_rows_readable(bare_store, tmp_path, cut):
    upgrade_and_check(bare_store, tmp_path, cut)


@pytest.mark.clickhouse
@pytest.mark.parametrize("cut", CLUSTER_CUTS)
def test_upgrade_on_the_cluster_keeps_old_rows_readable(cluster_server, tmp_path, cut):
    from streams.store.clickhouse import ClickHouseStore
    from tests.plugins.clickhouse import database_url, fresh_database
    from tests.plugins.clickhouse_cluster import cluster_name

    store = ClickHouseStore(database_url(cluster_server, fresh_database()), cluster=cluster_name())
    try:
        upgrade_and_check(store, tmp_path, cut)
    finally:
        try:
            store.drop()
        finally:
            store.close()


# Where an upgrade stops half-way (the server killed, a connection lost): before or after a
# statement that changes stored rows, in a file applied on a store of release 012 with rows.
CRASHES = [
    ("015_audit_hour_counts", "INSERT INTO {db}.audit_hour_counts SELECT", "after"),  # backfilled, not recorded
    ("017_rumour_changes", "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rumour_changes_rows_mv", "before"),
    ("021_audit_hour_refusals", "INSERT INTO {db}.audit_hour_refusals SELECT", "after"),
    ("023_report_manual_link", "ADD COLUMN link_note", "before"),  # two of three columns added
    ("025_minute_counts_backfill", "INSERT INTO {db}.share_minute_counts", "after"),
    ("026_minute_counts_exact", "WHERE toUInt32(ingested_at) <=", "after"),  # counted again: the same sets
]


def _crash(store, crash):
    needle, when = crash[1].replace("{db}", store.database), crash[2]

    def execute(statement):
        if needle in statement:
            if when == "after":
                store._execute(statement)
            raise ConnectionError("connection to the server lost")
        return store._execute(statement)
    return execute


# every stop on chDB; on 18.16 two (the runner is the same, the engine's DDL is not)
_CRASH_CASES = [pytest.param("chdb", c, id=f"{c[0][:3]}-{c[2]}-chdb") for c in CRASHES] + [
    pytest.param("clickhouse", c, id=f"{c[0][:3]}-{c[2]}-clickhouse", marks=pytest.mark.clickhouse)
    for c in CRASHES if c[0][:3] in ("015", "023")]


@pytest.mark.parametrize("bare_store,crash", _CRASH_CASES, indirect=["bare_store"])
def test_an_upgrade_stopped_half_way_names_the_file_and_a_rerun_finishes_it(bare_store, tmp_path, crash):
    from sql.plan import migration_status

    written = old_store(bare_store, tmp_path, 12)
    with pytest.raises(sql.MigrationError, match=crash[0] + ": connection to the server lost"):
        sql.migrate(_crash(bare_store, crash), bare_store.database)
    due = due_names(bare_store, 12)
    status = migration_status(bare_store._execute, bare_store.database)
    rest = due[due.index(crash[0]):]
    assert [m.name for m in status.pending] == rest  # the stopped file is pending, those before applied
    assert bare_store.migrate() == rest
    check_upgraded(bare_store, written)
