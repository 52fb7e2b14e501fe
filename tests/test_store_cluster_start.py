"""A worker starting on a ClickHouse cluster with a node down (streams/store/cluster_migrate.py):
it starts when the store's schema is current (nothing due on any node that answers, every shard
answering) and writes through the live replicas; it still refuses in one line when a migration
is due, when no node of a shard answers, and when the record refuses the run.

The shared cluster is never stopped: there the node down is a refusing port added to every
replica reader's node list (as a node of a shard). On the private cluster of
tests/test_store_cluster_restart.py a node is really stopped, so an ON CLUSTER statement would
wait for it (the slow test)."""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

import sql
from streams import worker_run
from streams.settings import Settings
from streams.store.clickhouse import ClickHouseStore
from streams.store.replicas import NodesUnread, ReplicaReader
from tests.plugins.clickhouse import fresh_database, patient
from tests.plugins.clickhouse_cluster import cluster_nodes
from tests.test_migrate_refusals import NEWER, _forget, _record
from tests.test_store import make_batch, seeded_rows
from tests.test_store_cluster_restart import private_cluster  # noqa: F401 (fixture)
from tests.test_store_failover import refusing_port


def _dead_node(monkeypatch, store, shard: int, alone: bool = False) -> tuple[str, int]:
    """A refusing port in every replica reader's node list, as a node of ``shard`` (``alone``:
    in place of that shard's own nodes, so none of the shard answers)."""
    dead = ("127.0.0.1", refusing_port())
    ports_of_shard = {port for s, _, port in cluster_nodes(store) if s == shard}
    listed = ReplicaReader.node_list

    def node_list(self):
        nodes = [n for n in listed(self) if not (alone and n[1] in ports_of_shard)]
        if hasattr(self, "shards"):
            self.shards[dead] = shard
        return nodes + [dead]

    monkeypatch.setattr(ReplicaReader, "node_list", node_list)
    return dead


def _settings(store, database: str | None = None) -> Settings:
    """A worker's settings for ``store``'s cluster (``database``: another database there), each
    node's read-back bounded by 2 s."""
    s = store.settings
    url = f"clickhouse://{s['host']}:{s['port']}/{database or store.database}?connect_timeout=2&retry_seconds=20"
    return Settings.load({"clickhouse_url": url, "clickhouse_cluster": store.cluster}, environ={})


@pytest.mark.clickhouse
def test_a_worker_starts_with_a_node_down_when_nothing_is_due(cluster_store, monkeypatch, caplog):
    """Before, the node check refused every start with a node down, a current store's too (the
    set-up statements ran ON CLUSTER whatever was due): the worker waited for the node."""
    dead = _dead_node(monkeypatch, cluster_store, shard=1)
    ran = []
    monkeypatch.setattr(sql, "migrate", lambda *a, **k: ran.append(a) or [])
    caplog.set_level(logging.WARNING, logger="streams.store.cluster_migrate")
    started = time.monotonic()
    store = worker_run.migrate_when_reachable(_settings(cluster_store), max_attempts=1)
    try:
        assert time.monotonic() - started < 15
        assert ran == []  # nothing ON CLUSTER, the set-up statements neither
        (warning,) = [r.getMessage() for r in caplog.records if r.name == "streams.store.cluster_migrate"]
        assert f"node(s) 127.0.0.1:{dead[1]} did not answer" in warning
        rows = seeded_rows(seed=11, n=80, rumours=5)
        store.write(make_batch(rows), [])
        assert store.count_events() == 80
        assert sorted(cluster_store.load_events().event_id) == sorted(r["event_id"] for r in rows)
    finally:
        store.close()


@pytest.mark.clickhouse
def test_with_a_node_down_a_due_migration_is_still_refused_in_one_line(cluster_store, monkeypatch):
    """A file due (an upgrade), a store never migrated, and a record only a newer release wrote:
    none runs with a node down. The refusal names the node (as before) and what is due (new)."""
    dead = _dead_node(monkeypatch, cluster_store, shard=1)
    last = sql.load_migrations()[-1]
    _forget(cluster_store, last.version)
    head = f"migrate ON CLUSTER {cluster_store.cluster}: cluster node(s) 127.0.0.1:{dead[1]} did not answer within 2s; every node"
    with pytest.raises(NodesUnread) as caught:
        worker_run.migrate_when_reachable(_settings(cluster_store), max_attempts=1)
    message = str(caught.value)
    assert message.startswith(head) and message.endswith(f"; due: {last.name} on 127.0.0.1:{cluster_store.settings['port']}")
    assert "\n" not in message
    assert last.version not in cluster_store.applied_migrations()  # nothing ran
    # a store never migrated: everything due, and not even its database is created
    fresh = fresh_database()
    with pytest.raises(NodesUnread, match=r"; due: 001_share_events and \d+ more on "):
        worker_run.migrate_when_reachable(_settings(cluster_store, fresh), max_attempts=1)
    for _, _, port in cluster_nodes(cluster_store):
        node = ClickHouseStore(patient(f"clickhouse://127.0.0.1:{port}/default"))
        try:
            assert node._rows(f"SELECT count() FROM system.databases WHERE name = '{fresh}'") == [(0,)]
        finally:
            node.close()
    # a newer release's record: refused at once as on a whole cluster (waiting changes nothing)
    _record(cluster_store, 998, NEWER, "ab" * 8)
    with pytest.raises(sql.MigrationRefused, match=f"migrated by a newer release: {NEWER} "):
        worker_run.migrate_when_reachable(_settings(cluster_store), max_attempts=1)


@pytest.mark.clickhouse
def test_a_shard_with_no_node_answering_stops_a_start_naming_the_shard(cluster_store, monkeypatch):
    """Its rows can be neither written nor read (a Distributed insert or read needs a replica of
    every shard): the start waits, saying which shard, though nothing is due."""
    dead = _dead_node(monkeypatch, cluster_store, shard=2, alone=True)
    with pytest.raises(NodesUnread) as caught:
        worker_run.migrate_when_reachable(_settings(cluster_store), max_attempts=1)
    assert str(caught.value) == (
        f"migrate ON CLUSTER {cluster_store.cluster}: no node of shard(s) 2 answered (127.0.0.1:{dead[1]} "
        "did not within 2s): its rows can be neither written nor read; start one of its nodes")


def test_the_migration_s_statements_carry_the_ddl_timeout(monkeypatch):
    """Every statement of a migration on a cluster is sent with distributed_ddl_task_timeout
    (clickhouse_ddl_timeout): a stuck DDL worker cost the server's 180 s a statement.
    (Server faked: what is asserted is what the store sends.)"""
    monkeypatch.delenv("RUMOUR_CLICKHOUSE_DDL_TIMEOUT", raising=False)
    store = ClickHouseStore("clickhouse://127.0.0.1:9101/db", cluster="rumour")
    monkeypatch.setattr(store._replica_reader(), "check_every_node", lambda purpose: None)
    sent = []
    monkeypatch.setattr(store, "_call", lambda *args, **kwargs: sent.append((args[0], kwargs.get("settings"))) or [])

    def migrate(execute, database, cluster=None, allow_changed=False):
        execute("CREATE DATABASE IF NOT EXISTS db ON CLUSTER rumour")
        execute("SELECT version, name, checksum FROM db.schema_migrations")
        return []

    monkeypatch.setattr(sql, "migrate", migrate)
    try:
        store.migrate()
        store.migrate(ddl_timeout=7)
        store.migrate(ddl_timeout=0)  # the server's own
        monkeypatch.setenv("RUMOUR_CLICKHOUSE_DDL_TIMEOUT", "15")
        store.migrate()
    finally:
        store.close()
    ddl = [settings for statement, settings in sent if statement.startswith("CREATE")]
    assert ddl == [{"distributed_ddl_task_timeout": 60}, {"distributed_ddl_task_timeout": 7}, None,
                   {"distributed_ddl_task_timeout": 15}]
    assert all(settings is None for statement, settings in sent if statement.startswith("SELECT"))


def test_the_ddl_timeout_reaches_an_18_16_server_as_the_number_sent():
    """18.16 takes query settings in binary and reads an Int64 one as a signed (zigzag) varint;
    clickhouse-driver wrote it unsigned: 5 arrived as -3 (no limit: the statement hung until
    the socket's timeout, seen on the private cluster) and 60 as 30."""
    import io

    from clickhouse_driver.settings.writer import write_settings

    import streams.store.cluster_migrate  # noqa: F401 (registers the signed writer)

    name = b"distributed_ddl_task_timeout"
    binary = io.BytesIO()
    write_settings({"distributed_ddl_task_timeout": 5}, binary, False, 0)
    assert binary.getvalue() == bytes([len(name)]) + name + b"\x0a" + b"\x00"  # 5 zigzag, then the end
    as_strings = io.BytesIO()  # a newer server: the number's text, unchanged
    write_settings({"distributed_ddl_task_timeout": 5}, as_strings, True, 0)
    assert as_strings.getvalue() == bytes([len(name)]) + name + b"\x00" + b"\x015" + b"\x00"


@pytest.mark.slow
@pytest.mark.clickhouse
def test_a_worker_starts_and_writes_with_a_replica_really_down(private_cluster, monkeypatch, tmp_path):
    """Private cluster (node1 and node2: shard 1's replicas, node3: shard 2); the worker's URL
    names all three. node1 stops: a worker starts (its set-up statements would have waited the
    DDL timeout for node1, then failed) and stores events through node2 and node3; with a file
    due it still refuses, naming node1 (and run, it waits clickhouse_ddl_timeout for node1, not
    180 s); with node3 down too, it names shard 2."""
    from tests.test_store_cluster_restart import _migrate_when_the_nodes_take_ddl

    base = private_cluster["base"]
    hosts = ",".join(f"127.0.0.1:{base + n}" for n in (1, 2, 3))
    url = f"clickhouse://{hosts}/rt_clstart?connect_timeout=5&retry_seconds=60"
    settings = Settings.load({"clickhouse_url": url, "clickhouse_cluster": "rumour"}, environ={})
    first = ClickHouseStore(patient(f"clickhouse://127.0.0.1:{base + 1}/rt_clstart"), cluster="rumour")
    try:
        _migrate_when_the_nodes_take_ddl(first)
    finally:
        first.close()

    def stop(node: int) -> None:
        pid = int((private_cluster["run"] / f"node{node}" / "clickhouse.pid").read_text())
        os.kill(pid, 15)
        deadline = time.monotonic() + 60
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    # node2 and node3 hold every record before node1 goes (replication is asynchronous: a copy
    # behind, which cannot fetch the part from node1 once it is down, counts as due: refused)
    for port in (base + 2, base + 3):
        node = ClickHouseStore(patient(f"clickhouse://127.0.0.1:{port}/rt_clstart"))
        try:
            node._command("SYSTEM SYNC REPLICA rt_clstart.schema_migrations")
        finally:
            node.close()
    stop(1)
    started = time.monotonic()
    store = worker_run.migrate_when_reachable(settings, max_attempts=1)
    try:
        assert time.monotonic() - started < 30  # no ON CLUSTER wait (60 s) for node1
        rows = seeded_rows(seed=12, n=200, rumours=6)
        store.write(make_batch(rows), [])
        assert store.count_events() == 200
        assert sorted(store.load_events().event_id) == sorted(r["event_id"] for r in rows)
    finally:
        store.close()
    # a file due (this release's files plus one): refused in one line naming node1
    extra = tmp_path / "sql"
    extra.mkdir()
    for mig in sql.load_migrations():
        (extra / f"{mig.name}.sql").write_text(mig.text, encoding="utf-8")
    (extra / "099_extra.sql").write_text(
        "CREATE TABLE IF NOT EXISTS {database}.extra (rumour_id String) ENGINE = MergeTree() ORDER BY rumour_id;\n",
        encoding="utf-8")
    with monkeypatch.context() as patched:
        patched.setattr(sql, "SQL_DIR", extra)
        with pytest.raises(NodesUnread, match=rf"node\(s\) 127.0.0.1:{base + 1} did not answer .*; due: 099_extra on "):
            worker_run.migrate_when_reachable(settings, max_attempts=1)
        # node1 as a node that answers but whose DDL worker does not run the statement: the
        # statement's wait is clickhouse_ddl_timeout (5 s here), not the server's 180 s
        store = ClickHouseStore(url, cluster="rumour")
        patched.setattr(store._replica_reader(), "check_every_node", lambda purpose: None)
        started = time.monotonic()
        try:
            # (its first statement waits: the set-up's; node1 named, and another too on a busy
            # machine if it had not run it within the 5 s)
            with pytest.raises(sql.MigrationError, match=rf"^schema setup: node\(s\) \S*127.0.0.1:{base + 1}\b\S* did "
                                                         "not run an ON CLUSTER statement within distributed_ddl_task_timeout"):
                store.migrate(ddl_timeout=5)
            assert time.monotonic() - started < 30
        finally:
            store.close()
    stop(3)
    with pytest.raises(NodesUnread, match=r"^migrate ON CLUSTER rumour: no node of shard\(s\) 2 answered "):
        worker_run.migrate_when_reachable(settings, max_attempts=1)
