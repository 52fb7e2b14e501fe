"""Rough edges a user meets on the HTTP service, each pinned by the request that showed it:
refusals in the one error shape, what the audit row keeps of a refused request, readable times.
Shares the module server of tests/test_service_governance.py (chDB store, the hand-made
cascades, the governance hub)."""
from __future__ import annotations

import orjson

from tests.service_helpers import get
import tests.test_service_governance
from tests.test_service_governance import post

# The module-scoped server fixture of tests/test_service_governance.py (this module gets a server
# of its own).
env = tests.test_service_governance.env


def test_desk_refusals_have_the_one_error_shape(env):
    # The report desk and the status workflow refused with {"error"} alone, unlike every other
    # refusal of the API ({"error", "status"}, README "Errors").
    tok = env["tok"]
    refusals = [
        post(env["url"] + "/api/reports", tok["analyst"], {}),
        post(env["url"] + "/api/reports", tok["analyst"], [1]),
        post(env["url"] + "/api/reports", tok["analyst"], {"reporter": "x", "text": "y", "time": "yesterday"}),
        post(env["url"] + "/api/rumours/jn-1/status", tok["admin"], {"status": "bogus"}),
        post(env["url"] + "/api/rumours/jn-1/status", tok["admin"], {"status": "handled", "changed_by": "m"}),
        post(env["url"] + "/api/rumours/jn-1/status", tok["admin"], "x"),
    ]
    for status, body in refusals:
        answer = orjson.loads(body)
        assert status == 400 and set(answer) == {"error", "status", "code"} and answer["status"] == 400, answer
        assert answer["code"] == "bad_body", answer
        assert answer["error"]


def _last_audit_row(env):
    return env["store"].audit_rows(limit=1)[0]


def test_a_refused_requests_audit_row_names_its_rumour_and_case(env):
    # An analyst asking for an evidence package (role refused) and a Beijing liaison asking for a
    # Shandong rumour (jurisdiction refused): the rows named neither the rumour (role) nor the
    # case (both), so an auditor could not tell which case the attempt was made under.
    tok, url = env["tok"], env["url"]
    status, _, _ = get(url + "/api/rumours/jn-1/evidence?case=CASE-R1", tok["analyst"])
    assert status == 403
    row = _last_audit_row(env)
    assert (row["action"], row["status"], row["rumour_id"], row["case_id"]) == ("evidence", 403, "jn-1", "CASE-R1")
    status, _, _ = get(url + "/api/rumours/jn-1/trace", tok["beijing"], case="CASE-R2")
    assert status == 404
    row = _last_audit_row(env)
    assert (row["action"], row["status"], row["rumour_id"], row["case_id"]) == ("trace", 403, "jn-1", "CASE-R2")
    status, _, _ = get(url + "/api/rumours/no-such/trace", tok["liaison"], case="CASE-R3")
    assert status == 404
    row = _last_audit_row(env)
    assert (row["status"], row["rumour_id"], row["case_id"]) == (404, "no-such", "CASE-R3")
    # An invalid case number is still refused (400) and not recorded as a case.
    status, _, _ = get(url + "/api/rumours/jn-1/trace", tok["liaison"], case="bad;case")
    assert status == 400 and _last_audit_row(env)["case_id"] == ""


def test_audit_rows_give_their_time_with_its_zone(env):
    # /api/audit gave a row's time only as epoch ms (ts_ms), while its token expiry and every
    # other answer's times are RFC 3339 with a zone.
    from datetime import datetime

    status, _, body = get(env["url"] + "/api/audit?limit=3", env["tok"]["national"])
    rows = orjson.loads(body)["rows"]
    assert status == 200 and rows
    for r in rows:
        assert r["ts"].endswith("Z")
        assert int(datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp() * 1000) == r["ts_ms"]


def test_evidence_download_keeps_a_chinese_case_number_in_its_name(env):
    # Case 沪公(2026)12号 was saved as "evidence-___2026_12_.zip": every non-ASCII letter lost.
    from urllib.parse import quote, unquote

    case = "沪公(2026)12号"
    status, headers, _ = get(env["url"] + "/api/rumours/jn-1/evidence?case=" + quote(case), env["tok"]["liaison"])
    assert status == 200
    extended = headers["Content-Disposition"].split("filename*=", 1)[1]  # RFC 6266
    assert extended.startswith("UTF-8''") and unquote(extended[7:]) == f"evidence-{case}.zip"
    assert headers["Content-Disposition"].isascii()


def test_a_liaison_without_a_case_learns_both_ways_to_give_it_for_an_export(env):
    # The README documents ?case= for an export; the refusal named only the header.
    status, _, body = get(env["url"] + "/api/rumours/jn-1/evidence", env["tok"]["liaison"])
    assert status == 400 and "?case=" in orjson.loads(body)["error"]
    status, _, body = get(env["url"] + "/api/rumours/jn-1/trace", env["tok"]["liaison"])
    assert status == 400 and "X-Case-Id" in orjson.loads(body)["error"]


def test_the_page_says_why_a_token_that_may_not_use_it_cannot_enter(env, tmp_path, monkeypatch):
    # A monitor token (for Prometheus) typed into the login form: /api/me answers 403 and the
    # page stayed on the form with no word, keeping the token for the next load.
    import asyncio
    import json
    import os

    from streams.service.tokens import TokenStore
    from tests.test_browser_dashboard import chromium_page
    from tests.test_service_dashboard_expiry import serve_page_without_echarts

    serve_page_without_echarts(tmp_path, monkeypatch)
    monitor = TokenStore(env["service"].tokens.path).issue("monitor", "000000", "prometheus")[0]

    async def drive():
        async with chromium_page(tmp_path, dict(os.environ, LANG="en_US.UTF-8")) as cdp:
            await cdp.call("Page.navigate", url=env["url"] + "/")
            await cdp.wait_for("document.readyState === 'complete' && !!window.rumourDashboard")
            await cdp.js("sessionStorage.setItem('rumour.lang', 'en'); true")
            await cdp.wait_for("document.getElementById('login').hidden === false")
            await cdp.js(f"document.getElementById('token').value = {json.dumps(monitor)};"
                         "document.getElementById('login-form').requestSubmit(); true")
            error = await cdp.wait_for("document.getElementById('login-error').textContent", 60)
            return (error, await cdp.js("document.getElementById('login').hidden"),
                    await cdp.js("sessionStorage.getItem('rumour.token')"))

    error, hidden, kept = asyncio.run(drive())
    # The refusal's code in the page's words (errors.js), not the server's English text.
    assert error == "Cannot enter: Your role may not do this" and hidden is False and kept is None, (error, hidden, kept)


def _fill_series(series: dict, bucket_ms: int, time_zone: str | None = None) -> dict:
    import json
    import shutil
    import subprocess

    from tests.conftest import PROJECT_ROOT, unavailable

    if shutil.which("node") is None:
        unavailable("node")
    script = PROJECT_ROOT / "streams" / "service" / "static" / "series.js"
    code = (f"const s = require({json.dumps(str(script))});"
            f"console.log(JSON.stringify(s.fillSeries({json.dumps(series)}, {bucket_ms}, {json.dumps(time_zone)})))")
    return json.loads(subprocess.run(["node", "-e", code], capture_output=True, text=True, check=True).stdout)


def test_the_shares_chart_draws_empty_buckets_as_zero(env):
    # The API lists only buckets with shares; the chart drew a line straight through the empty
    # ones (real Weibo rumour ynBapoTli: 1 share on 2013-01-20, 30 on 2013-02-20, nothing
    # between, drawn as a month-long ramp). Checked on this server's own detail answer too.
    day = 86_400_000
    out = _fill_series({"rumour": [[0, 1], [3 * day, 30]], "debunk": [[day, 2]]}, day)
    assert out == {"rumour": [[0, 1], [day, 0], [2 * day, 0], [3 * day, 30]],
                   "debunk": [[0, 0], [day, 2], [2 * day, 0], [3 * day, 0]]}
    status, _, body = get(env["url"] + "/api/rumours/jn-1", env["tok"]["analyst"])
    detail = orjson.loads(body)
    filled = _fill_series(detail["series"], detail["bucket_ms"])
    for key, points in detail["series"].items():
        assert sum(n for _, n in filled[key]) == sum(n for _, n in points)
        steps = {b - a for (a, _), (b, _) in zip(filled[key], filled[key][1:])}
        assert steps <= {detail["bucket_ms"]}
    # Too many buckets to draw one by one: the series is drawn as given.
    assert _fill_series({"rumour": [[0, 1], [10 ** 9 * day, 1]]}, day) == {"rumour": [[0, 1], [10 ** 9 * day, 1]]}


def test_the_chart_fills_local_days_on_the_centres_clock_across_a_dst_change():
    # Day buckets are local days of the answer's timezone (23 hours on 2021-03-28 in Berlin):
    # filled with a fixed 24 h step on real time, the day after the change was missed and an
    # empty day drawn in the middle of it. On the zone's wall clock (read as UTC, drawn with
    # useUTC) every local day is 24 h from the next.
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from streams.service.buckets import DAY_MS, bucket_starts

    def local(text, zone="Europe/Berlin"):
        return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp() * 1000)

    def wall(text):
        return int(datetime.fromisoformat(text + "+00:00").timestamp() * 1000)

    keys = bucket_starts([local("2021-03-27T12:00"), local("2021-03-28T23:30"), local("2021-03-30T01:00")],
                         DAY_MS, "Europe/Berlin").tolist()
    out = _fill_series({"rumour": [[keys[0], 1], [keys[1], 2], [keys[2], 3]], "debunk": []}, DAY_MS,
                       "Europe/Berlin")
    assert out["rumour"] == [[wall("2021-03-27T00:00"), 1], [wall("2021-03-28T00:00"), 2],
                             [wall("2021-03-29T00:00"), 0], [wall("2021-03-30T00:00"), 3]]
    assert [n for _, n in out["debunk"]] == [0, 0, 0, 0]
    # Hours in a +05:30 zone: real-time steps, shown at the local full hour.
    t = local("2012-06-11T21:00", "Asia/Kolkata")
    out = _fill_series({"rumour": [[t, 1], [t + 2 * 3_600_000, 1]]}, 3_600_000, "Asia/Kolkata")
    assert out == {"rumour": [[wall("2012-06-11T21:00"), 1], [wall("2012-06-11T22:00"), 0],
                              [wall("2012-06-11T23:00"), 1]]}


def test_the_dashboard_shows_times_on_the_centres_clock_not_the_browsers(env, tmp_path):
    # The time axis followed the browser's zone: a desk in another zone (or a laptop left on
    # UTC) saw the centre's days start at 08:00. Here the browser runs in New York and the
    # centre is in Shanghai (report_timezone's default).
    import asyncio
    import json
    import os
    import shutil

    from tests.conftest import PROJECT_ROOT, unavailable
    from tests.test_browser_dashboard import chromium_page

    if shutil.which("chromium") is None:
        unavailable("chromium (apt-get install chromium)")
    if not (PROJECT_ROOT / "web" / "node_modules" / "echarts" / "dist" / "echarts.min.js").exists():
        unavailable("web/node_modules (npm ci in web/)")
    detail = orjson.loads(get(env["url"] + "/api/rumours/jn-1", env["tok"]["analyst"])[2])
    assert detail["timezone"] == "Asia/Shanghai"
    axis = ("(function(){var c=echarts.getInstanceByDom(document.getElementById('chart-series'));"
            "if(!c)return null;var o=c.getOption();return [o.useUTC, o.series[0].data[0][0]];})()")

    async def drive():
        async with chromium_page(tmp_path, dict(os.environ, TZ="America/New_York", LANG="en_US.UTF-8")) as cdp:
            await cdp.call("Page.navigate", url=env["url"] + "/")
            await cdp.wait_for("document.readyState === 'complete' && !!window.rumourDashboard")
            await cdp.js("sessionStorage.setItem('rumour.lang', 'en');"
                         f"sessionStorage.setItem('rumour.token', {json.dumps(env['tok']['analyst'])}); true")
            await cdp.call("Page.navigate", url=env["url"] + "/")
            await cdp.wait_for("!!window.rumourDashboard && window.rumourDashboard.state.detail !== null")
            await cdp.js("window.rumourDashboard.select('jn-1'); true")
            await cdp.wait_for("window.rumourDashboard.state.detail !== null "
                               "&& window.rumourDashboard.state.detail.rumour_id === 'jn-1'")
            return (await cdp.js(axis), await cdp.js("document.getElementById('tz').textContent"),
                    await cdp.js("Intl.DateTimeFormat().resolvedOptions().timeZone"))

    (use_utc, first_x), footer, browser_zone = asyncio.run(drive())
    assert browser_zone == "America/New_York"
    assert "Asia/Shanghai" in footer
    # the first bucket drawn at its Shanghai wall time (UTC+8, no DST), labelled with useUTC
    assert use_utc is True and first_x == detail["series"]["rumour"][0][0] + 8 * 3_600_000


def test_an_admin_pages_back_through_the_audit_log(env):
    # /api/audit gave the newest `limit` rows (at most 10,000) and no way back past them:
    # since_ms only cuts the old end. until_ms pages back; every row is reached.
    tok, url = env["tok"], env["url"]
    for i in range(5):
        get(url + "/api/rumours/jn-1/trace", tok["liaison"], case=f"PAGE-{i}")
    status, _, body = get(url + "/api/audit?limit=10000", tok["national"])
    everything = [r["audit_id"] for r in orjson.loads(body)["rows"]]
    seen, until = [], None
    while True:
        status, _, body = get(url + "/api/audit?limit=3" + (f"&until_ms={until}" if until is not None else ""),
                              tok["national"])
        assert status == 200
        rows = [r for r in orjson.loads(body)["rows"] if r["audit_id"] not in seen]
        assert all(until is None or r["ts_ms"] <= until for r in rows)
        if not rows:
            break
        seen += [r["audit_id"] for r in rows]
        until = rows[-1]["ts_ms"]
    # Each page also writes a row (newer than the first page): all that were there are reached.
    assert set(everything) <= set(seen) and len(everything) >= 5
    status, _, body = get(url + "/api/audit?until_ms=-1", tok["national"])
    assert status == 400 and "until_ms" in orjson.loads(body)["error"]


def test_the_rumour_list_takes_a_limit_and_says_how_many_there_are(env):
    # ?limit= was silently ignored (a national list of the real Weibo set is 2,364 rumours,
    # 560 KB, whatever the client asked for).
    tok, url = env["tok"], env["url"]
    _, _, body = get(url + "/api/rumours", tok["national"])
    full = orjson.loads(body)
    assert full["total"] == len(full["rumours"]) >= 3
    status, _, body = get(url + "/api/rumours?limit=2", tok["national"])
    part = orjson.loads(body)
    assert status == 200 and part["rumours"] == full["rumours"][:2] and part["total"] == full["total"]
    for bad in ("0", "-1", "abc", "100001"):
        status, _, body = get(url + "/api/rumours?limit=" + bad, tok["national"])
        assert status == 400 and orjson.loads(body)["error"].startswith("limit:"), (bad, body)


def test_integer_parameters_are_ascii_and_their_errors_readable(env):
    # tree?limit=%EF%BC%95 (a full-width 5) was read as 5; alerts?since_ms=-1 answered
    # "expected 0..4611686018427387904".
    tok, url = env["tok"], env["url"]
    for path in ("/api/rumours/jn-1/tree?limit=%EF%BC%95", "/api/rumours?limit=%D9%A5",
                 "/api/alerts?limit=%EF%BC%95", "/api/audit?limit=%EF%BC%95"):
        status, _, body = get(url + path, tok["national"])
        assert status == 400 and orjson.loads(body)["error"] == "limit: expected an integer", (path, body)
    status, _, body = get(url + "/api/rumours/jn-1/trace?k=%EF%BC%95", tok["national"], case="C-1")
    assert status == 400 and orjson.loads(body)["error"] == "k: expected an integer"
    for path in ("/api/alerts?since_ms=-1", "/api/audit?since_ms=-1"):
        status, _, body = get(url + path, tok["national"])
        assert status == 400 and orjson.loads(body)["error"] == "since_ms: expected an integer >= 0", body


def test_refused_paths_and_methods_carry_the_security_headers(env):
    # A 405 (HEAD on an audited route, OPTIONS, DELETE) and a 400 for an undecodable path came
    # without X-Content-Type-Options, X-Frame-Options, CSP, which every other answer has.
    import urllib.error
    import urllib.request

    url = env["url"]
    for method, path in (("HEAD", "/api/rumours/jn-1/trace"), ("OPTIONS", "/api/rumours"),
                         ("DELETE", "/api/rumours/jn-1/status"), ("GET", "/api/rumours/%ff")):
        req = urllib.request.Request(url + path, method=method)
        try:
            urllib.request.urlopen(req, timeout=30)
            raise AssertionError((method, path))
        except urllib.error.HTTPError as exc:
            assert exc.code in (400, 405), (method, path, exc.code)
            assert exc.headers["X-Content-Type-Options"] == "nosniff", (method, path, dict(exc.headers))
            assert exc.headers["X-Frame-Options"] == "DENY" and exc.headers["Content-Security-Policy"]


def test_a_role_refusal_names_the_route_as_the_caller_asked_it(env):
    # "role monitor may not use me", "role liaison may not use status_set": the route table's
    # internal names, which no user has seen.
    from streams.service.tokens import TokenStore

    tok, url = env["tok"], env["url"]
    monitor = TokenStore(env["service"].tokens.path).issue("monitor", "000000", "scraper")[0]
    status, _, body = get(url + "/api/me", monitor)
    assert status == 403 and orjson.loads(body)["error"] == "role monitor may not use GET /api/me"
    status, body = post(url + "/api/rumours/jn-1/status", tok["liaison"], {"status": "verified"})
    assert status == 403
    assert orjson.loads(body)["error"] == "role liaison may not use POST /api/rumours/{rumour_id}/status"
    status, _, body = get(url + "/api/rumours/jn-1/evidence?case=C-1", tok["analyst"])
    assert orjson.loads(body)["error"] == "role analyst may not use GET /api/rumours/{rumour_id}/evidence"


def test_a_token_lifetime_past_year_9999_is_refused_before_anything_is_issued(tmp_path):
    # `rumour token issue --expires-days 100000000` printed a token, stored it, then failed
    # ("year 275817 is out of range"), and from then on `rumour token list` failed for every
    # token; --expires 9999-12-31, 1e300 and inf days ended in tracebacks.
    import contextlib
    import io

    from streams.service.cli import token_main

    tokens = tmp_path / "tokens.json"

    def run(*argv):
        raw, err = io.BytesIO(), io.StringIO()
        out = io.TextIOWrapper(raw, encoding="utf-8")  # `list` writes to sys.stdout.buffer
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = token_main([*argv, "--tokens-file", str(tokens)])
        out.flush()
        return code, raw.getvalue().decode(), err.getvalue()

    assert run("issue", "--role", "analyst", "--jurisdiction", "110000", "--expires-days", "30")[0] == 0
    for lifetime in (("--expires-days", "100000000"), ("--expires-days", "1e300"), ("--expires-days", "inf"),
                     ("--expires", "9999-12-31")):
        code, out, err = run("issue", "--role", "analyst", "--jurisdiction", "110000", *lifetime)
        assert code == 2 and out == "" and "too far ahead" in err, (lifetime, code, out, err)
    code, out, _ = run("list")
    assert code == 0 and len(out.splitlines()) == 1
    code, _, err = run("issue", "--role", "analyst", "--jurisdiction", "110000", "--expires", "9999-12-30")
    assert code == 0 and "9999-12-31T00:00:00Z" in err


def test_the_charts_speak_the_pages_language(env, tmp_path):
    # The English page's time axis read "7月" (ECharts' locale is taken when a chart is made,
    # and the page never gave one); switching the language left the charts as they were.
    import asyncio
    import json
    import os
    import shutil

    from tests.conftest import PROJECT_ROOT, unavailable
    from tests.test_browser_dashboard import chromium_page

    if shutil.which("chromium") is None:
        unavailable("chromium (apt-get install chromium)")
    if not (PROJECT_ROOT / "web" / "node_modules" / "echarts" / "dist" / "echarts.min.js").exists():
        unavailable("web/node_modules (npm ci in web/)")
    months = ("(function(){var c=echarts.getInstanceByDom(document.getElementById('chart-series'));"
              "return c?c.getModel().getLocaleModel().get(['time','monthAbbr'])[0]:null;})()")
    tree_clicks = ("(function(){var c=echarts.getInstanceByDom(document.getElementById('chart-tree'));"
                   "return c&&c._$handlers&&c._$handlers.click?c._$handlers.click.length:0;})()")

    async def drive():
        async with chromium_page(tmp_path, dict(os.environ, LANG="zh_CN.UTF-8")) as cdp:
            await cdp.call("Page.navigate", url=env["url"] + "/")
            await cdp.wait_for("document.readyState === 'complete' && !!window.rumourDashboard")
            await cdp.js("sessionStorage.setItem('rumour.lang', 'en');"
                         f"sessionStorage.setItem('rumour.token', {json.dumps(env['tok']['analyst'])}); true")
            await cdp.call("Page.navigate", url=env["url"] + "/")
            await cdp.wait_for("!!window.rumourDashboard && window.rumourDashboard.state.detail !== null "
                               "&& window.rumourDashboard.state.tree !== null")
            seen = [await cdp.js(months)]
            await cdp.js("document.getElementById('lang').click(); true")
            await cdp.wait_for("window.rumourDashboard.state.lang === 'zh-CN'")
            seen.append(await cdp.wait_for(months + " === '1月' ? '1月' : null", 30))
            seen.append(await cdp.js(tree_clicks))
            return seen

    en, zh, clicks = asyncio.run(drive())
    assert (en, zh) == ("Jan", "1月")
    assert clicks == 1  # the tree still opens an account's chain on a click, once


def test_a_token_for_a_code_that_names_no_division_comes_with_a_note(tmp_path):
    # `--jurisdiction 110015` (a typo of Chaoyang's 110105) was issued in silence: the desk then
    # sees an empty list and no reason.
    import contextlib
    import io

    from streams.service.cli import token_main

    def issue(code):
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = token_main(["issue", "--role", "analyst", "--jurisdiction", code,
                               "--tokens-file", str(tmp_path / "tokens.json")])
        return code, err.getvalue()

    code, err = issue("110015")
    assert code == 0 and "note: 110015 is no division" in err
    for known in ("110105", "110000", "370211", "000000"):
        code, err = issue(known)
        assert code == 0 and "note:" not in err, (known, err)
