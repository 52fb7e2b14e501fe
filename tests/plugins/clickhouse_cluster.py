"""Fixtures for the ClickHouse cluster of scripts/services/clickhouse-cluster.sh (ZooKeeper and
three clickhouse-server 18.16 processes, cluster ``rumour``: shard 1 with two replicas, shard 2).

- ``cluster_server`` (session): the URL of one node (env ``RUMOUR_CLICKHOUSE_CLUSTER_URL``,
  default ``clickhouse://127.0.0.1:9101``, no database part) once it answers and knows the
  cluster (env ``RUMOUR_CLICKHOUSE_CLUSTER``, default ``rumour``); skips (fails under CI=true)
  when it is not there. Start it with ``scripts/services.sh start clickhouse-cluster``.
- ``cluster_store``: a store migrated ON CLUSTER into a fresh database ``rt_test_<hex>``,
  dropped ON CLUSTER at teardown.
- :func:`cluster_nodes`: ``(shard, replica, port)`` of every node, to read a node's own tables.
"""
from __future__ import annotations

import os

import pytest

from tests.plugins.clickhouse import database_url, dropped_after, fresh_database, patient, probe_rows

DEFAULT_CLUSTER_URL = "clickhouse://127.0.0.1:9101"


def cluster_url() -> str:
    return os.environ.get("RUMOUR_CLICKHOUSE_CLUSTER_URL", DEFAULT_CLUSTER_URL)


def cluster_name() -> str:
    return os.environ.get("RUMOUR_CLICKHOUSE_CLUSTER") or "rumour"


def cluster_nodes(store) -> list[tuple[int, int, int]]:
    """``(shard_num, replica_num, port)`` of each node of the store's cluster, in that order."""
    return [(int(s), int(r), int(p)) for s, r, p in store._rows(
        "SELECT shard_num, replica_num, port FROM system.clusters "
        f"WHERE cluster = '{store.cluster}' ORDER BY shard_num, replica_num")]


def node_store(store, port: int):
    """A plain (single-server) store on the node at ``port``, same database: reads its _local tables."""
    from streams.store.clickhouse import ClickHouseStore

    s = store.settings
    return ClickHouseStore(patient(f"clickhouse://{s['host']}:{port}"), database=store.database)


@pytest.fixture(scope="session")
def cluster_server() -> str:
    from tests.conftest import unavailable

    url = cluster_url()
    nodes = probe_rows(url, f"SELECT count() FROM system.clusters WHERE cluster = '{cluster_name()}'")
    if not nodes or nodes[0][0] < 2:
        unavailable(f"ClickHouse cluster {cluster_name()!r} at {url}")
    return url


@pytest.fixture
def cluster_store(cluster_server):
    from streams.store.clickhouse import ClickHouseStore

    yield from dropped_after(ClickHouseStore(database_url(cluster_server, fresh_database()),
                                             cluster=cluster_name()))
