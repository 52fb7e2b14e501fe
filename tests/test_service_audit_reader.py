"""What an admin below the national level reads in ``GET /api/audit``: its own callers' requests
for rumours outside its jurisdiction must not tell it which of them exist elsewhere (found on
the liaison walk over real data: a Guangdong admin read 403 on a Beijing rumour its Shenzhen
liaison had asked for, and 404 on an id that exists nowhere)."""
from __future__ import annotations

import orjson
import pytest

from tests.service_helpers import cascades, get, served_events


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from streams.service.tokens import TokenStore

    tokens_path = tmp_path_factory.mktemp("tokens") / "tokens.json"
    with served_events(cascades(), tokens_path) as (store, service, server):
        ts = TokenStore(tokens_path)
        tok = {name: ts.issue(role, code, name)[0] for name, role, code in [
            ("liaison", "liaison", "370000"), ("jinan", "liaison", "370100"),
            ("analyst", "analyst", "370000"), ("admin", "admin", "370000"),
            ("national", "admin", "000000")]}
        yield {"url": server.url, "tok": tok}


def audit_of(env, who: str, case: str) -> dict:
    status, _, body = get(f"{env['url']}/api/audit?case={case}", env["tok"][who])
    assert status == 200, body
    return {(r["token_name"], r["rumour_id"]): r for r in orjson.loads(body)["rows"]}


def test_a_provincial_admin_reads_an_outside_rumour_as_unknown(env):
    # bj-1 exists (Beijing), nope does not: the Shandong liaison gets 404 for both.
    for rumour in ("bj-1", "nope"):
        status, _, _ = get(f"{env['url']}/api/rumours/{rumour}/trace", env["tok"]["liaison"], case="PROBE")
        assert status == 404
    rows = audit_of(env, "admin", "PROBE")
    outside, unknown = rows[("liaison", "bj-1")], rows[("liaison", "nope")]
    assert (outside["status"], outside["params"]) == (unknown["status"], unknown["params"]) == (404, "{}")
    # The national admin, who may see bj-1, reads the decision as recorded.
    assert audit_of(env, "national", "PROBE")[("liaison", "bj-1")]["status"] == 403


def test_refusals_inside_the_admins_jurisdiction_stay_403(env):
    # qd-1 (Qingdao) is outside Jinan but inside Shandong: the Shandong admin may know it exists.
    assert get(f"{env['url']}/api/rumours/qd-1/trace", env["tok"]["jinan"], case="INSIDE")[0] == 404
    assert audit_of(env, "admin", "INSIDE")[("jinan", "qd-1")]["status"] == 403


def test_role_refusals_stay_403_whether_or_not_the_rumour_exists(env):
    # An analyst may not export: 403 before any rumour is looked up, so it tells nothing.
    for rumour in ("bj-1", "nope"):
        assert get(f"{env['url']}/api/rumours/{rumour}/evidence?case=ROLE", env["tok"]["analyst"])[0] == 403
    rows = audit_of(env, "admin", "ROLE")
    assert rows[("analyst", "bj-1")]["status"] == rows[("analyst", "nope")]["status"] == 403
