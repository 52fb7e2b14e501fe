"""The status guard's read-back on a cluster (streams/store/replicas.py): every replica read over
its own connection with the store's credentials, none of them in the SQL text the servers keep
(query log, processlist, error messages); a node that cannot be read makes the guarded change
withdrawn with 503, never a 201 that a competitor on that node could also get. On the local
cluster (tests/plugins/clickhouse_cluster.py); the merge of the nodes' answers is a doctest of
sql.governance_queries.merge_siblings."""
from __future__ import annotations

import socket
import time

import pytest

from tests.test_status_guard import PREDECESSOR, PREDECESSOR_KEY, Worker, gs, restarted_view

pytestmark = [pytest.mark.clickhouse, pytest.mark.slow]


@pytest.fixture
def store(cluster_store):
    gs(cluster_store).append_status([PREDECESSOR])
    yield cluster_store


def test_the_read_back_sends_no_credentials_and_reads_each_node_over_its_own_connection(store, monkeypatch):
    """The old read-back was one query through remote('h:p,...', db, table, 'user', 'password'):
    the password in the query text. Now every query the guarded change sends (through any
    client) names no host list and no credential, and each node got the siblings query over a
    connection made with the store's user and password."""
    from clickhouse_driver import Client

    from tests.plugins.clickhouse_cluster import cluster_nodes

    sent = []
    real = Client.execute

    def recording(client, query, *args, **kwargs):
        sent.append((client.connection.hosts[0][1], client, str(query)))
        return real(client, query, *args, **kwargs)

    w = Worker(store, 1)
    try:
        monkeypatch.setattr(Client, "execute", recording)
        code, answer = w.change()
        assert code == 201, answer
        s = w.own_store.settings
        for _port, _client, query in sent:
            assert "remote(" not in query and f"'{s['user']}'" not in query, query
        siblings = [(port, client) for port, client, query in sent if "rumour_status_history_local" in query]
        assert sorted(port for port, _ in siblings) == sorted(p for _s, _r, p in cluster_nodes(store))
        for _port, client in siblings:
            assert (client.connection.user, client.connection.password) == (s["user"], s["password"])
            assert client is not w.own_store.client
        # The per-node clients are kept for the next change and closed with the store.
        reader = w.own_store._replicas
        clients = dict(reader._clients)
        assert len(clients) == len(siblings)
        assert w.change(status="handled", expected="verified")[0] == 201
        assert reader._clients == clients
    finally:
        w.close()
    assert reader._clients == {}


def refusing_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_node_that_refuses_connections_makes_the_guarded_change_503_and_withdrawn(store):
    """One node of the cluster cannot be read (its address refuses connections): the nodes that
    answered hold no competitor, but the unread one might, so the change is withdrawn and the
    answer is 503 with a message that names neither host nor credential; the status stays as it
    was, after a restart too, and the answer comes within the store's ``retry_seconds``. (The
    old code had no per-node reader; remote() refusing a node raised a server error: 500
    "internal error".)"""
    from streams.store.clickhouse import ClickHouseStore
    from streams.store.replicas import ReplicaReader

    s = store.settings
    patient = ClickHouseStore(f"clickhouse://{s['host']}:{s['port']}?retry_seconds=0.5",
                              database=store.database, cluster=store.cluster)
    w = Worker(store, 0, own_store=patient)
    try:
        reader = patient._replicas = ReplicaReader(patient)
        dead = refusing_port()
        reader.nodes = reader.node_list() + [("127.0.0.1", dead)]
        started = time.monotonic()
        code, answer = w.change()
        took = time.monotonic() - started
        assert code == 503, answer
        assert "not made" in answer["error"] and "try again" in answer["error"]
        assert str(dead) not in answer["error"] and s["host"] not in answer["error"]
        assert took < 10, took  # the store's retry_seconds (0.5 s), not the default 30 s
        mine = [r for r in gs(store).status_siblings("r1", PREDECESSOR_KEY) if r["status"] == "verified"]
        assert [r["outcome"] for r in mine] == [2], mine  # withdrawn, not left pending
        assert restarted_view(store)[1] == ("received", "system")
        # Once every node can be read the officer's next try is made: the failed read-back
        # dropped the node list, read again from system.clusters (which never held the fake node).
        assert reader.nodes is None
        assert w.change()[0] == 201
    finally:
        w.close()
