"""Public reports of rumours: validation, duplicate merging, linking to a cascade, and the
status of each rumour (received -> verified -> debunked -> handled) with who changed it when.

A report's fields, validation and stored id (scoped to the desk that sent it):
:mod:`streams.governance.report_parse`.

Duplicates are merged into the first report (``duplicate_of``): the same reporter reporting
the same post (id, or link when there is no id), or the same text (3-gram Jaccard >=
``report_dedup_similarity``) within ``report_dedup_hours`` (a first report linked to a rumour
before one that is not). A report that links to a rumour does not merge into a first report
that linked to none (reported before the rumour's posts came in), nor a desk's report that links
to a rumour the desk covers into one linked to a copy of the post elsewhere: it is a first report
of its rumour, or the rumour's reports would stay unlinked (seen by no desk), resp. out of the
desk's sight, for the whole window.

Restarts: with a store, the desk remembers the reports received within ``report_dedup_hours``
(:mod:`streams.governance.report_memory`: bounded, given back by :meth:`ReportDesk.restore`
when a desk starts over the store), so merging and the ``repeated`` answer work across a
restart within that window; a re-send of an older report is looked up in the store by its id
(one point query). A report merges only into a first report received within the window.

Linking (:mod:`streams.governance.report_links`): the reported post id (given, or read from the
link) is looked up among the events of the ``report_link_rumours`` most recently active rumours
(one dict lookup, then confirmed in the rumour's graph while the pipeline holds it); failing
that, the text is compared with those rumours' source-post texts (3-gram Jaccard >=
``report_link_similarity``, MinHash/LSH candidates); else the report is stored unlinked. A rumour
that receives its first linked report gets the status ``received``.

Linking by hand: :mod:`streams.governance.report_manual`.

Status rows and the rule for a rumour's current status: :mod:`streams.governance.status_history`.
"""
from __future__ import annotations

import threading
import time

from streams.events import format_ts
from streams.governance.config import GovernanceConfig
from streams.governance.report_links import ReportLinks
from streams.governance.report_manual import SYSTEM, link_by_hand
from streams.governance.report_memory import ReportMemory
from streams.governance.report_parse import ReportError, could_repeat, parse_report
from streams.governance.status_guard import Unchecked, claim
from streams.governance.status_history import STATUSES, StatusHistory, current, ordered, status_error, status_row

__all__ = ["ReportDesk", "STATUSES", "SYSTEM", "status_error", "status_row"]



class ReportDesk:
    """Intake, duplicate merging, linking and status for public reports.

    ``pipeline`` gives the cascades (for event-id links); :meth:`observe` feeds source-post
    texts and event ids (or call :meth:`add_rumour_text`). ``store`` (optional) is a store with the
    governance methods (:mod:`streams.store.governance`); reports and status changes are written
    there as they happen, and memory keeps only the reports and status changes of the last
    ``report_dedup_hours`` (the store has them all); without a store memory keeps everything.

    The desk's lock guards its memory of reports and status rows; no store read, pipeline lock
    or shingling happens under it (linking has its own lock: :mod:`streams.governance.report_links`).
    """

    def __init__(self, config: GovernanceConfig | None = None, pipeline=None, store=None):
        self.config = config or GovernanceConfig()
        self.store = store
        window = int(self.config.report_dedup_hours * 3_600_000)
        self.window_ms = window if store is not None else None
        self.memory = ReportMemory(self.window_ms)
        self.reports = self.memory.reports  # report_id -> report, those remembered
        self.history = StatusHistory()  # status rows, in the order recorded, indexed by rumour
        self.links = ReportLinks(self.config.report_link_rumours, self.config.report_link_similarity, pipeline)
        self._lock = threading.RLock()
        self._link_lock = threading.Lock()  # a manual link's check and write, one at a time

    @property
    def pipeline(self):
        return self.links.pipeline

    @pipeline.setter
    def pipeline(self, pipeline) -> None:
        self.links.pipeline = pipeline

    @property
    def _rumour_texts(self):
        return self.links.texts

    # -- rumour texts and events --------------------------------------------------------------
    def add_rumour_text(self, rumour_id: str, text: str | None) -> None:
        self.links.add_text(rumour_id, text)

    def observe(self, batch, view=None) -> None:
        """Index the source-post texts and event ids of a batch and count every rumour of the
        batch as active (:meth:`ReportLinks.observe`; ``view``: the hub's batch view)."""
        self.links.observe(batch, view)

    # -- restart ------------------------------------------------------------------------------
    def restore(self, now_ms: int | None = None) -> int:
        """A desk starting over its store (a restart): remember the reports received within
        ``report_dedup_hours`` before ``now_ms`` (one query); returns how many. Status rows are
        not loaded: :meth:`latest_status` and the service read them from the store."""
        if self.store is None:
            return 0
        now_ms = int(time.time() * 1000) if now_ms is None else int(now_ms)
        rows = self.store.load_reports(received_since_ms=now_ms - self.window_ms)
        with self._lock:
            return self.memory.restore(rows, now_ms)

    def report(self, report_id: str) -> dict | None:
        """The report ``report_id``: remembered, else from the store (one point query), else None."""
        with self._lock:
            rep = self.memory.get(report_id)
        if rep is None and self.store is not None:
            rep = self._stored(report_id)
        return rep

    def _stored(self, report_id: str) -> dict | None:
        rep = self.store.find_report(report_id)
        if rep is not None:
            rep["client_report_id"] = rep.get("client_report_id") or None
        return rep

    def _forget_before(self, now_ms: int) -> None:
        """Bound memory by the window (with a store only: it holds what is forgotten)."""
        if self.window_ms is None:
            return
        self.memory.forget_before(now_ms)
        self.history.forget_before(now_ms - self.window_ms)

    # -- intake -------------------------------------------------------------------------------
    def submit(self, payload, source: str = "http", now_ms: int | None = None, prefer=None) -> tuple[int, dict]:
        """``(http status, body)``: 201 for a new report, 200 for one merged into an earlier
        report (or repeated), 400 for an invalid one. ``prefer``: of rumours its text matches
        equally well, which to link (:meth:`~streams.governance.report_links.ReportLinks.link`)."""
        try:
            rep = parse_report(payload, now_ms, source)
        except ReportError as exc:
            return exc.status, {"error": str(exc), "code": "bad_body"}
        rep["source"] = source
        rid = rep["report_id"]
        stored = None
        with self._lock:
            known = self.memory.get(rid)
        if known is None and self.store is not None and could_repeat(rep):
            # Received before the window (or before a restart that lost it): the store has
            # every report. Looked up outside the lock: intake from other threads goes on.
            stored = self._stored(rid)
        # Looked up before the desk's lock is taken: the pipeline holds its own lock across its
        # store reads (restoring a rumour's graph), which would otherwise stall the whole desk.
        by_event = self.links.by_event(rep)
        # The text shingled and signed (for merging, and for linking) before it too: CPU only,
        # but under the lock it would hold up every other request for as long as it takes.
        signed = self.memory.texts.sign(rep["text"]) if rep["text"] else None
        link_signed = self.links.sign(grams=signed.grams) if signed is not None else None
        with self._lock:
            known = self.memory.get(rid) or stored
            if known is not None:  # the sender's own report: ids are scoped to their source
                return 200, self._answer(known, repeated=True)
            self._forget_before(rep["received_ms"])
            canonical = self._find_duplicate(rep, signed, prefer)
            link = None
            first_rumour = canonical["rumour_id"] if canonical is not None else ""
            if canonical is not None and (not first_rumour or (prefer is not None and not prefer(first_rumour))):
                # Its first report matched no rumour, or one the sender does not cover (a copy of
                # the post elsewhere). If this one links to a rumour (the rumour's posts came in
                # since), resp. to a copy the sender covers, it is a first report of that rumour:
                # merged, it would stay with the first's link, seen by no desk, resp. not by the
                # sender's, and so would every later report like it.
                link = self.links.link(by_event, link_signed, prefer)
                if link[0] and (not first_rumour or (link[0] != first_rumour and prefer(link[0]))):
                    canonical = None
            if canonical is not None:
                rep.update(duplicate_of=canonical["report_id"], rumour_id=canonical["rumour_id"],
                           link_method=canonical["link_method"], similarity=canonical["similarity"])
                canonical["duplicates"] += 1
            else:
                rep["duplicate_of"] = ""
                rep["rumour_id"], rep["link_method"], rep["similarity"] = link or self.links.link(by_event, link_signed, prefer)
            rep["duplicates"] = 0
            self.memory.add(rep, signed)
            rumour = rep["rumour_id"]
            unknown = bool(rumour) and self.history.latest(rumour) is None
            new_status = self._first_status(rep) if unknown and self.store is None else None
        if unknown and self.store is not None:
            new_status = self._first_status_checked(rep)
        if self.store is not None:
            try:
                self.store.insert_reports([rep])
            except Exception:
                # Not stored: not remembered either, or the client's retry would be answered
                # "repeated" for a report the store never got (lost at the next restart).
                self._withdraw(rep, new_status)
                raise
            if new_status is not None:
                try:
                    self.store.append_status([new_status])
                except Exception:  # the report is stored; its rumour's next report retries this
                    self._withdraw(None, new_status)
                    raise
        return (200 if rep["duplicate_of"] else 201), self._answer(rep)

    def link_by_hand(self, report_id: str, rumour_id: str, by: str, note: str = "",
                     at_ms: int | None = None) -> tuple[int, dict]:
        """Link the unlinked report ``report_id`` to ``rumour_id`` by hand:
        :func:`streams.governance.report_manual.link_by_hand`."""
        return link_by_hand(self, report_id, rumour_id, by, note, at_ms)

    def _first_status(self, rep: dict) -> dict:
        """Record the ``received`` row of the first report of its rumour (lock held)."""
        row = status_row(rep["rumour_id"], "received", SYSTEM, f"first report {rep['report_id']}",
                         rep["received_ms"])
        self.history.append(row)
        return row

    def _first_status_checked(self, rep: dict) -> dict | None:
        """The ``received`` row of a report whose rumour memory knows no status of, when the
        store knows none either (None otherwise). The store is read without the lock, so a
        slow or unreachable store stalls only this report, not every request to the desk; a
        status recorded meanwhile (an analyst's change, another report's ``received``) is
        found by the check under the lock that follows. A store that cannot be read refuses
        the report (remembered but not stored, a retry would be answered ``repeated``)."""
        rumour = rep["rumour_id"]
        try:
            stored = self.store.latest_statuses([rumour])
        except Exception:
            self._withdraw(rep, None)
            raise
        with self._lock:
            if rumour in stored or self.history.latest(rumour) is not None:
                return None
            return self._first_status(rep)

    def _withdraw(self, rep: dict | None, status: dict | None) -> None:
        """Undo what :meth:`submit` remembered of a report (and its status row) not stored."""
        with self._lock:
            if rep is not None:
                self.memory.discard(rep["report_id"])
                first = self.memory.get(rep["duplicate_of"]) if rep["duplicate_of"] else None
                if first is not None:
                    first["duplicates"] -= 1
            if status is not None:
                self.history.remove(status)

    def _find_duplicate(self, rep, signed, prefer=None) -> dict | None:
        if rep["post_id"]:
            first = self.memory.first_of_post(rep["reporter"], rep["post_id"])
            if first is not None:
                return first
        if rep["text"]:
            # The most similar first report in the window: one linked to a rumour the sender
            # covers (``prefer``) before one linked to another (a copy of the post elsewhere),
            # before one linked to none (it stays in the window after its rumour became known).
            window = self.config.report_dedup_hours * 3_600_000
            found = [None, None, None]
            for key, _sim in self.memory.texts.query(None, self.config.report_dedup_similarity, signed):
                other = self.reports[key]
                if abs(other["report_ms"] - rep["report_ms"]) > window:
                    continue
                rank = 2 if not other["rumour_id"] else 0 if prefer is None or prefer(other["rumour_id"]) else 1
                if rank == 0:
                    return other
                found[rank] = found[rank] or other
            return found[1] or found[2]
        return None

    @staticmethod
    def _answer(rep: dict, repeated: bool = False) -> dict:
        out = {k: rep[k] for k in ("report_id", "rumour_id", "link_method", "similarity", "duplicate_of",
                                   "region_code")}
        out["client_report_id"] = rep.get("client_report_id")
        out["received_at"] = format_ts(rep["received_ms"])
        if repeated:
            out["repeated"] = True
        return out

    # -- status -------------------------------------------------------------------------------
    def set_status(self, rumour_id: str, status: str, by: str, note: str = "",
                   at_ms: int | None = None, replaces: str | None = None) -> tuple[int, dict]:
        """Record a status change (any of :data:`STATUSES`); ``(http status, body)``.
        ``replaces`` (:func:`~streams.governance.status_history.replaces_key` of the status the
        caller checked is current) makes it a guarded change: with a store, of the changes that
        replace the same one only one is accepted, the others answer 409 naming the one met
        (:func:`streams.governance.status_guard.claim`); 503 when the store's replicas could not
        all be read to check that (nothing changed)."""
        error = status_error(rumour_id, status, by)
        if error:
            return 400, {"error": error, "code": "bad_body"}
        at_ms = int(time.time() * 1000) if at_ms is None else int(at_ms)
        row = status_row(rumour_id, status, by, note, at_ms)
        if self.store is not None and replaces is not None:
            try:
                rival = claim(self.store, row, replaces)
            except Unchecked as exc:  # a replica unread may hold a competitor: nothing is made
                return 503, {"error": str(exc), "code": "status_unchecked"}
            if rival is not None:
                return 409, {"error": (f"another change of the same status came at the same time: "
                                       f"{rival['status']!r} by {rival['changed_by']} at "
                                       f"{format_ts(rival['changed_ms'])}; read it again and decide"),
                             "code": "status_conflict", "competitor": self._status_answer(rival)}
        elif self.store is not None:  # first: a change the store refused is not shown as made
            self.store.append_status([row])
        with self._lock:
            self._forget_before(at_ms)
            self.history.append(row)
        return 201, self._status_answer(row)

    def status_answer(self, rumour_id, status, by, note, at_ms) -> tuple[int, dict]:
        """What :meth:`set_status` would answer at ``at_ms``, changing nothing: ``(400, error)``
        for a change it refuses, else ``(201, answer)`` (the service audits a change before it
        applies it)."""
        error = status_error(rumour_id, status, by)
        if error:
            return 400, {"error": error, "code": "bad_body"}
        return 201, self._status_answer(status_row(rumour_id, status, by, note, at_ms))

    @staticmethod
    def _status_answer(row: dict) -> dict:
        return {"rumour_id": row["rumour_id"], "status": row["status"], "changed_by": row["changed_by"],
                "changed_at": format_ts(row["changed_ms"]), "note": row["note"]}

    def latest_status(self, rumour_id: str) -> dict | None:
        """The current status of a rumour, or None: :func:`~streams.governance.status_history.current`
        of the newest row memory holds and, with a store, the store's current row (one point
        query: the store also has what other workers and earlier runs recorded)."""
        with self._lock:
            row = self.history.newest_held(rumour_id)
        if self.store is not None:
            row = current([row, self.store.latest_statuses([rumour_id]).get(rumour_id)])
        return self._status_answer(row) if row is not None else None

    def current_statuses(self) -> dict[str, dict]:
        """rumour -> its newest status row memory holds (:meth:`StatusHistory.newest`: the
        per-rumour index, not a copy of every row, under the lock)."""
        with self._lock:
            return self.history.newest()

    def status_rows(self, rumour_id: str) -> list[dict]:
        """The status rows of a rumour memory holds, in the order recorded."""
        with self._lock:
            return self.history.of(rumour_id)

    def status_history(self, rumour_id: str) -> list[dict]:
        """The status history of a rumour memory holds, one row per change, in the one order
        (:func:`~streams.governance.status_history.ordered`): its last row is the current one."""
        return [self._status_answer(r) for r in ordered(self.status_rows(rumour_id))]

    def remembered(self, report_ids) -> dict[str, dict]:
        """report id -> a copy of the report as memory holds it, of those ``report_ids`` it holds."""
        with self._lock:
            return {rid: dict(r) for rid in report_ids if (r := self.memory.get(rid)) is not None}

    def reports_of(self, rumour_id: str) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self.memory.of_rumour(rumour_id)]
