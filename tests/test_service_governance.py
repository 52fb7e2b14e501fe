"""Governance routes served by the service: the 401/403 matrix, alerts filtered by the token's
jurisdiction, status history with changed_by from the token, reports over HTTP linked to their
rumour, debunk figures recomputed from the events, hostile input. One server for the module
(chDB store, the hand-made cascades of tests/service_helpers.py plus one debunk share)."""
from __future__ import annotations

import csv
import urllib.error
import urllib.request
from collections import defaultdict

import orjson
import pytest

from streams.service.routes import ROUTES
from tests.service_helpers import (MIN, T0, ThreadServer, _ev, bad_tokens, cascades, check_refusal_rows, get,
                                   governed_server)

# A second debunk share: "hub" (exposed to the rumour) reshares the police's debunk.
EXTRA = [_ev("jn-1", 7, "hub", 8, 6, "police", region="370102", kind="debunk")]
EVENTS = cascades() + EXTRA
THRESHOLD = 2  # volume rule: shares of one rumour in one unit within the window


def post(url: str, token: str | None, body, content_type: str = "application/json", raw: bytes | None = None):
    """(status, body) of a POST."""
    data = raw if raw is not None else orjson.dumps(body)
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from streams.service.http import Service
    from streams.service.tokens import TokenStore

    tokens_path = tmp_path_factory.mktemp("tokens") / "tokens.json"
    tokens = [("analyst", "analyst", "370000"), ("liaison", "liaison", "370000"), ("admin", "admin", "370000"),
              ("jinan", "analyst", "370100"), ("huangdao", "liaison", "370211"), ("lixia", "liaison", "370102"),
              ("beijing", "liaison", "110000"), ("bj_analyst", "analyst", "110000"), ("bj_admin", "admin", "110000"),
              ("national", "admin", "000000"), ("revoked", "admin", "000000")]
    with governed_server(tokens_path, EVENTS, THRESHOLD, tokens) as env:
        TokenStore(tokens_path).revoke(token_id(env["tok"]["revoked"]))
        bare = ThreadServer(Service(env["pipeline"], env["store"], tokens_path, cutoff_k=5).application())
        try:
            yield dict(env, bare=bare.url)
        finally:
            bare.close()


def token_id(token: str) -> str:
    return token.split("_")[1]


def audit_count(env) -> int:
    return len(env["store"].audit_rows(limit=100_000))


# -- the 401/403 matrix ------------------------------------------------------------------------
# route -> (method, path, body, roles refused, a token outside the rumour's jurisdiction, allowed token)
MATRIX = {
    "report_submit": ("POST", "/api/reports", {"reporter": "m", "text": "matrix report"}, [], None, "liaison"),
    "reports": ("GET", "/api/rumours/jn-1/reports", None, [], "beijing", "analyst"),
    "status": ("GET", "/api/rumours/jn-1/status", None, [], "beijing", "liaison"),
    "status_set": ("POST", "/api/rumours/jn-1/status", {"status": "verified"}, ["liaison", "huangdao"],
                   "bj_admin", "admin"),
    "alerts": ("GET", "/api/alerts", None, [], None, "lixia"),
    "debunk": ("GET", "/api/rumours/jn-1/debunk", None, [], "bj_analyst", "jinan"),
    "reports_unlinked": ("GET", "/api/reports/unlinked", None, [], None, "lixia"),
}
# Routes whose refusals need a report taken in first: tested in their own file.
MATRIX_ELSEWHERE = {"report_link": "tests/test_report_link_by_hand.py"}


def call(env, method, path, token, body=None, case=None):
    if method == "POST":
        return post(env["url"] + path, token, body)
    status, _, data = get(env["url"] + path, token, case=case)
    return status, data


def test_matrix_covers_every_governance_route():
    assert {r.name for r in ROUTES if r.governance} == set(MATRIX) | set(MATRIX_ELSEWHERE)
    assert all(r.action for r in ROUTES if r.governance)


@pytest.mark.parametrize("route", sorted(MATRIX))
def test_401_403_matrix(env, route):
    method, path, body, wrong_roles, outsider, allowed = MATRIX[route]
    tok = env["tok"]
    audited = next(r for r in ROUTES if r.name == route).audited
    env["service"].probes.rows_per_minute = 10 ** 6  # each refusal its row
    bad = bad_tokens(tok, "admin")
    before = audit_count(env)
    for token, _ in bad:
        status, data = call(env, method, path, token, body)
        assert status == 401, (route, token, status, data)
    check_refusal_rows(env["store"].audit_rows(limit=len(bad)), route, bad)
    before += len(bad)
    refused = 0
    for who in wrong_roles:
        status, data = call(env, method, path, tok[who], body)
        assert status == 403 and b"role" in data, (route, who, status, data)
        refused += 1
    if outsider:
        status, data = call(env, method, path, tok[outsider], body)
        assert status == 404 and b"unknown rumour" in data, (route, outsider, status, data)
        refused += 1
    status, data = call(env, method, path, tok[allowed], body)
    assert status in (200, 201), (route, status, data)
    assert audit_count(env) == before + ((refused + 1) if audited else 0)


def test_governance_routes_are_in_openapi(env):
    spec = orjson.loads(get(env["url"] + "/openapi.json")[2])
    for r in ROUTES:
        op = spec["paths"][r.path][r.method.lower()]
        assert op["operationId"] == r.name
    status_ops = spec["paths"]["/api/rumours/{rumour_id}/status"]
    assert status_ops["post"]["x-roles"] == ["analyst", "admin"]
    assert status_ops["get"]["x-roles"] == ["analyst", "liaison", "admin"]
    assert "requestBody" in spec["paths"]["/api/reports"]["post"]


def test_without_a_hub_the_routes_say_so(env):
    status, _, body = get(env["bare"] + "/api/alerts", env["tok"]["national"])
    assert status == 503 and b"governance" in body
    status, _, body = get(env["bare"] + "/api/rumours", env["tok"]["national"])
    assert status == 200 and "handling" not in orjson.loads(body)["rumours"][0]


def test_wrong_methods_are_405(env):
    req = urllib.request.Request(env["url"] + "/api/alerts", method="POST", data=b"{}",
                                 headers={"Authorization": "Bearer " + env["tok"]["national"],
                                          "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=30)
    assert exc.value.code == 405 and "GET" in exc.value.headers["Allow"]
    assert get(env["url"] + "/api/reports", env["tok"]["national"])[0] == 405


# -- alerts ------------------------------------------------------------------------------------
def _expected_alerts():
    """(rumour, unit) pairs whose shares reach THRESHOLD, from the events by hand: a Shandong
    county's city is its first four digits; Beijing's districts answer to the municipality."""
    counts = defaultdict(int)
    for e in EVENTS:
        code = e["region"]
        if e["kind"] == "debunk" or not code:
            continue
        city = "110000" if code.startswith("11") else code[:4] + "00"
        counts[(e["rumour_id"], city)] += 1
        counts[(e["rumour_id"], code)] += 1
    assert max(e["ts"] for e in EVENTS) - T0 < 30 * MIN  # every share inside one window
    return {k for k, n in counts.items() if n >= THRESHOLD}


def _inside(jurisdiction: str, unit: str) -> bool:
    p = "" if jurisdiction == "000000" else jurisdiction[:2] if jurisdiction.endswith("0000") else \
        jurisdiction[:4] if jurisdiction.endswith("00") else jurisdiction
    return unit.startswith(p)


@pytest.mark.parametrize("who,code", [("analyst", "370000"), ("jinan", "370100"), ("huangdao", "370211"),
                                      ("lixia", "370102"), ("beijing", "110000"), ("national", "000000")])
def test_alerts_are_filtered_to_the_tokens_jurisdiction(env, who, code):
    status, _, body = get(env["url"] + "/api/alerts", env["tok"][who])
    assert status == 200
    got = {(a["rumour_id"], a["unit"]) for a in orjson.loads(body)["alerts"]}
    expected = {(r, u) for r, u in _expected_alerts() if _inside(code, u)}
    assert got == expected and got


def test_city_token_sees_its_city_and_county_alerts_with_names(env):
    alerts = orjson.loads(get(env["url"] + "/api/alerts", env["tok"]["jinan"])[2])["alerts"]
    assert {a["unit"] for a in alerts} == {"370100", "370102"}
    names = {a["unit"]: a["unit_name"] for a in alerts}
    assert names["370100"]["zh"] == "济南市" and "Lixia" in names["370102"]["en"]
    assert all(a["rule"] == "volume" and a["window_shares"] >= THRESHOLD for a in alerts)
    # narrowing to a county inside the city; a division outside it is refused
    narrowed = orjson.loads(get(env["url"] + "/api/alerts?jurisdiction=370102", env["tok"]["jinan"])[2])
    assert {a["unit"] for a in narrowed["alerts"]} == {"370102"}
    assert get(env["url"] + "/api/alerts?jurisdiction=370200", env["tok"]["jinan"])[0] == 403
    assert get(env["url"] + "/api/alerts?jurisdiction=370000", env["tok"]["jinan"])[0] == 403


def test_alert_traces_are_pseudonymised_for_every_role(env):
    p = env["service"].pseudo
    body = get(env["url"] + "/api/alerts", env["tok"]["national"])[2]
    jn = next(a for a in orjson.loads(body)["alerts"] if a["rumour_id"] == "jn-1")
    assert jn["trace"]["origins"][0]["account_id"] == p("src")
    assert b'"src"' not in body and b'"hub"' not in body


@pytest.mark.parametrize("query", ["jurisdiction=abc", "jurisdiction=3701", "jurisdiction=370100%27--",
                                   "limit=0", "limit=5000", "since_ms=x", "since_ms=-5", "limit=" + "9" * 400])
def test_bad_alert_parameters_are_400(env, query):
    assert get(env["url"] + "/api/alerts?" + query, env["tok"]["national"])[0] == 400


# -- status ------------------------------------------------------------------------------------
def test_status_history_records_the_token_as_changed_by(env):
    url, tok = env["url"], env["tok"]
    before = audit_count(env)
    status, body = post(url + "/api/rumours/bj-1/status", tok["bj_analyst"], {"status": "verified", "note": "核实"})
    assert status == 201, body
    # the body cannot name someone else
    status, body = post(url + "/api/rumours/bj-1/status", tok["bj_analyst"],
                        {"status": "handled", "changed_by": "somebody else"})
    assert status == 400 and b"changed_by" in body
    status, body = post(url + "/api/rumours/bj-1/status", tok["bj_admin"], {"status": "debunked"})
    assert status == 201, body
    got = orjson.loads(get(url + "/api/rumours/bj-1/status", tok["beijing"])[2])
    want = [("verified", f"bj_analyst ({token_id(tok['bj_analyst'])})", "核实"),
            ("debunked", f"bj_admin ({token_id(tok['bj_admin'])})", "")]
    assert [(h["status"], h["changed_by"], h["note"]) for h in got["history"]] == want
    assert got["status"]["status"] == "debunked"
    assert got["history"][0]["changed_at"] <= got["history"][1]["changed_at"]
    # written to the store, so other workers and a restart see the same history
    stored = env["hub"].store.status_history("bj-1")
    assert [(r["status"], r["changed_by"]) for r in stored] == [w[:2] for w in want]
    # the rumour list shows the current handling status
    rumours = orjson.loads(get(url + "/api/rumours", tok["beijing"])[2])["rumours"]
    assert rumours[0]["handling"]["status"] == "debunked"
    # each change (and the refused one) is one audit row naming the token
    rows = env["store"].audit_rows(limit=3)
    assert audit_count(env) == before + 3
    assert [r["action"] for r in rows] == ["status_set"] * 3
    assert {r["token_name"] for r in rows} == {"bj_analyst", "bj_admin"}
    assert sorted(r["status"] for r in rows) == [201, 201, 400]


@pytest.mark.parametrize("body", [{"status": "x'; DROP TABLE share_events; --"}, {"status": None}, {},
                                  {"status": "verified", "note": "n" * 2001}, {"status": ["verified"]},
                                  ["verified"], "verified", {"status": "verified", "note": 5}])
def test_bad_status_bodies_are_400(env, body):
    before = len(env["hub"].store.status_history("jn-1"))
    status, data = post(env["url"] + "/api/rumours/jn-1/status", env["tok"]["admin"], body)
    assert status == 400, data
    assert len(env["hub"].store.status_history("jn-1")) == before


def test_body_limits(env):
    url, tok = env["url"] + "/api/reports", env["tok"]["analyst"]
    assert post(url, tok, None, raw=b"{nope")[0] == 400
    assert post(url, tok, {"reporter": "x", "text": "y"}, content_type="text/plain")[0] == 415
    huge = orjson.dumps({"reporter": "x", "text": "谣" * 30_000})
    assert len(huge) > 64 * 1024
    assert post(url, tok, None, raw=huge)[0] == 413
    assert post(url, tok, {"reporter": "x", "text": "t" * 10_001})[0] == 400
    assert post(url, tok, [{"reporter": "x", "text": "y"}])[0] == 400
    status, data = post(env["url"] + "/api/rumours/jn-1/status", env["tok"]["admin"], None,
                        raw=b'{"status": "verified", "note": "' + b"n" * 70_000 + b'"}')
    assert status == 413


# -- reports -----------------------------------------------------------------------------------
def test_report_over_http_is_linked_to_its_rumour(env):
    url, tok = env["url"], env["tok"]
    before = env["store"].count_events()
    status, body = post(url + "/api/reports", tok["huangdao"],
                        {"reporter": "citizen-1", "post_id": "qd-1-e1", "region": "山东 青岛",
                         "time": "2025-12-01T00:30:00Z", "text": "有人举报这条"})
    answer = orjson.loads(body)
    assert status == 201, answer
    assert (answer["rumour_id"], answer["link_method"], answer["region_code"]) == ("qd-1", "event_id", "370200")
    # by text: the same words as jn-1's source post
    status, body = post(url + "/api/reports", tok["analyst"], {"reporter": "citizen-2", "text": "谣言原文 rumour"})
    assert status == 201 and orjson.loads(body)["rumour_id"] == "jn-1"
    # the same report again is merged, not counted twice
    status, body = post(url + "/api/reports", tok["analyst"], {"reporter": "citizen-2", "text": "谣言原文 rumour"})
    assert status == 200 and orjson.loads(body)["duplicate_of"]
    # the desk that took the report in sees its reporter (it typed the name in)
    reports = orjson.loads(get(url + "/api/rumours/qd-1/reports", tok["huangdao"])[2])
    assert [r["reporter"] for r in reports["reports"]] == ["citizen-1"]
    assert reports["reports"][0]["post_id"] == "qd-1-e1"
    assert reports["reports"][0]["source"] == "http:" + token_id(tok["huangdao"])
    # everyone else sees the reporter's pseudonym (reporters have their own pseudonyms)
    p = env["service"].pseudo
    for who in ("analyst", "liaison"):
        reports = orjson.loads(get(url + "/api/rumours/qd-1/reports", tok[who])[2])
        assert [r["reporter"] for r in reports["reports"]] == [p.reporter("citizen-1")] != [p("citizen-1")]
        assert reports["reports"][0]["post_id"] == "qd-1-e1"
    # the first linked report opens the case: status "received" by the intake
    status_of = orjson.loads(get(url + "/api/rumours/qd-1/status", tok["analyst"])[2])
    assert [(h["status"], h["changed_by"]) for h in status_of["history"]] == [("received", "system:intake")]
    assert env["store"].count_events() == before
    assert [r["reporter"] for r in env["hub"].store.load_reports("qd-1")] == ["citizen-1"]


def test_report_outside_the_jurisdiction_does_not_name_the_rumour(env):
    status, body = post(env["url"] + "/api/reports", env["tok"]["beijing"],
                        {"reporter": "citizen-3", "post_id": "jn-1-e2"})
    answer = orjson.loads(body)
    assert status == 201 and answer["rumour_id"] is None and answer["routed_upward"]
    assert answer["link_method"] is None and "linked_outside_jurisdiction" not in answer
    reports = orjson.loads(get(env["url"] + "/api/rumours/jn-1/reports", env["tok"]["national"])[2])
    assert env["service"].pseudo.reporter("citizen-3") in [r["reporter"] for r in reports["reports"]]


def test_reporters_are_named_only_to_the_desk_that_took_the_report_in(env):
    # Data minimisation: a reporter is a member of the public, not a suspect. Whoever may see
    # accounts in clear (liaisons, admins) still gets the reporter's pseudonym; only the desk
    # whose token submitted the report sees the name. The store keeps it.
    url, tok, p = env["url"], env["tok"], env["service"].pseudo
    status, body = post(url + "/api/reports", tok["jinan"],
                        {"reporter": "王女士 13800000000", "post_id": "jn-1-e3", "text": "minimisation"})
    assert status == 201, body
    rid = orjson.loads(body)["report_id"]

    def reporter_seen_by(who):
        status, _, raw = get(url + "/api/rumours/jn-1/reports", tok[who])
        assert status == 200, raw
        answer = orjson.loads(raw)
        assert answer["identities"] == "own_in_clear"
        (mine,) = [r for r in answer["reports"] if r["report_id"] == rid]
        assert (mine["post_id"], mine["text"]) == ("jn-1-e3", "minimisation")
        return mine["reporter"]

    assert reporter_seen_by("jinan") == "王女士 13800000000"
    for who in ("analyst", "liaison", "lixia", "admin", "national"):  # province, county, centre
        assert reporter_seen_by(who) == p.reporter("王女士 13800000000"), who
    assert [r["reporter"] for r in env["hub"].store.load_reports("jn-1") if r["report_id"] == rid] == \
        ["王女士 13800000000"]


def test_hostile_report_fields_are_kept_as_text(env):
    evil = "x'); DROP TABLE public_reports; --<script>"
    status, body = post(env["url"] + "/api/reports", env["tok"]["analyst"], {"reporter": evil, "text": evil})
    assert status == 201
    rid = orjson.loads(body)["report_id"]
    assert [r["reporter"] for r in env["hub"].store.load_reports() if r["report_id"] == rid] == [evil]


# -- debunk and regions ------------------------------------------------------------------------
def _debunk_by_hand(rumour_id):
    exposed, reached, city_of = set(), set(), {}
    first_r = first_d = None
    for e in EVENTS:
        if e["rumour_id"] != rumour_id:
            continue
        if e["kind"] == "debunk":
            reached |= {e["account_id"]} | ({e["parent_account_id"]} if e["parent_account_id"] else set())
            first_d = e["ts"] if first_d is None else min(first_d, e["ts"])
        else:
            exposed |= {e["account_id"]} | ({e["parent_account_id"]} if e["parent_account_id"] else set())
            first_r = e["ts"] if first_r is None else min(first_r, e["ts"])
            if e["region"] and e["account_id"] not in city_of:
                city_of[e["account_id"]] = e["region"][:4] + "00"
    return exposed, reached, city_of, first_d - first_r


def test_debunk_reach_and_coverage(env):
    exposed, reached, city_of, ttd = _debunk_by_hand("jn-1")
    d = orjson.loads(get(env["url"] + "/api/rumours/jn-1/debunk", env["tok"]["analyst"])[2])
    assert (d["exposed"], d["reached"], d["covered"]) == (len(exposed), len(reached), len(exposed & reached))
    assert d["coverage"] == pytest.approx(len(exposed & reached) / len(exposed))
    assert 0 < d["coverage"] < 1
    assert d["time_to_debunk_ms"] == ttd
    assert {c: v["exposed"] for c, v in d["by_city"].items()} == {
        c: sum(1 for x in city_of.values() if x == c) for c in set(city_of.values())}
    assert d["by_city"]["370100"]["name"]["zh"] == "济南市"
    # a hub that did not see the batches (another worker, a restart) answers from the store
    from streams.governance.hub import Governance
    from streams.service.governance import GovernanceViews

    svc = env["service"]
    cold = GovernanceViews(Governance(env["pipeline"], store=env["store"]), svc.pseudo, svc.views.regions_of,
                           svc.views.summary)
    # chDB is used from the service's one thread only
    got = svc.executor.submit(cold.debunk, "jn-1").result(60)
    assert got["source"] == "store" and d["source"] == "live"
    assert {k: got[k] for k in ("exposed", "reached", "covered", "coverage", "time_to_debunk_ms")} == \
           {k: d[k] for k in ("exposed", "reached", "covered", "coverage", "time_to_debunk_ms")}


def test_region_breakdown_carries_names_from_the_division_table(env):
    from streams.governance.divisions import DATA

    with open(DATA, encoding="utf-8") as fh:
        table = {r["code"]: r for r in csv.DictReader(fh)}
    d = orjson.loads(get(env["url"] + "/api/rumours/jn-1", env["tok"]["analyst"])[2])
    names = d["region_names"]
    for level in ("province", "city"):
        for code, _n in d["regions"][level]:
            if code:
                assert names[code]["zh"] == table[code]["name_zh"]
    assert names["370102"]["zh"].endswith(table["370102"]["name_zh"])
    me = orjson.loads(get(env["url"] + "/api/me", env["tok"]["jinan"])[2])
    assert me["jurisdiction_name"]["zh"] == table["370100"]["name_zh"]
    assert me["may_set_status"] and me["governance"]
    assert not orjson.loads(get(env["url"] + "/api/me", env["tok"]["liaison"])[2])["may_set_status"]


def test_a_national_token_has_the_name_of_the_whole_country(env):
    # it was null, and the dashboard then showed the bare code 000000 as the jurisdiction
    me = orjson.loads(get(env["url"] + "/api/me", env["tok"]["national"])[2])
    assert me["jurisdiction"] == "000000"
    assert me["jurisdiction_name"] == {"zh": "全国", "en": "Nationwide"}


def test_of_two_officers_who_saw_the_same_status_only_the_first_changes_it(env):
    url, tok, store = env["url"], env["tok"], env["hub"].store
    path = url + "/api/rumours/qd-1/status"

    def current():
        return orjson.loads(get(path, tok["national"])[2])["status"]

    seen = current() or {}
    saw = {"expected_status": seen.get("status"), "expected_changed_at": seen.get("changed_at")}
    status, body = post(path, tok["admin"], {"status": "verified", **saw})
    assert status == 201, body
    kept = len(store.status_history("qd-1"))
    status, body = post(path, tok["national"], {"status": "handled", "note": "saw the old one", **saw})
    assert status == 409, body
    assert b"'verified'" in body and b"admin" in body  # what it is now, and who changed it
    assert len(store.status_history("qd-1")) == kept and current()["status"] == "verified"
    assert env["store"].audit_rows(limit=1)[0]["status"] == 409  # the refusal is audited too
    now = current()
    # the same status at another time is another change: refused too
    status, body = post(path, tok["national"], {"status": "handled", "expected_status": "verified",
                                                "expected_changed_at": "2020-01-01T00:00:00Z"})
    assert status == 409, body
    # naming what is current goes through; without expectations the last change wins, as before
    status, body = post(path, tok["national"], {"status": "handled", "expected_status": "verified",
                                                "expected_changed_at": now["changed_at"]})
    assert status == 201, body
    status, body = post(path, tok["admin"], {"status": "debunked"})
    assert status == 201, body
    assert current()["status"] == "debunked"
    status, body = post(path, tok["admin"], {"status": "handled", "expected_status": 3})
    assert status == 400 and b"expected_status" in body
