"""/healthz says what is wrong: 503 and ``"status": "degraded"`` with one line per problem while
the worker cannot reach its store or its counters stop being refreshed, 200 ``"ok"`` otherwise
(it answered "ok" through a whole ClickHouse outage; a health check reads the HTTP status)."""
from __future__ import annotations

import time

import orjson

from streams.pipeline import Pipeline
from streams.worker_stats import new_stats
from tests.service_helpers import ThreadServer, get


def test_healthz_is_503_with_the_problem_while_the_store_is_unreachable(tmp_path):
    from streams.service.http import Service

    stats = new_stats()
    service = Service(Pipeline(store=None), None, tmp_path / "tokens.json", cutoff_k=5,
                      stats=lambda: dict(stats))
    server = ThreadServer(service.application())
    try:
        stats["stats_at_ms"] = int(time.time() * 1000)
        status, _, body = get(server.url + "/healthz")
        health = orjson.loads(body)
        assert (status, health["status"], health["problems"]) == (200, "ok", [])

        stats.update(store_retrying=1, inflight_messages=500, batch_age_seconds=42.0, store_failures=4)
        status, _, body = get(server.url + "/healthz")
        health = orjson.loads(body)
        assert status == 503 and health["status"] == "degraded", health
        assert health["problems"] == ["store unreachable: a batch of 500 messages waits for it "
                                      "(42 s; 4 failed attempts so far)"]
        assert health["store_failures"] == 4  # the counters still come with it

        stats.update(store_retrying=0, stats_at_ms=int(time.time() * 1000) - 120_000)
        status, _, body = get(server.url + "/healthz")
        health = orjson.loads(body)
        assert status == 503 and len(health["problems"]) == 1
        assert health["problems"][0].startswith("counters not refreshed for 12")
    finally:
        server.close()
