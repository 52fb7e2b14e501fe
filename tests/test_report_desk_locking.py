"""The report desk reads the store without its lock: a report whose rumour has no status in
memory asks the store (one ClickHouse round trip, or ``store_retry_seconds`` when it is down),
and every other request to the desk goes on meanwhile; a status recorded while that read is
under way is still seen, so a rumour never gets a second first status. Nor does the desk wait
under its lock for the pipeline's lock, which the pipeline holds across its own store reads."""
from __future__ import annotations

import threading

import pytest

from streams.governance.config import GovernanceConfig
from streams.governance.reports import ReportDesk
from streams.governance.status_history import current

T0 = 1_759_276_800_000
SOURCE_TEXT = "济南某小区自来水被投毒，大家千万不要喝自来水，赶紧转发告诉家人"
REPORT_A = "举报：济南某小区自来水被投毒，千万不要喝自来水，赶紧转发告诉家人！"  # Jaccard 0.73 with it
REPORT_B = "济南某小区自来水被投毒了？大家千万不要喝自来水"  # 0.55 with it, 0.45 with REPORT_A
WAIT = 10  # seconds: a call that waits this long is stuck behind the lock


class SlowStatusStore:
    """The governance methods of a store, in memory; ``latest_statuses`` runs ``during_read``
    (once, then clears it) after it has read its rows and before it answers: the time a
    ClickHouse round trip takes."""

    def __init__(self):
        self.reports: list[dict] = []
        self.statuses: list[dict] = []
        self.during_read = None
        self.reads = 0

    def insert_reports(self, rows):
        self.reports += [dict(r) for r in rows]

    def append_status(self, rows):
        self.statuses += [dict(r) for r in rows]

    def find_report(self, report_id):
        return next((dict(r) for r in self.reports if r["report_id"] == report_id), None)

    def latest_statuses(self, rumour_ids):
        self.reads += 1
        found = {}
        for row in self.statuses:  # the store's rule (streams.governance.status_history.current)
            if row["rumour_id"] in rumour_ids:
                found[row["rumour_id"]] = dict(current([found.get(row["rumour_id"]), row]))
        during, self.during_read = self.during_read, None
        if during is not None:
            during()
        return found


def _desk(store):
    desk = ReportDesk(GovernanceConfig(), store=store)
    desk.add_rumour_text("r1", SOURCE_TEXT)
    return desk


def _in_thread(fn, *args, **kwargs):
    out = {}

    def run():
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the test's thread
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _answered_meanwhile(why: str, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` from another thread, which must answer within ``WAIT`` seconds
    (not stuck behind the lock): its value; ``why`` says what waiting would mean."""
    thread, out = _in_thread(fn, *args, **kwargs)
    thread.join(WAIT)
    assert not thread.is_alive(), why
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_a_slow_status_read_does_not_stall_other_requests():
    store = SlowStatusStore()
    desk = _desk(store)
    reading, release = threading.Event(), threading.Event()

    def slow():
        reading.set()
        release.wait(WAIT)

    store.during_read = slow
    first, first_out = _in_thread(desk.submit, {"reporter": "x", "text": REPORT_A}, "http:t1", now_ms=T0)
    try:
        assert reading.wait(WAIT), "the first report never read the store"
        # While the store is being read for the first report, the desk answers others: a report
        # of the same rumour (its own read is fast), a status change, and reads.
        status, answer = _answered_meanwhile("a report waited for another report's store read", desk.submit,
                                             {"reporter": "y", "text": REPORT_B}, "http:t1", now_ms=T0 + 1)
        assert status == 201 and answer["rumour_id"] == "r1"
        change, change_out = _in_thread(desk.set_status, "r2", "verified", "bob", at_ms=T0 + 2)
        change.join(WAIT)
        assert not change.is_alive() and change_out["value"][0] == 201
        assert desk.latest_status("r1")["status"] == "received"
    finally:
        release.set()
    first.join(WAIT)
    assert not first.is_alive() and "error" not in first_out
    assert first_out["value"][0] == 201 and first_out["value"][1]["rumour_id"] == "r1"
    # The first report's check under the lock found the other report's status: one first status.
    assert [(r["rumour_id"], r["status"]) for r in store.statuses] == [("r1", "received"), ("r2", "verified")]
    assert [r["status"] for r in desk.status_history("r1")] == ["received"]
    assert store.reads == 3  # one per report, and latest_status's point query


def test_a_status_change_between_the_read_and_the_check_is_kept():
    store = SlowStatusStore()
    desk = _desk(store)
    changes = []

    def analyst_verifies():
        # Lands after the store was read (it saw no status) and before the desk checks memory.
        thread, out = _in_thread(desk.set_status, "r1", "verified", "bob", "checked", at_ms=T0 - 5)
        thread.join(WAIT)
        changes.append((thread.is_alive(), out.get("value", (None,))[0]))

    store.during_read = analyst_verifies
    status, answer = desk.submit({"reporter": "x", "text": REPORT_A}, "http:t1", now_ms=T0)
    assert changes == [(False, 201)], "the status change waited for the report's store read"
    assert status == 201 and answer["rumour_id"] == "r1"
    # No "received" over the analyst's "verified" (it would be the newer row: T0 > T0 - 5).
    assert desk.latest_status("r1")["status"] == "verified"
    assert [r["status"] for r in store.statuses] == ["verified"]


def test_a_rumour_with_a_stored_status_gets_no_new_one():
    store = SlowStatusStore()
    store.statuses.append({"rumour_id": "r1", "status": "debunked", "changed_by": "bob", "changed_ms": T0 - 10,
                           "note": ""})
    desk = _desk(store)
    assert desk.submit({"reporter": "x", "text": REPORT_A}, "http:t1", now_ms=T0)[0] == 201
    assert desk.latest_status("r1")["status"] == "debunked" and len(store.statuses) == 1


def test_a_store_that_cannot_be_read_refuses_the_report_and_keeps_nothing():
    store = SlowStatusStore()
    desk = _desk(store)

    def down():
        raise ConnectionError("clickhouse: connection refused")

    store.during_read = down
    with pytest.raises(ConnectionError):
        desk.submit({"reporter": "x", "text": REPORT_A, "report_id": "c-1"}, "http:t1", now_ms=T0)
    assert len(desk.memory) == 0 and not desk.history and not store.reports
    status, answer = desk.submit({"reporter": "x", "text": REPORT_A, "report_id": "c-1"}, "http:t1", now_ms=T0 + 1)
    assert status == 201 and "repeated" not in answer  # the client's retry is a new report
    assert [r["status"] for r in store.statuses] == ["received"]


class _WatchedLock:
    """A pipeline's lock that tells when someone starts waiting for it."""

    def __init__(self, lock):
        self.lock, self.wanted = lock, threading.Event()

    def __enter__(self):
        self.wanted.set()
        return self.lock.__enter__()

    def __exit__(self, *exc):
        return self.lock.__exit__(*exc)


def test_a_pipeline_busy_with_its_store_does_not_stall_the_desk():
    """The pipeline holds its lock while it restores a rumour from the store: a report naming a
    post waits for it (the post is looked up in the pipeline's graphs), the rest of the desk not."""
    import orjson

    from streams.pipeline import Pipeline

    pipeline = Pipeline(None)
    pipeline.process([orjson.dumps({"event_id": "m1", "rumour_id": "r1", "account_id": "a", "ts": T0,
                                    "kind": "post", "text": SOURCE_TEXT})])
    desk = ReportDesk(GovernanceConfig(), pipeline, SlowStatusStore())
    held, release = threading.Event(), threading.Event()

    def restoring():  # what Pipeline.prepare_batch does around _restore_from_store
        with pipeline.lock:
            held.set()
            release.wait(WAIT)

    busy, _ = _in_thread(restoring)
    assert held.wait(WAIT)
    pipeline.lock = watched = _WatchedLock(pipeline.lock)
    named, named_out = _in_thread(desk.submit, {"reporter": "x", "post_id": "m1"}, "http:t1", now_ms=T0)
    try:
        assert watched.wanted.wait(WAIT), "the report never looked the post up"
        change, change_out = _in_thread(desk.set_status, "r2", "verified", "bob", at_ms=T0 + 1)
        change.join(WAIT)
        assert not change.is_alive(), "a status change waited for the pipeline's lock"
        listed, listed_out = _in_thread(desk.reports_of, "r1")
        listed.join(WAIT)
        assert not listed.is_alive() and listed_out["value"] == []
    finally:
        release.set()
    busy.join(WAIT)
    named.join(WAIT)
    assert not named.is_alive() and named_out["value"][0] == 201
    assert (named_out["value"][1]["rumour_id"], named_out["value"][1]["link_method"]) == ("r1", "event_id")
