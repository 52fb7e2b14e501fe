"""Case numbers and query parameters at the HTTP service: which routes read a case, what a case
number may hold, and which query parameters a route takes. Shares the module server of
tests/test_service_governance.py (chDB store, the hand-made cascades, the governance hub)."""
from __future__ import annotations

from urllib.parse import quote

import orjson

from tests.service_helpers import get
import tests.test_service_governance

# The module-scoped server fixture of tests/test_service_governance.py (this module gets a server
# of its own).
env = tests.test_service_governance.env


def _last_audit_row(env):
    return env["store"].audit_rows(limit=1)[0]


def test_a_route_without_a_case_ignores_the_case_header(env):
    # GET /api/audit takes no case, yet an X-Case-Id it does not use was validated (400).
    tok, url = env["tok"], env["url"]
    status, _, body = get(url + "/api/audit?limit=1", tok["national"], case="bad;case")
    assert status == 200, body
    assert _last_audit_row(env)["case_id"] == ""
    # A route a case applies to still refuses an invalid one.
    status, _, body = get(url + "/api/rumours/jn-1/trace", tok["liaison"], case="bad;case")
    assert status == 400 and orjson.loads(body)["error"].startswith("case number:")


def test_a_case_number_may_hold_inner_spaces(env):
    # "沪公刑 (2026) 12号" was refused (400): case numbers on paper hold spaces.
    from urllib.parse import quote, unquote

    tok, url = env["tok"], env["url"]
    case = "沪公刑 (2026) 12号"
    status, headers, body = get(url + "/api/rumours/jn-1/evidence?case=" + quote(case), tok["liaison"])
    assert status == 200, body
    row = _last_audit_row(env)
    assert (row["action"], row["case_id"]) == ("evidence", case)
    # The download's name keeps no space (a file name a shell or a form would split).
    extended = headers["Content-Disposition"].split("filename*=", 1)[1]
    assert unquote(extended[7:]) == "evidence-沪公刑_(2026)_12号.zip"
    assert headers["Content-Disposition"].isascii()
    # The same case given as a header (percent-encoded), then found again by the audit filter.
    status, _, body = get(url + "/api/rumours/jn-1/trace", tok["liaison"], case=quote(case))
    assert status == 200, body
    status, _, body = get(url + "/api/audit?case=" + quote(case), tok["national"])
    rows = orjson.loads(body)["rows"]
    assert status == 200 and {r["action"] for r in rows} >= {"evidence", "trace"}
    assert {r["case_id"] for r in rows} == {case}


def test_a_case_number_is_trimmed_and_refuses_control_characters(env):
    tok, url = env["tok"], env["url"]
    # Spaces at either end (a pasted number) are trimmed: the case recorded has none.
    status, _, body = get(url + "/api/rumours/jn-1/trace", tok["liaison"], case=" C-1 2 ")
    assert status == 200 and _last_audit_row(env)["case_id"] == "C-1 2"
    for bad in ("C%091", "C%0A1", "C%001", "C%E2%80%8B1", "x" * 65):
        status, _, body = get(url + "/api/rumours/jn-1/evidence?case=" + bad, tok["liaison"])
        error = orjson.loads(body)["error"]
        assert status == 400 and error.startswith("case number:") and "spaces" in error, (bad, body)
    status, _, body = get(url + "/api/audit?case=C%091", tok["national"])
    assert status == 400 and orjson.loads(body)["error"].startswith("case:")


def test_a_refused_case_number_names_the_full_width_brackets_it_may_hold(env):
    # 【2026】 (the brackets a phone keyboard offers) is refused; the refusal named only ASCII
    # brackets, so an officer did not learn that the official 〔2026〕 form is accepted as written.
    from urllib.parse import quote

    tok, url = env["tok"], env["url"]
    status, _, body = get(url + "/api/rumours/jn-1/trace", tok["liaison"], case=quote("粤公网【2026】7号"))
    error = orjson.loads(body)["error"]
    assert status == 400 and "（ ） 〔 〕" in error, body
    status, _, body = get(url + "/api/rumours/jn-1/trace", tok["liaison"], case=quote("粤公网〔2026〕7号"))
    assert status == 200 and _last_audit_row(env)["case_id"] == "粤公网〔2026〕7号"


def test_unknown_and_repeated_query_parameters_are_refused(env):
    # /api/alerts?limt=5 answered as if no limit had been asked for, and tree?limit=5&limit=900
    # used the first limit in silence.
    tok, url = env["tok"], env["url"]
    status, _, body = get(url + "/api/alerts?limt=5", tok["national"])
    error = orjson.loads(body)["error"]
    assert status == 400 and "'limt'" in error and "limit" in error.split("takes:", 1)[1], error
    status, _, body = get(url + "/api/rumours/jn-1/tree?limit=5&limit=900", tok["national"])
    assert status == 400 and orjson.loads(body)["error"] == "limit: given more than once"
    status, _, body = get(url + "/api/rumours/jn-1?limit=5", tok["national"])
    assert status == 400 and "takes none" in orjson.loads(body)["error"]
    status, _, body = get(url + "/healthz?verbose=1")
    assert status == 400 and "'verbose'" in orjson.loads(body)["error"]
    # An audited route refuses after the role check, and still writes its row.
    status, _, body = get(url + "/api/rumours/jn-1/trace?kk=3", tok["liaison"], case="C-P1")
    assert status == 400 and "'kk'" in orjson.loads(body)["error"]
    row = _last_audit_row(env)
    assert (row["action"], row["status"], row["case_id"]) == ("trace", 400, "C-P1")
    # What each route declares still works, and a browser's page or file ignores a query.
    for path in ("/api/alerts?limit=5&since_ms=0", "/api/rumours/jn-1/tree?limit=5",
                 "/api/audit?limit=1&since_ms=0", "/?from=link", "/static/app.js?v=2"):
        status, _, body = get(url + path, tok["national"])
        assert status == 200, (path, body[:200])


def test_the_dashboard_asks_only_for_parameters_its_routes_take():
    # The dashboard's scripts (app.js, trace.js, ...) must not send a parameter the service now
    # refuses: every "?name=" / "&name=" they write after an /api/ path is one some route declares.
    import re
    from pathlib import Path

    from streams.service.routes import ROUTES

    static = Path(__file__).resolve().parent.parent / "streams/service/static"
    js = "".join(path.read_text(encoding="utf-8") for path in sorted(static.glob("*.js")))
    declared = {name for r in ROUTES for name, _, _ in r.query}
    sent = set(re.findall(r'[?&]([a-z_]+)=', js))
    assert sent and sent <= declared, sent - declared


def test_the_rumour_list_pages_searches_and_answers_304_when_unchanged(env):
    # The dashboard polled the whole list (2,364 rumours, 559 KB nationally) every 2 s.
    tok, url = env["tok"], env["url"]
    status, headers, body = get(url + "/api/rumours", tok["national"])
    full = orjson.loads(body)["rumours"]
    assert status == 200 and len(full) >= 3 and headers["ETag"].startswith('"')
    # pages: limit and offset walk the list in its order, total counts all
    pages, offset = [], 0
    while True:
        _, _, body = get(url + f"/api/rumours?limit=2&offset={offset}", tok["national"])
        answer = orjson.loads(body)
        assert answer["total"] == len(full) and answer["offset"] == offset
        if not answer["rumours"]:
            break
        pages += answer["rumours"]
        offset += 2
    assert [r["rumour_id"] for r in pages] == [r["rumour_id"] for r in full]
    # search: by id, by status, by region name (Chinese or English), every word must match
    rid = full[-1]["rumour_id"]
    _, _, body = get(url + "/api/rumours?q=" + rid.upper(), tok["national"])
    found = orjson.loads(body)
    assert rid in [r["rumour_id"] for r in found["rumours"]] and found["total"] == len(found["rumours"])
    assert all(rid in r["rumour_id"] for r in found["rumours"])
    status_word = full[0]["status"]
    _, _, body = get(url + "/api/rumours?q=" + status_word, tok["national"])
    assert {r["rumour_id"] for r in orjson.loads(body)["rumours"]} == \
        {r["rumour_id"] for r in full if r["status"] == status_word}
    named = next(r for r in full if r["region_name"])
    for word in (named["region_name"]["zh"][:2], named["region_name"]["en"].split()[0].lower()):
        _, _, body = get(url + "/api/rumours?q=" + quote(word), tok["national"])
        assert named["rumour_id"] in [r["rumour_id"] for r in orjson.loads(body)["rumours"]], word
    _, _, body = get(url + "/api/rumours?q=" + quote(rid + " no-such-word"), tok["national"])
    nothing = orjson.loads(body)
    assert (nothing["rumours"], nothing["total"], nothing["offset"]) == ([], 0, 0)
    status, _, body = get(url + "/api/rumours?q=" + "x" * 101, tok["national"])
    assert status == 400 and orjson.loads(body)["error"].startswith("q:")
    # conditional: the same page with its ETag is a 304 without a body; another page is not
    status, headers, body = get(url + "/api/rumours?limit=2", tok["national"])
    tag = headers["ETag"]
    status, headers, body = get(url + "/api/rumours?limit=2", tok["national"], headers={"If-None-Match": tag})
    assert status == 304 and body == b"" and headers["ETag"] == tag
    status, _, _ = get(url + "/api/rumours?limit=2&offset=1", tok["national"], headers={"If-None-Match": tag})
    assert status == 200


def test_the_case_number_is_parsed_once_per_request(env, monkeypatch):
    # The early parse (for the audit row of a refused request) and the check at its turn each
    # ran Service._case: a request that got through parsed its case twice.
    service_class = type(env["service"])
    parse = service_class._case
    calls = []

    def counted(request, from_query):
        calls.append(from_query)
        return parse(request, from_query)

    monkeypatch.setattr(service_class, "_case", staticmethod(counted))
    tok, url = env["tok"], env["url"]
    status, _, body = get(url + "/api/rumours/jn-1/trace", tok["liaison"], case="C-once")
    assert status == 200 and calls == [False], (body, calls)
    assert _last_audit_row(env)["case_id"] == "C-once"
    calls.clear()
    # A bad one is still refused at its turn (400), after one parse too.
    status, _, body = get(url + "/api/rumours/jn-1/evidence?case=C%091", tok["liaison"])
    assert status == 400 and orjson.loads(body)["error"].startswith("case number:") and calls == [True]
    calls.clear()
    # A request refused before the case's turn (an unknown rumour) still records its case.
    status, _, _ = get(url + "/api/rumours/zz-none/trace", tok["liaison"], case="C-unknown")
    assert status == 404 and calls == [False] and _last_audit_row(env)["case_id"] == "C-unknown"


def test_the_rumour_list_search_matches_the_labels_the_dashboard_shows(env):
    # The table shows a status as a label of static/i18n.js (传播中, "spreading (debunked)", ...)
    # and a handling status likewise: a search for what a row shows finds the row.
    from streams.service.rumour_page import labels
    from tests.test_service_governance import post

    tok, url = env["tok"], env["url"]

    def search(words):
        answer = orjson.loads(get(url + "/api/rumours?q=" + quote(words), tok["national"])[2])
        return {r["rumour_id"]: r for r in answer["rumours"]}

    full = orjson.loads(get(url + "/api/rumours", tok["national"])[2])["rumours"]
    statuses = {r["status"] for r in full}
    assert len(statuses) >= 2, statuses
    for status in statuses:
        for label in labels(status):  # Chinese, English
            # the rows whose status shows it (传播中 is also inside 传播中（已辟谣）)
            shown = {r["rumour_id"] for r in full if any(label in shows for shows in labels(r["status"]))}
            assert set(search(label)) == shown, (status, label)
    assert labels("dormant") == ("平息", "dormant") and labels("contested")[0] == "传播中（已辟谣）"
    assert set(search("平息")) == {r["rumour_id"] for r in full if r["status"] == "dormant"}
    assert set(search("传播中")) == {r["rumour_id"] for r in full if r["status"] in ("spreading", "contested")}
    # handling: none shows "–" and matches nothing; a status set is found by its label
    assert search("已处置") == {}
    assert post(url + "/api/rumours/jn-1/status", tok["admin"], {"status": "handled"})[0] == 201
    for word in ("已处置", "HANDLED", "jn-1 已处置"):
        found = search(word)
        assert set(found) == {"jn-1"} and found["jn-1"]["handling"]["status"] == "handled", word


def test_a_city_desk_finds_its_rumours_by_its_own_places(env):
    # Every rumour a city desk sees is in its province: with the province alone as the list's
    # place, a Guangzhou desk's search for 广州 found none of its rumours.
    url, jinan = env["url"], env["tok"]["jinan"]
    listed = orjson.loads(get(url + "/api/rumours", jinan)[2])["rumours"]
    jn = next(r for r in listed if r["rumour_id"] == "jn-1")
    assert (jn["region"], jn["city"], jn["county"]) == ("370000", "370100", "370102")  # 4 of 5 in Lixia
    assert jn["city_name"]["en"] == "Jinan" and "历下" in jn["county_name"]["zh"]
    for word in ("历下", "lixia", "济南", "370102"):
        _, _, body = get(url + "/api/rumours?q=" + quote(word), jinan)
        assert [r["rumour_id"] for r in orjson.loads(body)["rumours"]] == ["jn-1"], word
