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
