"""A desk's unlinked reports (GET /api/reports/unlinked) and linking one by hand
(POST /api/reports/{report_id}/link): who reads which, who may link to what, the refusals, the
audit rows, and the link read back after a restart over the same store (chDB)."""
from __future__ import annotations

import orjson
import pytest

from tests.service_helpers import ThreadServer, get, governed_server, governed_service
from tests.test_service_governance import EVENTS, THRESHOLD, post

# (name, role, jurisdiction). jn-1 spread in 370102 (Lixia) and 370211 (Huangdao); qd-1 in
# 370211 only; bj-1 in Beijing.
TOKENS = [("lixia", "analyst", "370102"), ("huangdao", "analyst", "370211"), ("jinan", "analyst", "370100"),
          ("province", "analyst", "370000"), ("beijing", "analyst", "110000"),
          ("liaison", "liaison", "370000"), ("national", "admin", "000000")]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tokens_path = tmp_path_factory.mktemp("tokens") / "tokens.json"
    with governed_server(tokens_path, EVENTS, THRESHOLD, TOKENS) as env:
        # Three reports that match no rumour: two by Lixia's desk, one by Huangdao's.
        for who, reporter, text, when in [("lixia", "张先生", "菜市场 地沟油 传言 甲", "2025-12-01T01:00:00Z"),
                                          ("lixia", "李女士", "学校 停课 传言 乙", "2025-12-01T02:00:00Z"),
                                          ("huangdao", "赵先生", "码头 封港 传言 丙", "2025-12-01T03:00:00Z")]:
            status, body = post(env["url"] + "/api/reports", env["tok"][who],
                                {"reporter": reporter, "text": text, "time": when})
            answer = orjson.loads(body)
            assert status == 201 and answer["rumour_id"] is None and answer["routed_upward"], answer
            env.setdefault("ids", []).append(answer["report_id"])
        yield env


def unlinked(env, who, query=""):
    status, _, body = get(env["url"] + "/api/reports/unlinked" + query, env["tok"][who])
    assert status == 200, body
    return orjson.loads(body)


def link(env, who, report_id, body):
    status, raw = post(f"{env['url']}/api/reports/{report_id}/link", env["tok"][who], body)
    return status, orjson.loads(raw)


def test_a_desk_and_the_desks_above_it_read_its_unlinked_reports(env):
    r1, r2, r3 = env["ids"]
    p = env["service"].pseudo
    mine = unlinked(env, "lixia")
    assert [r["report_id"] for r in mine["reports"]] == [r2, r1] and mine["total"] == 2  # newest first
    assert [r["reporter"] for r in mine["reports"]] == ["李女士", "张先生"]  # its own: in clear
    assert all(r["link_method"] == "none" for r in mine["reports"])
    city = unlinked(env, "jinan")  # Jinan covers Lixia, not Huangdao
    assert [r["report_id"] for r in city["reports"]] == [r2, r1]
    assert [r["reporter"] for r in city["reports"]] == [p.reporter("李女士"), p.reporter("张先生")]
    assert [r["report_id"] for r in unlinked(env, "province")["reports"]] == [r3, r2, r1]
    assert [r["report_id"] for r in unlinked(env, "national")["reports"]] == [r3, r2, r1]
    assert [r["report_id"] for r in unlinked(env, "huangdao")["reports"]] == [r3]
    assert unlinked(env, "beijing") == {"identities": "own_in_clear", "total": 0, "offset": 0, "reports": []}
    page = unlinked(env, "province", "?limit=1&offset=1")
    assert ([r["report_id"] for r in page["reports"]], page["total"], page["offset"]) == ([r2], 3, 1)
    rows = env["store"].audit_rows(limit=1)
    assert (rows[0]["action"], rows[0]["status"]) == ("reports_unlinked", 200)
    status, _, body = get(env["url"] + "/api/reports/unlinked?limit=0", env["tok"]["lixia"])
    assert status == 400 and b"limit" in body
    # a HEAD gets no body: refused before the token is read, no audit row (as every audited GET)
    from tests.test_service_followups import _head

    before = len(env["store"].audit_rows(limit=100_000))
    assert _head(env["url"] + "/api/reports/unlinked", env["tok"]["lixia"])[0] == 405
    assert len(env["store"].audit_rows(limit=100_000)) == before


def test_refused_links_change_nothing(env):
    r1, r2, r3 = env["ids"]
    before = len(env["hub"].store.load_reports("jn-1"))
    cases = [
        ("lixia", r1, ["jn-1"], 400, "expected a JSON object"),
        ("lixia", r1, {}, 400, "rumour_id"),
        ("lixia", r1, {"rumour_id": 7}, 400, "rumour_id"),
        ("lixia", r1, {"rumour_id": "jn-1", "linked_by": "someone"}, 400, "from the token"),
        ("lixia", r1, {"rumour_id": "jn-1", "note": "x" * 2001}, 400, "note"),
        ("lixia", r1, {"rumour_id": "qd-1"}, 404, "unknown rumour 'qd-1'"),  # Huangdao's only
        ("lixia", r1, {"rumour_id": "no-such-rumour"}, 404, "unknown rumour"),
        ("lixia", r3, {"rumour_id": "jn-1"}, 404, "unknown report"),  # another county's report
        ("beijing", r1, {"rumour_id": "bj-1"}, 404, "unknown report"),
        ("lixia", "no-such-report", {"rumour_id": "jn-1"}, 404, "unknown report"),
        ("liaison", r1, {"rumour_id": "jn-1"}, 403, "role"),
    ]
    for who, rid, body, code, words in cases:
        status, answer = link(env, who, rid, body)
        assert (status, answer["status"]) == (code, code) and words in answer["error"], (who, body, answer)
        row = env["store"].audit_rows(limit=1)[0]
        assert (row["action"], row["status"], row["token_name"]) == ("report_link", code, who)
    assert len(env["hub"].store.load_reports("jn-1")) == before
    assert [r["report_id"] for r in unlinked(env, "lixia")["reports"]] == [r2, r1]


def test_a_manual_link_behaves_like_an_automatic_one_and_survives_a_restart(env):
    r1, r2, r3 = env["ids"]
    url, tok = env["url"], env["tok"]
    assert orjson.loads(get(url + "/api/rumours/jn-1/status", tok["lixia"])[2])["status"] is None
    status, answer = link(env, "lixia", r1, {"rumour_id": "jn-1", "note": "same post, seen in the dashboard"})
    desk = f"lixia ({tok['lixia'].split('_')[1]})"
    assert status == 201, answer
    assert (answer["rumour_id"], answer["link_method"], answer["linked_by"], answer["note"]) == \
        ("jn-1", "manual", desk, "same post, seen in the dashboard")
    row = env["store"].audit_rows(limit=1)[0]
    assert (row["action"], row["status"], row["rumour_id"], row["token_name"]) == ("report_link", 201, "jn-1", "lixia")
    assert r1 in row["params"]

    def seen(base, who):
        reports = orjson.loads(get(base + "/api/rumours/jn-1/reports", tok[who])[2])["reports"]
        return [(r["report_id"], r["reporter"], r["link_method"], r["linked_by"]) for r in reports]

    p = env["service"].pseudo
    assert seen(url, "lixia") == [(r1, "张先生", "manual", desk)]
    assert seen(url, "huangdao") == [(r1, p.reporter("张先生"), "manual", desk)]  # jn-1 spread there too
    # the rumour's first report: received, by the intake, as for a report linked on arrival
    history = orjson.loads(get(url + "/api/rumours/jn-1/status", tok["lixia"])[2])["history"]
    assert [(h["status"], h["changed_by"]) for h in history] == [("received", "system:intake")]
    assert [r["report_id"] for r in unlinked(env, "lixia")["reports"]] == [r2]
    # linked already: 409 with its link, for whoever covers it; nothing is written again
    for who in ("lixia", "province"):
        status, answer = link(env, who, r1, {"rumour_id": "jn-1"})
        assert status == 409 and "linked already" in answer["error"], answer
        assert (answer["link"]["rumour_id"], answer["link"]["linked_by"]) == ("jn-1", desk)

    # A restart over the same store: a new pipeline, hub and service read the link back.
    from streams.service.tokens import TokenStore

    _, _, service = governed_service(env["store"], [], env["tokens_path"], THRESHOLD)
    TokenStore(env["tokens_path"])  # the same tokens file
    server = ThreadServer(service.application())
    try:
        assert seen(server.url, "lixia") == [(r1, "张先生", "manual", desk)]
        assert [r["report_id"] for r in orjson.loads(get(server.url + "/api/reports/unlinked",
                                                         tok["lixia"])[2])["reports"]] == [r2]
        status, raw = post(f"{server.url}/api/reports/{r1}/link", tok["lixia"], {"rumour_id": "jn-1"})
        assert status == 409 and orjson.loads(raw)["link"]["link_method"] == "manual"
        # the county desk's other report, linked by the province's analyst after the restart
        status, raw = post(f"{server.url}/api/reports/{r2}/link", tok["province"], {"rumour_id": "jn-1"})
        assert status == 201 and orjson.loads(raw)["linked_by"].startswith("province ("), raw
    finally:
        server.close()
    stored = {r["report_id"]: r for r in env["hub"].store.load_reports("jn-1")}
    assert set(stored) == {r1, r2} and stored[r1]["link_method"] == "manual" and stored[r1]["linked_ms"] > 0
    assert stored[r1]["reporter"] == "张先生" and stored[r1]["link_note"] == "same post, seen in the dashboard"


def test_a_revoked_desks_reports_stay_with_the_desks_above_it_and_others_go_to_the_centre(env):
    from streams.service.tokens import TokenStore

    r3 = env["ids"][2]
    code, answer = env["hub"].submit_report({"reporter": "k", "text": "从消息队列来的 无关 报告 丁"}, "kafka")
    assert code == 201 and answer["link_method"] == "none"
    TokenStore(env["tokens_path"]).revoke(env["tok"]["huangdao"].split("_")[1])
    assert r3 in [r["report_id"] for r in unlinked(env, "province")["reports"]]  # Huangdao's desk, revoked
    assert answer["report_id"] not in [r["report_id"] for r in unlinked(env, "province")["reports"]]
    assert answer["report_id"] in [r["report_id"] for r in unlinked(env, "national")["reports"]]
