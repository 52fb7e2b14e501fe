"""Case numbers and query parameters at the HTTP service: which routes read a case, what a case
number may hold, and which query parameters a route takes. Shares the module server of
tests/test_service_governance.py (chDB store, the hand-made cascades, the governance hub)."""
from __future__ import annotations

import orjson

from tests.service_helpers import get
from tests.test_service_governance import env  # noqa: F401  (the module's server fixture)


def _last_audit_row(env):  # noqa: F811
    return env["store"].audit_rows(limit=1)[0]


def test_a_route_without_a_case_ignores_the_case_header(env):  # noqa: F811
    # GET /api/audit takes no case, yet an X-Case-Id it does not use was validated (400).
    tok, url = env["tok"], env["url"]
    status, _, body = get(url + "/api/audit?limit=1", tok["national"], case="bad;case")
    assert status == 200, body
    assert _last_audit_row(env)["case_id"] == ""
    # A route a case applies to still refuses an invalid one.
    status, _, body = get(url + "/api/rumours/jn-1/trace", tok["liaison"], case="bad;case")
    assert status == 400 and orjson.loads(body)["error"].startswith("case number:")


def test_a_case_number_may_hold_inner_spaces(env):  # noqa: F811
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


def test_a_case_number_is_trimmed_and_refuses_control_characters(env):  # noqa: F811
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
