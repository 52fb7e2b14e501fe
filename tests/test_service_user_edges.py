"""Rough edges a user meets on the HTTP service, each pinned by the request that showed it:
refusals in the one error shape, what the audit row keeps of a refused request, readable times.
Shares the module server of tests/test_service_governance.py (chDB store, the hand-made
cascades, the governance hub)."""
from __future__ import annotations

import orjson

from tests.service_helpers import get
from tests.test_service_governance import env, post  # noqa: F401  (the module's server fixture)


def test_desk_refusals_have_the_one_error_shape(env):  # noqa: F811
    # The report desk and the status workflow refused with {"error"} alone, unlike every other
    # refusal of the API ({"error", "status"}, README "Errors").
    tok = env["tok"]
    refusals = [
        post(env["url"] + "/api/reports", tok["analyst"], {}),
        post(env["url"] + "/api/reports", tok["analyst"], [1]),
        post(env["url"] + "/api/reports", tok["analyst"], {"reporter": "x", "text": "y", "time": "yesterday"}),
        post(env["url"] + "/api/rumours/jn-1/status", tok["admin"], {"status": "bogus"}),
        post(env["url"] + "/api/rumours/jn-1/status", tok["admin"], {"status": "handled", "changed_by": "m"}),
        post(env["url"] + "/api/rumours/jn-1/status", tok["admin"], "x"),
    ]
    for status, body in refusals:
        answer = orjson.loads(body)
        assert status == 400 and set(answer) == {"error", "status"} and answer["status"] == 400, answer
        assert answer["error"]
