"""The status of each rumour a report desk knows (received -> verified -> debunked -> handled):
what a valid change is, its history row, the one rule for a rumour's current status, and the
rows memory holds, indexed by rumour.

The rule (:func:`status_order`, :func:`current`): a rumour's current status is its row with the
greatest ``(changed_ms, workflow step, changed_by)``; of rows equal in all three, the last
recorded. Why this order:

* time first: a change made later replaces an earlier one, whatever its step (an analyst may
  send a rumour back from ``debunked`` to ``verified``);
* then the workflow step: two changes in the same millisecond (a report's automatic
  ``received`` and an analyst's ``verified``, two workers) have no "later" one, and the step
  further along is the one that must not be lost from view;
* then ``changed_by``, not the order recorded: the store keeps no order of its own (several
  workers append; a restart reads it back), so an order it cannot see would make the answer
  change at a restart. ``changed_by`` is in the store, and ``(rumour_id, changed_ms, status,
  changed_by)`` is its table's key (sql/011), so the three make a total order of the changes
  the store holds;
* rows equal in the whole key are one change sent again (a retry, perhaps with another note):
  the store's ReplacingMergeTree keeps the last inserted of them, and so does :func:`current`
  with the last recorded (a store's answer counts as recorded after memory's, see
  :func:`current`).

Guarded changes made through several workers (streams/governance/status_guard.py) leave rows
no one is shown: :func:`shown` drops them (withdrawn changes, and of the changes that replace
the same one all but one) before the rule above; memory holds only rows shown.

Every place that shows a current status takes it from here: :meth:`StatusHistory.latest` and
:meth:`StatusHistory.newest` (memory), :func:`current` (memory merged with the store),
:func:`ordered` (a history whose last row is the current one); the store's SQL
(``sql.governance_queries.latest_statuses``) is the same order as ``argMax`` over the tuple
``(changed_ms, status as its Enum8 step, changed_by)`` (tests/test_status_rule.py checks the two
agree on seeded histories with ties, on chDB and clickhouse-server 18.16).

:class:`StatusHistory` keeps the rows in the order recorded (a desk with a store forgets the
oldest as time passes: the store has them all) and, per rumour, its rows and the candidates for
its newest row (a monotonic queue: a row greater in the order than every row recorded after
it). So the newest row of a rumour, and whether memory knows any, is one dict lookup, and a
rumour's history is its own rows only, whatever else the desk holds; forgetting the oldest row
is O(1).
"""
from __future__ import annotations

from collections import deque

from streams.governance.report_parse import MAX_FIELD, MAX_TEXT

STATUSES = ("received", "verified", "debunked", "handled")
# A stored row's ``outcome`` (sql/024): an unguarded change, or a guarded one whose writer has not
# settled it yet; accepted (its writer answered 201); withdrawn (it met a competitor: 409).
PENDING, ACCEPTED, WITHDRAWN = 0, 1, 2
NO_STATUS = "none"  # what a guarded change replaces when the rumour had no status yet


def status_step(status: str) -> int:
    """The step of ``status`` in the workflow: its value in the store's Enum8 (1 for
    ``received`` ... 4 for ``handled``), 0 for a status the workflow does not know.

    >>> status_step("received"), status_step("handled"), status_step("fixed")
    (1, 4, 0)
    """
    return STATUSES.index(status) + 1 if status in STATUSES else 0


def status_order(row: dict) -> tuple:
    """Where a status row stands in the one order of its rumour's rows (greatest: current):
    ``(changed_ms, workflow step, changed_by)``; ``changed_by`` compares as the store compares
    strings (Python compares code points, ClickHouse the UTF-8 bytes: the same order).

    >>> status_order({"changed_ms": 7, "status": "verified", "changed_by": "ann"})
    (7, 2, 'ann')
    """
    return int(row["changed_ms"]), status_step(row["status"]), row["changed_by"]


def current(rows) -> dict | None:
    """The current row of ``rows`` (the order recorded; None entries are skipped): the greatest
    in :func:`status_order`, the last given of equals. Merging memory with the store, pass the
    store's rows last: for one change the store holds the last copy any worker inserted, and
    that is what a restart reads back.

    >>> rows = [{"changed_ms": 5, "status": s, "changed_by": b, "note": n}
    ...         for s, b, n in (("verified", "bob", "1"), ("received", "zed", "2"), ("verified", "bob", "3"))]
    >>> current(rows)["note"], current([None]), current([])
    ('3', None, None)
    """
    best = best_order = None
    for row in rows:
        if row is None:
            continue
        order = status_order(row)
        if best is None or order >= best_order:
            best, best_order = row, order
    return best


def ordered(rows) -> list[dict]:
    """A rumour's history from ``rows`` (the order recorded, the store's last): one row per
    change (the store's key: time, status, changed_by; the last given of a key, as in
    :func:`current`), sorted by :func:`status_order`; its last row is :func:`current` of them.

    >>> rows = [{"changed_ms": ms, "status": s, "changed_by": "a", "note": n}
    ...         for ms, s, n in ((9, "received", ""), (5, "verified", "x"), (5, "verified", "y"))]
    >>> [(r["changed_ms"], r["note"]) for r in ordered(rows)]
    [(5, 'y'), (9, '')]
    """
    by_change = {}
    for row in rows:
        by_change[status_order(row)] = row
    return [by_change[k] for k in sorted(by_change)]


def replaces_key(row: dict | None) -> str:
    """How a guarded change names the change it replaces (sql/024's ``replaces``): that row's
    ``changed_ms/status/changed_by`` (its key within the rumour), :data:`NO_STATUS` for none.

    >>> replaces_key({"changed_ms": 7, "status": "verified", "changed_by": "ann (t1)"}), replaces_key(None)
    ('7/verified/ann (t1)', 'none')
    """
    if row is None:
        return NO_STATUS
    return f"{int(row['changed_ms'])}/{row['status']}/{row['changed_by']}"


def shown(rows) -> list[dict]:
    """The rows of ``rows`` (one per change: the store's, after FINAL) the one rule counts, in
    the order given: unguarded changes (``replaces`` '' or absent: every row memory holds) all;
    of the guarded changes that replace the same change (siblings, see
    :mod:`streams.governance.status_guard`), none withdrawn, and of the others one: the accepted
    one, else (writers not finished, or one crashed before settling) the greatest in
    :func:`status_order`. So an accepted change is never hidden by a sibling that lost, and a
    change whose writer crashed still shows (alone, it is the newest: the next officer replaces
    it instead of meeting it forever). ``sql.governance_queries.latest_statuses`` mirrors this.

    >>> def row(ms, by, replaces="", outcome=PENDING):
    ...     return {"changed_ms": ms, "status": "verified", "changed_by": by, "replaces": replaces, "outcome": outcome}
    >>> rows = [row(1, "u"), row(5, "a", "1/received/u", ACCEPTED), row(6, "b", "1/received/u"),
    ...         row(7, "c", "1/received/u", WITHDRAWN), row(3, "d", "none"), row(4, "e", "none")]
    >>> [r["changed_by"] for r in shown(rows)]
    ['u', 'a', 'e']
    """
    rows = list(rows)
    best = {}
    for row in rows:
        replaces = row.get("replaces") or ""
        outcome = row.get("outcome") or PENDING
        if replaces and outcome != WITHDRAWN:
            rank = (outcome == ACCEPTED, status_order(row))
            if replaces not in best or rank > best[replaces][0]:
                best[replaces] = (rank, row)
    keep = {id(row) for _rank, row in best.values()}
    return [row for row in rows if not (row.get("replaces") or "") or id(row) in keep]


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
    """Status rows in the order recorded, indexed by rumour. The newest row of a rumour is
    :func:`current` of its rows (the one rule, for :meth:`latest`, :meth:`newest` and "does
    memory know a status of this rumour").

    >>> h = StatusHistory()
    >>> for ms, status in ((5, "received"), (9, "debunked"), (7, "verified"), (9, "verified")):
    ...     h.append(status_row("r1", status, "a", "", ms))
    >>> h.latest("r1")["status"], [r["status"] for r in h.of("r1")], h.latest("r2")
    ('debunked', ['received', 'debunked', 'verified', 'verified'], None)
    >>> h.forget_before(8), h.latest("r1")["status"], len(h)  # the 5 goes; the 9 still leads
    (1, 'debunked', 3)
    """

    def __init__(self):
        self._rows: deque[dict] = deque()  # every row, in the order recorded
        self._of: dict[str, deque[dict]] = {}  # rumour -> its rows, in the order recorded
        # rumour -> rows that may yet be its newest: strictly decreasing in status_order from
        # the front (the newest), each recorded after the one before it
        self._lead: dict[str, deque[dict]] = {}
        self._newest: dict[str, dict] = {}  # rumour -> the front of its lead (a dict copy is cheap)
        self._forgot_ms: int | None = None  # the greatest changed_ms of a row forgotten

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
        order = status_order(row)
        while lead and status_order(lead[-1]) <= order:
            lead.pop()  # never the newest again: this row is as new or newer, and recorded later
        lead.append(row)
        self._newest[rumour] = lead[0]

    def latest(self, rumour_id: str) -> dict | None:
        """The newest row of ``rumour_id`` when memory can tell (:func:`current` of all its
        rows, the forgotten too), else None (ask the store). Memory cannot tell when its newest
        held row is no newer than a row it forgot: that row (in the store) may be newer still,
        as when rows were recorded out of time order."""
        row = self.newest_held(rumour_id)
        if row is None or (self._forgot_ms is not None and row["changed_ms"] <= self._forgot_ms):
            return None
        return row

    def newest_held(self, rumour_id: str) -> dict | None:
        """The newest row of ``rumour_id`` memory holds (see :meth:`latest`), or None."""
        return self._newest.get(rumour_id)

    def newest(self) -> dict[str, dict]:
        """rumour -> its newest row memory holds (:func:`current` of its held rows: merge it
        with the store's by :func:`current` for the current status, see :meth:`latest`). A copy
        of the per-rumour index, O(rumours), not of every row."""
        return dict(self._newest)

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
                del self._of[rumour], self._lead[rumour], self._newest[rumour]
            else:
                self._newest[rumour] = lead[0]
            if self._forgot_ms is None or row["changed_ms"] > self._forgot_ms:
                self._forgot_ms = row["changed_ms"]
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
        del self._of[rumour], self._lead[rumour], self._newest[rumour]
        for r in rows:  # the rumour's index rebuilt from its other rows, in the order recorded
            if r is not row:
                self._index(r)
        return True
