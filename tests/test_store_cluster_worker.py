"""End to end on a ClickHouse cluster: Kafka -> `rumour worker` (a real process) with
RUMOUR_CLICKHOUSE_CLUSTER set -> the Distributed tables of the local cluster
(scripts/services/clickhouse-cluster.sh). Every distinct event is queryable through the
cluster, the malformed message is a dead letter, the rows sit on both shards."""
from __future__ import annotations

import random
import uuid

import orjson
import pytest

from streams.synthetic import synthetic_events
from tests.faults import Worker, produce, wait_until
from tests.plugins.clickhouse import database_url
from tests.plugins.clickhouse_cluster import cluster_nodes, node_store

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


def test_worker_writes_to_the_cluster(kafka_bootstrap, kafka_topic, cluster_server, cluster_store, tmp_path):
    topic = kafka_topic(partitions=4, prefix="shares")
    dead_topic = kafka_topic(partitions=1, prefix="dead")
    url = database_url(cluster_server, cluster_store.database)
    events = list(synthetic_events(n_rumours=6, shares_per_rumour=100, seed=17, prefix="cl"))
    messages = [(e["rumour_id"].encode(), orjson.dumps(e)) for e in events]
    rng = random.Random(3)
    pairs = messages + rng.sample(messages, 40) + [(b"cl-bad", b"{not json")]
    worker = Worker(tmp_path, "cl", kafka_bootstrap, url, topic, 4, "rt-cl-" + uuid.uuid4().hex[:8],
                    RUMOUR_DEAD_LETTER_TOPIC=dead_topic, RUMOUR_BATCH_SIZE=100,
                    RUMOUR_CLICKHOUSE_CLUSTER=cluster_store.cluster).start()
    try:
        produce(kafka_bootstrap, topic, pairs)
        distinct = len({(e["rumour_id"], e["event_id"]) for e in events})
        wait_until(lambda: (cluster_store.count_events() == distinct
                            and cluster_store.count_dead_letters() == 1) or
                   (cluster_store.count_events(), cluster_store.count_dead_letters()),
                   600, "all events in the cluster", [worker])
        rumour = events[0]["rumour_id"]
        got = worker.get_json(f"/api/rumours/{rumour}/trace")
        assert got["events"] == sum(1 for e in events if e["rumour_id"] == rumour and e["kind"] != "debunk")
    finally:
        worker.stop()
    per_shard = []
    for shard, replica, port in cluster_nodes(cluster_store):
        if replica != 1:
            continue
        node = node_store(cluster_store, port)
        try:
            per_shard.append(node._rows(f"SELECT count() FROM {cluster_store.database}.share_events_local FINAL")[0][0])
        finally:
            node.close()
    assert all(per_shard) and sum(per_shard) == distinct, per_shard
