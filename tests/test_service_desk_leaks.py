"""Leaks between desks in the report intake (session 9): each test failed before its fix.
Shares the module server of tests/test_service_governance.py (chDB store, the hand-made
cascades of tests/service_helpers.py: jn-1 and qd-1 in Shandong, bj-1 in Beijing)."""
from __future__ import annotations

import orjson

from streams.governance.config import GovernanceConfig
from streams.governance.reports import ReportDesk
from tests.test_service_governance import env, post  # noqa: F401  (the module's server fixture)


def _submit(env, who, body):  # noqa: F811
    status, raw = post(env["url"] + "/api/reports", env["tok"][who], body)
    return status, orjson.loads(raw), raw


# -- 1: a client-chosen report_id is the desk's own key ----------------------------------------
def test_a_desk_reusing_another_desks_report_id_gets_its_own_report(env):  # noqa: F811
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


def test_the_same_content_from_two_desks_is_not_a_repeat_of_the_other(env):  # noqa: F811
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
