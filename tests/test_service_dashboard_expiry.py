"""The dashboard shows the token's expiry (from /api/me) and warns in its last 7 days: the rule
(streams/service/static/expiry.js) run in node, and the page in a headless Chromium (Debian's
chromium package, driven as in tests/test_browser_dashboard.py)."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import PROJECT_ROOT, unavailable
import tests.test_service

# The module-scoped server fixture of tests/test_service.py (this module gets a server of its own).
env = tests.test_service.env

EXPIRY_JS = PROJECT_ROOT / "streams" / "service" / "static" / "expiry.js"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("expires_at,kind,days", [
    ("never", "never", None),
    (_iso(NOW + 3 * DAY), "soon", 3),
    (_iso(NOW + 2 * DAY + timedelta(hours=1)), "soon", 3),  # a day begun counts
    (_iso(NOW + 7 * DAY), "soon", 7),  # the 7th day is still "within 7 days"
    (_iso(NOW + 7 * DAY + timedelta(seconds=1)), "ok", 8),
    (_iso(NOW + 90 * DAY), "ok", 90),
    (_iso(NOW - timedelta(seconds=1)), "expired", 0),
])
def test_expiry_rule(expires_at, kind, days):
    if shutil.which("node") is None:
        unavailable("node")
    script = (f"const e = require({json.dumps(str(EXPIRY_JS))});"
              f"console.log(JSON.stringify(e.tokenExpiry({json.dumps(expires_at)}, "
              f"{int(NOW.timestamp() * 1000)})))")
    out = json.loads(subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout)
    assert (out["kind"], out["days"]) == (kind, days)


# A stand-in for Apache ECharts (web/node_modules may be absent): this test reads the header only.
ECHARTS_STUB = """window.echarts = {init: function () { return {setOption: function () {}, on: function () {},
  resize: function () {}, clear: function () {}, getOption: function () { return {series: []}; }}; },
  getInstanceByDom: function () { return null; }};"""


def serve_page_without_echarts(tmp_path, monkeypatch) -> None:
    """Skip without chromium; serve :data:`ECHARTS_STUB` as the page's ECharts."""
    if shutil.which("chromium") is None:
        unavailable("chromium (apt-get install chromium)")
    from streams.service import site

    stub = tmp_path / "echarts.min.js"
    stub.write_text(ECHARTS_STUB)
    monkeypatch.setitem(site.VENDOR, "echarts.min.js", stub)


async def _header_for(url: str, tokens: list[str], tmp_path) -> list[dict]:
    from tests.test_browser_dashboard import chromium_page

    found = []
    async with chromium_page(tmp_path, dict(os.environ, LANG="en_US.UTF-8")) as cdp:
        for token in tokens:
            await cdp.call("Page.navigate", url=url)
            await cdp.wait_for("document.readyState === 'complete' && !!window.rumourDashboard")
            await cdp.js("sessionStorage.setItem('rumour.lang', 'en');"
                         f"sessionStorage.setItem('rumour.token', {json.dumps(token)}); true")
            await cdp.call("Page.navigate", url=url)
            await cdp.wait_for("document.readyState === 'complete' && !!window.rumourDashboard "
                               "&& !!window.rumourDashboard.state.me")
            text = await cdp.wait_for("document.getElementById('expiry').textContent")
            found.append({"text": text, "class": await cdp.js("document.getElementById('expiry').className"),
                          "expires_at": await cdp.js("window.rumourDashboard.state.me.expires_at")})
    return found


def test_the_page_shows_the_expiry_and_warns_in_the_last_week(env, tmp_path, monkeypatch):
    from streams.service.tokens import TokenStore

    serve_page_without_echarts(tmp_path, monkeypatch)
    ts = TokenStore(env["tokens_path"])
    now = ts.now_ms()
    soon = ts.issue("analyst", "370000", "soon", now + 3 * 86_400_000 + 3_600_000, now)[0]
    later = ts.issue("analyst", "370000", "later", now + 60 * 86_400_000, now)[0]
    never = ts.issue("analyst", "370000", "never", None, now)[0]
    a, b, c = asyncio.run(_header_for(env["url"] + "/", [soon, later, never], tmp_path))
    assert "expiry-soon" in a["class"].split() and "within 4 days" in a["text"], a
    assert "expiry-soon" not in b["class"].split() and b["text"].startswith("token valid until"), b
    assert b["expires_at"][:4] in b["text"]  # the date itself is shown
    assert c["text"] == "token never expires" and "expiry-soon" not in c["class"].split(), c
