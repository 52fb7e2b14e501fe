"""Rumours a worker loads from the store for a query (``trace``) or a preload (the alert
catch-up) came from no batch that named their Kafka partition: both take their key's partition
(``Pipeline._adopt_partitions``), so a revocation of that partition releases their graphs."""
from __future__ import annotations

import orjson

from streams.topics import partitioner


def _events(rumour: str, n: int = 4) -> list[bytes]:
    out = []
    for i in range(n):
        out.append(orjson.dumps({
            "event_id": f"{rumour}-e{i}", "rumour_id": rumour, "account_id": f"a{i}",
            "ts": 1_767_225_600_000 + i * 1000, "parent_event_id": None if i == 0 else f"{rumour}-e0",
            "parent_account_id": None if i == 0 else "a0", "kind": "post" if i == 0 else "share",
            "platform": "weibo", "region": "370102", "text": None}))
    return out


def _worker(store, n_partitions):
    from streams.events import Decoder
    from streams.pipeline import Pipeline

    pipeline = Pipeline(store, Decoder())
    pipeline.partitioner = partitioner(n_partitions)
    pipeline.assign_partitions(range(n_partitions))
    return pipeline


def test_trace_and_preload_take_the_key_partition_and_release_with_it(chdb_store):
    from streams.events import Decoder
    from streams.pipeline import Pipeline

    n = 4
    part = partitioner(n)
    rumours = [f"rumour-{i}" for i in range(12)]
    writer = Pipeline(chdb_store, Decoder())
    writer.process([m for r in rumours for m in _events(r)])
    traced, preloaded = rumours[:6], rumours[6:]

    worker = _worker(chdb_store, n)
    for r in traced:
        assert worker.trace(r)["events"] == 4
    worker.preload(preloaded + ["never-stored"])
    assert {r: worker.partition_of.get(r) for r in rumours} == {r: part(r) for r in rumours}
    assert "never-stored" not in worker.partition_of  # no graph: nothing to release

    gone = part(rumours[0])
    released = worker.release_partitions([gone])
    expected = {r for r in rumours if part(r) == gone}
    assert released == len(expected)
    assert set(worker.graphs) == set(rumours) - expected
