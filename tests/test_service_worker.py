"""The worker's web server serves the same dashboard and API (no broker needed: the Faust app is
built, not started, and its aiohttp application is served directly)."""
from __future__ import annotations

import orjson
import pytest

from tests.service_helpers import ThreadServer, cascades, get


@pytest.fixture
def worker_web(tmp_path, monkeypatch, chdb_store):
    from streams.app import create_app
    from streams.embedded import replay_events
    from streams.service.tokens import TokenStore
    from streams.settings import Settings

    tokens = tmp_path / "tokens.json"
    monkeypatch.setenv("RUMOUR_TOKENS_FILE", str(tokens))
    settings = Settings.load({"data_dir": str(tmp_path / "worker")})
    pipeline, _ = replay_events(cascades(), chdb_store, settings)
    app = create_app(settings, pipeline=pipeline)
    app.stats["events_in"] = 12
    app.stats["last_batch_ms"] = 250.0
    server = ThreadServer(app.web.web_app)
    token = TokenStore(tokens).issue("liaison", "370000", "w")[0]
    yield server.url, token, chdb_store, tokens
    server.close()


def test_worker_serves_dashboard_api_and_metrics(worker_web):
    from streams.service.tokens import TokenStore

    url, token, store, tokens = worker_web
    status, _, body = get(url + "/")
    assert status == 200 and b"/vendor/echarts.min.js" in body
    assert get(url + "/api/rumours")[0] == 401
    status, _, body = get(url + "/api/rumours", token)
    assert status == 200
    assert {r["rumour_id"] for r in orjson.loads(body)["rumours"]} == {"jn-1", "qd-1"}
    before = len(store.audit_rows())
    status, _, body = get(url + "/api/rumours/jn-1/trace", token, case="W-1")
    assert status == 200 and orjson.loads(body)["origins"][0]["account_id"] == "src"
    assert len(store.audit_rows()) == before + 1
    assert get(url + "/api/rumours/bj-1/trace", token, case="W-1")[0] == 404  # outside: looks unknown
    assert get(url + "/metrics")[0] == 401
    monitor = TokenStore(tokens).issue("monitor", "000000", "prometheus")[0]
    metrics = get(url + "/metrics", monitor)[2].decode()
    assert "rumour_events_in_total 12" in metrics
    assert "rumour_batch_latency_seconds 0.25" in metrics
    health = orjson.loads(get(url + "/healthz")[2])
    assert health["status"] == "ok" and health["events_in"] == 12


def test_the_worker_audits_bad_tokens_and_writes_their_summary_when_it_stops(tmp_path, monkeypatch, chdb_store):
    # streams/web.py hangs the service's on_shutdown on Faust's aiohttp application: refusals
    # counted beyond the limit are not lost when the worker stops.
    from streams.app import create_app
    from streams.embedded import replay_events
    from streams.settings import Settings

    monkeypatch.setenv("RUMOUR_TOKENS_FILE", str(tmp_path / "tokens.json"))
    settings = Settings.load({"data_dir": str(tmp_path / "worker")})
    pipeline, _ = replay_events(cascades(), chdb_store, settings)
    app = create_app(settings, pipeline=pipeline)
    probes = app.rumour_service.probes
    probes.rows_per_minute = 2
    probes.clock = lambda: 1_800_000_000.0  # one minute for all five (none passes mid-test)
    server = ThreadServer(app.web.web_app)
    try:
        for _ in range(5):
            assert get(server.url + "/api/rumours/jn-1/trace", "rt_000000000000_" + "x" * 43)[0] == 401
    finally:
        server.close()
    rows = [r for r in chdb_store.audit_rows() if r["auth_failure"]]
    assert sorted(r["auth_failure"] for r in rows) == ["suppressed", "unknown", "unknown"]
    summary = next(r for r in rows if r["auth_failure"] == "suppressed")
    assert orjson.loads(summary["params"])["routes"] == {"trace": 3}
