"""The dashboard's refusals and failures in Chinese, in headless Chromium (driven as in
tests/test_browser_dashboard.py): a zh-CN user read the server's English ("case number: 1-64
letters...", "role analyst may not use GET ...", "unknown account ...") wherever a request was
refused, and nothing at all when the list's poll failed. Each error code now reads in the page's
language (static/errors.js); a language switch re-words an error already shown."""
from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
from pathlib import Path

import pytest

from tests.test_browser_dashboard import chromium_page, log_in
from tests.test_browser_trace_panel import served  # noqa: F401  (the fixture: liaison and analyst)

CASE = "沪公刑(2026)12号"
DASH = "window.rumourDashboard"
PANEL = f"{DASH}.trace()"
CJK = "/[\\u4e00-\\u9fff]/"

# Answers the page gets instead of the server's for the list's poll: a store down (the API's 500
# with its code), and a proxy's HTML page (no JSON at all).
FAKE_LIST = (
    "(function(body, status, type){{var real = window.__realFetch || window.fetch; window.__realFetch = real;"
    "window.fetch = function(url, init){{ if (String(url).indexOf('/api/rumours?') === 0) return Promise.resolve("
    "new Response(body, {{status: status, headers: {{'Content-Type': type}}}})); return real(url, init); }}; return true;}})"
    "({body}, {status}, {type})")


def _fake_list(body: str, status: int, content_type: str) -> str:
    return FAKE_LIST.format(body=json.dumps(body), status=status, type=json.dumps(content_type))


async def _text(cdp, selector: str, predicate: str = "t") -> str:
    return await cdp.wait_for(f"(function(){{var el=document.querySelector({json.dumps(selector)});"
                              f"var t=el && !el.hidden ? el.textContent : ''; return t && ({predicate}) ? t : null;}})()", 120)


async def _drive(url: str, liaison: str, analyst: str, monitor: str, tmp_path: Path) -> dict:
    env = dict(os.environ, TZ="UTC", LANG="zh_CN.UTF-8")
    found = {}
    async with chromium_page(tmp_path, env) as cdp:
        await cdp.call("Page.navigate", url=url)
        await cdp.wait_for("document.readyState === 'complete' && !!window.rumourDashboard")
        await cdp.js("sessionStorage.setItem('rumour.lang', 'zh-CN'); true")
        # Every code the page knows, as the page itself words it.
        found["all"] = await cdp.js("RUMOUR_ERRORS.codes.map(function(c){return [c, RUMOUR_ERRORS.text('zh-CN', {code: c})];})")
        # A token that may not use the dashboard (a monitor's: 403 on /api/me).
        await log_in(cdp, url, monitor)
        found["monitor"] = await _text(cdp, "#login-error")
        # A liaison: no case number, a bad one, an unknown account, in zh.
        await log_in(cdp, url, liaison)
        await cdp.wait_for(f"{DASH}.state.detail !== null && !document.getElementById('trace-panel').hidden")
        await cdp.js("document.getElementById('case').value=''; document.getElementById('trace-run').click(); true")
        found["no_case"] = await _text(cdp, "#trace-out .error")
        await cdp.js("document.getElementById('case').value='bad<case>'; document.getElementById('trace-export').click(); true")
        found["bad_case"] = await _text(cdp, "#export-out .error", f"{CJK}.test(t)")
        await cdp.js(f"document.getElementById('case').value={json.dumps(CASE)}; {DASH}.traceAccount('psn_0000000000000000'); true")
        found["unknown_account"] = await _text(cdp, "#chain", "t.indexOf('找不到') >= 0")
        # The same error, once shown, follows a change of language.
        await cdp.js("document.getElementById('lang').click(); true")
        found["bad_case_en"] = await _text(cdp, "#export-out .error", f"!{CJK}.test(t)")
        await cdp.js("document.getElementById('lang').click(); true")
        await _text(cdp, "#export-out .error", f"{CJK}.test(t)")
        # The list's poll fails: the store down (500 with its code), then a proxy's page.
        await cdp.js(_fake_list(json.dumps({"error": "internal error", "status": 500, "code": "store_unavailable"}),
                                500, "application/json"))
        found["store_down"] = await _text(cdp, "#poll-error")
        await cdp.js(_fake_list("<html>502 Bad Gateway</html>", 502, "text/html"))
        found["proxy"] = await _text(cdp, "#poll-error", "t.indexOf('无法识别') >= 0")
        # The poll answers again: the message goes.
        await cdp.js("window.fetch = window.__realFetch; true")
        found["recovered"] = await cdp.wait_for("document.getElementById('poll-error').hidden", 120)
        # An empty search: the list says so.
        await cdp.js("var s=document.getElementById('rumour-search'); s.value='没有这种谣言'; s.dispatchEvent(new Event('input')); true")
        found["no_match"] = await _text(cdp, "#list-empty")
        # An analyst's forced export: refused for the role, in zh.
        await cdp.js("document.getElementById('logout').click(); true")
        await log_in(cdp, url, analyst)
        await cdp.wait_for(f"{DASH}.state.me && {DASH}.state.me.role === 'analyst' && {DASH}.state.selected !== null")
        await cdp.js(f"{PANEL}.exportPackage(); true")
        found["analyst_export"] = await _text(cdp, "#export-out .error")
        # A token refused (unknown): the login form says so in zh.
        await cdp.js("document.getElementById('logout').click(); true")
        await log_in(cdp, url, "rt_nobody_nothing")
        found["bad_token"] = await _text(cdp, "#login-error")
        await cdp.screenshot(tmp_path / "errors-zh.png")
    return found


@pytest.mark.slow
def test_refusals_read_in_chinese_on_the_dashboard(served, tmp_path):  # noqa: F811
    from streams.service.cli import token_main

    url, liaison, analyst = served
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        token_main(["issue", "--role", "monitor", "--jurisdiction", "000000", "--name", "prometheus",
                    "--tokens-file", str(tmp_path / "tokens" / "tokens.json")])
    found = asyncio.run(_drive(url, liaison, analyst, out.getvalue().splitlines()[0], tmp_path))
    print(json.dumps(found, ensure_ascii=False), tmp_path)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in text) for _, text in found["all"]), found["all"]
    assert found["monitor"] == "无法进入：当前角色无权执行此操作"
    assert found["no_case"] == "请先填写案件编号"
    assert found["bad_case"].startswith("案件编号无效")
    assert found["bad_case_en"].startswith("Invalid case number")
    assert found["unknown_account"] == "找不到该账号"
    assert found["store_down"] == "数据存储暂时无法访问，请稍后重试"
    assert found["proxy"] == "服务器返回了无法识别的应答"
    assert found["recovered"] is True
    assert found["no_match"] == "没有符合搜索条件的谣言"
    assert found["analyst_export"] == "当前角色无权执行此操作"
    assert found["bad_token"] == "令牌无效、已过期或已吊销"
