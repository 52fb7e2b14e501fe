"""Report intake, status history on both store backends, and the HTTP routes."""
import asyncio

import orjson
import pytest

from streams.governance.alert_rules import poisson_tail
from streams.governance.alerts import AlertRouter
from streams.governance.config import GovernanceConfig
from streams.governance.hub import Governance
from tests.governance_routes import governance_routes
from streams.governance.reports import ReportDesk
from streams.pipeline import Pipeline

T0 = 1_759_276_800_000  # 2025-10-01T00:00Z


def _pipeline_with_rumour():
    p = Pipeline(None)
    p.process([orjson.dumps({"event_id": "m1", "rumour_id": "r1", "account_id": "a", "ts": T0, "kind": "post",
                             "text": "济南某小区自来水被投毒，大家千万不要喝自来水，赶紧转发告诉家人"}),
               orjson.dumps({"event_id": "m2", "rumour_id": "r1", "account_id": "b", "ts": T0 + 1000,
                             "parent_event_id": "m1", "region": "370102"})])
    return p


def test_intake_links_merges_and_validates():
    p = _pipeline_with_rumour()
    desk = ReportDesk(GovernanceConfig(), p)
    desk.add_rumour_text("r1", "济南某小区自来水被投毒，大家千万不要喝自来水，赶紧转发告诉家人")
    assert desk.submit({"reporter": "x"})[0] == 400
    status, body = desk.submit({"reporter": "x", "post_id": "m2", "time": "nonsense"})
    assert status == 400
    # Named by the report's own field, not the event field parse_ts reads ("time: ts: ...").
    assert body["error"].startswith("time: not RFC 3339"), body
    s1, b1 = desk.submit({"reporter": "x", "post_id": "m2", "time": T0 + 5000, "region": "山东 济南"}, now_ms=T0 + 6000)
    assert (s1, b1["rumour_id"], b1["link_method"], b1["region_code"]) == (201, "r1", "event_id", "370100")
    s2, b2 = desk.submit({"reporter": "x", "link": "https://weibo.com/b/m2", "time": T0 + 9000}, now_ms=T0 + 9000)
    assert (s2, b2["duplicate_of"]) == (200, b1["report_id"])
    s3, b3 = desk.submit({"reporter": "y", "text": "举报：济南某小区自来水被投毒，千万不要喝自来水，赶紧转发告诉家人！"},
                         now_ms=T0 + 10_000)
    assert (s3, b3["rumour_id"], b3["link_method"]) == (201, "r1", "text")
    s4, b4 = desk.submit({"reporter": "z", "text": "举报：济南某小区自来水被投毒，千万不要喝自来水，赶紧转发告诉家人!!"},
                         now_ms=T0 + 20_000)
    assert s4 == 200 and b4["duplicate_of"] == b3["report_id"]  # same text, another reporter
    s5, b5 = desk.submit({"reporter": "w", "text": "小区明天停电检修通知"}, now_ms=T0)
    assert (s5, b5["rumour_id"], b5["link_method"]) == (201, "", "none")
    assert desk.latest_status("r1")["status"] == "received"
    assert desk.set_status("r1", "bogus", "ann")[0] == 400
    assert desk.set_status("r1", "verified", "ann", at_ms=T0 + 60_000)[0] == 201
    assert desk.set_status("r1", "debunked", "bob", at_ms=T0 + 120_000)[0] == 201
    hist = desk.status_history("r1")
    assert [h["status"] for h in hist] == ["received", "verified", "debunked"]
    assert desk.latest_status("r1")["changed_by"] == "bob"


def test_status_history_in_store(store):
    desk = ReportDesk(GovernanceConfig(), _pipeline_with_rumour(), Governance(store=store).store)
    first = desk.submit({"reporter": "x", "post_id": "m2", "report_id": "c1"}, now_ms=T0)[1]
    desk.submit({"reporter": "x", "post_id": "m2", "report_id": "c1"}, now_ms=T0)  # repeated: idempotent
    desk.set_status("r1", "verified", "ann", "checked", at_ms=T0 + 60_000)
    desk.set_status("r1", "handled", "bob", at_ms=T0 + 180_000)
    desk.set_status("r1", "debunked", "cat", at_ms=T0 + 120_000)  # recorded late, older time
    g = desk.store
    latest = g.latest_statuses(["r1"])["r1"]
    assert (latest["status"], latest["changed_by"], latest["changed_ms"]) == ("handled", "bob", T0 + 180_000)
    assert [r["status"] for r in g.status_history("r1")] == ["received", "verified", "debunked", "handled"]
    reports = g.load_reports()
    # the stored id is the client's id scoped to its source (streams.governance.reports)
    assert first["client_report_id"] == "c1"
    assert [r["report_id"] for r in reports] == [first["report_id"]] and reports[0]["rumour_id"] == "r1"


def test_burst_rule_and_poisson_tail():
    # Independent check of the tail against the direct sum.
    import math
    lam, c = 0.7, 6
    direct = 1 - sum(math.exp(-lam) * lam ** k / math.factorial(k) for k in range(c))
    assert poisson_tail(c, lam) == pytest.approx(direct, rel=1e-9)
    cfg = GovernanceConfig(alert_window_shares=10_000, alert_growth_min_shares=10_000, alert_burst_min_shares=5)
    router = AlertRouter(cfg)
    rows = [{"rumour_id": "r", "event_id": f"e{m}", "ts": T0 + m * 60_000, "region": "370102", "kind": "share"}
            for m in range(30)]  # one a minute: the rate settles near 1
    rows += [{"rumour_id": "r", "event_id": f"b{i}", "ts": T0 + 30 * 60_000 + i, "region": "370102", "kind": "share"}
             for i in range(12)]  # 12 in minute 30
    rows.append({"rumour_id": "r", "event_id": "late", "ts": T0 + 40 * 60_000, "region": "370102", "kind": "share"})
    router.observe_rows(rows)
    bursts = [a for a in router.alerts if a["rule"] == "burst"]
    assert {(a["unit"], a["minute_ms"]) for a in bursts} == {("370100", T0 + 30 * 60_000),
                                                            ("370102", T0 + 30 * 60_000)}
    assert router.observe_rows(rows) == []  # re-delivery counts nothing twice


def test_http_routes():
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    hub = Governance(_pipeline_with_rumour())
    hub.attach()

    async def run():
        app = web.Application()
        app.add_routes(governance_routes(hub))
        async with TestClient(TestServer(app)) as client:
            r = await client.post("/api/reports", data=orjson.dumps({"reporter": "x", "post_id": "m1"}))
            assert r.status == 201 and (await r.json())["rumour_id"] == "r1"
            r = await client.post("/api/reports", data=b"{nope")
            assert r.status == 400
            r = await client.post("/api/rumours/r1/status", data=orjson.dumps({"status": "verified", "changed_by": "a"}))
            assert r.status == 201
            r = await client.get("/api/rumours/r1/status")
            body = await r.json()
            assert body["status"]["status"] == "verified" and len(body["history"]) == 2
            assert (await client.get("/api/alerts?jurisdiction=370100")).status == 200
            assert (await client.get("/api/alerts?jurisdiction=nowhere")).status == 400
            assert (await client.get("/api/rumours/zz/debunk")).status == 404

    asyncio.run(run())
