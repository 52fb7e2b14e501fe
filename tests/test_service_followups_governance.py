"""Follow-ups of the session-8 review on the governance routes (each failed before its fix).
Shares the module server of tests/test_service_governance.py."""
from __future__ import annotations

import orjson
import pytest

import tests.test_service_governance
from tests.test_service_governance import MATRIX, call

# The module-scoped server fixture of tests/test_service_governance.py (this module gets a server
# of its own).
env = tests.test_service_governance.env

UNKNOWN = "zz-9"  # same length as bj-1


@pytest.mark.parametrize("route", sorted(r for r, m in MATRIX.items() if "{" not in m[1] and m[4]))
def test_a_rumour_outside_the_jurisdiction_looks_unknown(env, route):
    method, path, body, _, _, _ = MATRIX[route]
    token = env["tok"]["admin"]  # 370000: bj-1 lies outside, zz-9 does not exist
    outside = call(env, method, path.replace("jn-1", "bj-1"), token, body)
    unknown = call(env, method, path.replace("jn-1", UNKNOWN), token, body)
    assert outside[0] == unknown[0] == 404
    assert outside[1].replace(b"bj-1", UNKNOWN.encode()) == unknown[1]
    assert orjson.loads(outside[1]) == {"error": "unknown rumour 'bj-1'", "status": 404, "code": "unknown_rumour"}
    if route == "status_set":  # the one audited governance route keeps the refusal
        rows = env["store"].audit_rows(limit=2)
        assert [(r["rumour_id"], r["status"]) for r in rows] == [(UNKNOWN, 404), ("bj-1", 403)]


def test_duplicate_of_names_only_a_report_the_caller_may_see(env):
    from tests.test_service_governance import post

    url, tok = env["url"] + "/api/reports", env["tok"]
    text = "北京 朝阳 谣言 followup duplicate check 4"
    # Beijing's desk takes the first report of a Beijing rumour
    status, body = post(url, tok["bj_analyst"], {"reporter": "bj-citizen", "post_id": "bj-1-e1", "text": text})
    first = orjson.loads(body)
    assert status == 201 and first["rumour_id"] == "bj-1"
    # a Shandong desk reports the same thing: merged, but neither Beijing's report id nor the
    # merge itself is told (session 9: answered as a new report, see test_service_desk_leaks)
    status, body = post(url, tok["analyst"], {"reporter": "sd-citizen", "text": text})
    dup = orjson.loads(body)
    assert status == 201, dup
    assert dup["duplicate_of"] is None and "duplicate" not in dup
    assert first["report_id"].encode() not in body and dup["rumour_id"] is None
    hub_copy = env["hub"].desk.reports[dup["report_id"]]
    assert hub_copy["duplicate_of"] == first["report_id"]  # the merge itself is unchanged
    # a desk whose jurisdiction covers the rumour may see the first report: it is named
    status, body = post(url, tok["national"], {"reporter": "n-citizen", "text": text})
    assert status == 200 and orjson.loads(body)["duplicate_of"] == first["report_id"]
    # and so is the desk's own earlier report, even for a rumour outside its jurisdiction
    status, body = post(url, tok["analyst"], {"reporter": "sd-citizen-2", "text": "山东 own text 4 " * 3})
    own = orjson.loads(body)
    status, body = post(url, tok["analyst"], {"reporter": "sd-citizen-3", "text": "山东 own text 4 " * 3})
    assert status == 200 and orjson.loads(body)["duplicate_of"] == own["report_id"]
