"""The dashboard's list of the desk's unlinked reports and its "link to the selected rumour"
button, in headless Chromium over `rumour serve` (skips without chromium or ECharts)."""
from __future__ import annotations

import asyncio
import os

import orjson
import pytest

from tests.service_helpers import get
from tests.test_browser_dashboard import chromium_page, log_in, serve_file
from tests.test_service_governance import post


@pytest.mark.slow
def test_an_unlinked_report_is_linked_to_the_selected_rumour_from_the_dashboard(tmp_path):
    from streams.synthetic import synthetic_events

    data = tmp_path / "synthetic.jsonl"
    with open(data, "wb") as fh:
        for e in synthetic_events(n_rumours=2, shares_per_rumour=60, seed=5, prefix="ul"):
            fh.write(orjson.dumps(e) + b"\n")
    with serve_file(data, tmp_path) as (url, token):
        status, raw = post(url + "/api/reports", token, {"reporter": "街坊", "text": "和哪条谣言都不像的 一段 举报"})
        answer = orjson.loads(raw)
        assert status == 201 and answer["link_method"] is None and answer["routed_upward"], answer
        rid = answer["report_id"]
        found = asyncio.run(_drive(url, token, tmp_path, rid))
        reports = orjson.loads(get(url + f"/api/rumours/{found['rumour']}/reports", token)[2])["reports"]
        unlinked = orjson.loads(get(url + "/api/reports/unlinked", token)[2])
    assert found["listed"] == [rid] and found["count"] == "(1)"
    assert found["after"] == []
    assert found["reports_shown"] is True  # the selected rumour's reports reloaded
    assert [(r["report_id"], r["link_method"], r["reporter"]) for r in reports] == [(rid, "manual", "街坊")]
    assert unlinked["total"] == 0


async def _drive(url, token, tmp_path, rid) -> dict:
    found = {}
    async with chromium_page(tmp_path, dict(os.environ)) as cdp:
        await log_in(cdp, url, token)
        await cdp.wait_for("document.querySelectorAll('#rumours tbody tr').length >= 1")
        rumour = await cdp.js("document.querySelector('#rumours tbody tr').getAttribute('data-id')")
        await cdp.js(f"window.rumourDashboard.select({orjson.dumps(rumour).decode()}); true")
        await cdp.wait_for("document.getElementById('handling').hidden === false")
        await cdp.js("document.getElementById('unlinked').open = true; true")  # its toggle loads the list
        await cdp.wait_for("document.querySelectorAll('#unlinked-list li').length === 1")
        found["listed"] = await cdp.js("Array.from(document.querySelectorAll('#unlinked-list li'))"
                                       ".map(function(l){return l.getAttribute('data-report');})")
        found["count"] = await cdp.js("document.getElementById('unlinked-count').textContent")
        await cdp.js("document.querySelector('#unlinked-list button.link-here').click(); true")
        msg = "document.getElementById('unlinked-msg').textContent"
        await cdp.wait_for(f"{msg} && ['加载中…', 'loading…'].indexOf({msg}) < 0", 60)
        found["message"] = await cdp.js(msg)
        assert found["message"] in ("已关联: " + rid, "linked: " + rid), found["message"]
        await cdp.wait_for("document.querySelectorAll('#unlinked-list li').length === 0", 60)
        found["after"] = await cdp.js("Array.from(document.querySelectorAll('#unlinked-list li')).map(function(l){return 1;})")
        found["reports_shown"] = await cdp.wait_for(
            f"(window.rumourDashboard.state.reports || {{reports: []}}).reports.some(function(r){{return r.report_id === {orjson.dumps(rid).decode()};}})")
        found["rumour"] = rumour
    return found
