"""The worker's wiring of the governance loop (streams.governance.wiring) without a broker: the
Faust app is built, not started; its aiohttp application is served directly."""
from __future__ import annotations

import orjson
import pytest

from tests.service_helpers import ThreadServer, cascades, get


@pytest.fixture
def worker(tmp_path, monkeypatch, chdb_store):
    from streams.app import create_app
    from streams.embedded import make_pipeline, replay_messages
    from streams.governance.config import GovernanceConfig
    from streams.governance.wiring import attach_governance_to_app, build_governance
    from streams.service.tokens import TokenStore
    from streams.settings import Settings

    tokens = tmp_path / "tokens.json"
    monkeypatch.setenv("RUMOUR_TOKENS_FILE", str(tokens))
    settings = Settings.load({"data_dir": str(tmp_path / "worker")})
    pipeline = make_pipeline(chdb_store, settings)
    app = create_app(settings, pipeline=pipeline)
    hub = build_governance(pipeline, chdb_store, settings, GovernanceConfig(alert_window_shares=2))
    attach_governance_to_app(app, hub)  # after create_app: the service picks the hub up
    replay_messages(((orjson.dumps(e), f"w:{i}") for i, e in enumerate(cascades())), pipeline, 100)
    hub.flush()
    server = ThreadServer(app.web.web_app)
    token = TokenStore(tokens).issue("analyst", "370100", "w")[0]
    yield app, hub, server.url, token
    server.close()


def test_worker_serves_governance_routes_and_registers_the_agents(worker):
    app, hub, url, token = worker
    assert app.governance is hub and app.rumour_service.governance is hub
    assert list(app.governance_intake_agent.channel.topics) == [hub.config.reports_topic]
    # the alert sink for the alerts topic sits beside the store sink
    assert len(hub.alerts.sinks) == 2
    status, _, body = get(url + "/api/alerts", token)
    assert status == 200
    assert {a["unit"] for a in orjson.loads(body)["alerts"]} == {"370100", "370102"}
    status, _, body = get(url + "/api/rumours/jn-1/debunk", token)
    assert status == 200 and orjson.loads(body)["debunk_shares"] == 1


def test_topics_for_the_worker():
    from streams.governance.wiring import governance_topics
    from streams.settings import Settings

    assert set(governance_topics(Settings.load())) == {"reports", "alerts"}
