"""The README says what every figure of the analyst's routes means: each key of the answers of
the list, the dashboard data, the tree and the debunk figures is named in its section "What the
analyst figures mean". Asks the module server of tests/test_service_governance.py (chDB store,
the hand-made cascades, a debunk of jn-1)."""
from __future__ import annotations

import re
from pathlib import Path

import orjson

import tests.test_service_governance
from tests.service_helpers import get

env = tests.test_service_governance.env

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
SECTION = README.split("### What the analyst figures mean", 1)[-1].split("\n## ", 1)[0]
ROUTES = ["/api/rumours", "/api/rumours/jn-1", "/api/rumours/jn-1/tree", "/api/rumours/jn-1/debunk"]


def _keys(value, out: set) -> set:
    """Every dict key in ``value``, except the keys that are data (division codes of
    ``by_city`` and ``region_names``)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not re.fullmatch(r"\d{6}", k):
                out.add(k)
            _keys(v, out)
    elif isinstance(value, list):
        for v in value:
            _keys(v, out)
    return out


def test_every_key_of_the_analyst_answers_is_explained_in_the_readme(env):
    assert "### What the analyst figures mean" in README
    for path in ROUTES:
        status, _, body = get(env["url"] + path, env["tok"]["national"])
        assert status == 200, (path, body)
        keys = _keys(orjson.loads(body), set())
        assert {"size", "rumour_id"} & keys  # the answer is the route's, not an error
        missing = sorted(k for k in keys if f"`{k}`" not in SECTION and k != "rumour_id")
        assert not missing, f"{path}: README does not explain {missing}"
