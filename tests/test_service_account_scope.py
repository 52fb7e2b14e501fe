"""The centre's liaison account scope (``liaison_account_scope``), on both stores (chDB and
clickhouse-server 18.16). xp-1 started in Beijing and spread through Lixia (370102), Huangdao
(370211), Jinan (a region kept as text, and Shizhong 370103) and shares without a region. Under
``jurisdiction`` a liaison below 000000 sees in clear exactly the accounts with an event of xp-1
inside its jurisdiction and the analyst's pseudonym for every other one, in every trace and in
the evidence package; under ``cascade`` (today) every account is in clear. Each answer is
checked position by position against the national liaison's (every account in clear). One
server per store for the module; the scope is switched on the running service."""
from __future__ import annotations

import contextlib
import csv
import io
import zipfile

import orjson
import pytest

from streams.service.cli import evidence_main
from tests.service_helpers import ThreadServer, _ev, cascades, get, store_of

XP = [
    _ev("xp-1", 0, "bj-origin", 0, region="110105", text="跨省 谣言 xp"),
    _ev("xp-1", 1, "lx-hub", 1, 0, "bj-origin", region="370102"),
    _ev("xp-1", 2, "mixed-acct", 2, 1, "lx-hub", region="110105"),
    _ev("xp-1", 3, "mixed-acct", 3, 1, "lx-hub", region="370102"),  # one share in Lixia is enough
    _ev("xp-1", 4, "hd-sharer", 4, 1, "lx-hub", region="370211"),
    _ev("xp-1", 5, "jn-text", 5, 1, "lx-hub", region="山东 济南"),  # Jinan, kept as text
    _ev("xp-1", 6, "no-region", 6, 4, "hd-sharer"),
    _ev("xp-1", 7, "lx-late", 7, None, "ghost-parent", region="370102", kind="share"),  # parent: an account only
    _ev("xp-1", 8, "bj-late", 8, 2, "mixed-acct", region="110105"),
    _ev("xp-1", 9, "hd-kid", 9, 4, "hd-sharer", region="370211"),
    _ev("xp-1", 10, "nr-kid", 10, 6, "no-region"),
    _ev("xp-1", 11, "lx-debunker", 11, region="370102", kind="debunk", text="辟谣 xp"),
    _ev("xp-1", 12, "jt-kid", 12, 5, "jn-text", region="370103"),
]
ACCOUNTS = {e["account_id"] for e in XP} | {"ghost-parent"}
LIXIA = {"lx-hub", "mixed-acct", "lx-late", "lx-debunker"}  # a debunk in Lixia counts too
JINAN = LIXIA | {"jn-text", "jt-kid"}
PROVINCE = JINAN | {"hd-sharer", "hd-kid"}
# Never in clear below 000000: shared only in Beijing, only without a region, or no event at all.
NOWHERE = {"bj-origin", "bj-late", "no-region", "nr-kid", "ghost-parent"}
assert ACCOUNTS == PROVINCE | NOWHERE

TOKENS = [("lixia", "liaison", "370102"), ("jinan", "liaison", "370100"), ("province", "liaison", "370000"),
          ("national", "liaison", "000000"), ("jinan_admin", "admin", "370100"),
          ("lixia_analyst", "analyst", "370102")]
# who -> (accounts in clear under "jurisdiction", the audit row's account_scope)
UNDER_JURISDICTION = {"lixia": (LIXIA, "jurisdiction"), "jinan": (JINAN, "jurisdiction"),
                      "province": (PROVINCE, "jurisdiction"), "national": (ACCOUNTS, "cascade"),
                      "jinan_admin": (ACCOUNTS, "cascade"), "lixia_analyst": (set(), "pseudonymised")}
# The events are traced by their pseudonyms (the form the tree shows): an id in clear is
# refused to an analyst and unknown to a liaison whose scope hides its account
# (tests/test_service_event_pseudonyms.py).
TRACED_EVENTS = ["xp-1-e10", "xp-1-e12", "xp-1-e8"]


def traces(env) -> list:
    pev = env["service"].pseudo.event
    return ["/api/rumours/xp-1/trace?k=10"] + [f"/api/rumours/xp-1/events/{pev(e)}/trace" for e in TRACED_EVENTS]


@pytest.fixture(scope="module", params=["chdb", pytest.param("clickhouse", marks=pytest.mark.clickhouse)])
def env(request, tmp_path_factory):
    from streams.embedded import replay_events
    from streams.service.http import Service
    from streams.service.tokens import TokenStore
    from streams.settings import Settings

    with store_of(request) as store:
        tokens_path = tmp_path_factory.mktemp("tokens") / "tokens.json"
        pipeline, stats = replay_events(cascades() + XP, store, Settings.load({"batch_size": 5}))
        assert stats.stored == len(cascades()) + len(XP)
        service = Service(pipeline, store, tokens_path, cutoff_k=5, liaison_account_scope="jurisdiction")
        server = ThreadServer(service.application())
        ts = TokenStore(tokens_path)
        tok = {name: ts.issue(role, code, name)[0] for name, role, code in TOKENS}
        yield {"url": server.url, "tok": tok, "store": store, "service": service, "tokens_path": tokens_path}
        server.close()


@pytest.fixture
def cascade_scope(env, monkeypatch):
    monkeypatch.setattr(env["service"].views.identities, "liaison_scope", "cascade")


def fetch(env, who, path, case="C-S1"):
    status, headers, body = get(env["url"] + path, env["tok"][who], case=case)
    return status, headers, body


def answer(env, who, path):
    status, _, body = fetch(env, who, path)
    assert status == 200, (who, path, body)
    return orjson.loads(body)


def trace_accounts(trace: dict) -> list:
    """Every account id a trace names, in order (origins, chain hops, cut-off, account scope)."""
    out = [o["account_id"] for o in trace["origins"]]
    out += [h["account_id"] for c in trace["chains"] for h in c["hops"]]
    out += [c["account_id"] for c in trace["cutoff"]]
    if trace["scope"]["kind"] == "account":
        out.append(trace["scope"]["id"])
    return out


def shown(env, raw, clear):
    """What a caller whose clear accounts are ``clear`` must see for each raw account id."""
    pseudo = env["service"].pseudo
    return [a if a is None or a in clear else pseudo(a) for a in raw]


def last_audit(env) -> dict:
    return env["store"].audit_rows(limit=1)[0]


def test_the_rumour_names_accounts_of_every_kind_of_place(env):
    # The national liaison's answers hold in-scope and out-of-scope accounts, so the checks
    # below compare something: an origin in Beijing, Lixia's hub, a share without a region.
    named = set()
    for path in traces(env):
        named |= set(trace_accounts(answer(env, "national", path)))
    assert {"bj-origin", "lx-hub", "mixed-acct", "no-region", "hd-sharer", "jn-text", "jt-kid"} <= named


@pytest.mark.parametrize("who", sorted(UNDER_JURISDICTION))
def test_one_decision_names_every_account_of_the_rumour(env, who):
    # Every account of xp-1, those no trace names too (the debunker: a debunk in Lixia counts).
    from streams.service.access import Principal

    clear, scope = UNDER_JURISDICTION[who]
    code = next(c for name, _, c in TOKENS if name == who)
    principal = Principal("t", who, next(r for name, r, _ in TOKENS if name == who), code)
    identities = env["service"].views.identities
    # chDB sessions are not shared across threads: the store is read on the service's thread.
    namer = env["service"].executor.submit(identities.namer, principal, "xp-1", ACCOUNTS).result(60)
    assert namer.scope == scope
    assert {a for a in ACCOUNTS if namer(a) == a} == clear
    assert {namer(a) for a in ACCOUNTS - clear} == {env["service"].pseudo(a) for a in ACCOUNTS - clear}
    if scope == "jurisdiction":
        assert namer.acted == ACCOUNTS - {"ghost-parent"}  # a parent-only account did nothing there


@pytest.mark.parametrize("who", sorted(UNDER_JURISDICTION))
def test_traces_show_in_clear_exactly_the_accounts_inside_the_jurisdiction(env, who):
    clear, scope = UNDER_JURISDICTION[who]
    for path in traces(env):
        raw = trace_accounts(answer(env, "national", path))
        got = answer(env, who, path)
        assert trace_accounts(got) == shown(env, raw, clear), (who, path)
        assert got["identities"] == {"jurisdiction": "clear_in_jurisdiction", "cascade": "clear",
                                     "pseudonymised": "pseudonymised"}[scope]
        row = last_audit(env)
        assert (row["token_name"], row["status"]) == (who, 200)
        assert orjson.loads(row["params"])["account_scope"] == scope
    assert answer(env, who, "/api/me")["account_scope"] == scope  # the rule, told to the caller


def test_under_cascade_a_county_liaison_sees_every_account_in_clear(env, cascade_scope):
    for path in traces(env):
        national, lixia = answer(env, "national", path), answer(env, "lixia", path)
        assert trace_accounts(lixia) == trace_accounts(national)
        assert lixia["identities"] == "clear"
        assert orjson.loads(last_audit(env)["params"])["account_scope"] == "cascade"
    status, _, body = fetch(env, "lixia", "/api/rumours/xp-1/accounts/bj-origin/trace")
    assert status == 200 and orjson.loads(body)["scope"]["id"] == "bj-origin"


@pytest.mark.parametrize("who,account", [("lixia", "lx-hub"), ("lixia", "mixed-acct"), ("lixia", "bj-origin"),
                                         ("lixia", "hd-sharer"), ("province", "hd-sharer"),
                                         ("jinan", "jn-text"), ("jinan_admin", "no-region")])
def test_the_account_route_by_pseudonym_names_each_account_as_the_scope_says(env, who, account):
    clear, _ = UNDER_JURISDICTION[who]
    path = f"/api/rumours/xp-1/accounts/{env['service'].pseudo(account)}/trace"
    raw = trace_accounts(answer(env, "national", path))
    got = answer(env, who, path)
    assert got["scope"]["id"] == (account if account in clear else env["service"].pseudo(account))
    assert trace_accounts(got) == shown(env, raw, clear)


def test_an_account_outside_the_scope_given_in_clear_is_an_unknown_account(env):
    # in scope: traced in clear
    got = answer(env, "lixia", "/api/rumours/xp-1/accounts/mixed-acct/trace")
    assert got["scope"]["id"] == "mixed-acct"
    # outside (Beijing only; Huangdao; no region; a parent-only account): the unknown account's answer
    status, headers, unknown = fetch(env, "lixia", "/api/rumours/xp-1/accounts/zz-nobody/trace")
    assert status == 404 and last_audit(env)["status"] == 404
    for account, audited in [("bj-origin", 403), ("hd-sharer", 403), ("no-region", 403), ("bj-late", 403),
                             ("ghost-parent", 404)]:
        s, h, body = fetch(env, "lixia", f"/api/rumours/xp-1/accounts/{account}/trace")
        assert s == 404 and body == unknown.replace(b"zz-nobody", account.encode()), account
        assert h["Content-Type"] == headers["Content-Type"]
        row = last_audit(env)  # the decision is kept: refused (403) when the account acted in xp-1
        assert (row["status"], orjson.loads(row["params"])["account_scope"]) == (audited, "jurisdiction"), account
        assert env["service"].pseudo(account).encode() not in body
    # the province covers Huangdao; the national liaison and an admin see everyone
    assert answer(env, "province", "/api/rumours/xp-1/accounts/hd-sharer/trace")["scope"]["id"] == "hd-sharer"
    for who in ("national", "jinan_admin"):
        assert answer(env, who, "/api/rumours/xp-1/accounts/bj-origin/trace")["scope"]["id"] == "bj-origin"


def _package(env, who, case):
    status, headers, data = fetch(env, who, f"/api/rumours/xp-1/evidence?case={case}&k=10", case=None)
    assert status == 200, data
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    return data, headers["X-Evidence-Digest"], members


@pytest.mark.parametrize("who", ["lixia", "jinan", "province", "national", "jinan_admin"])
def test_the_evidence_package_names_accounts_as_the_scope_says_and_verifies(env, who, tmp_path):
    clear, scope = UNDER_JURISDICTION[who]
    _, _, reference = _package(env, "national", "C-REF")
    raw = trace_accounts(orjson.loads(reference["evidence.json"])["trace"])
    data, digest, m = _package(env, who, f"C-{who}")
    assert orjson.loads(last_audit(env)["params"])["account_scope"] == scope
    trace = orjson.loads(m["evidence.json"])["trace"]
    assert trace_accounts(trace) == shown(env, raw, clear)
    # chain.csv: one row per hop, the hop's account as evidence.json names it
    rows = list(csv.DictReader(io.StringIO(m["chain.csv"].decode("utf-8-sig"))))
    assert [r["account_id"] for r in rows] == [h["account_id"] for c in trace["chains"] for h in c["hops"]]
    # report.html: no account outside the scope in clear, each by its pseudonym
    html = m["report.html"].decode()
    for account in set(raw):
        if account in clear:
            assert f">{account}<" in html, (who, account)
        else:
            assert f">{account}<" not in html and f">{env['service'].pseudo(account)}<" in html, (who, account)
    assert ("clear inside" in html) == (scope == "jurisdiction")
    # the manifest still verifies, with the key and against the audit row's digest
    path = tmp_path / "p.zip"
    path.write_bytes(data)
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        code = evidence_main(["verify", str(path), "--tokens-file", str(env["tokens_path"]),
                              "--digest", last_audit(env)["answer_sha256"]])
    assert code == 0 and last_audit(env)["answer_sha256"] == digest


@pytest.mark.parametrize("path", ["/api/rumours/xp-1", "/api/rumours/xp-1/tree"])
def test_dashboard_routes_stay_pseudonymised_for_every_role(env, path):
    # Detail (top spreaders) and tree show no account in clear to any role, under either scope:
    # the county liaison sees exactly what the analyst sees, the same pseudonyms as its traces.
    analyst = fetch(env, "lixia_analyst", path)[2]
    for who in ("lixia", "national", "jinan_admin"):
        assert fetch(env, who, path)[2] == analyst, who
    for account in ACCOUNTS:
        assert f'"{account}"'.encode() not in analyst
    pseudo = env["service"].pseudo
    if path.endswith("tree"):
        assert pseudo("bj-origin").encode() in analyst and pseudo("lx-hub").encode() in analyst
    else:
        spreaders = {s["account_id"] for s in orjson.loads(analyst)["top_spreaders"]}
        assert pseudo("lx-hub") in spreaders and pseudo("hd-sharer") in spreaders


def test_the_setting_is_read_and_checked():
    from streams.service.identities import Identities
    from streams.settings import Settings

    assert Settings.load(environ={}).liaison_account_scope == "cascade"
    assert Settings.load(environ={"RUMOUR_LIAISON_ACCOUNT_SCOPE": "jurisdiction"}).liaison_account_scope \
        == "jurisdiction"
    with pytest.raises(ValueError, match="RUMOUR_LIAISON_ACCOUNT_SCOPE.*expected one of cascade, jurisdiction"):
        Settings.load(environ={"RUMOUR_LIAISON_ACCOUNT_SCOPE": "county"})
    with pytest.raises(ValueError, match="liaison_account_scope"):
        Identities(None, None, "province")


def test_account_regions_are_the_same_in_one_query_or_many(env, monkeypatch):
    import streams.store.base as base

    def regions():
        return env["service"].executor.submit(env["store"].account_regions, "xp-1",
                                              sorted(ACCOUNTS) + ["zz-nobody", None]).result(60)

    whole = regions()
    assert whole["mixed-acct"] == {"110105", "370102"} and whole["no-region"] == {None}
    assert set(whole) == ACCOUNTS - {"ghost-parent"}  # no event of its own; unknown ids absent
    monkeypatch.setattr(base, "ID_BYTES_PER_QUERY", 30)  # two or three ids per query
    assert regions() == whole


def test_the_account_route_asks_the_store_about_the_traced_account_once(env, monkeypatch):
    # Under "jurisdiction" the route asked where a clear id acted (for its 404), then the trace
    # asked again for every account it names, that one included: the route's namer is passed on.
    identities = env["service"].views.identities
    store, asked = identities.store, []

    class Counting:
        def account_regions(self, rumour_id, account_ids):
            asked.extend(a for a in account_ids if a is not None)
            return store.account_regions(rumour_id, account_ids)

    monkeypatch.setattr(identities, "store", Counting())
    got = answer(env, "lixia", "/api/rumours/xp-1/accounts/mixed-acct/trace")
    assert got["scope"]["id"] == "mixed-acct" and asked.count("mixed-acct") == 1, asked
    assert len(asked) == len(set(asked)), asked  # no account asked about twice
    # and the answer is the one named account by account as before
    raw = trace_accounts(answer(env, "national", "/api/rumours/xp-1/accounts/mixed-acct/trace"))
    assert trace_accounts(got) == shown(env, raw, LIXIA)
