"""A debunk does not open a rumour to a jurisdiction (session 10), on both stores (chDB and
clickhouse-server 18.16): hd-2 spread in Huangdao (370211) only, and Lixia's (370102) debunking
platform debunked it there. Lixia's desks, and Jinan's above them, get for hd-2 exactly the
answer of an unknown rumour on every rumour route (404, same body; audit row 403), through the
cached summary and through the store's query alike; Huangdao's desks get the rumour. No alert
of hd-2 goes to a Jinan unit. dbk-only has debunk shares only: it spread nowhere, so only the
national token sees it. One server per store for the module."""
from __future__ import annotations

import orjson
import pytest

from streams.service.access import PERMISSIONS
from streams.service.routes import ROUTES
from tests.service_helpers import ThreadServer, _ev, cascades, get, governed_service, store_of
from tests.test_service_governance import post

LIXIA_DEBUNKS = [
    _ev("hd-2", 0, "h0", 30, region="370211", text="黄岛 谣言 rumour hd-2"),
    _ev("hd-2", 1, "h1", 31, 0, "h0", region="370211"),
    _ev("hd-2", 2, "h2", 32, 1, "h1", region="370211"),
    _ev("hd-2", 3, "h3", 33, 0, "h0", region="370211", kind="comment"),
    # Lixia's debunking platform and two reshares of its debunk, all in Lixia: enough shares
    # for a volume alert there, were debunks counted.
    _ev("hd-2", 4, "lx-police", 34, region="370102", kind="debunk", text="辟谣 hd-2"),
    _ev("hd-2", 5, "lx-a", 35, 4, "lx-police", region="370102", kind="debunk"),
    _ev("hd-2", 6, "lx-b", 35, 4, "lx-police", region="370102", kind="debunk"),
    _ev("dbk-only", 0, "lx-police", 40, region="370102", kind="debunk", text="辟谣 dbk-only"),
    _ev("dbk-only", 1, "lx-c", 41, 0, "lx-police", region="370102", kind="debunk"),
]
EVENTS = cascades() + LIXIA_DEBUNKS
THRESHOLD = 2  # volume rule: shares of one rumour in one unit within the window
UNKNOWN = "hd-9"  # as long as "hd-2": the two 404 answers must be byte for byte alike

TOKENS = [("lixia_analyst", "analyst", "370102"), ("lixia_liaison", "liaison", "370102"),
          ("jinan_admin", "admin", "370100"), ("huangdao_analyst", "analyst", "370211"),
          ("huangdao_liaison", "liaison", "370211"), ("province", "liaison", "370000"),
          ("national", "admin", "000000")]
ROLE = {name: role for name, role, _ in TOKENS}
OUTSIDE = ("lixia_analyst", "lixia_liaison", "jinan_admin")  # debunks of hd-2 only, or nothing

# route -> (method, path with {rid}, body, Huangdao's token that uses it: analyst or liaison)
CALLS = {
    "rumour": ("GET", "/api/rumours/{rid}", None, "analyst"),
    "tree": ("GET", "/api/rumours/{rid}/tree", None, "analyst"),
    "trace": ("GET", "/api/rumours/{rid}/trace", None, "liaison"),
    "trace_event": ("GET", "/api/rumours/{rid}/events/hd-2-e1/trace", None, "liaison"),
    "trace_account": ("GET", "/api/rumours/{rid}/accounts/h1/trace", None, "liaison"),
    "evidence": ("GET", "/api/rumours/{rid}/evidence?case=C-D1", None, "liaison"),
    "reports": ("GET", "/api/rumours/{rid}/reports", None, "analyst"),
    "status": ("GET", "/api/rumours/{rid}/status", None, "analyst"),
    "status_set": ("POST", "/api/rumours/{rid}/status", {"status": "verified"}, "analyst"),
    "debunk": ("GET", "/api/rumours/{rid}/debunk", None, "analyst"),
}
AUDITED = {"trace", "trace_event", "trace_account", "evidence", "status_set"}


@pytest.fixture(scope="module", params=["chdb", pytest.param("clickhouse", marks=pytest.mark.clickhouse)])
def env(request, tmp_path_factory):
    from streams.service.tokens import TokenStore

    with store_of(request) as store:
        tokens_path = tmp_path_factory.mktemp("tokens") / "tokens.json"
        pipeline, hub, service = governed_service(store, EVENTS, tokens_path, THRESHOLD)
        server = ThreadServer(service.application())
        ts = TokenStore(tokens_path)
        tok = {name: ts.issue(role, code, name)[0] for name, role, code in TOKENS}
        yield {"url": server.url, "tok": tok, "store": store, "service": service, "hub": hub,
               "pipeline": pipeline}
        server.close()


def call(env, who, route, rid):
    method, path, body, _ = CALLS[route]
    url = env["url"] + path.format(rid=rid)
    if method == "POST":
        status, data = post(url, env["tok"][who], body)
        return status, {}, data
    return get(url, env["tok"][who], case="C-D1")


def in_executor(env, fn, *args):
    # chDB sessions are not shared across threads: store reads run on the service's thread.
    return env["service"].executor.submit(fn, *args).result(60)


@pytest.fixture(params=["cached summary", "store query"])
def jurisdiction_source(request, env, monkeypatch):
    """Where the jurisdiction check reads a known rumour's regions: the summary cache (kept
    fresh for the test) or the store's query (the cache never fresh); yields the rumour ids
    the store was asked about."""
    views, store = env["service"].views, env["store"]
    asked = []
    real = store.rumour_region_kinds
    monkeypatch.setattr(store, "rumour_region_kinds", lambda rid: asked.append(rid) or real(rid))
    if request.param == "cached summary":
        monkeypatch.setattr(views, "cache_seconds", 3600.0)
        in_executor(env, views.summary)
    else:
        monkeypatch.setattr(views, "cache_seconds", 0.0)
    yield request.param, asked
    views._summary = None  # a later test starts from a cold cache either way


def _same_as_unknown(env, who, route):
    """The answer for hd-2 and for an unknown rumour, the audit rows of both when audited."""
    got = call(env, who, route, "hd-2")
    row = env["store"].audit_rows(limit=1)[0] if route in AUDITED else None
    unknown = call(env, who, route, UNKNOWN)
    unknown_row = env["store"].audit_rows(limit=1)[0] if route in AUDITED else None
    return got, row, unknown, unknown_row


def test_every_rumour_route_is_checked():
    assert {r.name for r in ROUTES if r.rumour_scoped} == set(CALLS)


@pytest.mark.parametrize("route", sorted(CALLS))
def test_a_debunk_in_the_county_does_not_open_the_rumour(env, jurisdiction_source, route):
    source, asked = jurisdiction_source
    action = next(r.action for r in ROUTES if r.name == route)
    for who in OUTSIDE:
        if action not in PERMISSIONS[ROLE[who]]:
            continue  # refused by role (403) before the rumour is looked at
        (status, headers, body), row, (u_status, u_headers, u_body), u_row = _same_as_unknown(env, who, route)
        assert status == u_status == 404, (source, route, who, status, body)
        assert b"unknown rumour 'hd-2'" in body
        assert body == u_body.replace(UNKNOWN.encode(), b"hd-2"), (source, route, who)
        for h in ("Content-Type", "Content-Length", "Cache-Control"):
            assert headers.get(h) == u_headers.get(h), (route, who, h)
        if route in AUDITED:  # the decision is kept: refused (403) here, unknown (404) there
            assert (row["rumour_id"], row["status"], row["token_name"]) == ("hd-2", 403, who)
            assert (u_row["rumour_id"], u_row["status"]) == (UNKNOWN, 404)
    # ...while the county where it spread gets it
    who = "huangdao_" + CALLS[route][3]
    status, _, body = call(env, who, route, "hd-2")
    assert status in (200, 201), (source, route, status, body)
    if route in AUDITED:
        assert env["store"].audit_rows(limit=1)[0]["status"] == status
    if source == "cached summary":
        assert "hd-2" not in asked  # the summary answered
    else:
        assert "hd-2" in asked  # the store's query answered


@pytest.mark.parametrize("who,expected", [
    ("lixia_analyst", {"jn-1"}), ("lixia_liaison", {"jn-1"}), ("jinan_admin", {"jn-1"}),
    ("huangdao_analyst", {"jn-1", "qd-1", "hd-2"}), ("province", {"jn-1", "qd-1", "hd-2"}),
    ("national", {"jn-1", "qd-1", "bj-1", "hd-2", "dbk-only"}),
])
def test_the_rumour_list_follows_where_the_rumour_spread(env, jurisdiction_source, who, expected):
    status, _, body = get(env["url"] + "/api/rumours", env["tok"][who])
    assert status == 200
    rumours = {r["rumour_id"]: r for r in orjson.loads(body)["rumours"]}
    assert set(rumours) == expected
    if "hd-2" in rumours:  # the debunks still count as the rumour's debunk, wherever they were
        r = rumours["hd-2"]
        assert (r["size"], r["debunk_size"], r["region"]) == (4, 3, "370000")


def test_a_rumour_with_only_debunks_is_the_national_tokens_only(env, jurisdiction_source):
    for who in ("lixia_analyst", "jinan_admin", "province"):
        assert get(env["url"] + "/api/rumours/dbk-only", env["tok"][who])[0] == 404, who
    status, _, body = get(env["url"] + "/api/rumours/dbk-only", env["tok"]["national"])
    assert status == 200 and orjson.loads(body)["series"]["rumour"] == []


def test_a_fresh_views_regions_are_those_of_the_rumour_shares(env):
    from streams.service.views import Views

    views = Views(env["pipeline"], env["store"], env["service"].pseudo)
    assert views._summary is None  # cold: the store's query answers
    got = {rid: in_executor(env, views.regions_of, rid) for rid in ("hd-2", "jn-1", "dbk-only", UNKNOWN)}
    by_hand = {rid: {e["region"] for e in EVENTS if e["rumour_id"] == rid and e["kind"] != "debunk"}
               for rid in ("hd-2", "jn-1", "dbk-only")}
    assert got == by_hand | {UNKNOWN: None}
    assert got["hd-2"] == {"370211"} and got["dbk-only"] == set()
    # the summary, once computed, gives the same regions
    summary = in_executor(env, views.summary)["rumours"]
    assert {rid: summary[rid]["jurisdiction_regions"] for rid in by_hand} == by_hand


def test_a_report_linked_to_the_rumour_is_not_named_to_the_debunking_county(env):
    body = {"reporter": "lx-reporter", "post_id": "hd-2-e1"}
    s, raw = post(env["url"] + "/api/reports", env["tok"]["lixia_analyst"], body)
    answer = orjson.loads(raw)
    assert (s, answer["rumour_id"], answer["routed_upward"]) == (201, None, True)
    assert b"hd-2" not in raw
    s, raw = post(env["url"] + "/api/reports", env["tok"]["huangdao_analyst"], dict(body, reporter="hd-reporter"))
    answer = orjson.loads(raw)
    assert (s, answer["rumour_id"], answer["routed_upward"]) == (201, "hd-2", False)


def test_debunks_raise_no_alert_in_their_unit(env):
    counts = env["hub"].alerts.unit_counts("hd-2")
    assert counts and all(u.startswith("3702") for u in counts), counts  # Lixia's debunks count nowhere
    for who in ("lixia_analyst", "jinan_admin"):
        alerts = orjson.loads(get(env["url"] + "/api/alerts", env["tok"][who])[2])["alerts"]
        assert alerts and not {a["rumour_id"] for a in alerts} & {"hd-2", "dbk-only"}, who  # jn-1's only
    alerts = orjson.loads(get(env["url"] + "/api/alerts", env["tok"]["huangdao_analyst"])[2])["alerts"]
    assert ("hd-2", "370211") in {(a["rumour_id"], a["unit"]) for a in alerts}
