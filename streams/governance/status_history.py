"""The status of each rumour a report desk knows (received -> verified -> debunked -> handled):
what a valid change is, its history row, and the rows memory holds, indexed by rumour.

:class:`StatusHistory` keeps the rows in the order recorded (a desk with a store forgets the
oldest as time passes: the store has them all) and, per rumour, its rows and the candidates for
its newest row (a monotonic queue: a row newer than every row recorded after it). So the newest
row of a rumour, and whether memory knows any, is one dict lookup, and a rumour's history is its
own rows only, whatever else the desk holds; forgetting the oldest row is O(1).
"""
from __future__ import annotations

from collections import deque

from streams.governance.report_parse import MAX_FIELD, MAX_TEXT

STATUSES = ("received", "verified", "debunked", "handled")


def status_error(rumour_id, status, by) -> str:
    """Why a status change is refused ("" when it is valid).

    >>> status_error("r1", "verified", "analyst"), status_error("r1", "fixed", "analyst")[:7]
    ('', 'status:')
    """
    if status not in STATUSES:
        return f"status: expected one of {', '.join(STATUSES)}"
    if not isinstance(by, str) or not by.strip() or len(by) > MAX_FIELD:
        return "changed_by: required"
    if not isinstance(rumour_id, str) or not rumour_id or len(rumour_id) > MAX_FIELD:
        return "rumour_id: required"
    return ""


def status_row(rumour_id, status, by, note, at_ms) -> dict:
    """The status-history row of a valid change (``by`` stripped, ``note`` cut to MAX_TEXT)."""
    return {"rumour_id": rumour_id, "status": status, "changed_by": by.strip(),
            "changed_ms": int(at_ms), "note": (note or "")[:MAX_TEXT]}


class StatusHistory:
    """Status rows in the order recorded, indexed by rumour. The newest row of a rumour is the
    one with the greatest ``changed_ms``, the first recorded of those on a tie (one rule, for
    :meth:`latest` and for "does memory know a status of this rumour").

    >>> h = StatusHistory()
    >>> for ms, status in ((5, "received"), (9, "debunked"), (7, "verified")):
    ...     h.append(status_row("r1", status, "a", "", ms))
    >>> h.latest("r1")["status"], [r["status"] for r in h.of("r1")], h.latest("r2")
    ('debunked', ['received', 'debunked', 'verified'], None)
    >>> h.forget_before(8), h.latest("r1")["status"], len(h)  # the 5 goes; the 9 still leads
    (1, 'debunked', 2)
    """

    def __init__(self):
        self._rows: deque[dict] = deque()  # every row, in the order recorded
        self._of: dict[str, deque[dict]] = {}  # rumour -> its rows, in the order recorded
        # rumour -> rows that may yet be its newest: changed_ms strictly decreasing from the
        # front (the newest), each recorded after the one before it
        self._lead: dict[str, deque[dict]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self):
        return iter(self._rows)

    def append(self, row: dict) -> None:
        self._rows.append(row)
        self._index(row)

    def _index(self, row: dict) -> None:
        rumour = row["rumour_id"]
        self._of.setdefault(rumour, deque()).append(row)
        lead = self._lead.setdefault(rumour, deque())
        while lead and lead[-1]["changed_ms"] < row["changed_ms"]:
            lead.pop()  # never the newest again: this row is newer and recorded later
        lead.append(row)

    def latest(self, rumour_id: str) -> dict | None:
        """The newest row of ``rumour_id`` memory holds, or None."""
        lead = self._lead.get(rumour_id)
        return lead[0] if lead else None

    def of(self, rumour_id: str) -> list[dict]:
        """The rows of ``rumour_id``, in the order recorded."""
        return list(self._of.get(rumour_id, ()))

    def forget_before(self, cut_ms: int) -> int:
        """Forget rows from the oldest recorded on while they changed before ``cut_ms`` (rows
        come in roughly in time order: this stops at the first newer one); returns how many."""
        gone = 0
        while self._rows and self._rows[0]["changed_ms"] < cut_ms:
            row = self._rows.popleft()
            rumour = row["rumour_id"]
            rows = self._of[rumour]
            rows.popleft()  # the oldest recorded row of the rumour is the oldest one of all
            lead = self._lead[rumour]
            if lead and lead[0] is row:
                lead.popleft()
            if not rows:
                del self._of[rumour], self._lead[rumour]
            gone += 1
        return gone

    def remove(self, row: dict) -> bool:
        """Forget one row wherever it is (a change the store refused); False when not held.
        O(rows held): a failure path only."""
        rumour = row["rumour_id"]
        rows = self._of.get(rumour)
        if rows is None or not any(r is row for r in rows):
            return False
        self._rows = deque(r for r in self._rows if r is not row)
        del self._of[rumour], self._lead[rumour]
        for r in rows:  # the rumour's index rebuilt from its other rows, in the order recorded
            if r is not row:
                self._index(r)
        return True
