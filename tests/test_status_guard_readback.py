"""The status guard's read-back on a cluster (streams/store/replicas.py) with nodes that do not
answer: all nodes are read at once against one deadline (a connect timeout), so dead nodes cost
that bound once, stated in the 503; the node list is read again after a failed read-back and
after NODE_LIST_SECONDS. On the shared local cluster (tests/plugins/clickhouse_cluster.py), with
fake nodes added to the reader's list (the cluster itself is never stopped)."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.test_status_guard import PREDECESSOR, PREDECESSOR_KEY, Worker, gs
from tests.test_status_guard_replicas import refusing_port

pytestmark = [pytest.mark.clickhouse, pytest.mark.slow]


@pytest.fixture
def store(cluster_store):
    gs(cluster_store).append_status([PREDECESSOR])
    yield cluster_store


@pytest.fixture
def frozen_port():
    """A port whose connections the kernel accepts and nobody answers (a frozen server): a
    client's hello waits for its send_receive_timeout."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


def _guarded_store(store, options: str):
    from streams.store.clickhouse import ClickHouseStore
    from streams.store.replicas import ReplicaReader

    s = store.settings
    patient = ClickHouseStore(f"clickhouse://{s['host']}:{s['port']}?{options}", database=store.database,
                              cluster=store.cluster)
    patient._replicas = ReplicaReader(patient)
    return patient, patient._replicas


def test_dead_nodes_cost_one_connect_timeout_in_all_stated_in_the_503(store, frozen_port):
    """A node refusing connections and a frozen one: the old read-back read the nodes one after
    another, retrying the refusing node for retry_seconds (30 s here) and waiting
    send_receive_timeout (20 s) on the frozen one. Now both are read at once with the live nodes
    and given up on at one connect timeout (2 s)."""
    patient, reader = _guarded_store(store, "connect_timeout=2&retry_seconds=30&send_receive_timeout=20")
    w = Worker(store, 0, own_store=patient)
    try:
        live = reader.node_list()
        refused = ("127.0.0.1", refusing_port())
        frozen = ("127.0.0.1", frozen_port)
        reader.nodes = live + [refused, frozen]
        started = time.monotonic()
        code, answer = w.change()
        took = time.monotonic() - started
        assert code == 503, answer
        assert took < 6, took  # one 2 s bound (and the withdrawal), not 30 s + 20 s
        assert "within 2 s" in answer["error"] and "try again" in answer["error"], answer
        assert str(frozen_port) not in answer["error"] and str(refused[1]) not in answer["error"]
        mine = [r for r in gs(store).status_siblings("r1", PREDECESSOR_KEY) if r["status"] == "verified"]
        assert [r["outcome"] for r in mine] == [2], mine  # withdrawn
        # the client still waiting on the frozen node is not kept for the next read-back, and its
        # thread ends about then too (its timeouts were cut to the deadline), not after 20 s
        assert frozen not in reader._clients
        name = f"replica-read-127.0.0.1:{frozen_port}"
        ends = time.monotonic() + 4
        while any(t.name == name for t in threading.enumerate()) and time.monotonic() < ends:
            time.sleep(0.05)
        assert not any(t.name == name for t in threading.enumerate())
    finally:
        w.close()


def test_the_unread_nodes_are_named_for_the_log(store):
    from streams.store.replicas import NodesUnread

    patient, reader = _guarded_store(store, "connect_timeout=1&retry_seconds=30")
    try:
        dead = ("127.0.0.1", refusing_port())
        reader.nodes = reader.node_list() + [dead]
        with pytest.raises(NodesUnread, match=rf"127\.0\.0\.1:{dead[1]} did not answer within 1s") as caught:
            reader.rows("SELECT 1")
        assert caught.value.nodes == [dead] and caught.value.seconds == 1
        # and with every node answering, each node's rows in list order
        assert reader.rows("SELECT 1") == [[(1,)]] * len(reader.nodes)
    finally:
        patient.close()


def test_the_node_list_is_read_again_after_a_failed_read_back(store):
    """A node replaced in remote_servers: the old reader read system.clusters once per store,
    so a worker kept reading the old node (every guarded change 503) until it restarted."""
    patient, reader = _guarded_store(store, "connect_timeout=2&retry_seconds=0.5")
    w = Worker(store, 0, own_store=patient)
    try:
        live = reader.node_list()
        # a stale list naming a node no longer in the cluster: one 503, then the list is read again
        reader.nodes = live + [("127.0.0.1", refusing_port())]
        assert w.change()[0] == 503
        assert w.change()[0] == 201
        assert reader.nodes == live
        assert set(reader._clients) == set(live)  # the client of the node taken out is closed
    finally:
        w.close()


def test_the_node_list_is_read_again_once_older_than_its_ttl(store, monkeypatch):
    from streams.store import replicas

    patient, reader = _guarded_store(store, "connect_timeout=2&retry_seconds=0.5")
    try:
        live = reader.node_list()
        # a stale list missing a node: kept while fresh, read again once older than the TTL
        reader.nodes = live[:-1]
        assert reader.node_list() == live[:-1]
        monkeypatch.setattr(replicas, "NODE_LIST_SECONDS", 0.0, raising=False)
        time.sleep(0.01)
        assert reader.node_list() == live
    finally:
        patient.close()
