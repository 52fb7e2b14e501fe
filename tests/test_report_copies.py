"""One post is often posted again as a rumour of its own elsewhere (the walk's real Weibo data:
the same "how to tell gutter oil" post from Guangzhou and, 35 minutes later, from Beijing
Chaoyang). A desk's report of that text links to the copy its jurisdiction covers, not to the
copy with the smaller id, which its desk cannot see (the report was answered routed upward and
Chaoyang's rumour showed no report), and the same text from the other desk is not merged into
the first desk's report of the other copy."""
from __future__ import annotations

import orjson
import pytest

from tests.service_helpers import ThreadServer, _ev, governed_service
from tests.test_service_governance import post

TEXT = "【怎么鉴定地沟油】炒菜时放一颗剥皮的蒜头，蒜子对黄曲霉素最敏感。如果蒜子变红色就是地沟油，含有大量黄曲霉素。"
EVENTS = [_ev("a-gz", 0, "g0", 0, region="440106", text=TEXT), _ev("a-gz", 1, "g1", 1, 0, "g0", region="440106"),
          _ev("b-cy", 0, "c0", 35, region="110105", text=TEXT), _ev("b-cy", 1, "c1", 36, 0, "c0", region="110105"),
          _ev("c-jn", 0, "j0", 40, region="370102", text="济南明天全城停水检修的通知，请大家提前储水。")]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from streams.service.tokens import TokenStore
    from streams.store.embedded import ChdbStore
    from tests.plugins.clickhouse import fresh_database

    tokens_path = tmp_path_factory.mktemp("tokens") / "tokens.json"
    store = ChdbStore("chdb://", database=fresh_database())
    store.migrate()
    _pipeline, _hub, service = governed_service(store, EVENTS, tokens_path, 100)
    server = ThreadServer(service.application())
    ts = TokenStore(tokens_path)
    tok = {name: ts.issue("analyst", code, name)[0]
           for name, code in [("chaoyang", "110105"), ("guangzhou", "440100"), ("jinan", "370102"),
                              ("national", "000000")]}
    yield {"url": server.url, "tok": tok}
    server.close()
    store.drop()
    store.close()


def _submit(env, who, n, text=TEXT):
    status, raw = post(env["url"] + "/api/reports", env["tok"][who],
                       {"reporter": f"{who} citizen {n}", "text": text, "report_id": f"{who}-{n}"})
    assert status in (200, 201), raw
    return status, orjson.loads(raw)


def _report(env, who, n, text=TEXT):
    answer = _submit(env, who, n, text)[1]
    return answer["rumour_id"], answer["routed_upward"]


def test_each_desk_links_the_copy_it_covers(env):
    status, first = _submit(env, "chaoyang", 1)
    assert (status, first["rumour_id"], first["routed_upward"]) == (201, "b-cy", False)
    # the same text from Guangzhou a moment later: not merged into Chaoyang's report of b-cy
    assert _report(env, "guangzhou", 1, TEXT + "请转发") == ("a-gz", False)
    # Chaoyang again, in Guangzhou's words: merged into its own report of b-cy, although
    # Guangzhou's is the more similar one
    status, again = _submit(env, "chaoyang", 2, TEXT + "请转发")
    assert (status, again["rumour_id"], again["duplicate_of"]) == (200, "b-cy", first["report_id"])
    # a national desk covers both: merged into either desk's report, it names that one's copy
    rumour, upward = _report(env, "national", 1, TEXT + "！请转发")
    assert rumour in ("a-gz", "b-cy") and not upward


def test_a_desk_covering_no_copy_is_routed_upward(env):
    assert _report(env, "jinan", 1, TEXT + "？") == (None, True)
