"""The rumour's origin trace and evidence export on the dashboard, in headless Chromium (tests/
test_browser_dashboard.py drives it): a liaison with a case number sees the origins and each
one's chain of hops as the API answers them, the inferred parents apart and labelled when asked
for, and exports a package that verifies (with inferred_parents.json when parents was on); no
case number gets the page's message; an analyst traces (pseudonymised) but has no export, and
one forced is refused as the API refuses it; at 400 px the panel stays inside the page."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import orjson
import pytest

from tests.test_browser_dashboard import chromium_page, log_in, serve_file
from tests.test_service_trace_parents import masked_events

CASE = "沪公刑(2026)12号"
DASH = "window.rumourDashboard"
PANEL = f"{DASH}.trace()"

# What the panel shows: each origin's account and event, and the hops (account, event) of each
# chain under it; the cut-off accounts; the inferred section's heading and events.
SHOWN_JS = (
    "(function(){var out=document.getElementById('trace-out');"
    "var origins=Array.from(out.querySelectorAll('li.origin-row')).map(function(li){"
    "return {account: li.querySelector('b').textContent, text: li.firstChild.nextSibling.textContent,"
    "chains: Array.from(li.querySelectorAll('ol.hops')).map(function(ol){return Array.from(ol.children).map(function(h){"
    "return [h.querySelector('b').textContent, h.textContent.split(' · ')[1]];});})};});"
    "var inf=out.querySelector('.inferred');"
    "return {origins: origins, cutoff: Array.from(out.querySelectorAll('ul.cutoffs b')).map(function(b){return b.textContent;}),"
    "hops_in_inferred: inf ? inf.querySelectorAll('ol.hops').length : 0,"
    "inferred: inf ? {title: inf.querySelector('h4').textContent, events: Array.from(inf.querySelectorAll('li'))"
    ".map(function(li){return [li.getAttribute('data-event'), li.textContent];})} : null,"
    "error: (out.querySelector('.error')||{}).textContent || null};})()")

# The exported zip, the blob behind the link the panel made (base64).
EXPORTED_JS = (
    f"(function(){{var x={PANEL}.exported();return x.blob.arrayBuffer()"
    ".then(function(b){var s='';var u=new Uint8Array(b);for(var i=0;i<u.length;i++)s+=String.fromCharCode(u[i]);"
    "var a=document.getElementById('export-link');return {name: x.name, digest: x.digest, link: a.getAttribute('download'),"
    "href_is_blob: a.href === x.url && x.url.indexOf('blob:') === 0,"
    "data: btoa(s)};});})()")

NARROW_JS = (
    "(function(){var p=document.getElementById('trace-panel');var b=p.getBoundingClientRect();"
    "var vw=document.documentElement.clientWidth;var out=Array.from(p.querySelectorAll('*')).filter(function(el){"
    "var r=el.getBoundingClientRect();return r.width>0&&(r.left<b.left-0.5||r.right>b.right+0.5);})"
    ".map(function(el){return el.tagName+' '+el.textContent.slice(0,40);});"
    "return {vw: vw, box: [b.left, b.right], outside: out, page_scrolls: document.documentElement.scrollWidth>vw,"
    "rows: p.querySelectorAll('li').length, past_page: Array.from(document.querySelectorAll('body *')).filter(function(el){"
    "return el.getBoundingClientRect().right>vw+0.5;}).slice(0, 8).map(function(el){return el.tagName+'#'+el.id+'.'+el.className;})};})()")


def _api(url, token, path):
    req = urllib.request.Request(url.rstrip("/") + path, headers={
        "Authorization": f"Bearer {token}", "X-Case-Id": urllib.parse.quote(CASE)})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return orjson.loads(resp.read())


def _expected(answer: dict) -> list:
    """``(account, [[account, event] per hop] per chain ending at it)`` of each origin, from the API."""
    out = []
    for o in answer["origins"]:
        chains = [[[h["account_id"], h["event_id"]] for h in c["hops"]] for c in answer["chains"]
                  if c["hops"] and c["hops"][-1]["event_id"] == o["event_id"]]
        out.append((o["account_id"], chains))
    return out


async def _settle(cdp, ms: int = 300):
    await cdp.js(f"new Promise(function(r){{setTimeout(r, {ms});}})")


async def _drive(url: str, liaison: str, analyst: str, tmp_path: Path) -> dict:
    # The browser in UTC: a time shown on the centre's clock (Asia/Shanghai) is then not the browser's.
    env = dict(os.environ, TZ="UTC", LANG="en_US.UTF-8")
    found = {}
    async with chromium_page(tmp_path, env) as cdp:
        await log_in(cdp, url, liaison)
        await cdp.wait_for(f"{DASH}.state.detail !== null && !document.getElementById('trace-panel').hidden")
        found["liaison_export_shown"] = await cdp.js("!document.getElementById('trace-export').hidden")
        # No case number: the page's message, no request.
        await cdp.js("document.getElementById('case').value=''; document.getElementById('trace-run').click(); true")
        await cdp.wait_for(f"{PANEL}.shown() !== null")
        found["no_case"] = (await cdp.js(SHOWN_JS))["error"]
        await cdp.js(f"document.getElementById('case').value={json.dumps(CASE)}; true")
        await cdp.js("document.getElementById('trace-run').click(); true")
        await cdp.wait_for(f"{PANEL}.shown().answer && !{PANEL}.shown().answer.parents")
        found["plain"] = await cdp.js(SHOWN_JS)
        # Parents on: the trace again with ?parents=1.
        await cdp.js("document.getElementById('trace-parents').click(); true")
        await cdp.wait_for(f"{PANEL}.shown().answer && !!{PANEL}.shown().answer.parents")
        found["parents"] = await cdp.js(SHOWN_JS)
        # In Chinese: the panel's texts from the page's table, the answer kept.
        await cdp.js("document.getElementById('lang').click(); true")
        await _settle(cdp)
        found["zh"] = await cdp.js("[document.querySelector('#trace-out .inferred h4').textContent,"
                                   "document.getElementById('trace-run').textContent]")
        await cdp.js("document.getElementById('lang').click(); true")
        await _settle(cdp)
        await cdp.js("document.getElementById('trace-export').click(); true")
        await cdp.wait_for(f"{PANEL}.exported() !== null && ({PANEL}.exported().url || {PANEL}.exported().error)")
        found["export_error"] = await cdp.js(f"{PANEL}.exported().error || null")
        found["export"] = await cdp.js(EXPORTED_JS)
        # A case number the API refuses (400): its message in the panel, the package shown before gone.
        await cdp.js("document.getElementById('case').value='bad<case>'; document.getElementById('trace-export').click(); true")
        await cdp.wait_for(f"{PANEL}.exported() && {PANEL}.exported().error")
        found["bad_case"] = await cdp.js("[document.querySelector('#export-out .error').textContent,"
                                         "!!document.getElementById('export-link')]")
        await cdp.js(f"document.getElementById('case').value={json.dumps(CASE)}; true")
        found["errors"] = await cdp.js(f"{DASH}.state.errors")
        # -- about 400 px wide, the trace and the inferred section shown
        await cdp.call("Emulation.setDeviceMetricsOverride", width=400, height=800, deviceScaleFactor=1, mobile=False)
        await cdp.js("window.dispatchEvent(new Event('resize')); document.getElementById('trace-panel').scrollIntoView(); true")
        await _settle(cdp, 500)
        found["narrow"] = await cdp.js(NARROW_JS)
        await cdp.screenshot(tmp_path / "trace-narrow.png")
        await cdp.call("Emulation.clearDeviceMetricsOverride")
        # -- an analyst: traces (pseudonyms), has no export; forced, it is refused as the API refuses it
        await cdp.js("document.getElementById('logout').click(); true")
        await log_in(cdp, url, analyst)
        await cdp.wait_for(f"{DASH}.state.me && {DASH}.state.me.role === 'analyst' && {DASH}.state.selected !== null")
        await _settle(cdp)
        found["analyst_panel"] = await cdp.js("!document.getElementById('trace-panel').hidden")
        found["analyst_export_shown"] = await cdp.js("!document.getElementById('trace-export').hidden")
        await cdp.js("document.getElementById('trace-parents').checked=false; document.getElementById('trace-run').click(); true")
        await cdp.wait_for(f"{PANEL}.shown() && {PANEL}.shown().answer && {PANEL}.shown().answer.identities !== 'clear'")
        found["analyst_trace"] = await cdp.js(SHOWN_JS)
        await cdp.js(f"{PANEL}.exportPackage(); true")
        await cdp.wait_for(f"{PANEL}.exported() && {PANEL}.exported().error")
        found["analyst_export"] = await cdp.js(f"({{code: {PANEL}.exported().error.code,"
                                               "text: document.querySelector('#export-out .error').textContent})")
    return found


@pytest.fixture
def served(tmp_path):
    from streams.service.cli import token_main

    data = tmp_path / "masked.jsonl"
    data.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in masked_events()))
    with serve_file(data, tmp_path) as (url, analyst):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            token_main(["issue", "--role", "liaison", "--jurisdiction", "370000", "--name", "browser-liaison",
                        "--tokens-file", str(tmp_path / "tokens" / "tokens.json")])
        yield url, out.getvalue().splitlines()[0], analyst


@pytest.mark.slow
def test_liaison_traces_and_exports_from_the_dashboard_in_headless_chromium(served, tmp_path):
    from streams.service.evidence_verify import verify

    url, liaison, analyst = served
    found = asyncio.run(_drive(url, liaison, analyst, tmp_path))
    print(json.dumps(found, ensure_ascii=False)[:4000], tmp_path)
    assert found["errors"] == 0
    assert found["no_case"] == "Enter a case number first"
    plain = _api(url, liaison, "/api/rumours/jn-1/trace")
    with_parents = _api(url, liaison, "/api/rumours/jn-1/trace?parents=1")
    # The origins and the hops under each one are the API's, in its order.
    for shown in (found["plain"], found["parents"]):
        assert [(o["account"], o["chains"]) for o in shown["origins"]] == _expected(plain)
        assert shown["cutoff"] == [c["account_id"] for c in plain["cutoff"]]
    assert any(o["chains"] for o in found["plain"]["origins"])  # some origin has a chain to show
    # Times on the centre's clock: the post at 00:00 UTC reads 08:00 in Asia/Shanghai.
    assert plain["origins"][0]["ts"] == "2025-12-01T00:00:00.000Z"
    assert "12/01/2025, 08:00:00" in found["plain"]["origins"][0]["text"]
    assert found["plain"]["inferred"] is None
    # Parents on: a section of their own, labelled, each link with its probability, no hop there.
    inferred = found["parents"]["inferred"]
    assert inferred and "leads, not evidence" in inferred["title"]
    assert [e for e, _ in inferred["events"]] == list(with_parents["parents"])
    for event, text in inferred["events"]:
        assert with_parents["parents"][event] in text and str(with_parents["parent_probability"][event]) in text
    assert found["parents"]["hops_in_inferred"] == 0
    assert found["zh"] == ["推断的上级（线索，非证据；不属于证据链）", "追溯源头"]
    # The package: the server's file name (filename*, the case number in Chinese), verifies,
    # holds the inferred links because parents was on.
    assert found["export_error"] is None
    export = found["export"]
    assert export["href_is_blob"] is True
    assert export["name"] == export["link"] == "evidence-沪公刑(2026)12号.zip"
    data = base64.b64decode(export["data"])
    verdict = verify(data, expected_digest=export["digest"])
    assert verdict.ok, verdict.problems
    assert "inferred_parents.json" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert found["bad_case"][0].startswith("Invalid case number: ") and found["bad_case"][1] is False, found["bad_case"]
    # A liaison has the export; at 400 px the panel's rows stay inside it and the page.
    assert found["liaison_export_shown"] is True
    narrow = found["narrow"]
    assert narrow["rows"] > 3 and narrow["outside"] == [] and not narrow["page_scrolls"], json.dumps(narrow)
    assert 0 <= narrow["box"][0] and narrow["box"][1] <= narrow["vw"] + 0.5, narrow
    # An analyst traces in pseudonyms, sees no export, and one forced is the API's 403.
    assert found["analyst_panel"] is True and found["analyst_export_shown"] is False
    assert all(o["account"].startswith("psn_") for o in found["analyst_trace"]["origins"])
    assert found["analyst_export"] == {"code": "role_forbidden", "text": "Your role may not do this"}, found["analyst_export"]
