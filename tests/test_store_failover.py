"""Failover hosts of the ClickHouse store (streams/store/clickhouse.py): a ``clickhouse://`` URL
with several nodes of a cluster goes on through the next when the one it uses is unreachable,
on the shared local cluster with a dead first host, and on a private cluster whose node is
stopped mid-run (tests/test_store_cluster_restart.py's fixture: the shared cluster is never
stopped)."""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from sql import load_migrations as sql_migrations
from streams.store import StoreUnavailable
from streams.store.clickhouse import ClickHouseStore, parse_url
from tests.plugins.clickhouse import patient
from tests.test_store import make_batch, seeded_rows
from tests.test_store_cluster_restart import private_cluster  # noqa: F401 (fixture)


def refusing_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_url_names_several_hosts_in_the_netloc_or_alt_hosts():
    s = parse_url("clickhouse://u:p%40@h1:9001,h2,[::1]:9003/db?alt_hosts=h4:9004,h5&retry_seconds=3")
    assert s["hosts"] == [("h1", 9001), ("h2", 9000), ("::1", 9003), ("h4", 9004), ("h5", 9000)]
    assert (s["host"], s["port"], s["user"], s["password"], s["database"]) == ("h1", 9001, "u", "p@", "db")
    # one host: as before
    one = parse_url("clickhouse://10.1.2.3:9123/analytics")
    assert (one["host"], one["port"], one["hosts"]) == ("10.1.2.3", 9123, [("10.1.2.3", 9123)])
    assert parse_url("clickhouse:///db")["hosts"] == [("127.0.0.1", 9000)]
    for bad in ("clickhouse://h1:x,h2/db", "clickhouse://h1,,h2/db", "clickhouse://h1/db?alt_hosts=h2:99999"):
        with pytest.raises(ValueError, match="host"):
            parse_url(bad)


def test_the_store_s_client_gets_the_other_hosts_as_failover_hosts():
    store = ClickHouseStore("clickhouse://h1:9001,h2:9002/db?alt_hosts=h3")
    try:
        assert list(store.client.connection.hosts) == [("h1", 9001), ("h2", 9002), ("h3", 9000)]
        assert "h1:9001,h2:9002,h3:9000/db" in repr(store)
    finally:
        store.close()
    single = ClickHouseStore("clickhouse://h1:9001/db")
    assert list(single.client.connection.hosts) == [("h1", 9001)]
    assert repr(single) == "ClickHouseStore(h1:9001/db)"
    single.close()


def test_give_up_by_cuts_the_connect_timeout_of_the_connection_in_use():
    """The driver keeps the connection in use out of ``client.connections``: the old cut looped
    over that (empty) list and left a 5 s attempt, per host, to a stopping process."""
    store = ClickHouseStore("clickhouse://h1:9001/db")
    try:
        store.give_up_by(time.monotonic() + 0.5)
        assert store.client.connection.connect_timeout <= 0.5
    finally:
        store.close()


@pytest.mark.clickhouse
def test_a_dead_first_host_is_passed_over_for_writes_and_reads(cluster_store):
    """First host: a port that refuses connections, then a node of the shared cluster. The old
    URL parser could not read the list (urlsplit's port of 'p1,h2:p2' is an error), and one host
    only would retry the dead one for retry_seconds and raise StoreUnavailable."""
    s = cluster_store.settings
    dead = refusing_port()
    url = f"clickhouse://{s['host']}:{dead},{s['host']}:{s['port']}/{cluster_store.database}?retry_seconds=5"
    store = ClickHouseStore(url, cluster=cluster_store.cluster)
    try:
        started = time.monotonic()
        store.write(make_batch(seeded_rows(seed=3, n=50, rumours=4)), [])
        assert store.count_events() == 50
        assert store.client.connection.port == s["port"]  # on the live node, after the dead one
        assert time.monotonic() - started < 5  # no retry_seconds spent on the dead host
        assert cluster_store.count_events() == 50  # seen through the fixture's own node too
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.clickhouse
def test_the_node_in_use_stopping_mid_run_is_survived_through_the_next(private_cluster):
    """Private cluster (node1 and node2: shard 1's replicas, node3: shard 2), URL node1,node2.
    node1 is stopped between two writes: the second write and the reads go through node2."""
    from tests.test_store_cluster_restart import _migrate_when_the_nodes_take_ddl

    base = private_cluster["base"]
    url = patient(f"clickhouse://127.0.0.1:{base + 1},127.0.0.1:{base + 2}/rt_failover")
    store = ClickHouseStore(url.replace("retry_seconds=300", "retry_seconds=60"), cluster="rumour")
    # (no DROP at the end: ON CLUSTER would wait for the stopped node; the cluster goes whole)
    node2 = ClickHouseStore(patient(f"clickhouse://127.0.0.1:{base + 2}/rt_failover"))
    try:
        _migrate_when_the_nodes_take_ddl(store)
        rows = seeded_rows(seed=8, n=300, rumours=6)
        store.write(make_batch(rows[:150]), [])
        assert store.client.connection.port == base + 1
        # node2 holds shard 1's rows before node1 goes (replication is asynchronous)
        node2._command("SYSTEM SYNC REPLICA rt_failover.share_events_local")
        # and node2 and node3 every record of migrations (a copy behind counts as due: refused)
        node2._command("SYSTEM SYNC REPLICA rt_failover.schema_migrations")
        node3 = ClickHouseStore(patient(f"clickhouse://127.0.0.1:{base + 3}/rt_failover"))
        try:
            node3._command("SYSTEM SYNC REPLICA rt_failover.schema_migrations")
        finally:
            node3.close()
        pid = int((private_cluster["run"] / "node1" / "clickhouse.pid").read_text())
        os.kill(pid, 15)
        deadline = time.monotonic() + 60
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        store.write(make_batch(rows[150:]), [])
        assert store.client.connection.port == base + 2
        assert store.count_events() == 300
        assert sorted(store.load_events().event_id) == sorted(r["event_id"] for r in rows)
        # nothing is due: the store is used as it is, without a statement ON CLUSTER (which would
        # wait for node1); a due one is refused naming node1 (tests/test_store_cluster_start.py)
        started = time.monotonic()
        assert store.migrate() == []
        assert time.monotonic() - started < 40  # one connect timeout (30 s: patient), no DDL wait
    finally:
        store.close()
        node2.close()


@pytest.mark.clickhouse
def test_a_due_migration_on_a_cluster_with_a_node_down_is_refused_at_once_naming_it(cluster_store):
    """Without the check each ON CLUSTER statement waits distributed_ddl_task_timeout (180 s)
    for the node, then fails with an error that names no node. (A fake node in the reader's
    list stands for the node down: the shared cluster is never stopped; the private cluster's
    node is in test_the_node_in_use_stopping_mid_run_is_survived_through_the_next.)"""
    from streams.store.replicas import ReplicaReader
    from tests.test_migrate_refusals import _forget

    last = sql_migrations()[-1]
    _forget(cluster_store, last.version)  # a file due: with nothing due the store would be used as it is
    s = cluster_store.settings
    store = ClickHouseStore(f"clickhouse://{s['host']}:{s['port']}/{cluster_store.database}?connect_timeout=1",
                            cluster=cluster_store.cluster)
    try:
        reader = store._replicas = ReplicaReader(store)
        dead = refusing_port()
        reader.nodes = reader.node_list() + [("127.0.0.1", dead)]
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            store.migrate()
        assert time.monotonic() - started < 5
        message = str(caught.value)
        assert message.startswith(f"migrate ON CLUSTER {store.cluster}: cluster node(s) 127.0.0.1:{dead} "
                                  "did not answer within 1s; every node"), message
        assert message.endswith(f"; due: {last.name} on {s['host']}:{s['port']}"), message
        assert "\n" not in message
        assert store.migrate() == [last.name]  # with every node up (the list read again)
    finally:
        store.close()


def test_an_on_cluster_wait_that_runs_out_names_the_nodes_that_did_not_run_it(monkeypatch):
    """A node that answers but whose DDL worker is stuck (18.16's worker stops after an
    'Unexpected ZooKeeper error', seen on the shared cluster): the server's error names the
    task, not the node; the migration's error names the node, from the task's entry in
    ZooKeeper. (Server and ZooKeeper faked: a stuck DDL worker cannot be made on demand.)"""
    from clickhouse_driver import errors

    import sql
    from streams.cli import migration_error_line

    store = ClickHouseStore("clickhouse://127.0.0.1:9101/db", cluster="rumour")
    reader = store._replica_reader()
    monkeypatch.setattr(reader, "check_every_node", lambda purpose: None)  # every node answers
    reader.nodes, reader._listed_at = [("127.0.0.1", 9101), ("127.0.0.1", 9102), ("127.0.0.1", 9103)], time.monotonic()
    task = "/clickhouse/task_queue/ddl/query-0000018318"
    asked = []

    def rows(query):
        asked.append(query)
        return [("127%2E0%2E0%2E1:9103",), ("127%2E0%2E0%2E1:9101",)]

    def migrate(execute, database, cluster=None, allow_changed=False):
        timeout = errors.ServerException(
            f"DB::Exception: Watching task {task} is executing longer than distributed_ddl_task_timeout "
            "(=180) seconds. There are 1 unfinished hosts (0 of them are currently active). Stack trace:\n0. x", 159)
        raise sql.MigrationError(f"024_status_guard: {timeout}\n-- statement:\nALTER TABLE db.t_local ON CLUSTER rumour") \
            from timeout

    monkeypatch.setattr(store, "_rows", rows)
    monkeypatch.setattr(sql, "migrate", migrate)
    with pytest.raises(sql.MigrationError) as caught:
        store.migrate()
    assert asked == [f"SELECT name FROM system.zookeeper WHERE path = '{task}/finished'"]
    assert migration_error_line(caught.value) == (
        "024_status_guard: node(s) 127.0.0.1:9102 did not run an ON CLUSTER statement within "
        "distributed_ddl_task_timeout (setting clickhouse_ddl_timeout; their DDL worker is stuck or behind: "
        "see their log) "
        "(statement: ALTER TABLE db.t_local ON CLUSTER rumour)")
    assert isinstance(caught.value.__cause__, errors.ServerException)
    # another server error goes through as it was
    monkeypatch.setattr(sql, "migrate", lambda *a, **k: (_ for _ in ()).throw(sql.MigrationError("014_x: Code: 47.")))
    with pytest.raises(sql.MigrationError, match="^014_x: Code: 47.$"):
        store.migrate()
    store.close()
