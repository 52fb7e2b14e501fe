"""Leaks between desks in the report intake (session 9): each test failed before its fix.
Shares the module server of tests/test_service_governance.py (chDB store, the hand-made
cascades of tests/service_helpers.py: jn-1 and qd-1 in Shandong, bj-1 in Beijing)."""
from __future__ import annotations

import orjson

from streams.governance.config import GovernanceConfig
from streams.governance.reports import ReportDesk
from tests.service_helpers import get
import tests.test_service_governance
from tests.test_service_governance import post

# The module-scoped server fixture of tests/test_service_governance.py (this module gets a server
# of its own).
env = tests.test_service_governance.env


def _submit(env, who, body):
    status, raw = post(env["url"] + "/api/reports", env["tok"][who], body)
    return status, orjson.loads(raw), raw


# -- 1: a client-chosen report_id is the desk's own key ----------------------------------------
def test_a_desk_reusing_another_desks_report_id_gets_its_own_report(env):
    beijing = {"reporter": "bj-secret-reporter", "post_id": "bj-1-e2", "report_id": "desk-shared-7",
               "text": "bj confidential wording 7"}
    s1, first, _ = _submit(env, "bj_analyst", beijing)
    assert s1 == 201, first
    # A Shandong desk numbers its reports the same way: the id is its own, nothing of Beijing's
    # report comes back, and its report is taken in (not dropped as a "repeat").
    shandong = {"reporter": "sd-reporter-7", "text": "小区明天停电检修通知 desk 7", "report_id": "desk-shared-7"}
    s2, second, raw = _submit(env, "analyst", shandong)
    assert s2 == 201, second
    assert "repeated" not in second and second["report_id"] != first["report_id"]
    assert second["client_report_id"] == first["client_report_id"] == "desk-shared-7"
    for secret in (b"bj-secret-reporter", b"bj confidential", b"bj-1", first["report_id"].encode()):
        assert secret not in raw
    kept = env["hub"].desk.reports
    assert kept[second["report_id"]]["reporter"] == "sd-reporter-7"
    assert kept[first["report_id"]]["reporter"] == "bj-secret-reporter"  # Beijing's is untouched
    # each desk's re-send is still idempotent and names its own report
    s3, again, _ = _submit(env, "bj_analyst", beijing)
    assert (s3, again["report_id"], again.get("repeated")) == (200, first["report_id"], True)
    s4, again, _ = _submit(env, "analyst", shandong)
    assert (s4, again["report_id"], again.get("repeated")) == (200, second["report_id"], True)
    stored = {r["report_id"]: r["reporter"] for r in env["hub"].store.load_reports()}
    assert stored[first["report_id"]] == "bj-secret-reporter" and stored[second["report_id"]] == "sd-reporter-7"


def test_the_same_content_from_two_desks_is_not_a_repeat_of_the_other(env):
    # Without a client id the id comes from the content: two desks sending the same report at
    # the same time must not get each other's as "repeated" (the second is a merged duplicate).
    body = {"reporter": "same-person-8", "post_id": "bj-1-e1", "time": "2025-12-01T01:00:00Z"}
    s1, first, _ = _submit(env, "bj_analyst", body)
    s2, second, raw = _submit(env, "analyst", body)
    assert s1 == 201 and "repeated" not in second
    assert second["report_id"] != first["report_id"] and first["report_id"].encode() not in raw


def test_report_ids_are_scoped_to_their_source_in_the_desk():
    desk = ReportDesk(GovernanceConfig())
    a = desk.submit({"reporter": "x", "text": "一 report a", "report_id": "7"}, source="http:aaaa")[1]
    b = desk.submit({"reporter": "y", "text": "完全不同 other b", "report_id": "7"}, source="http:bbbb")
    assert b[0] == 201 and b[1]["report_id"] != a["report_id"]
    assert desk.submit({"reporter": "x", "text": "一 report a", "report_id": "7"}, source="http:aaaa")[1] \
        == dict(a, repeated=True)
    assert sorted(r["reporter"] for r in desk.reports.values()) == ["x", "y"]


# -- 2: a report linked outside the jurisdiction answers like one linked nowhere ---------------
_OWN = ("report_id", "client_report_id", "received_at")  # the report's own id and receipt time


def _shape(answer):
    return {k: v for k, v in answer.items() if k not in _OWN}


def test_a_report_linked_outside_answers_like_an_unlinked_one(env):
    outside = _submit(env, "analyst", {"reporter": "sd-c21", "post_id": "bj-1-e0"})  # bj-1: Beijing
    nowhere = _submit(env, "analyst", {"reporter": "sd-c21", "post_id": "no-such-post-21"})
    assert outside[0] == nowhere[0] == 201
    assert _shape(outside[1]) == _shape(nowhere[1])
    assert outside[1]["rumour_id"] is None and outside[1]["routed_upward"] is True
    assert b"outside" not in outside[2] and b"event_id" not in outside[2]
    # the desk above sees it: the report is in bj-1's reports for a Beijing or national token
    for who in ("bj_admin", "national"):
        rows = orjson.loads(get(env["url"] + "/api/rumours/bj-1/reports", env["tok"][who])[2])["reports"]
        assert outside[1]["report_id"] in [r["report_id"] for r in rows], who
    # a desk that covers the rumour gets the whole answer
    s, full, _ = _submit(env, "bj_admin", {"reporter": "bj-c21", "post_id": "bj-1-e0"})
    assert (s, full["rumour_id"], full["link_method"], full["routed_upward"]) == (201, "bj-1", "event_id", False)
    s, full, _ = _submit(env, "national", {"reporter": "n-c21", "post_id": "no-such-post-21"})
    assert (s, full["rumour_id"], full["link_method"], full["routed_upward"]) == (201, "", "none", False)


def test_a_merge_into_a_report_the_caller_may_not_read_answers_like_a_new_report(env):
    text = "北京 朝阳 谣言 merged into another desk 22"
    s, first, _ = _submit(env, "bj_analyst", {"reporter": "bj-c22", "post_id": "bj-1-e1", "text": text})
    assert (s, first["rumour_id"]) == (201, "bj-1")
    merged = _submit(env, "analyst", {"reporter": "sd-c22", "text": text, "report_id": "sd-22"})
    fresh = _submit(env, "analyst", {"reporter": "sd-c22", "text": "完全无关的另一段文字 fresh 22", "report_id": "sd-22b"})
    assert merged[0] == fresh[0] == 201
    assert _shape(merged[1]) == _shape(fresh[1])
    assert first["report_id"].encode() not in merged[2]
    assert env["hub"].desk.reports[merged[1]["report_id"]]["duplicate_of"] == first["report_id"]  # still merged
    # the re-send of that report is the desk's own: repeated, still without Beijing's report
    s, again, raw = _submit(env, "analyst", {"reporter": "sd-c22", "text": text, "report_id": "sd-22"})
    assert (s, again["report_id"], again["repeated"], again["duplicate_of"]) == (200, merged[1]["report_id"], True, None)
    assert first["report_id"].encode() not in raw


# -- 3: the jurisdiction check reads the rumour's regions, not its minute counts ---------------
def test_regions_of_uses_the_regions_query_not_the_minute_counts(env, monkeypatch):
    from tests.service_helpers import cascades

    views, store = env["service"].views, env["store"]

    def no_minute_counts(*args, **kwargs):
        raise AssertionError("the jurisdiction check read the minute counts")

    monkeypatch.setattr(store, "minute_counts", no_minute_counts)
    views._summary = None  # as after the cache lapsed: the store answers
    for rid in ("jn-1", "qd-1", "bj-1"):
        expected = {e["region"] for e in cascades() if e["rumour_id"] == rid}
        assert env["service"].executor.submit(views.regions_of, rid).result(60) == expected, rid
    assert env["service"].executor.submit(views.regions_of, "zz-9").result(60) is None
    assert get(env["url"] + "/api/rumours/qd-1/status", env["tok"]["huangdao"])[0] == 200
    assert get(env["url"] + "/api/rumours/qd-1/status", env["tok"]["lixia"])[0] == 404
