"""The aggregates Grafana reads instead of the raw tables (sql/014_dead_letter_hour_counts.sql,
sql/015_audit_hour_counts.sql): a database migrated from before them counts the rows it already
held, re-running a file (a crash before it was recorded) counts nothing twice, and rows written
afterwards reach them through the views. On chDB and on clickhouse-server 18.16. And the
runner's ``-- backfill`` mark that feeds a new view the rows its source already holds."""
from __future__ import annotations

import pytest

import sql
from sql import queries
from streams.events import DeadLetter, EventBatch
from tests.test_service_grafana import HOUR_MS, _audit, _seconds, refusal_rows
from tests.test_sql import due_migrations
from tests.test_store import T0

NEW = (14, 15)
SUMMARIES = 20  # sql/020_audit_hour_suppressed.sql
REFUSALS = 21  # sql/021_audit_hour_refusals.sql


def _dead_counts(store) -> dict:
    rows = store._rows(f"SELECT reason_kind, uniqExactMerge(letters) FROM {store.database}.dead_letter_hour_counts "
                       "GROUP BY reason_kind")
    return {k: int(n) for k, n in rows}


def _raw_dead_counts(store) -> dict:
    rows = store._rows(f"SELECT splitByChar(':', reason)[1] AS k, count() FROM {store.database}.dead_letters FINAL "
                       "GROUP BY k")
    return {k: int(n) for k, n in rows}


def _audit_counts(store) -> dict:
    rows = store._rows(f"SELECT toUnixTimestamp(hour), action, status, uniqExactMerge(queries) "
                       f"FROM {store.database}.audit_hour_counts GROUP BY hour, action, status")
    return {(int(h), a, int(s)): int(n) for h, a, s, n in rows}


def _raw_audit_counts(store) -> dict:
    rows = store._rows(f"SELECT toUnixTimestamp(toStartOfHour(ts)) AS h, action, status, uniqExact(audit_id) "
                       f"FROM {store.database}.audit_log GROUP BY h, action, status")
    return {(int(h), a, int(s)): int(n) for h, a, s, n in rows}


def _write_some(store, tag: str, t0: int) -> None:
    dead = [DeadLetter(b"{" + tag.encode(), "invalid JSON: unexpected end", f"{tag}:1", t0),
            DeadLetter(tag.encode(), "ts: not RFC 3339: '" + tag + "'", f"{tag}:2", t0 + 1)]
    store.write(EventBatch(), dead)
    store.write(EventBatch(), [DeadLetter(d.raw, d.reason, d.source, d.received_ms + HOUR_MS) for d in dead])
    rows = [_audit(f"{tag}-1", t0), _audit(f"{tag}-2", t0 + 1, status=403), _audit(f"{tag}-3", t0 + HOUR_MS)]
    store.write_audit(rows)
    store.write_audit(rows[:1])  # a retried insert


def test_a_database_from_before_the_aggregates_counts_its_old_rows(store, monkeypatch):
    store.drop()
    sql.migrate(store._execute, store.database, migrations=[m for m in sql.load_migrations() if m.version < 14])
    # The old rows as the code of then wrote them: without the columns of sql/019.
    monkeypatch.setattr(queries, "AUDIT_COLUMNS", tuple(c for c in queries.AUDIT_COLUMNS
                                                        if c not in ("auth_failure", "token_fingerprint")))
    _write_some(store, "old", T0)
    monkeypatch.undo()
    # 014 and 015, and the files after them
    assert store.migrate() == [m.name for m in due_migrations(store) if m.version >= min(NEW)]
    assert _dead_counts(store) == _raw_dead_counts(store) == {"invalid JSON": 1, "ts": 1}
    assert _audit_counts(store) == _raw_audit_counts(store)
    assert sum(_audit_counts(store).values()) == 3

    # The backfill runs again (the process died before the file was recorded): nothing doubles.
    for m in sql.load_migrations():
        if m.version in NEW:
            for statement, _ in m.steps(store.database):
                store._execute(statement)
    assert _dead_counts(store) == {"invalid JSON": 1, "ts": 1}
    assert sum(_audit_counts(store).values()) == 3

    # Rows written afterwards go through the views, each counted once.
    _write_some(store, "new", T0 + 5 * HOUR_MS)
    assert _dead_counts(store) == _raw_dead_counts(store) == {"invalid JSON": 2, "ts": 2}
    assert _audit_counts(store) == _raw_audit_counts(store)
    assert sum(_audit_counts(store).values()) == 6


def test_rerunning_every_file_counts_nothing_twice(store):
    _write_some(store, "x", T0)
    before = (_dead_counts(store), _audit_counts(store))
    assert before[0] == {"invalid JSON": 1, "ts": 1}
    store._command(f"TRUNCATE TABLE {store.database}.schema_migrations")
    store.migrate()
    assert (_dead_counts(store), _audit_counts(store)) == before


def test_backfill_repeats_the_views_own_select_into_its_target():
    text = ("-- why: a note\n-- backfill\nCREATE MATERIALIZED VIEW IF NOT EXISTS {database}.v\n"
            "TO {database}.n\nAS SELECT k, uniqExactState(id) AS s\nFROM {database}.t\nGROUP BY k;\nSELECT 2;\n")
    steps = sql.Migration(1, "x", text, None).steps("db")
    assert [s for s, _ in steps] == [
        "CREATE MATERIALIZED VIEW IF NOT EXISTS db.v\nTO db.n\nAS SELECT k, uniqExactState(id) AS s\nFROM db.t\nGROUP BY k",
        "INSERT INTO db.n SELECT k, uniqExactState(id) AS s\nFROM db.t\nGROUP BY k",
        "SELECT 2"]
    # the files that need one have it: every view of 014, 015, 020 and 021 is backfilled
    for m in sql.load_migrations():
        if m.version in NEW + (SUMMARIES, REFUSALS):
            statements = [s for s, _ in m.steps("db")]
            views = [s for s in statements if s.startswith("CREATE MATERIALIZED VIEW")]
            assert len(views) == 1 and statements[-1].startswith("INSERT INTO db.")


DROPPED = 22  # sql/022_drop_audit_hour_suppressed.sql


def _tables(store) -> set:
    return {name for (name,) in store._rows(f"SELECT name FROM system.tables WHERE database = '{store.database}'")}


def test_the_unread_summary_aggregate_is_dropped_and_audit_rows_still_go_in(store):
    suppressed = {"audit_hour_suppressed", "audit_hour_suppressed_mv"}
    assert not _tables(store) & suppressed  # a new database: created by 020, dropped by 022
    store.drop()
    sql.migrate(store._execute, store.database,
                migrations=[m for m in sql.load_migrations() if m.version < DROPPED])
    store.write_audit(refusal_rows(T0, 25, rows_per_minute=3))  # a summary of 22 reaches 020's table
    assert _tables(store) >= suppressed
    assert store._rows(f"SELECT sum(requests) FROM {store.database}.audit_hour_suppressed FINAL")[0][0] == 22
    assert store.migrate() == [m.name for m in due_migrations(store) if m.version >= DROPPED]
    assert not _tables(store) & suppressed and "audit_hour_refusals" in _tables(store)
    # run again (a crash before it was recorded): nothing to drop, no error
    (dropping,) = [m for m in sql.load_migrations() if m.version == DROPPED]
    for statement, _ in dropping.steps(store.database):
        store._execute(statement)
    # audit_log takes rows (no view left writing to a table that is gone); the panels count them
    store.write_audit(refusal_rows(T0 + HOUR_MS, 4, rows_per_minute=60) + [_audit("served-1", T0 + HOUR_MS)])
    hour = T0 // HOUR_MS * HOUR_MS // 1000
    refused = {(_seconds(t), r): int(n) for t, r, n in store._rows(queries.audit_hour_refused(store.database))}
    served = {(_seconds(t), a): int(n) for t, a, n in store._rows(queries.audit_hour_served(store.database))}
    assert refused == {(hour, "unknown"): 25, (hour + 3600, "unknown"): 4}
    assert served == {(hour + 3600, "trace"): 1}


def test_refusals_written_before_their_aggregate_are_counted_apart_from_served_requests(store):
    store.drop()
    sql.migrate(store._execute, store.database,
                migrations=[m for m in sql.load_migrations() if m.version < REFUSALS])
    # before sql/021: one served trace, 25 refused (3 rows of their own under trace and rumours,
    # a summary of 22), the summary written twice
    before = refusal_rows(T0, 25, rows_per_minute=3)
    store.write_audit([_audit("served-1", T0)] + before)
    store.write_audit(before[-1:])
    assert store.migrate() == [m.name for m in due_migrations(store) if m.version >= REFUSALS]
    hour = T0 // HOUR_MS * HOUR_MS // 1000

    def panels():
        served = {(_seconds(t), a): int(n) for t, a, n in store._rows(queries.audit_hour_served(store.database))}
        refused = {(_seconds(t), r): int(n) for t, r, n in store._rows(queries.audit_hour_refused(store.database))}
        return served, refused

    assert panels() == ({(hour, "trace"): 1}, {(hour, "unknown"): 25})
    # the backfill run again adds nothing; rows written afterwards go through the view
    for m in sql.load_migrations():
        if m.version == REFUSALS:
            for statement, _ in m.steps(store.database):
                store._execute(statement)
    assert panels() == ({(hour, "trace"): 1}, {(hour, "unknown"): 25})
    store.write_audit(refusal_rows(T0 + HOUR_MS, 4, rows_per_minute=60) + [_audit("served-2", T0 + HOUR_MS)])
    assert panels() == ({(hour, "trace"): 1, (hour + 3600, "trace"): 1},
                        {(hour, "unknown"): 25, (hour + 3600, "unknown"): 4})

@pytest.mark.parametrize("text, message", [
    ("-- backfill: the old rows\nCREATE MATERIALIZED VIEW v TO n AS SELECT 1 FROM t;\n", "malformed backfill"),
    ("-- backfill\nCREATE TABLE t (a UInt8) ENGINE = Memory;\n", "must precede a CREATE MATERIALIZED VIEW"),
    ("-- backfill\nCREATE MATERIALIZED VIEW v ENGINE = Memory AS SELECT 1 FROM t;\n", "must precede"),
])
def test_a_backfill_mark_that_cannot_be_honoured_is_refused(text, message):
    # read as a plain comment, the view would silently miss the rows already there
    with pytest.raises(sql.MigrationError, match=message):
        sql.split_guarded(text)
