"""A node that lacks tables of the store (streams/store/node_schema.py): one added to the cluster's
remote_servers after the store was migrated gets the migrations record (the set-up's ON CLUSTER
statement, every run) and so reads "nothing due", but none of the tables the files made ON
CLUSTER before it was there.

On the shared cluster (never reconfigured) a node's lack is made by dropping its own copy of a
table (not ON CLUSTER); on a private cluster (scripts/services/clickhouse-cluster.sh on free
ports, RUMOUR_CLUSTER_NODES) a third node is really added to a migrated two-node cluster.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import sql
from streams import worker_run
from streams.settings import Settings
from streams.store.clickhouse import ClickHouseStore
from streams.store.node_schema import NodesLackTables, NodeTablesError
from tests.plugins.clickhouse import patient
from tests.plugins.clickhouse_cluster import cluster_nodes
from tests.test_store import make_batch, seeded_rows

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "services" / "clickhouse-cluster.sh"


def _on_node(store, port: int, statement: str):
    node = ClickHouseStore(patient(f"clickhouse://127.0.0.1:{port}/default"))
    try:
        return node._call(statement)
    finally:
        node.close()


def _tables(store, port: int) -> set:
    return {name for (name,) in _on_node(store, port, "SELECT name FROM system.tables "
                                                      f"WHERE database = '{store.database}'")}


@pytest.mark.clickhouse
def test_a_node_lacking_a_table_is_refused_at_start_and_completed_by_migrate(cluster_store, monkeypatch, capsys):
    """Before, both runs said "nothing due" and the node went on lacking the table: its replica
    of shard 1's events never held a row, and a read through the Distributed table that picked
    it failed."""
    rows = seeded_rows(seed=21, n=120, rumours=6)
    cluster_store.write(make_batch(rows), [])
    nodes = cluster_nodes(cluster_store)
    (port,) = [p for s, r, p in nodes if (s, r) == (1, 2)]  # shard 1's second replica
    db = cluster_store.database
    _on_node(cluster_store, port, f"DROP TABLE {db}.share_events_local")
    _on_node(cluster_store, port, f"DROP TABLE {db}.share_minute_counts_mv")
    with pytest.raises(NodesLackTables) as caught:
        cluster_store.migrate()
    message = str(caught.value)
    assert "\n" not in message
    assert message == (f"cluster rumour: node(s) lack tables of {db} (127.0.0.1:{port} lacks 2 "
                       "(share_events_local, share_minute_counts_mv); added to remote_servers after the store "
                       "was migrated?): run `rumour migrate` to create them there")
    assert "share_events_local" not in _tables(cluster_store, port)  # the check made nothing
    # rumour migrate --status: the record is whole, the node is not
    from streams.cli import main

    monkeypatch.setenv("RUMOUR_CLICKHOUSE_CLUSTER", "rumour")
    capsys.readouterr()
    s = cluster_store.settings
    assert main(["migrate", "--status", "--url", f"clickhouse://{s['host']}:{s['port']}/{db}"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == (f"node 127.0.0.1:{port} lacks 2 table(s) (share_events_local, share_minute_counts_mv): "
                       "a run creates them there")
    assert not any(line.startswith("pending") for line in out)

    assert cluster_store.migrate(create_lacking=True) == []  # no file runs again
    assert cluster_store.tables_made == {f"127.0.0.1:{port}": ["share_events_local", "share_minute_counts_mv"]}
    assert {"share_events_local", "share_minute_counts_mv"} <= _tables(cluster_store, port)
    # the new replica fetched its shard's rows from its sibling; the view is the cluster form's
    _on_node(cluster_store, port, f"SYSTEM SYNC REPLICA {db}.share_events_local")
    (first,) = [p for s, r, p in nodes if (s, r) == (1, 1)]
    count = f"SELECT count() FROM {db}.share_events_local"
    held = _on_node(cluster_store, first, count)[0][0]
    assert held > 0 and _on_node(cluster_store, port, count)[0][0] == held
    view = _on_node(cluster_store, port, f"SELECT create_table_query FROM system.tables WHERE database = '{db}' "
                                         "AND name = 'share_minute_counts_mv'")[0][0]
    assert f"TO {db}.share_minute_counts_local" in view and f"FROM {db}.share_events_local" in view
    assert cluster_store.migrate() == [] and cluster_store.tables_made == {}  # whole again: a start goes on
    assert main(["migrate", "--status", "--url", f"clickhouse://{s['host']}:{s['port']}/{db}"]) == 0


@pytest.mark.clickhouse
def test_a_table_no_node_holds_is_named_not_guessed(cluster_store):
    db = cluster_store.database
    for _, _, port in cluster_nodes(cluster_store):
        _on_node(cluster_store, port, f"DROP TABLE {db}.alerts")
    with pytest.raises(NodeTablesError, match=rf"^cluster rumour: 127.0.0.1:\d+ lacks {db}.alerts and no node "
                                              "holds it to copy: restore it"):
        cluster_store.migrate(create_lacking=True)


def test_the_cli_reports_the_tables_it_made(monkeypatch, capsys):
    """(Store faked: what is asserted is what `rumour migrate` asks for and prints.)"""
    from streams import cli

    asked = []

    class Store:
        database, tables_made = "db", {}

        def migrate(self, **kwargs):
            asked.append(kwargs)
            self.tables_made = {"127.0.0.1:19603": ["share_events_local", "share_events"]}
            return []

        _execute = staticmethod(lambda statement: [])

        def close(self):
            pass

    monkeypatch.setattr("streams.store.open_store", lambda url, cluster=None: Store())
    monkeypatch.setattr("sql.plan.migration_status", lambda *a, **k: type("S", (), {"changed": []})())
    assert cli.main(["migrate", "--url", "clickhouse://127.0.0.1:1/db"]) == 0
    assert asked[0]["create_lacking"] is True
    out = capsys.readouterr().out.splitlines()
    assert out[1] == ("created on cluster node 127.0.0.1:19603, which lacked them (added since the store was "
                      "migrated): 2 tables: share_events_local, share_events")


# --- a node really added ------------------------------------------------------------------------

TWO_NODES = "01 s1r1,02 s2r1"
THREE_NODES = TWO_NODES + ",01 s1r2"  # node 3: a second replica of shard 1


def _settings(url: str) -> Settings:
    return Settings.load({"clickhouse_url": url, "clickhouse_cluster": "rumour"}, environ={})


def _when_the_ddl_workers_are_up(call, attempts: int = 4):
    # a just-(re)started private cluster's first ON CLUSTER statement can find no DDL worker
    # registered yet ("0 of them are currently active"): tried again, as the restart tests do
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - retried only for the DDL queue's start-up
            if attempt == attempts - 1 or "currently active" not in str(exc):
                raise
            time.sleep(5)


@pytest.mark.slow
@pytest.mark.clickhouse
def test_a_node_added_to_a_migrated_cluster_gets_its_tables_and_its_shard_s_rows(tmp_path, monkeypatch, capsys):
    """Two nodes (shard 1, shard 2) migrated and written to; node 3 joins as shard 1's second
    replica (config rewritten, servers restarted, as the script does). A worker's start refuses
    in one line naming node 3 and `rumour migrate` (before: it started, and node 3 held nothing);
    `rumour migrate` makes node 3's tables, which fetch shard 1's rows from node 1; then the
    worker starts and writes through node 3."""
    from streams.cli import main
    from tests.conftest import unavailable
    from tests.test_store_cluster_restart import _ports

    cache = Path(os.environ.get("RUMOUR_CACHE_DIR") or ROOT / ".cache")
    if shutil.which("clickhouse-server") is None or not (cache / "zookeeper").is_dir():
        unavailable("clickhouse-server and ZooKeeper's jars (.cache/zookeeper) for a private cluster")
    base, zk = _ports()
    env = {**os.environ, "RUMOUR_CLUSTER_BASE_PORT": str(base), "RUMOUR_ZOOKEEPER_PORT": str(zk),
           "RUMOUR_RUN_DIR": str(tmp_path)}

    def script(command: str, nodes: str) -> None:
        subprocess.run(["bash", str(SCRIPT), command], env={**env, "RUMOUR_CLUSTER_NODES": nodes},
                       check=True, capture_output=True, timeout=300)

    db = "rt_nodeadd"
    url = f"clickhouse://127.0.0.1:{base + 1}/{db}?connect_timeout=5&retry_seconds=60"
    local = f"SELECT count() FROM {db}.share_events_local"
    running = TWO_NODES
    try:
        script("start", TWO_NODES)
        store = ClickHouseStore(patient(f"clickhouse://127.0.0.1:{base + 1}/{db}"), cluster="rumour")
        try:
            _when_the_ddl_workers_are_up(store.migrate)
            rows = seeded_rows(seed=22, n=300, rumours=8)
            store.write(make_batch(rows), [])
            assert store.count_events() == 300
            shard1 = store._replica_reader().node_rows(("127.0.0.1", base + 1), local)[0][0]
            assert 0 < shard1 < 300  # both shards hold rows
        finally:
            store.close()
        script("stop", TWO_NODES)
        running = THREE_NODES
        script("start", THREE_NODES)

        # the worker's start, connected to node 3: its copy of the record (made by this start's
        # set-up) says nothing is due once it has fetched the rows (before, files ran again ON
        # CLUSTER and 004's failed on node 3's replica: the ZooKeeper columns had 013's), and
        # node 3 lacks every table
        via3 = f"clickhouse://127.0.0.1:{base + 3}/{db}?connect_timeout=5&retry_seconds=60"
        with pytest.raises(NodesLackTables) as caught:
            _when_the_ddl_workers_are_up(lambda: worker_run.migrate_when_reachable(_settings(via3), max_attempts=1))
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(f"cluster rumour: node(s) lack tables of {db} (127.0.0.1:{base + 3} lacks ")
        assert message.endswith("run `rumour migrate` to create them there")
        assert "127.0.0.1:" + str(base + 1) not in message and f"127.0.0.1:{base + 2}" not in message

        # rumour migrate --status names what node 3 lacks; rumour migrate makes it, there alone
        monkeypatch.setenv("RUMOUR_CLICKHOUSE_CLUSTER", "rumour")
        capsys.readouterr()
        assert main(["migrate", "--status", "--url", url]) == 1
        last = capsys.readouterr().out.splitlines()[-1]
        assert last.startswith(f"node 127.0.0.1:{base + 3} lacks ") and last.endswith(": a run creates them there")
        assert main(["migrate", "--url", url]) == 0
        out = capsys.readouterr().out.splitlines()
        expected = sql.cluster.cluster_tables(db, "rumour", [m for m in sql.load_migrations()
                                                             if m.version in _applied(base + 1, db)])
        assert out == [f"migrated {url}: up to date",
                       f"created on cluster node 127.0.0.1:{base + 3}, which lacked them (added since the store "
                       f"was migrated): {len(expected) - 1} tables: "
                       + ", ".join(t for t in expected if t != "schema_migrations")]
        node3 = ClickHouseStore(patient(f"clickhouse://127.0.0.1:{base + 3}/{db}"))
        try:
            node3._command(f"SYSTEM SYNC REPLICA {db}.share_events_local")
            assert node3._rows(local)[0][0] == shard1  # shard 1's rows, fetched from node 1
            minute = f"SELECT count() FROM {db}.share_minute_counts_local"
            node3._command(f"SYSTEM SYNC REPLICA {db}.share_minute_counts_local")
            node1 = ClickHouseStore(patient(f"clickhouse://127.0.0.1:{base + 1}/{db}"))
            try:
                assert node3._rows(minute) == node1._rows(minute)
            finally:
                node1.close()
        finally:
            node3.close()

        # the worker starts, through node 3 too
        worker = worker_run.migrate_when_reachable(_settings(via3), max_attempts=1)
        try:
            assert worker.count_events() == 300  # node 3's Distributed tables read both shards
            more = [{**row, "event_id": "n" + row["event_id"], "parent_event_id": None}  # ids of their own
                    for row in seeded_rows(seed=23, n=100, rumours=3)]
            worker.write(make_batch(more), [])
            # 18.16 writes shard 1's rows on node 3 itself (its local replica) and reads shard 1 from
            # node 1 (the first): the read waits for node 1 to have fetched them
            node1 = ClickHouseStore(patient(f"clickhouse://127.0.0.1:{base + 1}/{db}"))
            try:
                node1._command(f"SYSTEM SYNC REPLICA {db}.share_events_local")
            finally:
                node1.close()
            assert worker.count_events() == 400
            assert sorted(worker.load_events().event_id) == sorted(r["event_id"] for r in rows + more)
        finally:
            worker.close()
        capsys.readouterr()
        assert main(["migrate", "--url", url]) == 0
        assert capsys.readouterr().out.splitlines() == [f"migrated {url}: up to date"]  # nothing lacked now
    finally:
        script("stop", running)


def _applied(port: int, db: str) -> set:
    node = ClickHouseStore(patient(f"clickhouse://127.0.0.1:{port}/{db}"))
    try:
        return set(node.applied_migrations())
    finally:
        node.close()
