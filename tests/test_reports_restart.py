"""Report intake across a restart (a restart = a new desk over the same store): a re-send is
answered ``repeated`` with its report, duplicates merge with reports received before the
restart, an id older than the window is found in the store, the client's id is stored
(sql/016), a store that cannot be read at start does not stop the start, and memory stays
bounded by the window. On clickhouse-server 18.16 and on chDB (the ``store`` fixture)."""
from __future__ import annotations

import logging

import orjson
import pytest

from streams.governance.config import GovernanceConfig
from streams.governance.hub import Governance
from streams.governance.reports import ReportDesk
from streams.pipeline import Pipeline
from streams.store.governance import governance_store

T0 = 1_759_276_800_000  # 2025-10-01T00:00Z
HOUR = 3_600_000
SOURCE_TEXT = "济南某小区自来水被投毒，大家千万不要喝自来水，赶紧转发告诉家人"
REPORT_TEXT = "举报：济南某小区自来水被投毒，千万不要喝自来水，赶紧转发告诉家人！"


def _pipeline():
    p = Pipeline(None)
    p.process([orjson.dumps({"event_id": "m1", "rumour_id": "r1", "account_id": "a", "ts": T0, "kind": "post",
                             "text": SOURCE_TEXT}),
               orjson.dumps({"event_id": "m2", "rumour_id": "r1", "account_id": "b", "ts": T0 + 1000,
                             "parent_event_id": "m1", "region": "370102"})])
    return p


def _desk(store, hours: float = 24.0) -> ReportDesk:
    """A desk as a (re)started worker has it: over the store, its window restored."""
    desk = ReportDesk(GovernanceConfig(report_dedup_hours=hours), _pipeline(), governance_store(store))
    desk.add_rumour_text("r1", SOURCE_TEXT)
    return desk


def test_resend_after_restart_is_repeated_with_the_same_report(store):
    first = _desk(store)
    s1, sent = first.submit({"reporter": "x", "post_id": "m2", "report_id": "desk-7"}, "http:t1", now_ms=T0)
    assert s1 == 201 and sent["rumour_id"] == "r1"

    again = _desk(store)
    assert again.restore(now_ms=T0 + HOUR) == 1
    s2, answer = again.submit({"reporter": "x", "post_id": "m2", "report_id": "desk-7"}, "http:t1",
                              now_ms=T0 + HOUR)
    assert s2 == 200 and answer.pop("repeated") is True
    assert answer == sent  # same id, link, client id and time received: the report of before
    assert [r["report_id"] for r in store_reports(again)] == [sent["report_id"]]  # nothing written again
    # the same client id from another desk is still that desk's new report
    s3, other = again.submit({"reporter": "x", "post_id": "m2", "report_id": "desk-7"}, "http:t2",
                             now_ms=T0 + HOUR)
    assert s3 == 200 and "repeated" not in other and other["report_id"] != sent["report_id"]


def store_reports(desk):
    return desk.store.load_reports()


def test_duplicates_merge_across_a_restart(store):
    first = _desk(store)
    _, by_post = first.submit({"reporter": "x", "post_id": "m2"}, "kafka", now_ms=T0)
    _, by_text = first.submit({"reporter": "y", "text": REPORT_TEXT}, "kafka", now_ms=T0 + 1000)
    assert by_text["duplicate_of"] == ""  # another reporter: its own first report

    again = _desk(store)
    assert again.restore(now_ms=T0 + 2 * HOUR) == 2
    s1, post_dup = again.submit({"reporter": "x", "link": "https://weibo.com/b/m2"}, "kafka", now_ms=T0 + 2 * HOUR)
    s2, text_dup = again.submit({"reporter": "z", "text": REPORT_TEXT + "!!"}, "kafka", now_ms=T0 + 2 * HOUR)
    assert (s1, post_dup["duplicate_of"]) == (200, by_post["report_id"])
    assert (s2, text_dup["duplicate_of"], text_dup["rumour_id"]) == (200, by_text["report_id"], "r1")
    stored = {r["report_id"]: r["duplicate_of"] for r in again.store.load_reports()}
    assert stored[text_dup["report_id"]] == by_text["report_id"]


def test_an_id_older_than_the_window_is_found_in_the_store(store):
    first = _desk(store, hours=1)
    _, sent = first.submit({"reporter": "x", "text": REPORT_TEXT, "report_id": "old-1"}, "http:t1", now_ms=T0)

    later = T0 + 5 * HOUR
    again = _desk(store, hours=1)
    assert again.restore(now_ms=later) == 0 and len(again.memory) == 0
    s1, answer = again.submit({"reporter": "x", "text": REPORT_TEXT, "report_id": "old-1"}, "http:t1", now_ms=later)
    assert (s1, answer.get("repeated"), answer["report_id"]) == (200, True, sent["report_id"])
    assert answer["client_report_id"] == "old-1" and answer["received_at"] == sent["received_at"]
    assert again.report(sent["report_id"])["client_report_id"] == "old-1"  # from the store
    # outside the window the same text is a new first report, not merged into the old one
    s2, new = again.submit({"reporter": "w", "text": REPORT_TEXT}, "http:t1", now_ms=later)
    assert (s2, new["duplicate_of"]) == (201, "")


def test_client_report_id_is_stored(store):
    desk = _desk(store)
    _, with_id = desk.submit({"reporter": "x", "post_id": "m2", "report_id": "c-9"}, "http:t1", now_ms=T0)
    _, without = desk.submit({"reporter": "y", "text": "小区明天停电检修通知"}, "http:t1", now_ms=T0)
    got = {r["report_id"]: r["client_report_id"] for r in desk.store.load_reports()}
    assert got == {with_id["report_id"]: "c-9", without["report_id"]: ""}
    assert desk.store.find_report(with_id["report_id"])["client_report_id"] == "c-9"
    assert desk.store.find_report("no-such-report") is None


def test_rows_written_before_016_read_back_without_a_client_id(store, monkeypatch):
    import sql
    from sql import governance_queries as gq

    store.drop()  # the database as it was before sql/016, written the way the code then did
    # (and 024: this code reads the status history with its guard columns, which are not what
    # this test is about)
    sql.migrate(store._execute, store.database,
                migrations=[m for m in sql.load_migrations() if m.version < 16 or m.version == 24])
    old_columns = gq.REPORT_COLUMNS[:gq.REPORT_COLUMNS.index("client_report_id")]
    monkeypatch.setattr(gq, "REPORT_COLUMNS", old_columns)
    _, old = _desk(store).submit({"reporter": "x", "post_id": "m2", "report_id": "c-old"}, "http:t1", now_ms=T0)
    monkeypatch.undo()

    assert "016_report_client_id" in store.migrate()
    desk = _desk(store)
    _, new = desk.submit({"reporter": "y", "post_id": "m2", "report_id": "c-new"}, "http:t1", now_ms=T0)
    got = {r["report_id"]: r["client_report_id"] for r in desk.store.load_reports()}
    assert got == {old["report_id"]: "", new["report_id"]: "c-new"}
    assert store.migrate() == []


def test_a_link_by_hand_is_read_back_after_a_restart(store):
    desk = _desk(store)
    _, report = desk.submit({"reporter": "x", "text": "一段和任何谣言都无关的话 nothing alike"}, "http:t1", now_ms=T0)
    rid = report["report_id"]
    assert report["link_method"] == "none" and [r["report_id"] for r in desk.store.unlinked_reports()] == [rid]
    code, link = desk.link_by_hand(rid, "r1", "ann (t1)", "found it", at_ms=T0 + 5)
    assert code == 201 and (link["rumour_id"], link["link_method"], link["linked_by"]) == ("r1", "manual", "ann (t1)")
    assert [r["report_id"] for r in desk.reports_of("r1")] == [rid] and desk.reports_of("") == []
    again = _desk(store)  # a restart: the link is read from the store
    code, answer = again.link_by_hand(rid, "r2", "bob (t2)", at_ms=T0 + 9)
    assert code == 409 and answer["link"] == link
    stored = again.store.find_report(rid)
    assert (stored["rumour_id"], stored["link_method"], stored["linked_by"], stored["linked_ms"],
            stored["link_note"], stored["reporter"]) == ("r1", "manual", "ann (t1)", T0 + 5, "found it", "x")
    assert again.store.unlinked_reports() == [] and [r["report_id"] for r in again.store.load_reports("r1")] == [rid]
    assert again.latest_status("r1")["status"] == "received"  # its first report, as on arrival
    assert again.link_by_hand("no-such-report", "r1", "bob (t2)")[0] == 404


def test_memory_is_bounded_by_the_window(store):
    desk = _desk(store, hours=1)
    for i in range(50):  # one report a minute for 50 minutes, then one every hour for 10 hours
        desk.submit({"reporter": f"r{i}", "post_id": f"p{i}", "text": f"report number {i} about {i * 7}"},
                    "kafka", now_ms=T0 + i * 60_000)
    assert len(desk.memory) == 50
    for h in range(1, 11):
        desk.submit({"reporter": f"h{h}", "post_id": f"q{h}"}, "kafka", now_ms=T0 + HOUR + h * HOUR)
        desk.set_status("r1", "verified", "ann", at_ms=T0 + HOUR + h * HOUR)
    assert len(desk.memory) == 2 and len(desk.history) == 2  # the last hour's, inclusive of its start
    assert len(desk.memory.texts) == 0 and len(desk.memory._by_post) == 2
    assert len(desk.store.load_reports()) == 60  # the store keeps every report


def test_without_a_store_the_desk_forgets_nothing():
    desk = ReportDesk(GovernanceConfig(report_dedup_hours=1), _pipeline())
    for i in range(5):
        desk.submit({"reporter": f"r{i}", "post_id": f"p{i}"}, "kafka", now_ms=T0 + i * 10 * HOUR)
    assert len(desk.reports) == 5


def test_a_report_the_store_refused_is_not_answered_repeated(store, monkeypatch):
    desk = _desk(store)

    def refused(rows):
        raise ConnectionError("clickhouse: connection refused")

    monkeypatch.setattr(desk.store, "insert_reports", refused)
    report = {"reporter": "x", "post_id": "m2", "report_id": "retry-1"}
    with pytest.raises(ConnectionError):
        desk.submit(report, "http:t1", now_ms=T0)
    assert len(desk.memory) == 0 and len(desk.memory._by_post) == 0 and not desk.history
    monkeypatch.undo()
    status, answer = desk.submit(report, "http:t1", now_ms=T0 + 1000)  # the client's retry
    assert status == 201 and "repeated" not in answer and answer["rumour_id"] == "r1"
    assert [r["report_id"] for r in desk.store.load_reports()] == [answer["report_id"]]
    assert desk.latest_status("r1")["status"] == "received"
    again = _desk(store)
    assert again.restore(now_ms=T0 + HOUR) == 1  # the retried report outlives a restart


class _Unreachable:
    """A store that answers nothing while ``down`` (a server not yet up at a worker's start)."""

    def __init__(self, store):
        self.store = store
        self.database = store.database
        self.down = True

    def _rows(self, query):
        if self.down:
            raise ConnectionError("clickhouse: connection refused")
        return self.store._rows(query)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_the_store_down_at_start_does_not_stop_the_start(store, caplog):
    from streams.governance.wiring import build_governance
    from streams.settings import Settings

    _, sent = _desk(store).submit({"reporter": "x", "post_id": "m2", "report_id": "c1"}, "http:t1")
    flaky = _Unreachable(store)
    with caplog.at_level(logging.ERROR, logger="streams.governance.wiring"):
        hub = build_governance(_pipeline(), flaky, Settings.load({}))
    assert isinstance(hub, Governance) and len(hub.desk.memory) == 0
    assert "restoring recent reports from the store failed" in caplog.text
    # while the store is down a report is refused (500 over HTTP), never answered as new
    with pytest.raises(ConnectionError):
        hub.desk.submit({"reporter": "x", "post_id": "m2", "report_id": "c1"}, "http:t1")
    flaky.down = False  # back: the re-send is found in the store by its id
    status, answer = hub.desk.submit({"reporter": "x", "post_id": "m2", "report_id": "c1"}, "http:t1")
    assert (status, answer["report_id"], answer.get("repeated")) == (200, sent["report_id"], True)


def test_http_resend_and_client_id_after_a_restart(store, tmp_path):
    """The service over a worker that restarts: a new pipeline, hub and service over the same
    store; the desk's re-send is ``repeated`` and GET reports shows its client id."""
    from streams.service.tokens import TokenStore
    from tests.service_helpers import ThreadServer, cascades, get, governed_service
    from tests.test_service_governance import post

    tokens = tmp_path / "tokens.json"
    token = TokenStore(tokens).issue("analyst", "370000", "desk")[0]

    def start(events=()):
        return ThreadServer(governed_service(store, list(events), tokens, threshold=2)[2].application())

    report = {"reporter": "citizen", "post_id": "jn-1-e3", "report_id": "desk-42"}
    first = start(cascades())
    try:
        status, raw = post(first.url + "/api/reports", token, report)
    finally:
        first.close()
    sent = orjson.loads(raw)
    assert status == 201 and sent["rumour_id"] == "jn-1", sent

    again = start()  # the restart
    try:
        status, raw = post(again.url + "/api/reports", token, report)
        answer = orjson.loads(raw)
        assert (status, answer.get("repeated"), answer["report_id"]) == (200, True, sent["report_id"])
        assert answer["client_report_id"] == "desk-42"
        status, _, raw = get(again.url + "/api/rumours/jn-1/reports", token)
        listed = orjson.loads(raw)["reports"]
        assert status == 200 and [(r["report_id"], r["client_report_id"]) for r in listed] == \
            [(sent["report_id"], "desk-42")]
    finally:
        again.close()


def test_the_store_is_asked_only_for_reports_whose_id_could_repeat(store, monkeypatch):
    desk = _desk(store)
    asked = []
    find = desk.store.find_report
    monkeypatch.setattr(desk.store, "find_report", lambda rid: asked.append(rid) or find(rid))
    # No client id, no time: the id is derived from the millisecond received, so it is new.
    s1, plain = desk.submit({"reporter": "x", "text": "a new report"}, "http:t1", now_ms=T0)
    assert s1 == 201 and asked == []
    # A client id, or a time of its own, may repeat an earlier report: one point query each.
    s2, with_id = desk.submit({"reporter": "x", "text": "another", "report_id": "c-1"}, "http:t1", now_ms=T0)
    s3, timed = desk.submit({"reporter": "y", "text": "a third", "time": T0 - HOUR}, "http:t1", now_ms=T0)
    assert (s2, s3) == (201, 201) and asked == [with_id["report_id"], timed["report_id"]]
