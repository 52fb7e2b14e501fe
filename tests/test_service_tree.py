"""The dashboard's cascade tree on the cascades an analyst meets beyond the usual: a reshare chain
far deeper than the tree can nest, and a rumour known only by its debunks. One server (chDB
store) for the module."""
from __future__ import annotations

import orjson
import pytest

from streams.service.tree_depth import MAX_TREE_DEPTH
from tests.service_helpers import _ev, get, served_events

CHAIN = 300  # reposts of reposts: the JSON encoder refused a tree nested ~127 events deep


def _events() -> list[dict]:
    ev = [_ev("deep-1", 0, "u0", 0, region="370102")]
    ev += [_ev("deep-1", i, f"u{i}", i, i - 1, f"u{i - 1}", region="370102") for i in range(1, CHAIN)]
    ev += [_ev("db-1", 0, "police", 0, region="370102", kind="debunk"),
           _ev("db-1", 1, "media", 1, 0, "police", region="370102", kind="debunk")]
    return ev


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from streams.service.tokens import TokenStore

    tokens_path = tmp_path_factory.mktemp("tokens") / "tokens.json"
    with served_events(_events(), tokens_path, batch_size=100) as (_, _, server):
        ts = TokenStore(tokens_path)
        yield {"url": server.url, "tok": {"analyst": ts.issue("analyst", "370000", "analyst")[0],
                                          "national": ts.issue("admin", "000000", "national")[0]}}


def _path_lengths(roots: list[dict]) -> list[int]:
    """Events on each root-to-leaf path of the answer (iteratively: the tree may be deep)."""
    out, stack = [], [(r, 1) for r in roots]
    while stack:
        node, depth = stack.pop()
        if node["children"]:
            stack.extend((c, depth + 1) for c in node["children"])
        else:
            out.append(depth)
    return out


@pytest.mark.parametrize("limit", [150, 1000])  # the dashboard asks for 150
def test_a_deep_chain_is_cut_at_the_depth_bound(env, limit):
    status, _, body = get(env["url"] + f"/api/rumours/deep-1/tree?limit={limit}", env["tok"]["analyst"])
    assert status == 200, body
    tree = orjson.loads(body)
    assert tree["events"] == CHAIN
    assert tree["depth"] == CHAIN - 1  # the whole cascade's, beyond what the answer shows
    lengths = _path_lengths(tree["roots"])
    assert lengths == [min(limit, MAX_TREE_DEPTH)]
    assert tree["shown"] == lengths[0]
    last = tree["roots"][0]
    while last["children"]:
        last = last["children"][0]
    # the node where the path stops counts what is under it
    assert last["more"] == last["size"] - 1 == CHAIN - lengths[0]


def test_a_rumour_with_only_debunks_has_an_empty_tree_and_says_why_it_has_no_trace(env):
    # Only a 000000 desk sees it (README): its list holds it, so "unknown db-1" contradicted it.
    url, national = env["url"], env["tok"]["national"]
    listed = orjson.loads(get(url + "/api/rumours", national)[2])["rumours"]
    assert any(r["rumour_id"] == "db-1" and r["size"] == 0 and r["debunk_size"] == 2 for r in listed)
    status, _, body = get(url + "/api/rumours/db-1/tree", national)
    assert status == 200, body
    assert orjson.loads(body) == {"rumour_id": "db-1", "events": 0, "depth": 0, "shown": 0, "roots": [], "cutoff": []}
    status, _, body = get(url + "/api/rumours/db-1/trace", national, case="C-1")
    assert status == 404
    assert orjson.loads(body)["error"].startswith("rumour 'db-1' has only debunks")
    # below 000000 it spread nowhere: answered exactly as a rumour that does not exist
    for path in ("/api/rumours/db-1/tree", "/api/rumours/none-1/tree"):
        status, _, body = get(url + path, env["tok"]["analyst"])
        assert status == 404 and orjson.loads(body)["error"] == f"unknown rumour {path.split('/')[3]!r}"
