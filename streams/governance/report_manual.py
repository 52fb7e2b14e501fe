"""Linking a report by hand: an officer found the rumour of a report that was stored unlinked
(``link_method`` ``none``). The link is ``link_method`` ``manual`` with ``linked_by``,
``linked_ms`` and ``link_note``; the report's row is written again (``public_reports`` is a
ReplacingMergeTree keyed by report id: FINAL reads the later row), so after a restart it is read
back like any linked report, and the rumour gets the status ``received`` if it had none, as for
its first report on arrival."""
from __future__ import annotations

import time

from streams.events import format_ts
from streams.governance.status_history import status_row

SYSTEM = "system:intake"  # who records the status a rumour's first report gives it


def link_answer(rep: dict) -> dict:
    """A report's link: its rumour, how it was linked and, for a manual link, by whom, when, why.

    >>> link_answer({"report_id": "r1", "rumour_id": "x", "link_method": "manual", "similarity": 1.0,
    ...              "linked_by": "ann (0123456789ab)", "linked_ms": 0, "link_note": ""})["linked_at"]
    '1970-01-01T00:00:00.000Z'
    """
    manual = rep.get("link_method") == "manual"
    return {"report_id": rep["report_id"], "rumour_id": rep["rumour_id"] or None,
            "link_method": rep["link_method"], "similarity": rep["similarity"],
            "linked_by": rep.get("linked_by") or None if manual else None,
            "linked_at": format_ts(rep.get("linked_ms") or 0) if manual else None,
            "note": rep.get("link_note") or None if manual else None}


def link_by_hand(desk, report_id: str, rumour_id: str, by: str, note: str = "",
                 at_ms: int | None = None) -> tuple[int, dict]:
    """Link the unlinked report ``report_id`` of ``desk`` (a
    :class:`~streams.governance.reports.ReportDesk`) to ``rumour_id`` (whose existence and access
    the caller checked); ``(http status, body)``: 201 and the report's link, 404 for an
    unknown report, 409 (with ``link``: its link) for one linked already. The rumour gets
    the status ``received`` if it has none, as for its first report. The store is written
    first: a link it refused is not made."""
    at_ms = int(time.time() * 1000) if at_ms is None else int(at_ms)
    with desk._link_lock:  # of two officers linking the same report, the second gets 409
        rep = desk.report(report_id)
        if rep is None:
            return 404, {"error": f"unknown report {report_id!r}", "code": "unknown_report"}
        if rep["rumour_id"]:
            return 409, {"error": f"report {report_id!r} is linked already", "code": "report_linked",
                         "link": link_answer(rep)}
        linked = dict(rep, rumour_id=rumour_id, link_method="manual", similarity=1.0,
                      linked_by=by, linked_ms=at_ms, link_note=note)
        linked.pop("duplicates", None)
        if desk.store is not None:
            desk.store.insert_reports([linked])
        with desk._lock:
            desk.memory.relink(linked)
            unknown = desk.history.latest(rumour_id) is None
        if unknown and desk.store is not None:
            unknown = rumour_id not in desk.store.latest_statuses([rumour_id])
        if unknown:
            row = status_row(rumour_id, "received", SYSTEM, f"first report {report_id} (linked by hand)", at_ms)
            if desk.store is not None:
                desk.store.append_status([row])
            with desk._lock:
                desk.history.append(row)
    return 201, link_answer(linked)
