"""The dashboard in a real headless Chromium (Debian's chromium package), driven over the
DevTools protocol with aiohttp's websocket client (no extra dependency): `rumour serve` over a
replayed synthetic cascade, log in through the token form, check that every chart holds data,
switch languages, open an account's chain, and take screenshots into the test's tmp dir."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.conftest import PROJECT_ROOT, unavailable

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--remote-debugging-port=0", "--window-size=1400,1150", "--hide-scrollbars"]


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, ws):
        self.ws, self.next_id = ws, 0
        self.exceptions: list[str] = []  # what the page threw and nothing caught, as it was said

    async def call(self, method: str, **params):
        self.next_id += 1
        my_id = self.next_id
        await self.ws.send_str(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), 180)
            data = json.loads(msg.data)
            if data.get("method") == "Runtime.exceptionThrown":
                details = data["params"]["exceptionDetails"]
                self.exceptions.append((details.get("exception") or {}).get("description") or details.get("text"))
            if data.get("id") == my_id:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return data.get("result", {})

    async def js(self, expression: str):
        res = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise AssertionError(f"JS failed: {expression}: {res['exceptionDetails']}")
        return res["result"].get("value")

    async def wait_for(self, expression: str, seconds: float = 180.0):
        # Generous: a wait ends as soon as the page gets there; only a loaded machine needs it.
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = await self.js(expression)
            if value:
                return value
            await asyncio.sleep(0.25)
        raise AssertionError(f"timed out waiting for {expression}")

    async def screenshot(self, path: Path) -> None:
        res = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(res["data"]))


def _chart_js(element_id: str) -> str:
    return (f"(function(){{var c=echarts.getInstanceByDom(document.getElementById('{element_id}'));"
            "if(!c)return null;var o=c.getOption();return o.series.map(function(s){"
            "return s.type==='tree'?(s.data[0].children||[]).length:s.data.length;});})()")


def label_boxes_js(element_id: str) -> str:
    """JS giving the boxes (x, y, width, height, text) of the labels a chart draws: the text spans
    zrender paints (tspan) whose text and host node are not hidden (a label ECharts hides for
    want of room is ``ignore``), each box in the chart's pixels as ECharts' own label layout
    computes it (the local bounding rect through the global transform)."""
    return (f"(function(){{var c=echarts.getInstanceByDom(document.getElementById('{element_id}'));"
            "var out=[];c.getZr().storage.getDisplayList(true).forEach(function(el){"
            "if(el.type!=='tspan'||!el.style||!el.style.text)return;"
            "for(var p=el;p;p=p.parent||p.__hostTarget){if(p.ignore||p.invisible)return;}"
            "var r=el.getBoundingRect().clone();var m=el.getComputedTransform();if(m)r.applyTransform(m);"
            "if(r.width>0&&r.height>0)out.push([r.x,r.y,r.width,r.height,String(el.style.text)]);});"
            "return out;})()")


TREE_LABEL_BOXES_JS = label_boxes_js("chart-tree")


def overlapping(boxes, tolerance: float = 0.5) -> list:
    """Pairs of boxes (x, y, w, h, text) that overlap by more than ``tolerance`` px each way."""
    return [(a[4], b[4]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]) > tolerance
            and min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]) > tolerance]


@pytest.fixture
def served(tmp_path):
    from streams.synthetic import synthetic_events

    data = tmp_path / "synthetic.jsonl"
    with open(data, "wb") as fh:
        for e in synthetic_events(n_rumours=3, shares_per_rumour=400, seed=5, prefix="br"):
            fh.write(orjson.dumps(e) + b"\n")
    reports = tmp_path / "reports.jsonl"  # one public report, on the first rumour's 6th share
    reports.write_bytes(orjson.dumps({"reporter": "citizen", "post_id": "br-r0-e5",
                                      "time": "2025-12-01T12:00:00Z"}) + b"\n")
    with serve_file(data, tmp_path, reports) as out:
        yield out


@contextlib.contextmanager
def serve_file(data: Path, tmp_path: Path, reports: Path | None = None):
    """``(url, token)``: `rumour serve` over the events file ``data`` (and public ``reports``)
    and an analyst token of Shandong (370000); skips without chromium or ECharts."""
    if shutil.which("chromium") is None:
        unavailable("chromium (apt-get install chromium)")
    if not (PROJECT_ROOT / "web" / "node_modules" / "echarts" / "dist" / "echarts.min.js").exists():
        unavailable("web/node_modules (npm ci in web/)")
    from streams.service.cli import token_main

    tokens = tmp_path / "tokens" / "tokens.json"
    # PYTHONPATH: the server runs from tmp_path, where `-m streams.cli` would import the
    # installed (editable) checkout, not this tree's code and dashboard files.
    env = dict(os.environ, RUMOUR_TOKENS_FILE=str(tokens),
               PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])))
    server = subprocess.Popen([sys.executable, "-m", "streams.cli", "serve", str(data), "--port", "0",
                               *(["--reports", str(reports)] if reports else [])],
                              env=env, stdout=subprocess.PIPE, stderr=open(tmp_path / "serve.log", "wb"),
                              cwd=str(tmp_path))
    try:
        line = ""
        deadline = time.monotonic() + 300
        while "serving http" not in line and time.monotonic() < deadline and server.poll() is None:
            line = server.stdout.readline().decode()
        assert "serving http" in line, (tmp_path / "serve.log").read_text()
        url = line.split()[1]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            token_main(["issue", "--role", "analyst", "--jurisdiction", "370000", "--name", "browser-analyst",
                        "--tokens-file", str(tokens)])
        yield url, out.getvalue().splitlines()[0]
    finally:
        server.terminate()
        server.wait(30)


@contextlib.asynccontextmanager
async def chromium_page(tmp_path: Path, env: dict):
    """A headless Chromium (its profile and log in ``tmp_path``, environment ``env``) and a
    DevTools session on its first page, with the Page and Runtime domains enabled; at the end,
    the page must have thrown nothing uncaught."""
    import aiohttp

    profile = tmp_path / "chromium-profile"
    chrome = subprocess.Popen(["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                              env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "chromium.log", "wb"))
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 180
        while not port_file.exists() or not port_file.read_text().strip():
            assert time.monotonic() < deadline and chrome.poll() is None, (tmp_path / "chromium.log").read_text()
            await asyncio.sleep(0.2)
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as resp:
                pages = [p for p in await resp.json() if p["type"] == "page"]
            async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                cdp = DevTools(ws)
                await cdp.call("Page.enable")
                await cdp.call("Runtime.enable")
                yield cdp
                # The dashboard's scripts call one another's functions through shared globals: one
                # a handler expects and no script made (a click, a change of language) throws a
                # ReferenceError or TypeError that nothing catches, whatever the test looked at.
                await cdp.js("true")  # reads the events sent so far
                assert not cdp.exceptions, cdp.exceptions
    finally:
        chrome.terminate()
        try:
            chrome.wait(20)
        except subprocess.TimeoutExpired:
            chrome.kill()


async def log_in(cdp, url: str, token: str) -> None:
    """Open the dashboard at ``url`` and give ``token`` to its login form."""
    await cdp.call("Page.navigate", url=url)
    await cdp.wait_for("document.readyState === 'complete' && !!window.rumourDashboard")
    # No token yet: the page asks for one.
    await cdp.wait_for("document.getElementById('login').hidden === false")
    await cdp.js(f"document.getElementById('token').value = {json.dumps(token)};"
                 "document.getElementById('login-form').requestSubmit(); true")


async def _list_at_scale(cdp) -> dict:
    """The rumour list of the 3 synthetic rumours at scale: a page at a time, a search, 304s
    while nothing changes, and no polling while the tab is hidden (it polled the whole list
    every 2 s, visible or not)."""
    dash = "window.rumourDashboard"
    row_ids = ("Array.from(document.querySelectorAll('#rumours tbody tr'))"
               ".map(function(r){return r.getAttribute('data-id');})")

    async def shown(pager: str) -> list:  # the rows once the pager reads `pager`
        await cdp.wait_for(f"document.getElementById('list-page').textContent === '{pager}'")
        return await cdp.js(row_ids)

    async def search(text: str) -> None:
        await cdp.js(f"var s = document.getElementById('rumour-search'); s.value = {json.dumps(text)};"
                     "s.dispatchEvent(new Event('input')); true")

    async def set_hidden(hidden: bool) -> None:
        await cdp.js(f"Object.defineProperty(document, 'hidden', {{value: {json.dumps(hidden)}, configurable: true}});"
                     "document.dispatchEvent(new Event('visibilitychange')); true")

    out = {"not_modified": await cdp.js(f"{dash}.state.list.notModified"),
           "list_url": await cdp.js(f"{dash}.state.list.url")}
    await cdp.js(f"{dash}.state.list.limit = 2; {dash}.goPage(0); true")
    out["page1"] = len(await shown("1–2 / 3"))
    await cdp.js("document.getElementById('page-next').click(); true")
    out["page2"] = len(await shown("3–3 / 3"))
    out["next_disabled"] = await cdp.js("document.getElementById('page-next').disabled")
    await cdp.js(f"{dash}.state.list.limit = 50; {dash}.goPage(0); true")
    await search("BR-R1")
    out["searched"] = await shown("1–1 / 1")
    await search("")
    await shown("1–3 / 3")
    await set_hidden(True)
    await cdp.wait_for(f"{dash}.state.paused === true")
    polls = await cdp.js(f"{dash}.state.polls")
    await asyncio.sleep(3 * 2.0)  # three poll intervals
    out["hidden_polls"] = await cdp.js(f"{dash}.state.polls") - polls
    await set_hidden(False)
    await cdp.wait_for(f"{dash}.state.polls > {polls}")  # shown again: polling resumes
    return out


async def _drive(url: str, token: str, tmp_path: Path) -> dict:
    env = dict(os.environ, TZ="Asia/Shanghai", LANG="en_US.UTF-8")
    async with chromium_page(tmp_path, env) as cdp:
        await log_in(cdp, url, token)
        await cdp.wait_for("window.rumourDashboard.state.tree !== null && "
                           "window.rumourDashboard.state.polls >= 2")
        # Chromium's locale here is English: switch the page to Chinese with its button.
        if await cdp.js("window.rumourDashboard.state.lang") != "zh-CN":
            await cdp.js("document.getElementById('lang').click(); true")
        # The tree's labels once drawn (a frame after the tree's render), then with every node
        # expanded: the widest fans of the tree?limit=150 answer side by side.
        await cdp.js("new Promise(function(r){setTimeout(r, 300);})")
        tree_labels = await cdp.js(TREE_LABEL_BOXES_JS)
        await cdp.js("echarts.getInstanceByDom(document.getElementById('chart-tree'))"
                     ".setOption({series: [{initialTreeDepth: -1}]}); new Promise(function(r){setTimeout(r, 300);})")
        tree_labels_expanded = await cdp.js(TREE_LABEL_BOXES_JS)
        found = {
            "tree_labels": tree_labels, "tree_labels_expanded": tree_labels_expanded,
            "tree_width": await cdp.js("echarts.getInstanceByDom(document.getElementById('chart-tree')).getWidth()"),
            "tree_nodes": await cdp.js("(function(){function n(x){return 1+x.children.reduce(function(a,c){"
                                       "return a+n(c);},0);}return window.rumourDashboard.state.tree.roots"
                                       ".reduce(function(a,r){return a+n(r);},0);})()"),
            "rows": await cdp.js("document.querySelectorAll('#rumours tbody tr').length"),
            "tree_facts": await cdp.js("document.getElementById('tree-facts').textContent"),
            "tree_answer": await cdp.js("(function(t){return [t.events, t.depth, t.shown];})"
                                        "(window.rumourDashboard.state.tree)"),
            "series": await cdp.js(_chart_js("chart-series")),
            "regions": await cdp.js(_chart_js("chart-regions")),
            "spreaders": await cdp.js(_chart_js("chart-spreaders")),
            "tree": await cdp.js(_chart_js("chart-tree")),
            "canvases": await cdp.js("Array.from(document.querySelectorAll('canvas'))"
                                     ".filter(function(c){return c.width>0&&c.height>0;}).length"),
            "title_zh": await cdp.js("document.querySelector('h1').textContent"),
            "tz": await cdp.js("document.getElementById('tz').textContent"),
            "login_hidden": await cdp.js("document.getElementById('login').hidden"),
        }
        # Live updates: the page keeps polling. Two more polls, however long a loaded
        # machine takes for them (a count in a fixed 4.5 s window failed when a poll's
        # requests took longer than that).
        polls = await cdp.js("window.rumourDashboard.state.polls")
        await cdp.wait_for(f"window.rumourDashboard.state.polls >= {polls + 2}")
        found["more_polls"] = await cdp.js("window.rumourDashboard.state.polls") - polls
        found.update(await _list_at_scale(cdp))
        # An account's chain from the tree (pseudonyms for an analyst, no case needed).
        await cdp.js("window.rumourDashboard.traceAccount("
                     "window.rumourDashboard.state.tree.roots[0].children[0].name); true")
        await cdp.wait_for("document.querySelectorAll('#chain li').length > 0")
        found["chain_hops"] = await cdp.js("document.querySelectorAll('#chain li').length")
        # Governance: alerts of the analyst's province, handling status, debunk reach.
        await cdp.wait_for("document.querySelectorAll('#alerts li.alert').length > 0")
        found["alerts"] = await cdp.js("document.querySelectorAll('#alerts li.alert').length")
        found["alert_units"] = await cdp.js("Array.from(document.querySelectorAll('#alerts li.alert b'))"
                                            ".map(function(b){return b.textContent;})")
        found["alerts_api"] = await cdp.js("window.rumourDashboard.state.alerts.length")
        await cdp.js("window.rumourDashboard.select('br-r0'); true")
        await cdp.wait_for("window.rumourDashboard.state.handling !== null && "
                           "window.rumourDashboard.state.debunk !== null && "
                           "document.getElementById('handling').hidden === false")
        found["handling_received"] = await cdp.js("document.getElementById('handling-status').textContent")
        found["handling_by_received"] = await cdp.js("document.getElementById('handling-by').textContent")
        # change the status with the page's own control
        await cdp.js("document.getElementById('status-select').value = 'verified';"
                     "document.getElementById('status-note').value = '已核实 browser';"
                     "document.getElementById('status-form').requestSubmit(); true")
        await cdp.wait_for("(window.rumourDashboard.state.handling.status || {}).status === 'verified'")
        # state.handling is set when /status answers; the box is drawn once /reports and
        # /debunk have answered too: wait for the drawing (its class), then read the text.
        await cdp.wait_for("document.getElementById('handling-status').classList.contains('h-verified')")
        found["handling_verified"] = await cdp.js("document.getElementById('handling-status').textContent")
        found["handling_by"] = await cdp.js("document.getElementById('handling-by').textContent")
        found["history"] = await cdp.js("document.querySelectorAll('#handling-history li').length")
        # a page that shows a status another officer has since replaced (here: the page's copy
        # made stale) is refused 409, says so, and shows the current status again
        await cdp.js("window.rumourDashboard.state.handling.status.changed_at = '2000-01-01T00:00:00Z';"
                     "document.getElementById('status-select').value = 'handled';"
                     "document.getElementById('status-form').requestSubmit(); true")
        await cdp.wait_for("document.getElementById('status-msg').textContent.indexOf('已被他人更改') >= 0 && "
                           "window.rumourDashboard.state.handling.status.changed_at !== '2000-01-01T00:00:00Z'")
        found["stale"] = await cdp.js("[document.getElementById('status-msg').textContent,"
                                      " window.rumourDashboard.state.handling.status.status,"
                                      " document.querySelectorAll('#handling-history li').length]")
        found["debunk_stats"] = await cdp.js("document.getElementById('debunk-stats').textContent")
        found["debunk_chart"] = await cdp.js(_chart_js("chart-debunk"))
        await cdp.js("var l = document.getElementById('level'); l.value = 'city';"
                     "l.dispatchEvent(new Event('change')); true")
        found["region_labels"] = await cdp.js(
            "echarts.getInstanceByDom(document.getElementById('chart-regions')).getOption().yAxis[0].data")
        await cdp.js("document.getElementById('chart-debunk').scrollIntoView(); true")
        await cdp.screenshot(tmp_path / "dashboard-debunk.png")
        await cdp.js("window.scrollTo(0, 0); true")
        await cdp.screenshot(tmp_path / "dashboard-zh-CN.png")
        await cdp.js("document.getElementById('lang').click(); true")
        found["title_en"] = await cdp.js("document.querySelector('h1').textContent")
        found["legend_en"] = await cdp.js(
            "echarts.getInstanceByDom(document.getElementById('chart-series')).getOption().legend[0].data")
        found["handling_en"] = await cdp.js("document.getElementById('handling-status').textContent")
        found["alerts_title_en"] = await cdp.js("document.querySelector('.alerts-box h2 span').textContent")
        await cdp.screenshot(tmp_path / "dashboard-en.png")
        found["errors"] = await cdp.js("window.rumourDashboard.state.errors")
        found["last_error"] = await cdp.js("window.rumourDashboard.state.lastError || null")
        return found


@pytest.mark.slow
def test_dashboard_renders_data_in_headless_chromium(served, tmp_path):
    url, token = served
    found = asyncio.run(_drive(url, token, tmp_path))
    print(json.dumps(found, ensure_ascii=False), tmp_path)
    assert found["login_hidden"] is True
    assert found["rows"] == 3
    rumour_points, debunk_points = found["series"]
    assert rumour_points > 5 and debunk_points > 0
    assert found["regions"][0] > 1 and found["spreaders"][0] > 1
    assert found["tree"][0] >= 1
    # the whole cascade's size and depth beside the drawing (which holds at most 150 events)
    events, depth, shown = found["tree_answer"]
    assert events > shown and depth >= 1
    assert found["tree_facts"] == f"{events} 条 · 深度 {depth} · 显示 {shown}", found["tree_facts"]
    # Labels on wide fans overlapped: each drawn label has room of its own (ECharts hides the
    # others, shown on hover, with the full text in the tooltip), collapsed and expanded.
    print("tree labels drawn:", len(found["tree_labels"]), len(found["tree_labels_expanded"]),
          "of", found["tree_nodes"], "nodes")
    for key in ("tree_labels", "tree_labels_expanded"):
        assert len(found[key]) >= 3, found[key]  # a check over labels actually drawn
        assert overlapping(found[key]) == [], key
        # and each lies inside the chart (the root's label began left of its edge)
        assert all(0 <= x and x + w <= found["tree_width"] for x, _, w, _, _ in found[key]), key
    assert found["canvases"] >= 4
    assert found["title_zh"] == "谣言传播态势" and found["title_en"] == "Rumour spread"
    assert found["legend_en"] == ["rumour", "debunk"]
    assert "Asia/Shanghai" in found["tz"]
    assert found["more_polls"] >= 2  # the page keeps polling (every 2 s when the machine is idle)
    assert found["list_url"] == "/api/rumours?limit=50"  # a page, not the whole list
    assert found["not_modified"] >= 1  # an unchanged list is answered 304
    assert (found["page1"], found["page2"], found["next_disabled"]) == (2, 1, True)
    assert found["searched"] == ["br-r1"]
    assert found["hidden_polls"] == 0
    assert found["chain_hops"] >= 2
    assert found["errors"] == 0, found["last_error"]
    # governance: alerts of the analyst's province (all the synthetic regions are in Shandong)
    assert found["alerts"] == min(found["alerts_api"], 30) > 0
    assert all(u and not u.isdigit() for u in found["alert_units"])  # names, not codes
    assert found["handling_received"] == "已受理" and "举报受理" in found["handling_by_received"]
    assert found["handling_verified"] == "已核实" and "browser-analyst" in found["handling_by"]
    assert found["history"] == 2
    # The 409's code in the page's language (the server's English named the status; the form
    # shows the current one, reloaded).
    assert found["stale"] == ["处置状态已被他人更改：已重新载入，请确认后再提交", "verified", 2], found["stale"]
    assert "接触谣言账号" in found["debunk_stats"] and "%" in found["debunk_stats"]
    assert found["debunk_chart"][0] >= 2
    assert {"济南市", "青岛市"} <= set(found["region_labels"])
    assert found["handling_en"] == "verified" and found["alerts_title_en"] == "Alerts in my jurisdiction"
    for name in ("dashboard-zh-CN.png", "dashboard-en.png", "dashboard-debunk.png"):
        png = (tmp_path / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
