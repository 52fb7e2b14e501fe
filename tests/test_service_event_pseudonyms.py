"""Event ids follow their accounts (streams/service/identities.py): a post id leads to its author
on the platform, so wherever an account is pseudonymised its events are shown by their own
pseudonyms (``pev_...``), in every route and export, on both stores (chDB and clickhouse-server
18.16). The rumour is xp-1 of tests/test_service_account_scope.py under
``liaison_account_scope=jurisdiction``, served with the governance hub (alerts carry traces).
For every role the serialized answers (each member of the evidence zip too) are searched for
every real event id and text hash of the accounts that role does not see in clear."""
from __future__ import annotations

import contextlib
import csv
import io
import re
import threading
import time
import zipfile

import orjson
import pytest

from streams.service.cli import evidence_main
from tests.service_helpers import ThreadServer, cascades, get, governed_service, sha, store_of
from tests.test_service_account_scope import ACCOUNTS, TOKENS, UNDER_JURISDICTION, XP

EVENTS_OF = {}  # account -> its real event ids in xp-1
for _e in XP:
    EVENTS_OF.setdefault(_e["account_id"], set()).add(_e["event_id"])
TEXT_OF = {e["event_id"]: e["text"] for e in XP}
WHO = sorted(UNDER_JURISDICTION)
SHARES = [e for e in XP if e["kind"] != "debunk"]  # a debunk is no event of the cascade


@pytest.fixture(scope="module", params=["chdb", pytest.param("clickhouse", marks=pytest.mark.clickhouse)])
def env(request, tmp_path_factory):
    from streams.service.tokens import TokenStore

    with store_of(request) as store:
        tokens_path = tmp_path_factory.mktemp("tokens") / "tokens.json"
        _, _, service = governed_service(store, cascades() + XP, tokens_path, threshold=2)
        service.views.identities.liaison_scope = "jurisdiction"
        server = ThreadServer(service.application())
        ts = TokenStore(tokens_path)
        tok = {name: ts.issue(role, code, name)[0] for name, role, code in TOKENS}
        yield {"url": server.url, "tok": tok, "store": store, "service": service, "tokens_path": tokens_path}
        server.close()


def fetch(env, who, path, case="C-E1"):
    return get(env["url"] + path, env["tok"][who], case=case)


def ok(env, who, path) -> bytes:
    status, _, body = fetch(env, who, path)
    assert status == 200, (who, path, body)
    return body


def pev(env, event_id):
    return env["service"].pseudo.event(event_id)


def last_audit(env) -> dict:
    return env["store"].audit_rows(limit=1)[0]


def leaks(body: bytes, hidden_accounts) -> list:
    """The real event ids (as whole tokens) and text hashes of ``hidden_accounts`` found in ``body``."""
    found = []
    for account in hidden_accounts:
        for event_id in EVENTS_OF.get(account, ()):
            if re.search(rb"(?<![\w-])" + re.escape(event_id.encode()) + rb"(?![\w])", body):
                found.append(event_id)
            if sha(TEXT_OF[event_id]).encode() in body:
                found.append("sha256 of " + event_id)
    return found


def audited_paths(env) -> list:
    p = env["service"].pseudo
    return (["/api/rumours/xp-1/trace?k=10"]
            + [f"/api/rumours/xp-1/events/{pev(env, e['event_id'])}/trace" for e in SHARES]
            + [f"/api/rumours/xp-1/accounts/{p(a)}/trace" for a in sorted({e["account_id"] for e in SHARES})])


def dashboard_paths() -> list:
    return ["/api/rumours/xp-1", "/api/rumours/xp-1/tree?limit=1000", "/api/alerts"]


def test_the_answers_hold_the_ids_the_checks_look_for(env):
    # Positive control: the national liaison sees every real event id in the rumour's traces,
    # and the alerts carry xp-1's origins (so the alert check below checks something).
    body = b"".join(ok(env, "national", p) for p in audited_paths(env))
    assert not leaks(body, []) and set(leaks(body, ACCOUNTS)) >= {e["event_id"] for e in SHARES}
    alerts = orjson.loads(ok(env, "national", "/api/alerts"))["alerts"]
    assert any(a["rumour_id"] == "xp-1" and a["trace"] and a["trace"]["origins"] for a in alerts)


@pytest.mark.parametrize("who", WHO)
def test_no_real_event_id_of_a_hidden_account_in_any_trace(env, who):
    clear, _ = UNDER_JURISDICTION[who]
    hidden = ACCOUNTS - clear
    for path in audited_paths(env):
        body = ok(env, who, path)
        assert not leaks(body, hidden), (who, path, leaks(body, hidden))
        if clear:  # what the caller sees in clear it sees with its real event ids
            national = orjson.loads(ok(env, "national", path))
            got = orjson.loads(body)
            for mine, real in zip([h for c in got["chains"] for h in c["hops"]],
                                  [h for c in national["chains"] for h in c["hops"]]):
                shown = real["event_id"] if real["account_id"] in clear else pev(env, real["event_id"])
                assert mine["event_id"] == shown, (who, path, real)
                assert mine["text_sha256"] == (real["text_sha256"] if real["account_id"] in clear else None)
            for mine, real in zip(got["origins"], national["origins"]):
                assert mine["event_id"] == (real["event_id"] if real["account_id"] in clear
                                            else pev(env, real["event_id"]))


@pytest.mark.parametrize("who", WHO)
def test_dashboard_routes_show_no_real_event_id_to_any_role(env, who):
    for path in dashboard_paths():
        body = ok(env, who, path)
        assert not leaks(body, ACCOUNTS), (who, path, leaks(body, ACCOUNTS))
    tree = orjson.loads(ok(env, who, "/api/rumours/xp-1/tree?limit=1000"))
    ids = [n["event_id"] for n in _nodes(tree)]
    assert ids and all(i is None or i.startswith("pev_") for i in ids)
    for a in orjson.loads(ok(env, who, "/api/alerts"))["alerts"]:
        if a["trace"]:
            # (an origin known only as a parent account has no event id)
            assert all(o["event_id"] is None or o["event_id"].startswith("pev_") for o in a["trace"]["origins"])


def _nodes(tree: dict):
    """Every node of the tree answer, each with ``path``: event ids from it up to its root."""
    out, stack = [], [(r, []) for r in tree["roots"]]
    while stack:
        node, above = stack.pop()
        node["path"] = [node["event_id"]] + above
        out.append(node)
        stack.extend((c, node["path"]) for c in node["children"])
    return out


@pytest.mark.parametrize("who", ["lixia_analyst", "lixia", "national"])
def test_an_event_followed_from_the_tree_into_its_trace(env, who):
    # Each event of the tree traced by the pseudonym the tree shows: the chain is the tree's
    # path from that node to its root, hop by hop (a hop's parent is the next hop).
    clear, _ = UNDER_JURISDICTION[who]
    tree = orjson.loads(ok(env, who, "/api/rumours/xp-1/tree?limit=1000"))
    followed = 0
    for node in _nodes(tree):
        if node["event_id"] is None:
            continue
        answer = orjson.loads(ok(env, who, f"/api/rumours/xp-1/events/{node['event_id']}/trace"))
        hops = answer["chains"][0]["hops"]
        as_in_tree = [h["event_id"] if h["event_id"] is None or h["event_id"].startswith("pev_")
                      else pev(env, h["event_id"]) for h in hops]
        assert as_in_tree == node["path"], (who, node["path"])
        assert answer["scope"]["kind"] == "event" and answer["chains"][0]["event_id"] == hops[0]["event_id"]
        if who == "national":
            assert not any(h["event_id"].startswith("pev_") for h in hops if h["event_id"])
        followed += 1
        row = last_audit(env)  # the audit keeps the real id, and the one given
        params = orjson.loads(row["params"])
        assert pev(env, params["event_id"]) == node["event_id"] == params["event_pseudonym"]
    assert followed >= 10


def test_an_alert_s_origin_is_traced_by_the_pseudonym_the_alert_shows(env):
    alerts = orjson.loads(ok(env, "lixia_analyst", "/api/alerts"))["alerts"]
    origins = {o["event_id"] for a in alerts if a["rumour_id"] == "xp-1" and a["trace"]
               for o in a["trace"]["origins"] if o["event_id"]}
    assert origins
    for event in origins:
        got = orjson.loads(ok(env, "lixia_analyst", f"/api/rumours/xp-1/events/{event}/trace"))
        assert got["scope"]["id"] == got["chains"][0]["hops"][0]["event_id"] == event


def test_a_pseudonym_this_process_never_gave_out_is_found_in_the_graph(env, monkeypatch):
    # Another worker named the event (or this one restarted): no memo, the rumour is hashed.
    monkeypatch.setattr(env["service"].pseudo, "shown_event", lambda pseudonym: None)
    for event_id in ("xp-1-e12", "xp-1-e0"):
        got = orjson.loads(ok(env, "lixia_analyst", f"/api/rumours/xp-1/events/{pev(env, event_id)}/trace"))
        assert got["scope"]["id"] == pev(env, event_id)
        assert orjson.loads(last_audit(env)["params"])["event_id"] == event_id
    status, _, _ = fetch(env, "lixia_analyst", "/api/rumours/xp-1/events/pev_0123456789abcdef/trace")
    assert status == 404


def test_a_slow_lookup_holds_up_no_other_request(env, monkeypatch):
    # A cold lookup hashes the rumour's events: seconds for a 10^6-event rumour. Made slow here
    # (the hashing waits up to 10 s for the test's signal): while two lookups of the rumour are
    # pending, other requests are answered, and the rumour is hashed once for both.
    from streams.service.event_ids import EventPseudonymIndex

    service, pseudo = env["service"], env["service"].pseudo
    monkeypatch.setattr(service.views, "events", EventPseudonymIndex(pseudo))  # nothing hashed yet
    monkeypatch.setattr(pseudo, "shown_event", lambda pseudonym: None)
    hashing, release, hashed = threading.Event(), threading.Event(), []
    real = pseudo.encoded_event_numbers

    def slow(buf, starts, ends):
        hashing.set()
        release.wait(10)
        hashed.append(len(starts))
        return real(buf, starts, ends)

    monkeypatch.setattr(pseudo, "encoded_event_numbers", slow)
    answers = {}

    def trace(event_id):
        answers[event_id] = fetch(env, "lixia_analyst", f"/api/rumours/xp-1/events/{pev(env, event_id)}/trace")

    lookups = [threading.Thread(target=trace, args=(e,)) for e in ("xp-1-e12", "xp-1-e0")]
    lookups[0].start()
    try:
        assert hashing.wait(30)
        lookups[1].start()
        began = time.monotonic()
        for path in ("/api/rumours", "/api/rumours/xp-1", "/api/rumours/xp-1/tree?limit=10",
                     "/api/rumours/xp-1/trace?k=10"):
            assert fetch(env, "lixia_analyst", path)[0] == 200, path
        waited = time.monotonic() - began
        assert not answers and not hashed  # both lookups still pending meanwhile
    finally:
        release.set()
        for t in lookups:
            t.join(60)
    assert waited < 10
    for event_id in ("xp-1-e12", "xp-1-e0"):
        status, _, body = answers[event_id]
        assert status == 200 and orjson.loads(body)["scope"]["id"] == pev(env, event_id), body
    with service.pipeline.lock:
        assert hashed == [service.pipeline.query_graph("xp-1").n_nodes]


def test_an_event_id_in_clear_from_a_role_without_clear_identities_is_refused(env):
    # 403 whether or not the event exists: no answer tells anything about a guessed post id.
    answers = {}
    for event_id in ("xp-1-e0", "xp-1-e99"):
        status, _, body = fetch(env, "lixia_analyst", f"/api/rumours/xp-1/events/{event_id}/trace")
        answers[event_id] = body
        assert status == 403 and pev(env, event_id).encode() not in body
        assert (last_audit(env)["status"], last_audit(env)["action"]) == (403, "trace_event")
    assert answers["xp-1-e0"] == answers["xp-1-e99"]
    status, _, body = fetch(env, "lixia_analyst", "/api/rumours/xp-1/events/pev_0123456789abcdef/trace")
    assert status == 404 and b"pev_0123456789abcdef" in body


def test_an_event_id_in_clear_of_a_hidden_account_is_an_unknown_event_to_a_liaison(env):
    status, headers, unknown = fetch(env, "lixia", "/api/rumours/xp-1/events/xp-1-e99/trace")
    assert status == 404 and last_audit(env)["status"] == 404
    for event_id, account in [("xp-1-e0", "bj-origin"), ("xp-1-e10", "nr-kid"), ("xp-1-e4", "hd-sharer")]:
        assert account not in UNDER_JURISDICTION["lixia"][0]
        s, h, body = fetch(env, "lixia", f"/api/rumours/xp-1/events/{event_id}/trace")
        assert (s, body) == (404, unknown.replace(b"xp-1-e99", event_id.encode())), event_id
        assert h["Content-Type"] == headers["Content-Type"]
        row = last_audit(env)  # the refusal is on record, with the real id
        assert (row["status"], orjson.loads(row["params"])["event_id"]) == (403, event_id)
        # its pseudonym still traces it, and the answer names it so
        got = orjson.loads(ok(env, "lixia", f"/api/rumours/xp-1/events/{pev(env, event_id)}/trace"))
        assert got["scope"]["id"] == got["chains"][0]["hops"][0]["event_id"] == pev(env, event_id)
    # an event of an account in clear is traced by its id in clear, as before
    got = orjson.loads(ok(env, "lixia", "/api/rumours/xp-1/events/xp-1-e3/trace"))
    assert [h["event_id"] for h in got["chains"][0]["hops"]][:2] == ["xp-1-e3", "xp-1-e1"]
    assert got["scope"]["id"] == "xp-1-e3"
    # the province sees Huangdao's sharer: its event in clear
    assert ok(env, "province", "/api/rumours/xp-1/events/xp-1-e4/trace")
    for who in ("national", "jinan_admin"):
        assert ok(env, who, "/api/rumours/xp-1/events/xp-1-e0/trace")


@pytest.mark.parametrize("who", ["lixia", "jinan", "province", "national", "jinan_admin"])
def test_the_evidence_package_hides_the_events_and_verifies(env, who, tmp_path):
    clear, _ = UNDER_JURISDICTION[who]
    hidden = ACCOUNTS - clear
    status, headers, data = fetch(env, who, f"/api/rumours/xp-1/evidence?case=C-{who}&k=10", case=None)
    assert status == 200, data
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    assert set(members) == {"evidence.json", "chain.csv", "report.html", "manifest.json"}
    for name, body in members.items():
        assert not leaks(body, hidden), (who, name, leaks(body, hidden))
    trace = orjson.loads(members["evidence.json"])["trace"]
    hops = [h for c in trace["chains"] for h in c["hops"]]
    assert hops and any(h["event_id"].startswith("pev_") for h in hops) == bool(hidden)
    rows = list(csv.DictReader(io.StringIO(members["chain.csv"].decode("utf-8-sig"))))
    assert [r["event_id"] for r in rows] == [h["event_id"] for h in hops]
    html = members["report.html"].decode()
    assert all(f">{h['event_id']}<" in html for h in hops)
    assert ("pev_" in html) == bool(hidden)
    path = tmp_path / "p.zip"
    path.write_bytes(data)
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        code = evidence_main(["verify", str(path), "--tokens-file", str(env["tokens_path"]),
                              "--digest", last_audit(env)["answer_sha256"]])
    assert code == 0 and headers["X-Evidence-Digest"] == last_audit(env)["answer_sha256"]


def test_event_pseudonyms_are_their_own_domain(env):
    p = env["service"].pseudo
    assert p.event("xp-1-e0") != p("xp-1-e0") and p.event("bj-origin")[4:] != p("bj-origin")[4:]
    # a pseudonym of an account is no event pseudonym: the event route does not take it
    status, _, _ = fetch(env, "lixia_analyst", f"/api/rumours/xp-1/events/{p('bj-origin')}/trace")
    assert status == 403
