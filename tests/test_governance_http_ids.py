"""The governance routes that read one rumour (reports, status, debunk) share one id check:
an invalid id gets the check's 400 on each, a valid one the route's own answer."""
from __future__ import annotations

import asyncio

import orjson

from tests.governance_routes import governance_routes
from streams.governance.hub import Governance
from streams.pipeline import Pipeline

T0 = 1_767_225_600_000


def test_each_per_rumour_route_checks_the_id_then_answers():
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    pipeline = Pipeline(None)
    hub = Governance(pipeline)
    hub.attach()
    pipeline.process([orjson.dumps({"event_id": "m1", "rumour_id": "r1", "account_id": "a", "ts": T0,
                                    "kind": "post", "text": "a rumour"})])
    bad = "r%20" + "x" * 300  # a space and 300+ characters: not a rumour id

    async def run():
        app = web.Application()
        app.add_routes(governance_routes(hub))
        async with TestClient(TestServer(app)) as client:
            for route in ("reports", "status", "debunk"):
                r = await client.get(f"/api/rumours/{bad}/{route}")
                assert r.status == 400, route
                assert "rumour id" in (await r.json())["error"], route
            r = await client.get("/api/rumours/r1/reports")
            assert r.status == 200 and await r.json() == {"rumour_id": "r1", "reports": []}
            r = await client.get("/api/rumours/r1/status")
            assert r.status == 200 and (await r.json())["rumour_id"] == "r1"
            r = await client.get("/api/rumours/r1/debunk")
            assert r.status == 200
            assert (await client.get("/api/rumours/nobody/debunk")).status == 404

    asyncio.run(run())
