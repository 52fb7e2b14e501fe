"""The migration runner's ``-- unless-column:`` guard: on chDB and on clickhouse-server 18.16
(which has no ``ADD COLUMN IF NOT EXISTS``), a statement that adds an existing column is skipped,
so re-runs and two processes migrating at once stay harmless."""
from __future__ import annotations

import threading

import pytest

import sql
from sql import queries

BASE = "CREATE TABLE IF NOT EXISTS {database}.g (a UInt8) ENGINE = MergeTree() ORDER BY a;\n"
ADD = "-- unless-column: g b\nALTER TABLE {database}.g ADD COLUMN b Int64 DEFAULT -1;\n"


def _files(tmp_path):
    (tmp_path / "001_base.sql").write_text(BASE)
    (tmp_path / "002_add_b.sql").write_text(ADD)
    return tmp_path


def _recording(store, log):
    def execute(statement):
        log.append(statement)
        return store._execute(statement)
    return execute


def _alters(log):
    return [s for s in log if s.startswith("ALTER TABLE")]


def _columns(store, db):
    return [r[0] for r in store._rows(f"SELECT name FROM system.columns WHERE database = '{db}' "
                                      "AND table = 'g' ORDER BY name")]


@pytest.fixture
def db(store):
    name = store.database + "_guard"
    yield name
    store._command(queries.drop_database(name))


def test_migrate_twice_runs_the_guarded_alter_once(store, db, tmp_path):
    folder = _files(tmp_path)
    log = []
    assert sql.migrate(_recording(store, log), db, directory=folder) == ["001_base", "002_add_b"]
    assert len(_alters(log)) == 1 and _columns(store, db) == ["a", "b"]
    # A crash before the files were recorded: everything is due again, and the ALTER, whose
    # column now exists, is skipped rather than failing with "column already exists".
    store._command(f"TRUNCATE TABLE {db}.schema_migrations")
    log.clear()
    assert sql.migrate(_recording(store, log), db, directory=folder) == ["001_base", "002_add_b"]
    assert _alters(log) == []
    assert sql.migrate(_recording(store, log), db, directory=folder) == []
    assert _columns(store, db) == ["a", "b"]


def test_statement_whose_column_exists_is_skipped(store, db, tmp_path):
    # The table already has the column (made by hand, or by an older file): 002 must not run.
    (tmp_path / "001_base.sql").write_text(
        "CREATE TABLE IF NOT EXISTS {database}.g (a UInt8, b Int64) ENGINE = MergeTree() ORDER BY a;\n")
    (tmp_path / "002_add_b.sql").write_text(ADD)
    log = []
    assert sql.migrate(_recording(store, log), db, directory=tmp_path) == ["001_base", "002_add_b"]
    assert _alters(log) == []
    assert any("system.columns" in s for s in log)


def test_unguarded_add_of_an_existing_column_still_fails(store, db, tmp_path):
    """The control: without the guard the server refuses the second ADD COLUMN (so the guard is
    what makes re-runs pass on this server, not a lenient engine)."""
    (tmp_path / "001_base.sql").write_text(BASE)
    (tmp_path / "002_add_b.sql").write_text("ALTER TABLE {database}.g ADD COLUMN b Int64;\n")
    sql.migrate(store._execute, db, directory=tmp_path)
    store._command(f"TRUNCATE TABLE {db}.schema_migrations")
    with pytest.raises(sql.MigrationError, match="002_add_b"):
        sql.migrate(store._execute, db, directory=tmp_path)


def test_column_added_by_another_process_after_the_check_counts_as_skipped(store, db, tmp_path):
    folder = _files(tmp_path)

    def racing(statement):
        # Another migrator adds the column between our check and our ALTER.
        if statement.startswith("ALTER TABLE"):
            store._execute(statement)
        return store._execute(statement)

    assert sql.migrate(racing, db, directory=folder) == ["001_base", "002_add_b"]
    assert _columns(store, db) == ["a", "b"]


def test_two_processes_migrating_at_once(ch_store, tmp_path):
    """Two connections to 18.16 migrate the same database at the same time: both succeed."""
    from streams.store.clickhouse import ClickHouseStore
    from tests.plugins.clickhouse import clickhouse_url, patient

    folder = _files(tmp_path)
    db = ch_store.database + "_two"
    stores = [ClickHouseStore(patient(clickhouse_url()), database="default") for _ in range(2)]
    start = threading.Barrier(2)
    errors = []

    def run(s):
        start.wait()
        try:
            sql.migrate(s._execute, db, directory=folder)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=run, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
        assert _columns(ch_store, db) == ["a", "b"]
        assert sql.applied_versions(ch_store._execute, db) == [1, 2]
    finally:
        ch_store._command(queries.drop_database(db))
        for s in stores:
            s.close()


@pytest.mark.parametrize("text, message", [
    ("-- unless-column: g b\n", "guards no statement"),
    ("-- unless-column: g c\nALTER TABLE {database}.g ADD COLUMN b Int64;\n", "does not name c"),
    ("-- unless-column: g b\n-- unless-column: g b\nALTER TABLE {database}.g ADD COLUMN b Int64;\n",
     "one unless-column guard per statement"),
])
def test_malformed_guards_are_refused_when_the_files_load(tmp_path, text, message):
    (tmp_path / "001_bad.sql").write_text(text)
    with pytest.raises(sql.MigrationError, match=message):
        sql.load_migrations(tmp_path)


def test_guard_belongs_to_the_statement_after_it_only():
    steps = sql.split_guarded("SELECT 1;\n-- unless-column: g b\n-- why: a note; with a semicolon;\n"
                              "ALTER TABLE g ADD COLUMN b Int64;\nSELECT 2;\n")
    assert steps == [("SELECT 1", None), ("ALTER TABLE g ADD COLUMN b Int64", ("g", "b")), ("SELECT 2", None)]


@pytest.mark.parametrize("line", ["-- unless-column: g' b", "-- unless-column: g", "--unless-column g b"])
def test_guard_names_must_be_plain_identifiers(line):
    # A malformed guard is refused, never read as a plain comment (its statement would run unguarded).
    with pytest.raises(sql.MigrationError, match="malformed guard"):
        sql.split_guarded(line + "\nALTER TABLE g ADD COLUMN b Int64;\n")


def test_column_exists_refuses_names_it_would_paste_into_sql():
    with pytest.raises(ValueError):
        sql.column_exists(lambda s: [(0,)], "db", "g'", "b")


def test_every_add_column_in_the_schema_files_is_guarded():
    for m in sql.load_migrations():
        for statement, guard in m.steps("db"):
            if "ADD COLUMN" in statement.upper():
                assert guard is not None, (m.name, statement)
