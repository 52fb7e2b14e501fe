"""A migration run refuses a store whose record does not fit this release's files, in one line,
before it runs anything: a store migrated by a newer release (a downgrade: versions this release
has no file for), and one whose applied files were edited since (their checksum), unless the
``migrate_allow_changed`` setting says to go on (Flyway's validate does the same). ``rumour
migrate``, its ``--dry-run`` and a worker at start refuse; ``--status`` says why and exits 1."""
from __future__ import annotations

import time
import types

import pytest

import sql
from sql.plan import dry_run, migration_status
from tests.plugins.clickhouse import database_url, fresh_database
from tests.upgrade_fill import copy_cut

NEWER = "998_from_a_newer_release"


@pytest.fixture(autouse=True)
def _no_override(monkeypatch):
    monkeypatch.delenv("RUMOUR_MIGRATE_ALLOW_CHANGED", raising=False)


def _record(store, version: int, name: str, checksum: str) -> None:
    store._command(f"INSERT INTO {store.database}.schema_migrations (version, name, checksum) "
                   f"SELECT {version}, '{name}', '{checksum}'")


def _forget(store, version: int) -> None:
    """Delete ``version``'s record, and wait until it is gone (a mutation: asynchronous on 18.16)."""
    store._command(f"ALTER TABLE {store.database}.schema_migrations DELETE WHERE version = {version}")
    for _ in range(400):
        if version not in sql.applied_versions(store._execute, store.database):
            return
        time.sleep(0.05)
    raise AssertionError(f"version {version} still recorded")


def _forget_last(store) -> str:
    """Forget the newest file (so a run has one to apply) and return its name."""
    last = sql.load_migrations()[-1]
    _forget(store, last.version)
    return last.name


def test_a_store_migrated_by_a_newer_release_is_refused_and_nothing_runs(store):
    # it was "unknown" in --status only, and a worker of the older release started on it
    pending = _forget_last(store)
    _record(store, 998, NEWER, "ab" * 8)
    expected = (f"the store was migrated by a newer release: {NEWER} (recorded in "
                f"{store.database}.schema_migrations, not among the files of this release); "
                "run that release or restore a backup")
    for allow in (False, True):  # no setting overrides a downgrade
        with pytest.raises(sql.MigrationRefused) as refused:
            store.migrate(allow_changed=allow)
        assert str(refused.value) == expected
        with pytest.raises(sql.MigrationRefused):
            dry_run(store._execute, store.database, allow_changed=allow)
    status = migration_status(store._execute, store.database)
    assert [m.name for m in status.pending] == [pending]  # the refused runs applied nothing
    assert status.unknown == [(998, NEWER)] and not status.up_to_date
    lines = status.lines()
    assert lines[0].endswith("1 pending, 1 from a newer release")
    assert f"NEWER    {NEWER}  applied by a newer release: this release does not have the file" in lines
    assert lines[-1] == "a run refuses: " + expected


def test_an_applied_file_edited_since_is_refused_unless_allowed(store, tmp_path, monkeypatch):
    # it was a warning, and the worker's own migrate at start said nothing at all
    edited = copy_cut(tmp_path, 999)
    (edited / "004_audit_log.sql").write_text((edited / "004_audit_log.sql").read_text() + "-- edited\n")
    recorded = sql.load_migrations()[3].checksum
    now = sql.load_migrations(edited)[3].checksum
    with pytest.raises(sql.MigrationRefused) as refused:
        sql.migrate(store._execute, store.database, directory=edited)
    assert str(refused.value) == (
        f"migration files edited since they were applied: 004_audit_log.sql (applied as {recorded[:8]}, "
        f"now {now[:8]}); restore them as released (a fix goes in a new file), or set migrate_allow_changed "
        "(RUMOUR_MIGRATE_ALLOW_CHANGED=true) to run with them as they are")
    assert sql.migrate(store._execute, store.database, directory=edited, allow_changed=True) == []

    # the store's own migrate (every command's, the worker's) reads the setting's variable
    pending = _forget_last(store)
    _record(store, 1, "001_share_events", "deadbeef" * 2)  # two checksums recorded for 001 now
    with pytest.raises(sql.MigrationRefused, match=r"001_share_events\.sql \(applied as "
                                                   rf"{sql.load_migrations()[0].checksum[:8]}/deadbeef, now "):
        store.migrate()
    assert [m.name for m in migration_status(store._execute, store.database).pending] == [pending]
    monkeypatch.setenv("RUMOUR_MIGRATE_ALLOW_CHANGED", "yes")
    assert store.migrate() == [pending]
    status = migration_status(store._execute, store.database, allow_changed=True)
    assert status.refusal is None and not status.up_to_date  # --status still reports it (exit 1)
    assert [name for name, _, _ in status.changed] == ["001_share_events"]
    monkeypatch.setenv("RUMOUR_MIGRATE_ALLOW_CHANGED", "perhaps")
    with pytest.raises(ValueError, match=r"migrate_allow_changed \(RUMOUR_MIGRATE_ALLOW_CHANGED\): expected true"):
        store.migrate()


@pytest.mark.clickhouse
def test_on_the_cluster_a_newer_release_store_and_an_edited_file_are_refused(cluster_store):
    # the record is a replicated table on every node: the node a run is connected to reads it
    assert cluster_store.migrate() == []
    _record(cluster_store, 998, NEWER, "ab" * 8)
    with pytest.raises(sql.MigrationRefused, match=f"migrated by a newer release: {NEWER} "):
        cluster_store.migrate()
    with pytest.raises(sql.MigrationRefused):
        dry_run(cluster_store._execute, cluster_store.database, cluster=cluster_store.cluster)
    _forget(cluster_store, 998)
    _record(cluster_store, 2, "002_share_minute_counts", "deadbeef" * 2)
    with pytest.raises(sql.MigrationRefused, match=r"edited since they were applied: 002_share_minute_counts\.sql "):
        cluster_store.migrate()
    assert cluster_store.migrate(allow_changed=True) == []


@pytest.mark.clickhouse
def test_a_worker_stops_at_once_on_a_store_it_may_not_migrate(clickhouse_server, ch_store, monkeypatch):
    # it would have started on a newer release's store; a refusal must not be waited out either
    from streams import worker_run
    from streams.settings import Settings

    def no_retry(seconds):
        raise AssertionError("the worker waited to try again: a refusal was taken for an outage")

    monkeypatch.setattr(worker_run, "time", types.SimpleNamespace(sleep=no_retry))
    url = database_url(clickhouse_server, ch_store.database)
    _record(ch_store, 998, NEWER, "ab" * 8)
    with pytest.raises(sql.MigrationRefused, match=f"migrated by a newer release: {NEWER} "):
        worker_run.migrate_when_reachable(Settings.load({"clickhouse_url": url}, environ={}))
    _forget(ch_store, 998)
    _record(ch_store, 1, "001_share_events", "deadbeef" * 2)
    with pytest.raises(sql.MigrationRefused, match="edited since they were applied: 001_share_events.sql "):
        worker_run.migrate_when_reachable(Settings.load({"clickhouse_url": url}, environ={}))
    settings = Settings.load({"clickhouse_url": url}, environ={"RUMOUR_MIGRATE_ALLOW_CHANGED": "true"})
    worker_run.migrate_when_reachable(settings).close()


@pytest.mark.clickhouse
def test_rumour_migrate_refuses_in_one_line_and_status_says_why(clickhouse_server, capsys):
    from streams.cli import main
    from streams.store.clickhouse import ClickHouseStore
    from tests.plugins.clickhouse import patient

    def rumour(*args):
        capsys.readouterr()
        rc = main(list(args))
        out, err = capsys.readouterr()
        return rc, out, err

    db = fresh_database()
    url = f"{clickhouse_server.rstrip('/')}/{db}"
    s = ClickHouseStore(patient(clickhouse_server), database=db)
    try:
        assert rumour("migrate", "--url", url)[0] == 0
        _record(s, 998, NEWER, "ab" * 8)
        for args in ((), ("--dry-run",), ("--migrate-allow-changed", "true")):
            rc, out, err = rumour("migrate", "--url", url, *args)
            assert rc == 2 and out == "" and len(err.splitlines()) == 1, err
            assert err.startswith(f"rumour: error: migration refused: the store was migrated by a newer release: "
                                  f"{NEWER} (recorded in {db}.schema_migrations")
        rc, out, _ = rumour("migrate", "--url", url, "--status")
        assert rc == 1 and f"\nNEWER    {NEWER}  applied by a newer release" in out
        assert out.splitlines()[-1].startswith("a run refuses: the store was migrated by a newer release")
    finally:
        s.drop()
        s.close()


@pytest.mark.clickhouse
@pytest.mark.kafka
def test_rumour_worker_exits_in_one_line_on_a_newer_release_store(kafka_bootstrap, clickhouse_server, ch_store,
                                                                    tmp_path):
    # the whole start: topics, warm-up, then the store's refusal as `rumour: error: ...`, exit 2
    import asyncio
    import os
    import subprocess
    import sys
    import uuid
    from pathlib import Path

    from tests.plugins.kafka import _delete_topics

    _record(ch_store, 998, NEWER, "ab" * 8)
    prefix = f"refused-{uuid.uuid4().hex[:8]}"
    topics = {"RUMOUR_TOPIC": prefix, "RUMOUR_DEAD_LETTER_TOPIC": prefix + "-dead",
              "RUMOUR_ALERTS_TOPIC": prefix + "-alerts", "RUMOUR_REPORTS_TOPIC": prefix + "-reports"}
    env = {**os.environ, **topics, "RUMOUR_KAFKA_BROKER": kafka_bootstrap, "RUMOUR_WEB_PORT": "0",
           "RUMOUR_DATA_DIR": str(tmp_path),
           "RUMOUR_CLICKHOUSE_URL": database_url(clickhouse_server, ch_store.database)}
    try:
        proc = subprocess.run([sys.executable, "-m", "streams.cli", "worker"], env=env, capture_output=True,
                              cwd=Path(__file__).resolve().parent.parent, timeout=300)
    finally:
        asyncio.run(_delete_topics(kafka_bootstrap, list(topics.values())))
    err = proc.stderr.decode()
    assert proc.returncode == 2 and len(err.splitlines()) == 1, err[-2000:]
    assert err.startswith(f"rumour: error: the store was migrated by a newer release: {NEWER} "), err
