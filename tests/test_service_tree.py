"""The dashboard's cascade tree on the cascades an analyst meets beyond the usual: a reshare chain
far deeper than the tree can nest, a wide cascade past the tree's limit, both expanded a node at
a time (``?under=``), and a rumour known only by its debunks. One server (chDB store) for the
module."""
from __future__ import annotations

import random
import urllib.parse

import orjson
import pytest

from streams.service.tree_depth import MAX_TREE_DEPTH
from tests.service_helpers import _ev, get, served_events

CHAIN = 300  # reposts of reposts: the JSON encoder refused a tree nested ~127 events deep
WIDE = 600  # shares of one rumour, each of an earlier one (early ones more often)
PH_DIRECT, PH_DEEP = 30, 10  # ph-1: shares of a missing post by account only, shares of the first


def _events() -> list[dict]:
    ev = [_ev("deep-1", 0, "u0", 0, region="370102")]
    ev += [_ev("deep-1", i, f"u{i}", i, i - 1, f"u{i - 1}", region="370102") for i in range(1, CHAIN)]
    ev += [_ev("db-1", 0, "police", 0, region="370102", kind="debunk"),
           _ev("db-1", 1, "media", 1, 0, "police", region="370102", kind="debunk")]
    rng = random.Random(7)
    ev += [_ev("wide-1", 0, "w0", 0, region="370102")]
    for i in range(1, WIDE):
        parent = int(i * rng.random() ** 2)
        ev.append(_ev("wide-1", i, f"w{i}", i, parent, f"w{parent}", region="370102"))
    ev += [_ev("bj-1", 0, "b0", 0, region="110105"), _ev("bj-1", 1, "b1", 1, 0, "b0", region="110105")]
    # The origin post is missing and its shares name only its account: a node with no event id.
    ev += [_ev("ph-1", 0, "other", 0, region="370102")]
    ev += [_ev("ph-1", i, f"p{i}", i, None, "lost", region="370102", kind="share") for i in range(1, PH_DIRECT + 1)]
    ev += [_ev("ph-1", PH_DIRECT + i, f"q{i}", PH_DIRECT + i, 1, "p1", region="370102") for i in range(1, PH_DEEP + 1)]
    return ev


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from streams.service.tokens import TokenStore

    from streams.service.paths import PSEUDONYM_KEY, key_file, load_or_create_key
    from streams.service.pseudonym import Pseudonymiser

    tokens_path = tmp_path_factory.mktemp("tokens") / "tokens.json"
    with served_events(_events(), tokens_path, batch_size=100) as (_, _, server):
        ts = TokenStore(tokens_path)
        # The service's key, in a pseudonymiser of the test's own: naming an event here does
        # not put it in the service's memo of events it named (its lookups stay its own).
        pseudo = Pseudonymiser(load_or_create_key(key_file(tokens_path, PSEUDONYM_KEY)))
        yield {"url": server.url, "pseudo": pseudo,
               "tok": {"analyst": ts.issue("analyst", "370000", "analyst")[0],
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


# -- a node expanded: ?under= --------------------------------------------------------------
def _tree(env, rumour: str, token: str = "analyst", **query) -> tuple[int, dict]:
    qs = urllib.parse.urlencode(query)
    status, _, body = get(env["url"] + f"/api/rumours/{rumour}/tree" + (f"?{qs}" if qs else ""), env["tok"][token])
    return status, orjson.loads(body)


def _nodes(roots: list[dict]) -> list[dict]:
    out, stack = [], list(roots)
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node["children"])
    return out


def test_a_deep_chain_is_followed_past_the_depth_bound_a_node_at_a_time(env):
    pseudo = env["pseudo"]
    status, tree = _tree(env, "deep-1", limit=150)
    assert status == 200
    seen = {n["event_id"] for n in _nodes(tree["roots"])}
    last = tree["roots"][0]
    while last["children"]:
        last = last["children"][0]
    steps = 0
    while last["more"]:  # what the dashboard does on a click on that node
        under = last["event_id"]
        top = [pseudo.event(f"deep-1-e{i}") for i in range(CHAIN)].index(under)
        status, sub = _tree(env, "deep-1", limit=150, under=under)
        assert status == 200, sub
        assert sub["under"] == under and sub["events"] == CHAIN
        assert sub["depth"] == CHAIN - 1 - top  # the subtree's, beyond what it shows
        above = [pseudo.event(f"deep-1-e{i}") for i in range(top + 1)]  # the origin down to it
        if len(above) > MAX_TREE_DEPTH:  # the origin and the last ones, the count of the others
            above = above[:1] + above[len(above) - MAX_TREE_DEPTH + 1:]
        assert [n["event_id"] for n in sub["path"]] == above
        assert sub["path_omitted"] == top + 1 - len(above)
        assert sub["path"][0]["origin"] and not any(n["origin"] for n in sub["path"][1:])
        assert [r["event_id"] for r in sub["roots"]] == [under] and not sub["roots"][0]["origin"]
        lengths = _path_lengths(sub["roots"])
        assert lengths == [min(CHAIN - top, MAX_TREE_DEPTH)] and sub["shown"] == lengths[0]
        last = sub["roots"][0]
        while last["children"]:
            last = last["children"][0]
        assert last["more"] == last["size"] - 1 == CHAIN - top - lengths[0]
        seen |= {n["event_id"] for n in _nodes(sub["roots"])}
        steps += 1
    assert steps == 3  # each answer shows its top again: 100 + 99 + 99 + 2 events, in four answers
    assert sub["path_omitted"] == 297 + 1 - MAX_TREE_DEPTH  # the last one asked was 297 deep
    assert seen == {pseudo.event(f"deep-1-e{i}") for i in range(CHAIN)}


def _wide_oracle() -> dict:
    """Children, subtree sizes and depth below each event of wide-1, in plain Python (every
    parent precedes its child in the events)."""
    events = [e for e in _events() if e["rumour_id"] == "wide-1"]
    kids = {e["event_id"]: [] for e in events}
    for e in events:
        if e["parent_event_id"]:
            kids[e["parent_event_id"]].append(e["event_id"])
    size, below = {}, {}
    for e in reversed(events):
        k = kids[e["event_id"]]
        size[e["event_id"]] = 1 + sum(size[c] for c in k)
        below[e["event_id"]] = 1 + max(below[c] for c in k) if k else 0
    return {"events": events, "kids": kids, "size": size, "below": below,
            "parent": {e["event_id"]: e["parent_event_id"] for e in events},
            "ts": {e["event_id"]: e["ts"] for e in events}}


def _under_wide(oracle) -> tuple[str, list]:
    """The largest subtree below the root's own children (so it has a path above it), and its
    subtree's events."""
    child = max(oracle["kids"]["wide-1-e0"], key=lambda e: oracle["size"][e])
    top = max(oracle["kids"][child], key=lambda e: oracle["size"][e])
    inside, stack = [], [top]
    while stack:
        e = stack.pop()
        inside.append(e)
        stack.extend(oracle["kids"][e])
    return top, inside


def test_a_wide_cascade_under_an_event_shows_its_largest_subtrees(env):
    oracle, pseudo = _wide_oracle(), env["pseudo"]
    top, inside = _under_wide(oracle)
    assert len(inside) > 40  # more than the limit below
    name = {pseudo.event(e): e for e in inside}
    status, sub = _tree(env, "wide-1", limit=20, under=pseudo.event(top))
    assert status == 200, sub
    assert sub["depth"] == oracle["below"][top]
    path = [top]
    while oracle["parent"][path[0]]:
        path.insert(0, oracle["parent"][path[0]])
    assert [n["event_id"] for n in sub["path"]] == [pseudo.event(e) for e in path]
    assert [n["size"] for n in sub["path"]] == [oracle["size"][e] for e in path] and sub["path_omitted"] == 0
    shown = _nodes(sub["roots"])
    assert [r["event_id"] for r in sub["roots"]] == [pseudo.event(top)]
    assert all(n["event_id"] in name for n in shown)  # nothing from outside the subtree
    assert 20 <= sub["shown"] == len(shown) < len(inside)
    for n in shown:
        e = name[n["event_id"]]
        assert n["size"] == oracle["size"][e]
        assert {name[c["event_id"]] for c in n["children"]} <= set(oracle["kids"][e])
        assert n["more"] == n["size"] - 1 - sum(c["size"] for c in n["children"])
        assert n["name"] == pseudo(f"w{e.rsplit('-e', 1)[1]}")
    # the largest subtrees: none left out is larger than the smallest picked
    left_out = set(inside) - {name[n["event_id"]] for n in shown}
    assert max(oracle["size"][e] for e in left_out) <= min(n["size"] for n in shown)


def test_a_wide_subtree_within_the_limit_is_the_whole_subtree(env):
    oracle, pseudo = _wide_oracle(), env["pseudo"]
    top, inside = _under_wide(oracle)
    status, sub = _tree(env, "wide-1", limit=1000, under=pseudo.event(top))
    assert status == 200, sub
    cut = {c["account_id"] for c in sub["cutoff"]}

    def want(e):
        kids = sorted(oracle["kids"][e], key=lambda c: (-oracle["size"][c], oracle["ts"][c], pseudo.event(c)))
        account = f"w{e.rsplit('-e', 1)[1]}"
        return (pseudo.event(e), pseudo(account), oracle["size"][e], 0, pseudo(account) in cut,
                [want(c) for c in kids])

    def got(n):
        return (n["event_id"], n["name"], n["size"], n["more"], n["cutoff"], [got(c) for c in n["children"]])

    assert [got(r) for r in sub["roots"]] == [want(top)]
    assert sub["shown"] == len(inside)


@pytest.mark.parametrize("token", ["analyst", "national"])
def test_a_subtree_shows_pseudonyms_only_whatever_the_role(env, token):
    oracle, pseudo = _wide_oracle(), env["pseudo"]
    top, _ = _under_wide(oracle)
    status, _, body = get(env["url"] + f"/api/rumours/wide-1/tree?under={pseudo.event(top)}", env["tok"][token])
    assert status == 200
    sub = orjson.loads(body)
    assert b"wide-1-e" not in body and b'"w1' not in body
    for n in _nodes(sub["roots"]) + sub["path"]:
        assert n["name"].startswith("psn_") and n["event_id"].startswith("pev_")


def test_an_unknown_hidden_or_foreign_event_is_answered_as_unknown(env):
    pseudo = env["pseudo"]
    for token in ("analyst", "national"):
        for given in ("deep-1-e5",  # an id in clear: the tree names events by pseudonym only
                      pseudo.event("wide-1-e3"),  # another rumour's event
                      "pev_" + "0" * 16):
            status, body = _tree(env, "deep-1", token, under=given)
            assert (status, body) == (404, {"error": f"unknown event {given!r}", "status": 404, "code": "unknown_event"})
    # the tree of a rumour with only debunks has no event under which to look
    status, body = _tree(env, "db-1", "national", under=pseudo.event("db-1-e0"))
    assert (status, body) == (404, {"error": f"unknown event {pseudo.event('db-1-e0')!r}", "status": 404,
                                     "code": "unknown_event"})


def test_another_jurisdictions_rumour_is_unknown_with_or_without_under(env):
    pseudo = env["pseudo"]
    status, body = _tree(env, "bj-1", under=pseudo.event("bj-1-e0"))
    assert (status, body) == (404, {"error": "unknown rumour 'bj-1'", "status": 404, "code": "unknown_rumour"})
    assert _tree(env, "none-1", under=pseudo.event("bj-1-e0")) == (
        404, {"error": "unknown rumour 'none-1'", "status": 404, "code": "unknown_rumour"})
    status, body = _tree(env, "bj-1", "national", under=pseudo.event("bj-1-e0"))
    assert status == 200 and body["roots"][0]["event_id"] == pseudo.event("bj-1-e0")


@pytest.mark.parametrize("query", ["under=a&under=b", "undr=pev_0000000000000000", "under=" + "x" * 300, "under="])
def test_a_bad_under_parameter_is_refused(env, query):
    status, _, body = get(env["url"] + f"/api/rumours/deep-1/tree?{query}", env["tok"]["analyst"])
    assert status == 400, body


def test_the_openapi_description_names_under(env):
    status, _, body = get(env["url"] + "/openapi.json")
    tree = orjson.loads(body)["paths"]["/api/rumours/{rumour_id}/tree"]["get"]
    assert status == 200 and [p["name"] for p in tree["parameters"] if p["in"] == "query"] == ["limit", "under"]


def test_a_node_without_event_id_is_expanded_by_its_account_pseudonym(env):
    # The placeholder of a missing post whose shares name only its account had no event id to
    # give ?under=, and its "more" read 0 (its size was null) however much was not shown.
    pseudo = env["pseudo"]
    status, whole = _tree(env, "ph-1", limit=8)
    assert status == 200, whole
    (lost,) = [r for r in whole["roots"] if r["event_id"] is None]
    assert lost["name"] == pseudo("lost") and lost["observed"] is False and lost["origin"] is True
    assert lost["size"] == PH_DIRECT + PH_DEEP
    assert lost["more"] == lost["size"] - sum(c["size"] for c in lost["children"]) > 0
    status, sub = _tree(env, "ph-1", limit=1000, under=pseudo("lost"))
    assert status == 200, sub
    assert sub["under"] == pseudo("lost") and sub["path_omitted"] == 0
    assert [(n["event_id"], n["name"], n["size"], n["origin"]) for n in sub["path"]] == \
        [(None, pseudo("lost"), PH_DIRECT + PH_DEEP, True)]
    (top,) = sub["roots"]
    assert (top["event_id"], top["name"], top["size"], top["more"]) == (None, pseudo("lost"), PH_DIRECT + PH_DEEP, 0)
    below = _nodes(top["children"])
    assert sorted(n["event_id"] for n in below) == sorted(pseudo.event(f"ph-1-e{i}")
                                                          for i in range(1, PH_DIRECT + PH_DEEP + 1))
    assert sub["depth"] == 2 and sub["shown"] == len(below) + 1
    assert all(n["more"] == 0 for n in below)
    # Limited, the subtree shows its largest events (the share with shares of its own first).
    status, few = _tree(env, "ph-1", limit=3, under=pseudo("lost"))
    assert status == 200 and few["roots"][0]["children"][0]["event_id"] == pseudo.event("ph-1-e1"), few
    assert few["roots"][0]["more"] > 0
    # An account of the rumour with no placeholder, one of another rumour, or none: unknown event.
    for given in (pseudo("p3"), pseudo("other"), pseudo("w1"), "psn_" + "0" * 16):
        status, body = _tree(env, "ph-1", under=given)
        assert (status, body) == (404, {"error": f"unknown event {given!r}", "status": 404, "code": "unknown_event"}), given
