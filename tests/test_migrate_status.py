"""What an operator sees before and after an upgrade: ``rumour migrate --status`` (applied,
pending and gated files, files edited since applied) and ``--dry-run`` (the statements a run
would execute, in the cluster form too), both changing nothing (sql/plan.py), and the plain
run naming what it applied."""
from __future__ import annotations

import pytest

import sql
from sql import queries
from sql.plan import dry_run, migration_status
from tests.plugins.clickhouse import fresh_database
from tests.upgrade_fill import copy_cut, due_names, fill


class _Run:
    def __init__(self, returncode, out, err):
        self.returncode, self.stdout, self.stderr = returncode, out.encode(), err.encode()


@pytest.fixture
def rumour(capsys):
    """``rumour ARGS...`` run in this process (streams.cli.main; a subprocess costs seconds of
    start-up each): its exit code, stdout and stderr."""
    from streams.cli import main

    def run(*args, check=True):
        capsys.readouterr()
        rc = main([str(a) for a in args])
        out, err = capsys.readouterr()
        if check and rc != 0:
            raise AssertionError(f"rumour {' '.join(map(str, args))} failed ({rc}): {err}")
        return _Run(rc, out, err)
    return run


def _schema(store) -> list:
    """Every table and column of the store's database, and its migrations record."""
    cols = store._rows("SELECT table, name, type FROM system.columns "
                       f"WHERE database = '{store.database}' ORDER BY table, name")
    recorded = store._rows(f"SELECT version, checksum FROM {store.database}.schema_migrations ORDER BY version")
    return [cols, recorded]


def test_status_and_dry_run_of_a_store_behind_change_nothing_and_say_what_a_run_does(store, tmp_path):
    db = store.database + "_old"
    store.database, current = db, store.database  # a database an older release made (up to 012)
    try:
        sql.migrate(store._execute, db, directory=copy_cut(tmp_path, 12))
        fill(store)
        status = migration_status(store._execute, db)
        due = due_names(store, 0)  # every file this engine applies (not 006 and 018 on 18.16)
        assert [name for _, name, _ in status.applied] == [n for n in due if int(n[:3]) <= 12]
        assert [m.name for m in status.pending] == [n for n in due if int(n[:3]) > 12]
        assert [m.name for m in status.gated] == [m.name for m in sql.load_migrations() if m.name not in due]
        assert not status.changed and not status.unknown and not status.up_to_date
        before = _schema(store)

        plan = dry_run(store._execute, db)
        assert _schema(store) == before  # read only
        assert "-- 013_audit_token_expiry (checksum" in plan[0]
        assert f"ALTER TABLE {db}.audit_log ADD COLUMN token_expires_ms Int64 DEFAULT -1;" in plan
        assert any(p.startswith(f"INSERT INTO {db}.audit_hour_counts SELECT") for p in plan)  # 015's backfill
        assert plan[-1].startswith(f"INSERT INTO {db}.schema_migrations") and "026" in plan[-1]
        # the plan is the run: the same statements, in order
        ran = []
        sql.migrate(lambda s: (ran.append(s), store._execute(s))[1], db)
        assert [p for p in plan if not p.startswith("--")] == [s + ";" for s in ran
                                                               if not s.startswith("SELECT")][2:]

        after = migration_status(store._execute, db)
        assert after.up_to_date and not after.pending and dry_run(store._execute, db) == []
        assert [m.name for m in after.gated] == [m.name for m in status.gated]
    finally:
        store._command(queries.drop_database(db))
        store.database = current


def test_status_names_an_applied_file_edited_since_and_a_record_from_a_newer_release(chdb_store, tmp_path):
    older = copy_cut(tmp_path, 4)
    (older / "004_audit_log.sql").write_text((older / "004_audit_log.sql").read_text() + "-- edited\n")
    db = chdb_store.database + "_edited"
    try:
        sql.migrate(chdb_store._execute, db, directory=older)
        chdb_store._command(f"INSERT INTO {db}.schema_migrations (version, name, checksum) "
                            "SELECT 999, '999_from_the_future', 'abcd'")
        status = migration_status(chdb_store._execute, db)
        ((name, recorded, now),) = status.changed
        assert name == "004_audit_log" and now == sql.load_migrations()[3].checksum and recorded != [now]
        assert status.unknown == [(999, "999_from_the_future")]
        lines = status.lines()
        assert any(line.startswith("CHANGED  004_audit_log") for line in lines)
        assert any(line.startswith("NEWER    999_from_the_future  applied by a newer release") for line in lines)
        assert lines[-1].startswith("a run refuses: the store was migrated by a newer release: 999_from_the_future")
    finally:
        chdb_store._command(queries.drop_database(db))


def test_dry_run_of_a_new_database_has_its_creation_and_no_guard_reads():
    seen = []

    def execute(statement):
        seen.append(statement)
        if "system.tables" in statement:
            return [(0,)]
        if statement == "SELECT version()":
            return [("18.16.1",)]
        raise AssertionError(f"a dry run ran {statement!r}")

    plan = dry_run(execute, "fresh_db")
    assert plan[1:3] == ["CREATE DATABASE IF NOT EXISTS fresh_db;",
                         sql.MIGRATIONS_TABLE.replace("{database}", "fresh_db") + ";"]
    assert "-- 006_minute_counts_once" not in " ".join(plan)  # gated at 22.3: 18.16 skips it
    assert sum(p.startswith("INSERT INTO fresh_db.schema_migrations") for p in plan) == \
        len([m for m in sql.load_migrations() if m.requires is None])


@pytest.mark.clickhouse
def test_dry_run_on_the_cluster_prints_the_cluster_form_and_creates_nothing(cluster_server):
    from streams.store.clickhouse import ClickHouseStore
    from tests.plugins.clickhouse import database_url
    from tests.plugins.clickhouse_cluster import cluster_name

    db = fresh_database()
    store = ClickHouseStore(database_url(cluster_server, db), cluster=cluster_name())
    try:
        plan = dry_run(store._execute, db, cluster=store.cluster)
        assert plan[1] == f"CREATE DATABASE IF NOT EXISTS {db} ON CLUSTER {cluster_name()};"
        assert any(p.startswith(f"CREATE TABLE IF NOT EXISTS {db}.share_events_local ON CLUSTER") for p in plan)
        assert any(f"ENGINE = Distributed({cluster_name()}, {db}, audit_log_local" in p for p in plan)
        assert store._rows(f"SELECT count() FROM system.databases WHERE name = '{db}'") == [(0,)]
    finally:
        store.close()


@pytest.mark.clickhouse
def test_rumour_migrate_status_dry_run_and_run_on_the_server(clickhouse_server, rumour):
    db = fresh_database()
    url = f"{clickhouse_server.rstrip('/')}/{db}"
    try:
        proc = rumour("migrate", "--url", url, "--status", check=False)
        assert proc.returncode == 1  # pending files: a deploy script can ask before it upgrades
        out = proc.stdout.decode()
        assert out.startswith(f"database {db}: 0 applied, ") and "pending  001_share_events  " in out
        assert "gated    006_minute_counts_once  needs server 22.3" in out
        out = rumour("migrate", "--url", url, "--dry-run").stdout.decode()
        assert f"CREATE DATABASE IF NOT EXISTS {db};" in out and "-- 025_minute_counts_backfill" in out
        out = rumour("migrate", "--url", url).stdout.decode()
        assert out.startswith(f"migrated {url}: applied 001_share_events, 002_share_minute_counts")
        assert rumour("migrate", "--url", url).stdout.decode() == f"migrated {url}: up to date\n"
        out = rumour("migrate", "--url", url, "--status").stdout.decode()
        assert "0 pending" in out and "pending  " not in out
        assert "is up to date: nothing to run" in rumour("migrate", "--url", url, "--dry-run").stdout.decode()
    finally:
        from streams.store.clickhouse import ClickHouseStore
        from tests.plugins.clickhouse import patient

        s = ClickHouseStore(patient(clickhouse_server), database=db)
        s.drop()
        s.close()


@pytest.mark.clickhouse
def test_rumour_migrate_says_in_one_line_which_file_failed_and_refuses_an_edited_one(clickhouse_server, rumour,
                                                                                     monkeypatch):
    monkeypatch.delenv("RUMOUR_MIGRATE_ALLOW_CHANGED", raising=False)
    from streams.store.clickhouse import ClickHouseStore
    from tests.plugins.clickhouse import patient

    db = fresh_database()
    url = f"{clickhouse_server.rstrip('/')}/{db}"
    s = ClickHouseStore(patient(clickhouse_server), database=db)
    try:
        # a table of that name made by hand, not the one 014 creates: its backfill cannot fill it
        s._command(f"CREATE DATABASE {db}")
        s._command(f"CREATE TABLE {db}.dead_letter_hour_counts (x UInt8) ENGINE = Memory")
        proc = rumour("migrate", "--url", url, check=False)
        err = proc.stderr.decode()
        assert proc.returncode == 2 and len(err.splitlines()) == 1, err
        assert err.startswith("rumour: error: migration failed: 014_dead_letter_hour_counts: ")
        assert "Stack trace" not in err and f"(statement: INSERT INTO {db}.dead_letter_hour_counts SELECT" in err
        status = rumour("migrate", "--url", url, "--status", check=False).stdout.decode()
        assert "applied  013_audit_token_expiry" in status and "pending  014_dead_letter_hour_counts" in status

        s._command(f"DROP TABLE {db}.dead_letter_hour_counts")  # the cause fixed: the run goes on from 014
        s._command(f"INSERT INTO {db}.schema_migrations (version, name, checksum) SELECT 1, '001_share_events', 'deadbeef'")
        proc = rumour("migrate", "--url", url, check=False)  # an edited file: refused, nothing run
        err = proc.stderr.decode()
        assert proc.returncode == 2 and len(err.splitlines()) == 1, err
        assert err.startswith("rumour: error: migration refused: migration files edited since they were applied: "
                              "001_share_events.sql (applied as ")
        assert "pending  014_dead_letter_hour_counts" in rumour("migrate", "--url", url, "--status",
                                                                check=False).stdout.decode()
        proc = rumour("migrate", "--url", url, "--migrate-allow-changed", "true")
        assert proc.stdout.decode().startswith(f"migrated {url}: applied 014_dead_letter_hour_counts, 015_")
        assert "rumour: warning: 001_share_events was applied with checksum " in proc.stderr.decode()
        proc = rumour("migrate", "--url", url, "--status", check=False)
        assert proc.returncode == 1 and "CHANGED  001_share_events  applied as " in proc.stdout.decode()
    finally:
        s.drop()
        s.close()
