"""Follow-ups of the session-8 review (one test per item; each failed before its fix). Shares
the module server of tests/test_service.py."""
from __future__ import annotations

import orjson
import pytest

from streams.service.routes import ROUTES
from tests.service_helpers import get
import tests.test_service
from tests.test_service import PROTECTED

# The module-scoped server fixture of tests/test_service.py (this module gets a server of its own).
env = tests.test_service.env

# Same length as "bj-1" so that the two answers can be compared byte for byte after the id.
UNKNOWN = "zz-9"
_HEADERS_THAT_VARY = {"Date"}


def _answer(env, path, token, case="C-X1"):
    status, headers, body = get(env["url"] + path, token, case=case)
    return status, {k: v for k, v in headers.items() if k not in _HEADERS_THAT_VARY}, body


@pytest.mark.parametrize("route", sorted(r.name for r in ROUTES if r.rumour_scoped and not r.governance))
def test_a_rumour_outside_the_jurisdiction_looks_unknown(env, route):
    # liaison (370000) may not see bj-1 (Beijing); zz-9 does not exist at all
    tok, store = env["tok"], env["store"]
    outside = PROTECTED[route].replace("jn-1", "bj-1")
    unknown = PROTECTED[route].replace("jn-1", UNKNOWN)
    a = _answer(env, outside, tok["liaison"])
    row_outside = store.audit_rows(limit=1)[0]
    b = _answer(env, unknown, tok["liaison"])
    row_unknown = store.audit_rows(limit=1)[0]
    assert a[0] == b[0] == 404, (a, b)
    assert a[1] == b[1]
    assert a[2].replace(b"bj-1", UNKNOWN.encode()) == b[2]
    assert orjson.loads(a[2]) == {"error": "unknown rumour 'bj-1'", "status": 404, "code": "unknown_rumour"}
    if next(r for r in ROUTES if r.name == route).audited:
        # the audit log still tells the two apart: a refusal (403) and an unknown rumour (404)
        assert (row_outside["rumour_id"], row_outside["status"]) == ("bj-1", 403)
        assert (row_unknown["rumour_id"], row_unknown["status"]) == (UNKNOWN, 404)


def _head(url, token, case="C-9"):
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, method="HEAD",
                                 headers={"Authorization": f"Bearer {token}", "X-Case-Id": case})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


# (the governance routes need a hub: GET /api/reports/unlinked in tests/test_report_link_by_hand.py)
@pytest.mark.parametrize("route", sorted(r.name for r in ROUTES if r.audited and r.method == "GET" and not r.governance))
def test_head_on_an_audited_route_is_refused_and_not_audited(env, route):
    # A HEAD gets no body: auditing it as an export (or trace) would record an answer that
    # never left. It is refused before the token is read, so no row is written.
    # The refusal counts are the national admin's alone (another admin gets 403).
    token = env["tok"]["national" if route == "audit_refusals" else "admin"]
    before = len(env["store"].audit_rows(limit=100_000))
    status, headers = _head(env["url"] + PROTECTED[route], token)
    assert status == 405
    assert headers["Allow"] == "GET"
    assert "X-Evidence-Digest" not in headers
    assert len(env["store"].audit_rows(limit=100_000)) == before
    # GET still works, and a HEAD on a route that is not audited still answers
    assert get(env["url"] + PROTECTED[route], token, case="C-9")[0] == 200
    assert _head(env["url"] + "/api/rumours/jn-1", token)[0] == 200


def test_metrics_need_a_monitor_or_admin_token(env, tmp_path):
    # /metrics counts evidence exports and traces per status: not for anonymous callers, nor for
    # analysts and liaison officers. Prometheus scrapes it with a token of the "monitor" role,
    # which may do nothing else (an admin token in a scrape config would export evidence).
    from streams.service.tokens import TokenStore

    url, tok = env["url"] + "/metrics", env["tok"]
    monitor = TokenStore(env["tokens_path"]).issue("monitor", "000000", "prometheus")[0]
    assert get(url)[0] == 401
    for who in ("analyst", "liaison"):
        assert get(url, tok[who])[0] == 403, who
    for token in (monitor, tok["admin"]):
        status, headers, body = get(url, token)
        assert status == 200 and b'rumour_http_requests_total{route="metrics",status="401"}' in body
        assert headers["Cache-Control"] == "no-store"
    # a monitor token reads nothing else
    for path in ("/api/me", "/api/rumours", "/api/rumours/jn-1", "/api/rumours/jn-1/trace", "/api/audit"):
        assert get(env["url"] + path, monitor, case="C-M1")[0] == 403, path


def test_an_unknown_rumour_is_answered_without_the_region_aggregation(env, monkeypatch):
    from tests.service_helpers import cascades

    views, store = env["service"].views, env["store"]
    calls = []
    real = store.rumour_region_counts
    monkeypatch.setattr(store, "rumour_region_counts", lambda *a, **k: calls.append(a) or real(*a, **k))
    views._summary = None  # as after the cache lapsed
    status, _, body = get(env["url"] + f"/api/rumours/{UNKNOWN}/trace", env["tok"]["liaison"], case="C-U1")
    assert status == 404 and calls == []
    # a known rumour's regions are those of its shares (by hand from the cascades), still
    # without the aggregation over every rumour
    expected = {e["region"] for e in cascades() if e["rumour_id"] == "jn-1"}
    assert views.regions_of("jn-1") == expected and calls == []
    assert get(env["url"] + "/api/rumours/jn-1/trace", env["tok"]["lixia"], case="C-U2")[0] == 200
    assert get(env["url"] + "/api/rumours/qd-1/trace", env["tok"]["lixia"], case="C-U3")[0] == 404
    assert calls == []


class _CountingPseudonymiser:
    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def __call__(self, account):
        self.calls += 1
        return self.inner(account)

    def number(self, account):
        self.calls += 1
        return self.inner.number(account)

    def looks_like(self, value):
        return self.inner.looks_like(value)


class _Graph:
    def __init__(self, n):
        self.n_events = n


def test_a_pseudonym_lookup_hashes_the_rumours_accounts_once_per_version():
    from streams.service.pseudonym import Pseudonymiser
    from streams.service.views import Views

    class Store:
        def __init__(self):
            self.accounts, self.reads = [f"acct-{i}" for i in range(50)], 0

        def rumour_accounts(self, rumour_id):
            self.reads += 1
            return list(self.accounts) if rumour_id == "r1" else []

    class Pipeline:
        graphs = {"r1": _Graph(50)}

        def track_interactions(self):  # what Views asks of a pipeline (for ?parents=1)
            return None

    p = _CountingPseudonymiser(Pseudonymiser(b"s" * 32))
    store = Store()
    views = Views(Pipeline(), store, p)
    # same answers as hashing every account (the former linear search)
    for a in ("acct-0", "acct-17", "acct-49"):
        assert views.account_for("r1", p.inner(a)) == a
    assert views.account_for("r1", "acct-3") == "acct-3"  # a clear id is taken as it is
    assert p.calls == 50 and store.reads == 1  # one map for the three lookups
    # the rumour grows: the map is rebuilt once and knows the new account
    store.accounts.append("acct-new")
    Pipeline.graphs["r1"] = _Graph(51)
    assert views.account_for("r1", p.inner("acct-new")) == "acct-new"
    assert views.account_for("r1", p.inner("acct-1")) == "acct-1"
    assert p.calls == 50 + 51 and store.reads == 2
    # an unknown pseudonym rereads at most once per reread period, not on every request
    for _ in range(5):
        assert views.account_for("r1", p.inner("nobody")) is None
    assert store.reads == 2
    views.accounts.reread_seconds = 0.0  # the period has passed: one reread finds an account the store gained
    store.accounts.append("acct-late")
    assert views.account_for("r1", p.inner("acct-late")) == "acct-late" and store.reads == 3
    # every account, and a pseudonym of none, as the linear search over the accounts answers
    def linear(pseudonym):
        return next((a for a in store.accounts if p.inner(a) == pseudonym), None)

    for a in store.accounts + ["stranger"]:
        assert views.account_for("r1", p.inner(a)) == linear(p.inner(a))
