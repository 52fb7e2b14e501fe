"""Follow-ups of the session-8 review on the governance routes (each failed before its fix).
Shares the module server of tests/test_service_governance.py."""
from __future__ import annotations

import orjson
import pytest

from tests.test_service_governance import MATRIX, call, env  # noqa: F401  (the module's server)

UNKNOWN = "zz-9"  # same length as bj-1


@pytest.mark.parametrize("route", sorted(r for r, m in MATRIX.items() if "{" not in m[1] and m[4]))
def test_a_rumour_outside_the_jurisdiction_looks_unknown(env, route):  # noqa: F811
    method, path, body, _, _, _ = MATRIX[route]
    token = env["tok"]["admin"]  # 370000: bj-1 lies outside, zz-9 does not exist
    outside = call(env, method, path.replace("jn-1", "bj-1"), token, body)
    unknown = call(env, method, path.replace("jn-1", UNKNOWN), token, body)
    assert outside[0] == unknown[0] == 404
    assert outside[1].replace(b"bj-1", UNKNOWN.encode()) == unknown[1]
    assert orjson.loads(outside[1]) == {"error": "unknown rumour 'bj-1'", "status": 404}
    if route == "status_set":  # the one audited governance route keeps the refusal
        rows = env["store"].audit_rows(limit=2)
        assert [(r["rumour_id"], r["status"]) for r in rows] == [(UNKNOWN, 404), ("bj-1", 403)]
