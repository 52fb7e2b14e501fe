"""Public reports of rumours: validation, duplicate merging, linking to a cascade, and the
status of each rumour (received -> verified -> debunked -> handled) with who changed it when.

A report's fields, validation and stored id (scoped to the desk that sent it):
:mod:`streams.governance.report_parse`.

Duplicates are merged into the first report (``duplicate_of``): the same reporter reporting
the same post (id, or link when there is no id), or the same text (3-gram Jaccard >=
``report_dedup_similarity``) within ``report_dedup_hours``.

Restarts: with a store, the desk remembers the reports received within ``report_dedup_hours``
(:mod:`streams.governance.report_memory`: bounded, given back by :meth:`ReportDesk.restore`
when a desk starts over the store), so merging and the ``repeated`` answer work across a
restart within that window; a re-send of an older report is looked up in the store by its id
(one point query). A report merges only into a first report received within the window.

Linking: the reported post id (given, or read from the link) is looked up among the events of
every rumour's cascade (``Pipeline.graphs``); failing that, the text is compared with each
rumour's source-post text (3-gram Jaccard >= ``report_link_similarity``, MinHash/LSH
candidates). Texts are kept for the ``report_link_rumours`` most recently active rumours only
(:mod:`streams.governance.rumour_texts`): a report about an older one links by event id while its
graph is held, else it is stored unlinked. A rumour that receives its first linked report gets
the status ``received``.
"""
from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from graph.types import FLAG_PRESENT
from streams.events import KIND_CODE, format_ts
from streams.governance.config import GovernanceConfig
from streams.governance.report_memory import ReportMemory
from streams.governance.report_parse import (MAX_FIELD, MAX_TEXT, ReportError, could_repeat, link_candidates,
                                             parse_report)
from streams.governance.rumour_texts import RumourTexts

STATUSES = ("received", "verified", "debunked", "handled")
SYSTEM = "system:intake"
POST = KIND_CODE["post"]


def status_error(rumour_id, status, by) -> str:
    """Why a status change is refused ("" when it is valid)."""
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


class ReportDesk:
    """Intake, duplicate merging, linking and status for public reports.

    ``pipeline`` gives the cascades (for event-id links); :meth:`observe` feeds source-post
    texts (or call :meth:`add_rumour_text`). ``store`` (optional) is a store with the
    governance methods (:mod:`streams.store.governance`); reports and status changes are written
    there as they happen, and memory keeps only the reports and status changes of the last
    ``report_dedup_hours`` (the store has them all); without a store memory keeps everything.
    """

    def __init__(self, config: GovernanceConfig | None = None, pipeline=None, store=None):
        self.config = config or GovernanceConfig()
        self.pipeline = pipeline
        self.store = store
        window = int(self.config.report_dedup_hours * 3_600_000)
        self.window_ms = window if store is not None else None
        self.memory = ReportMemory(self.window_ms)
        self.reports = self.memory.reports  # report_id -> report, those remembered
        self.history: deque[dict] = deque()  # status rows, in the order recorded
        self._rumour_texts = RumourTexts(self.config.report_link_rumours)
        self._lock = threading.RLock()

    # -- rumour texts -------------------------------------------------------------------------
    def add_rumour_text(self, rumour_id: str, text: str | None) -> None:
        with self._lock:
            self._rumour_texts.add(rumour_id, text)

    def observe(self, batch) -> None:
        """Index the source-post texts of a batch (events of kind ``post`` with text) and count
        every rumour of the batch as active (the least recently active texts go first)."""
        # Only source posts can carry a rumour's text: the other rows are never looked at.
        texts, rumours = batch.text, batch.rumour_id
        posts = [(rumours[i], texts[i]) for i in np.flatnonzero(np.asarray(batch.kind) == POST).tolist()
                 if texts[i]]
        active = dict.fromkeys(rumours)  # each rumour once, in batch order
        with self._lock:
            for rid, text in posts:
                self._rumour_texts.add(rid, text)
            self._rumour_texts.touch(active)

    # -- restart ------------------------------------------------------------------------------
    def restore(self, now_ms: int | None = None) -> int:
        """A desk starting over its store (a restart): remember the reports received within
        ``report_dedup_hours`` before ``now_ms`` (one query); returns how many. Status rows are
        not loaded: :meth:`latest_status` reads the store for a rumour memory does not know."""
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
        cut = now_ms - self.window_ms
        while self.history and self.history[0]["changed_ms"] < cut:
            self.history.popleft()

    # -- intake -------------------------------------------------------------------------------
    def submit(self, payload, source: str = "http", now_ms: int | None = None) -> tuple[int, dict]:
        """``(http status, body)``: 201 for a new report, 200 for one merged into an earlier
        report (or repeated), 400 for an invalid one."""
        try:
            rep = parse_report(payload, now_ms, source)
        except ReportError as exc:
            return exc.status, {"error": str(exc)}
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
        by_event = self._event_link(rep)
        with self._lock:
            known = self.memory.get(rid) or stored
            if known is not None:  # the sender's own report: ids are scoped to their source
                return 200, self._answer(known, repeated=True)
            self._forget_before(rep["received_ms"])
            canonical = self._find_duplicate(rep)
            if canonical is not None:
                rep.update(duplicate_of=canonical["report_id"], rumour_id=canonical["rumour_id"],
                           link_method=canonical["link_method"], similarity=canonical["similarity"])
                canonical["duplicates"] += 1
            else:
                rep["duplicate_of"] = ""
                rep["rumour_id"], rep["link_method"], rep["similarity"] = self._link(rep, by_event)
            rep["duplicates"] = 0
            self.memory.add(rep)
            rumour = rep["rumour_id"]
            unknown = bool(rumour) and not self._has_status_here(rumour)
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

    def _has_status_here(self, rumour_id: str) -> bool:
        """Whether memory holds a status row of the rumour (call with the lock held)."""
        return any(r["rumour_id"] == rumour_id for r in self.history)

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
            if rumour in stored or self._has_status_here(rumour):
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
            if status is not None and status in self.history:
                self.history.remove(status)

    def _find_duplicate(self, rep) -> dict | None:
        if rep["post_id"]:
            first = self.memory.first_of_post(rep["reporter"], rep["post_id"])
            if first is not None:
                return first
        if rep["text"]:
            window = self.config.report_dedup_hours * 3_600_000
            for key, _sim in self.memory.texts.query(rep["text"], self.config.report_dedup_similarity):
                other = self.reports[key]
                if abs(other["report_ms"] - rep["report_ms"]) <= window:
                    return other
        return None

    def _event_link(self, rep) -> str | None:
        """The rumour whose cascade holds the post the report names (id, else its link)."""
        if self.pipeline is None:
            return None
        ids = [rep["post_id"]] if rep["post_id"] else []
        ids += [c for c in link_candidates(rep["link"]) if c not in ids]
        for event_id in ids:
            rid = self._rumour_of_event(event_id)
            if rid is not None:
                return rid
        return None

    def _link(self, rep, by_event: str | None) -> tuple[str, str, float]:
        """``(rumour_id, link_method, similarity)`` of a first report (lock held)."""
        if by_event is not None:
            self._rumour_texts.touch((by_event,))  # a reported rumour is an active one
            return by_event, "event_id", 1.0
        if rep["text"]:
            best = self._rumour_texts.query(rep["text"], self.config.report_link_similarity)
            if best:
                self._rumour_texts.touch((best[0][0],))
                return best[0][0], "text", round(best[0][1], 4)
        return "", "none", 0.0

    def _rumour_of_event(self, event_id: str) -> str | None:
        with self.pipeline.lock:
            for rid, graph in self.pipeline.graphs.items():
                node = graph.node(event_id)
                if node >= 0 and node < graph.n_nodes and graph.kf[node] & FLAG_PRESENT:
                    return rid
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
                   at_ms: int | None = None) -> tuple[int, dict]:
        """Record a status change (any of :data:`STATUSES`); ``(http status, body)``."""
        error = status_error(rumour_id, status, by)
        if error:
            return 400, {"error": error}
        at_ms = int(time.time() * 1000) if at_ms is None else int(at_ms)
        row = status_row(rumour_id, status, by, note, at_ms)
        if self.store is not None:  # first: a change the store refused is not shown as made
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
            return 400, {"error": error}
        return 201, self._status_answer(status_row(rumour_id, status, by, note, at_ms))

    @staticmethod
    def _status_answer(row: dict) -> dict:
        return {"rumour_id": row["rumour_id"], "status": row["status"], "changed_by": row["changed_by"],
                "changed_at": format_ts(row["changed_ms"]), "note": row["note"]}

    def latest_status(self, rumour_id: str) -> dict | None:
        """The newest status row of a rumour (here, else in the store), or None."""
        with self._lock:
            rows = [r for r in self.history if r["rumour_id"] == rumour_id]
        if rows:
            return self._status_answer(max(rows, key=lambda r: r["changed_ms"]))
        if self.store is not None:
            got = self.store.latest_statuses([rumour_id])
            if rumour_id in got:
                return self._status_answer(got[rumour_id])
        return None

    def status_history(self, rumour_id: str) -> list[dict]:
        with self._lock:
            rows = sorted((r for r in self.history if r["rumour_id"] == rumour_id), key=lambda r: r["changed_ms"])
        return [self._status_answer(r) for r in rows]

    def reports_of(self, rumour_id: str) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self.reports.values() if r["rumour_id"] == rumour_id]
