"""The store on a real ClickHouse cluster (scripts/services/clickhouse-cluster.sh: cluster
`rumour`, shard 1 with two replicas, shard 2 with one, ZooKeeper): the migrations in their
cluster form (sql/cluster.py), where rows land, replication, and re-sent batches."""
from __future__ import annotations

import re

import pytest

import sql
from sql.cluster import ClusterLayout, shard_keys
from streams.store import open_store
from tests.plugins.clickhouse_cluster import cluster_nodes, node_store
from tests.test_store import make_batch, seeded_rows

pytestmark = pytest.mark.clickhouse


def _tables(store) -> dict:
    return dict(store._rows(f"SELECT name, engine FROM system.tables WHERE database = '{store.database}'"))


def test_a_cluster_for_a_chdb_store_is_refused_with_the_setting_named():
    with pytest.raises(ValueError, match="clickhouse_cluster.*RUMOUR_CLICKHOUSE_CLUSTER"):
        open_store("chdb://", cluster="rumour")


def test_every_migration_has_a_cluster_form_and_views_stay_on_their_shard():
    migrations = sql.load_migrations()
    layout = ClusterLayout("rumour", "db1", shard_keys(m.text for m in migrations))
    # rows of one rumour on one shard, whichever way they come in (packed rows or direct inserts)
    assert layout.keys["share_events"] == layout.keys["share_minute_counts"] == "cityHash64(rumour_id)"
    assert layout.keys["share_event_rows"] == "cityHash64(splitByChar('\\0', fields)[2])"
    assert layout.keys["audit_hour_counts"] == "cityHash64(hour, action, status)"
    # a report is written again when linked by hand, with another rumour_id: by its id
    assert layout.keys["public_reports"] == "cityHash64(report_id)"
    for m in migrations:
        for statement, guard in m.steps("db1"):
            steps = layout.statements(statement, guard)
            if statement.startswith("CREATE MATERIALIZED VIEW"):
                (view, _), = steps
                named = set(re.findall(r"\bdb1\.(\w+)", view))
                assert all(n.endswith("_local") or n.endswith("_mv") for n in named), view
            for text, _ in steps:
                assert "ON CLUSTER rumour" in text or text.startswith("INSERT INTO"), text


def test_migrations_are_idempotent_and_every_node_has_local_and_distributed_tables(cluster_store):
    assert cluster_store.migrate() == []  # the fixture applied them: a second run is a no-op
    expected = [m.version for m in sql.load_migrations() if m.requires is None]
    nodes = cluster_nodes(cluster_store)
    assert [(s, r) for s, r, _ in nodes] == [(1, 1), (1, 2), (2, 1)]
    tables = set(shard_keys(m.text for m in sql.load_migrations()))
    tables -= {"audit_hour_suppressed"}  # dropped again by 022
    for _, _, port in nodes:
        node = node_store(cluster_store, port)
        try:
            # the migrations record is one table replicated on every node
            node._rows(f"SYSTEM SYNC REPLICA {cluster_store.database}.schema_migrations")
            assert node.applied_migrations() == expected
            engines = _tables(node)
            for t in tables:
                assert engines[t] == "Distributed", t
                assert engines[t + "_local"].startswith("Replicated") or engines[t + "_local"] in ("Null", "Buffer"), t
            assert engines["share_events_local"] == "ReplicatedReplacingMergeTree"
            assert "audit_hour_suppressed_local" not in engines and "audit_hour_suppressed_mv" not in engines
            # a column added by a later file (019) reached the local table and the Distributed one
            for t in ("audit_log", "audit_log_local"):
                assert sql.column_exists(node._execute, cluster_store.database, t, "token_fingerprint"), t
        finally:
            node.close()


def _local_rumours(store, port: int) -> dict:
    node = node_store(store, port)
    try:
        return dict(node._rows(f"SELECT rumour_id, count() FROM {store.database}.share_events_local FINAL "
                               "GROUP BY rumour_id"))
    finally:
        node.close()


def test_rows_spread_over_both_shards_one_shard_per_rumour_and_replicated(cluster_store):
    rows = seeded_rows(seed=3, n=600, rumours=12)
    batch = make_batch(rows)
    cluster_store.write(batch, [])
    # insert_distributed_sync: queryable as soon as write() returned
    distinct = {(r["rumour_id"], r["event_id"]) for r in rows}
    assert cluster_store.count_events() == len(distinct)
    (_, _, p11), (_, _, p12), (_, _, p21) = cluster_nodes(cluster_store)
    shard1, shard2 = _local_rumours(cluster_store, p11), _local_rumours(cluster_store, p21)
    assert shard1 and shard2, "both shards hold rows"
    assert not set(shard1) & set(shard2), "each rumour's rows on one shard only"
    assert sum(shard1.values()) + sum(shard2.values()) == len(distinct)
    # the minute counts sit on the shard of their rumour too (the views write the local tables)
    node = node_store(cluster_store, p21)
    try:
        assert {r for r, in node._rows(f"SELECT DISTINCT rumour_id FROM {cluster_store.database}."
                                       "share_minute_counts_local")} == set(shard2)
    finally:
        node.close()
    replica = node_store(cluster_store, p12)
    try:
        replica._rows(f"SYSTEM SYNC REPLICA {cluster_store.database}.share_events_local")
    finally:
        replica.close()
    assert _local_rumours(cluster_store, p12) == shard1, "the second replica of shard 1 holds the same rows"
    # a batch written again (a retry, a Kafka re-delivery) changes no count
    cluster_store.write(batch, [])
    cluster_store.write(make_batch(rows[::3]), [])
    assert cluster_store.count_events() == len(distinct)
    for rumour in {r["rumour_id"] for r in rows}:
        assert cluster_store.count_events(rumour) == sum(1 for k in distinct if k[0] == rumour)
        assert sum(n for _, _, _, n in cluster_store.minute_counts(rumour)) == \
            sum(1 for k in distinct if k[0] == rumour)
