"""Origin-trace service over HTTP: the 401/403 matrix, jurisdictions, audit rows, pseudonyms,
hostile input. One server (chDB store, hand-made cascades) for the module."""
from __future__ import annotations

import re

import orjson
import pytest

from streams.service.pseudonym import Pseudonymiser
from streams.service.routes import ROUTES
from streams.trace import trace_answer
from tests.service_helpers import bad_tokens, cascades, check_refusal_rows, get, served_events, sha


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from streams.service.tokens import TokenStore

    tokens_path = tmp_path_factory.mktemp("tokens") / "tokens.json"
    with served_events(cascades(), tokens_path) as (store, service, server):
        ts = TokenStore(tokens_path)
        tok = {}
        for name, role, code in [("analyst", "analyst", "370000"), ("liaison", "liaison", "370000"),
                                 ("admin", "admin", "370000"), ("jinan", "liaison", "370100"),
                                 ("huangdao", "liaison", "370211"), ("lixia", "liaison", "370102"),
                                 ("beijing", "liaison", "110000"), ("national", "admin", "000000"),
                                 ("revoked", "admin", "000000")]:
            tok[name] = ts.issue(role, code, name)[0]
        ts.revoke(tok["revoked"].split("_")[1])
        yield {"url": server.url, "tok": tok, "store": store, "service": service,
               "tokens_path": tokens_path}


def audit_count(env) -> int:
    return len(env["store"].audit_rows(limit=100_000))


PROTECTED = {
    "me": "/api/me",
    "rumours": "/api/rumours",
    "rumour": "/api/rumours/jn-1",
    "tree": "/api/rumours/jn-1/tree",
    "trace": "/api/rumours/jn-1/trace",
    "trace_event": "/api/rumours/jn-1/events/jn-1-e3/trace",
    "trace_account": "/api/rumours/jn-1/accounts/hub/trace",
    "evidence": "/api/rumours/jn-1/evidence?case=C-9",
    "audit": "/api/audit",
    "audit_refusals": "/api/audit/refusals",
    "metrics": "/metrics",
}
# A provincial admin is refused the refusal counts: those requests belong to no jurisdiction.
WRONG_ROLES = {"evidence": ["analyst"], "audit": ["analyst", "liaison"], "metrics": ["analyst", "liaison"],
               "audit_refusals": ["analyst", "liaison", "admin"]}
RIGHT = {"audit": "admin", "metrics": "admin", "audit_refusals": "national"}


def test_matrix_covers_every_protected_route():
    # the governance routes have their own matrix (tests/test_service_governance.py)
    assert {r.name for r in ROUTES if r.action and not r.governance} == set(PROTECTED)


@pytest.mark.parametrize("route", sorted(PROTECTED))
def test_401_403_matrix(env, route):
    url, tok = env["url"] + PROTECTED[route], env["tok"]
    rumour_scoped = next(r for r in ROUTES if r.name == route).rumour_scoped
    env["service"].probes.rows_per_minute = 10 ** 6  # each refusal its row (the limit: below)
    bad = bad_tokens(tok, "liaison")
    before = audit_count(env)
    for token, _ in bad:
        status, headers, _ = get(url, token, case="C-9")
        assert status == 401, (route, token, status)
        assert headers.get("WWW-Authenticate", "").startswith("Bearer")
    # Each refusal is audited without a "who" (streams/service/probes.py).
    check_refusal_rows(env["store"].audit_rows(limit=len(bad)), route, bad)
    before += len(bad)
    refused = 0
    for who in WRONG_ROLES.get(route, []):
        status, _, body = get(url, tok[who], case="C-9")
        assert status == 403, (route, who, status, body)
        refused += 1
    if rumour_scoped:
        # outside the jurisdiction: answered like an unknown rumour (no existence oracle)
        status, _, body = get(url, tok["beijing"], case="C-9")
        assert status == 404 and b"unknown rumour" in body, (route, status, body)
        refused += 1
    status, _, body = get(url, tok[RIGHT.get(route, "liaison")], case="C-9")
    assert status == 200, (route, status, body)
    audited = next(r for r in ROUTES if r.name == route).audited
    assert audit_count(env) == before + ((refused + 1) if audited else 0)


def test_open_routes_need_no_token(env):
    for path in ("/", "/openapi.json", "/healthz", "/static/app.js"):
        status, _, body = get(env["url"] + path)
        assert status == 200, path
    spec = orjson.loads(get(env["url"] + "/openapi.json")[2])
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {r.path for r in ROUTES}
    assert spec["paths"]["/api/audit"]["get"]["x-roles"] == ["admin"]


def test_the_page_loads_every_dashboard_script_each_served_after_the_ones_it_reads(env):
    # The dashboard is a set of plain scripts sharing globals (window.RUMOUR_*): a script the
    # page does not name, or one /static/ does not serve (its allow-list, streams/service/site.py),
    # leaves a part of the page undefined, and one loaded before the script whose global it reads
    # finds it undefined. A file in static/ that index.html does not load is dead or forgotten.
    from streams.service.site import STATIC_DIR

    status, _, page = get(env["url"] + "/")
    assert status == 200
    named = re.findall(r'<script src="/static/([^"?]+)"', page.decode())
    assert sorted(named) == sorted(p.name for p in STATIC_DIR.glob("*.js")), named
    assert len(set(named)) == len(named), named
    defined: set[str] = set()
    for name in named:
        status, headers, body = get(env["url"] + "/static/" + name)
        assert status == 200, name
        assert headers["Content-Type"].startswith("application/javascript"), (name, headers["Content-Type"])
        assert body == (STATIC_DIR / name).read_bytes(), name
        text = body.decode()
        made = set(re.findall(r"\b(?:window|root)\.(RUMOUR_[A-Z]+)\s*=(?!=)", text))
        read = set(re.findall(r"\bwindow\.(RUMOUR_[A-Z]+)\b(?!\s*=[^=])", text))
        assert read <= defined | made, (name, "reads", read - defined - made, "before it is made")
        defined |= made
    # The one deferred script is the last: it wires the page once the body is there, after
    # every part it calls has run.
    assert re.findall(r'<script src="/static/([^"]+)" defer>', page.decode()) == [named[-1]] == ["app.js"]


@pytest.mark.parametrize("who,expected", [
    ("liaison", {"jn-1", "qd-1"}), ("jinan", {"jn-1"}), ("huangdao", {"jn-1", "qd-1"}),
    ("lixia", {"jn-1"}), ("beijing", {"bj-1"}), ("national", {"jn-1", "qd-1", "bj-1"}),
])
def test_rumour_list_is_filtered_by_jurisdiction(env, who, expected):
    status, _, body = get(env["url"] + "/api/rumours", env["tok"][who])
    assert status == 200
    rumours = {r["rumour_id"]: r for r in orjson.loads(body)["rumours"]}
    assert set(rumours) == expected
    if "jn-1" in rumours:
        r = rumours["jn-1"]
        assert (r["size"], r["debunk_size"], r["region"]) == (6, 1, "370000")


@pytest.mark.parametrize("who,rumour,status", [
    ("jinan", "qd-1", 403), ("jinan", "jn-1", 200), ("huangdao", "qd-1", 200),
    ("lixia", "qd-1", 403), ("beijing", "jn-1", 403), ("beijing", "bj-1", 200),
    ("national", "bj-1", 200), ("liaison", "bj-1", 403), ("liaison", "nope", 404),
])
def test_trace_respects_jurisdiction(env, who, rumour, status):
    # ``status`` is the decision, as the audit row records it; the caller gets 404 for a
    # refusal too (a rumour outside the jurisdiction must look unknown)
    got, _, body = get(f"{env['url']}/api/rumours/{rumour}/trace", env["tok"][who], case="C-1")
    assert got == (404 if status == 403 else status), body
    row = env["store"].audit_rows(limit=1)[0]
    assert (row["rumour_id"], row["status"]) == (rumour, status)


def test_trace_answer_content_in_clear(env):
    status, _, body = get(env["url"] + "/api/rumours/jn-1/events/jn-1-e3/trace", env["tok"]["liaison"], case="C-2")
    assert status == 200
    answer = orjson.loads(body)
    assert answer["identities"] == "clear" and answer["case_id"] == "C-2"
    (chain,) = answer["chains"]
    assert [h["event_id"] for h in chain["hops"]] == ["jn-1-e3", "jn-1-e1", "jn-1-e0"]
    assert [h["account_id"] for h in chain["hops"]] == ["a3", "hub", "src"]
    assert chain["hops"][-1]["text_sha256"] == sha("谣言原文 rumour")
    assert chain["hops"][0]["text_sha256"] == sha("jn-1 text 3")
    assert {h["platform"] for h in chain["hops"]} == {"weibo"}
    assert chain["hops"][0]["ts"] == "2025-12-01T00:03:00.000Z"
    origin = answer["origins"][0]
    assert (origin["account_id"], origin["reach"]) == ("src", 6)
    # The calibrated confidence of graph/confidence.py, the value `rumour trace --json` prints
    # for the same graph (not a separate rule of the API's own).
    graph = env["service"].pipeline.graphs["jn-1"]
    cli = {(o["account_id"], o["event_id"]): o["confidence"] for o in trace_answer(graph, 5)["origins"]}
    assert [o["confidence"] for o in answer["origins"]] == [cli[(o["account_id"], o["event_id"])]
                                                            for o in answer["origins"]]
    assert 0.9 < origin["confidence"] <= 1.0
    assert answer["cutoff"][0] == {"account_id": "hub", "prevented": 3}


def test_rumour_trace_links_each_cutoff_candidate_to_an_origin(env):
    body = get(env["url"] + "/api/rumours/jn-1/trace", env["tok"]["liaison"], case="C-2")[2]
    answer = orjson.loads(body)
    assert len(answer["chains"]) == len(answer["cutoff"]) > 0
    origins = {o["event_id"] for o in answer["origins"]}
    for chain, cut in zip(answer["chains"], answer["cutoff"]):
        assert chain["hops"][0]["account_id"] == cut["account_id"]
        assert chain["hops"][-1]["event_id"] in origins


def test_audit_row_per_query_with_digest_of_the_answer(env):
    store, tok = env["store"], env["tok"]
    before = audit_count(env)
    status, _, body = get(env["url"] + "/api/rumours/jn-1/trace?k=2", tok["liaison"], case="C-2025-7")
    assert status == 200
    rows = store.audit_rows(limit=1)
    assert audit_count(env) == before + 1
    row = rows[0]
    assert (row["case_id"], row["token_name"]) == ("C-2025-7", "liaison")
    assert row["answer_sha256"] == sha_bytes(body)
    assert (row["action"], row["rumour_id"], row["status"], row["role"]) == ("trace", "jn-1", 200, "liaison")
    # the parameters the answer used, and which account ids it could name in clear
    assert orjson.loads(row["params"]) == {"k": "2", "account_scope": "cascade"}
    # the admin reads it back; reading the audit log is itself audited
    status, _, body = get(env["url"] + "/api/audit?limit=5", tok["national"])
    assert status == 200
    got = orjson.loads(body)["rows"]
    assert got[0]["audit_id"] == row["audit_id"]
    assert audit_count(env) == before + 2


def sha_bytes(b: bytes) -> str:
    import hashlib

    return hashlib.sha256(b).hexdigest()


def test_case_number_percent_encoded_and_mandatory_for_liaison(env):
    from urllib.parse import quote

    tok = env["tok"]
    status, _, body = get(env["url"] + "/api/rumours/jn-1/trace", tok["liaison"], case=quote("鲁公(网)立字[2025]12号"))
    assert status == 200
    assert env["store"].audit_rows(limit=1)[0]["case_id"] == "鲁公(网)立字[2025]12号"
    before = audit_count(env)
    status, _, body = get(env["url"] + "/api/rumours/jn-1/trace", tok["liaison"])
    assert status == 400 and b"case" in body
    row = env["store"].audit_rows(limit=1)[0]
    assert (row["status"], row["answer_sha256"], audit_count(env)) == (400, "", before + 1)
    status, _, body = get(env["url"] + "/api/rumours/jn-1/trace", tok["analyst"])
    assert status == 200  # analysts may explore without a case


def test_admin_sees_audit_rows_of_its_own_area_only(env):
    get(env["url"] + "/api/rumours/bj-1/trace", env["tok"]["beijing"], case="BJ-1")
    rows = orjson.loads(get(env["url"] + "/api/audit?limit=1000", env["tok"]["admin"])[2])["rows"]
    assert rows and all(r["jurisdiction"].startswith("37") for r in rows)
    rows = orjson.loads(get(env["url"] + "/api/audit?case=BJ-1", env["tok"]["national"])[2])["rows"]
    assert [r["jurisdiction"] for r in rows] == ["110000"]


def test_no_answer_when_the_audit_log_cannot_be_written(env, monkeypatch):
    def broken(rows):
        raise RuntimeError("disk full")

    monkeypatch.setattr(env["store"], "write_audit", broken)
    status, _, body = get(env["url"] + "/api/rumours/jn-1/trace", env["tok"]["liaison"], case="C-3")
    assert status == 503
    assert b"hub" not in body and b"origins" not in body


def test_audit_log_is_append_only_through_the_api(env):
    for r in ROUTES:
        path = PROTECTED.get(r.name, "/" + "/".join(s if not s.startswith("{") else "x" for s in r.segments))
        served = {x.method for x in ROUTES if x.path == r.path}
        for method in {"POST", "PUT", "DELETE", "PATCH"} - served:
            import urllib.request

            req = urllib.request.Request(env["url"] + path, method=method, data=b"{}",
                                         headers={"Authorization": "Bearer " + env["tok"]["national"]})
            try:
                urllib.request.urlopen(req, timeout=30)
                code = 200
            except urllib.error.HTTPError as exc:
                code = exc.code
            assert code == 405, (r.name, method, code)
    # no route deletes or rewrites: the only writes are reports, status changes (appended) and
    # the link by hand of a report linked to nothing (once: a linked report is a 409)
    assert {(x.method, x.name) for x in ROUTES if x.method != "GET"} == {("POST", "report_submit"),
                                                                       ("POST", "status_set"),
                                                                       ("POST", "report_link")}


def test_analyst_sees_stable_pseudonyms_and_can_trace_by_pseudonym(env):
    from streams.service.paths import PSEUDONYM_KEY, key_file

    key = key_file(env["tokens_path"], PSEUDONYM_KEY).read_bytes()
    p = Pseudonymiser(key)
    # an analyst traces an event by its pseudonym (the tree's form; the id in clear is refused)
    e3 = f"/api/rumours/jn-1/events/{p.event('jn-1-e3')}/trace"
    a1 = orjson.loads(get(env["url"] + e3, env["tok"]["analyst"])[2])
    a2 = orjson.loads(get(env["url"] + e3, env["tok"]["analyst"])[2])
    assert [h["event_id"] for h in a1["chains"][0]["hops"]] == [p.event(e) for e in ("jn-1-e3", "jn-1-e1", "jn-1-e0")]
    assert get(env["url"] + "/api/rumours/jn-1/events/jn-1-e3/trace", env["tok"]["analyst"])[0] == 403
    hops = [h["account_id"] for h in a1["chains"][0]["hops"]]
    assert hops == [h["account_id"] for h in a2["chains"][0]["hops"]]
    assert hops == [p("a3"), p("hub"), p("src")]
    assert all(re.fullmatch(r"psn_[0-9a-f]{16}", h) for h in hops)
    assert a1["identities"] == "pseudonymised"
    assert b'"hub"' not in orjson.dumps(a1) and b'"src"' not in orjson.dumps(a1)
    # the dashboard's tree shows pseudonyms; clicking one traces that account
    tree = orjson.loads(get(env["url"] + "/api/rumours/jn-1/tree", env["tok"]["analyst"])[2])
    root = tree["roots"][0]
    assert root["origin"] and root["name"] == p("src") and root["size"] == 6
    assert tree["depth"] == 2  # src <- hub <- a2, a3, a4
    hub = next(c for c in root["children"] if c["name"] == p("hub"))
    assert hub["cutoff"] and hub["size"] == 4
    status, _, body = get(env["url"] + f"/api/rumours/jn-1/accounts/{p('hub')}/trace", env["tok"]["analyst"])
    assert status == 200
    assert [h["event_id"] for h in orjson.loads(body)["chains"][0]["hops"]] == [p.event("jn-1-e1"), p.event("jn-1-e0")]
    # a liaison following the same pseudonym gets clear ids
    body = get(env["url"] + f"/api/rumours/jn-1/accounts/{p('hub')}/trace", env["tok"]["liaison"], case="C-4")[2]
    assert [h["account_id"] for h in orjson.loads(body)["chains"][0]["hops"]] == ["hub", "src"]
    assert [h["event_id"] for h in orjson.loads(body)["chains"][0]["hops"]] == ["jn-1-e1", "jn-1-e0"]


def test_pseudonyms_differ_per_secret():
    a, b = Pseudonymiser(b"1" * 32), Pseudonymiser(b"2" * 32)
    ids = [f"u{i}" for i in range(200)]
    assert [a(i) for i in ids] == [Pseudonymiser(b"1" * 32)(i) for i in ids]
    assert all(a(i) != b(i) for i in ids)
    assert len({a(i) for i in ids}) == len(ids)


HOSTILE = ["x' OR '1'='1", "jn-1'; DROP TABLE share_events; --", "../../etc/passwd", "a" * 300,
           "<script>alert(1)</script>", "jn-1%00", "%ff%fe", "jn-1\\", "a b", "%E2%80%AE",
           "x" * 5000]


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_ids_get_4xx_and_change_nothing(env, bad):
    from urllib.parse import quote

    before = env["store"].count_events()
    seg = bad if "%" in bad else quote(bad, safe="")
    for path in (f"/api/rumours/{seg}/trace", f"/api/rumours/jn-1/events/{seg}/trace",
                 f"/api/rumours/jn-1/accounts/{seg}/trace", f"/api/rumours/{seg}",
                 f"/api/rumours/{seg}/evidence?case=C-1"):
        status, _, body = get(env["url"] + path, env["tok"]["national"], case="C-1")
        assert 400 <= status < 500, (path, status, body)
    assert env["store"].count_events() == before


@pytest.mark.parametrize("query", ["k=-1", "k=abc", "k=1000000000", "limit=0", "limit=99999", "limit=x"])
def test_bad_parameters_are_400(env, query):
    path = "/api/rumours/jn-1/tree?" + query if query.startswith("limit") else "/api/rumours/jn-1/trace?" + query
    status, _, _ = get(env["url"] + path, env["tok"]["liaison"], case="C-1")
    assert status == 400


@pytest.mark.parametrize("case", ["C-1' OR 1=1", "a" * 65, "C\\1", "C%091", "C%0A1"])
def test_bad_case_numbers_are_400(env, case):
    status, _, _ = get(env["url"] + "/api/rumours/jn-1/trace", env["tok"]["liaison"], case=case)
    assert status == 400


def test_dashboard_detail_series_and_regions(env):
    body = get(env["url"] + "/api/rumours/jn-1", env["tok"]["analyst"])[2]
    d = orjson.loads(body)
    assert sum(n for _, n in d["series"]["rumour"]) == 6
    assert sum(n for _, n in d["series"]["debunk"]) == 1
    assert dict(d["regions"]["county"]) == {"370102": 4, "370211": 1, "": 1}
    assert dict(d["regions"]["province"]) == {"370000": 5, "": 1}
    assert dict(d["regions"]["city"]) == {"370100": 4, "370200": 1, "": 1}
    p = env["service"].pseudo
    assert d["top_spreaders"][0] == {"account_id": p("hub"), "reshares": 3, "accounts": 3}


def test_token_issued_while_running_works_without_restart(env):
    from streams.service.cli import token_main
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert token_main(["issue", "--role", "analyst", "--jurisdiction", "110105", "--name", "late",
                           "--tokens-file", str(env["tokens_path"])]) == 0
    token = out.getvalue().splitlines()[0]
    status, _, body = get(env["url"] + "/api/rumours", token)
    assert status == 200 and [r["rumour_id"] for r in orjson.loads(body)["rumours"]] == ["bj-1"]
    token_id = token.split("_")[1]
    with contextlib.redirect_stdout(io.StringIO()):
        assert token_main(["revoke", token_id, "--tokens-file", str(env["tokens_path"])]) == 0
    assert get(env["url"] + "/api/rumours", token)[0] == 401


def test_an_expired_token_gets_the_revoked_tokens_401(env):
    # The server's token store reads the clock it is given: move it, no sleeping.
    from streams.service.tokens import TokenStore

    tokens = env["service"].tokens
    now = tokens.now_ms()
    token, rec = TokenStore(env["tokens_path"]).issue("liaison", "370000", "short",
                                                       expires_ms=now + 3_600_000)
    status, _, body = get(env["url"] + "/api/me", token)
    assert status == 200 and orjson.loads(body)["expires_at"] == expiry_text_by_hand(rec.expires_ms)
    assert orjson.loads(get(env["url"] + "/api/me", env["tok"]["admin"])[2])["expires_at"] == "never"
    env["service"].probes.rows_per_minute = 10 ** 6
    before = audit_count(env)
    real_clock = tokens.clock
    tokens.clock = lambda: (now + 3_600_000) / 1000
    try:
        for path in ("/api/me", "/api/rumours", "/api/rumours/jn-1/trace"):
            expired = get(env["url"] + path, token, case="C-9")
            revoked = get(env["url"] + path, env["tok"]["revoked"], case="C-9")
            assert expired[0] == revoked[0] == 401 and expired[2] == revoked[2], path
            assert expired[1].get("WWW-Authenticate") == revoked[1].get("WWW-Authenticate")
    finally:
        tokens.clock = real_clock
    # one row per refusal, each saying which it was (the caller was answered the same 401)
    rows = env["store"].audit_rows(limit=6)
    assert audit_count(env) == before + 6
    assert sorted(r["auth_failure"] for r in rows) == ["expired"] * 3 + ["revoked"] * 3
    assert {r["action"] for r in rows} == {"me", "rumours", "trace"}
    assert get(env["url"] + "/api/me", token)[0] == 200


def expiry_text_by_hand(ms: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(ms // 1000, datetime.UTC).isoformat().replace("+00:00", "Z")


def test_metrics_text_format(env):
    body = get(env["url"] + "/metrics", env["tok"]["admin"])[2].decode()
    assert "# TYPE rumour_http_requests_total counter" in body
    assert re.search(r'^rumour_http_requests_total\{route="trace",status="200"\} [1-9]', body, re.M)
    for line in body.splitlines():
        assert line.startswith("#") or re.fullmatch(r'[a-z_]+(\{[^}]*\})? -?[0-9.e+]+', line), line
