"""What a report desk (:class:`~streams.governance.reports.ReportDesk`) remembers of the
reports it received: the reports themselves (for the ``repeated`` answer to a re-send), the
first report of each reporter and post, and the texts of first reports (duplicate merging).

With a store behind the desk, memory holds only the reports received within the duplicate
window (``report_dedup_hours``): older ones are forgotten as newer ones arrive (the store holds
every report; a re-send of an older one is found there by its key), so memory stays bounded
however long the desk runs, and a desk that starts over a store is given that window back
(:meth:`ReportMemory.restore`). Without a store nothing is forgotten: memory is the only record.
"""
from __future__ import annotations

from collections import deque

from streams.governance.textsim import TextIndex


class ReportMemory:
    """Reports by id, in the order received; ``window_ms`` None keeps them all."""

    def __init__(self, window_ms: int | None):
        self.window_ms = window_ms
        self.reports: dict[str, dict] = {}
        self._by_post: dict[tuple[str, str], str] = {}
        self._by_rumour: dict[str, dict[str, None]] = {}  # rumour -> its report ids, as received
        self.texts = TextIndex(seed=1)  # texts of first reports (not merged into another)
        self._received: deque[tuple[int, str]] = deque()  # (received_ms, report_id), arrival order

    def __len__(self) -> int:
        return len(self.reports)

    def get(self, report_id: str) -> dict | None:
        return self.reports.get(report_id)

    def add(self, rep: dict, signed=None) -> None:
        """Remember a report (its ``duplicate_of`` decided: '' for a first report); ``signed``:
        ``self.texts.sign(rep["text"])``, when made already."""
        rid = rep["report_id"]
        self.reports[rid] = rep
        self._received.append((rep["received_ms"], rid))
        self._by_rumour.setdefault(rep["rumour_id"], {})[rid] = None
        if not rep["duplicate_of"]:
            self.texts.add(rid, rep["text"], signed)
        if rep["post_id"]:
            self._by_post.setdefault((rep["reporter"], rep["post_id"]), rid)

    def discard(self, report_id: str) -> None:
        """Forget one report now (one the store refused)."""
        rep = self.reports.pop(report_id, None)
        if rep is not None:
            self._unindex(report_id, rep)

    def _unindex(self, report_id: str, rep: dict) -> None:
        self.texts.remove(report_id)
        of_rumour = self._by_rumour[rep["rumour_id"]]
        del of_rumour[report_id]
        if not of_rumour:
            del self._by_rumour[rep["rumour_id"]]
        key = (rep["reporter"], rep["post_id"])
        if rep["post_id"] and self._by_post.get(key) == report_id:
            del self._by_post[key]

    def relink(self, rep: dict) -> None:
        """Replace a remembered report by ``rep`` (the same report, linked since: by hand),
        moved to its rumour's reports; nothing if it is not remembered (the store has it)."""
        rid = rep["report_id"]
        old = self.reports.get(rid)
        if old is None:
            return
        of_old = self._by_rumour[old["rumour_id"]]
        del of_old[rid]
        if not of_old:
            del self._by_rumour[old["rumour_id"]]
        old.update(rep)  # the same dict: a duplicate's ``duplicates`` count stays where it is
        self._by_rumour.setdefault(old["rumour_id"], {})[rid] = None

    def of_rumour(self, rumour_id: str) -> list[dict]:
        """The reports linked to ``rumour_id`` ('' : those not linked), in the order received."""
        return [self.reports[rid] for rid in self._by_rumour.get(rumour_id, ())]

    def first_of_post(self, reporter: str, post_id: str) -> dict | None:
        """The first report (the one others merge into) of ``reporter`` about ``post_id`` still
        remembered, or None."""
        rid = self._by_post.get((reporter, post_id))
        return self.canonical(rid) if rid is not None else None

    def canonical(self, report_id: str) -> dict | None:
        """The report ``report_id`` merges into (itself for a first report); None when either is
        forgotten (received before the window: a new report is no longer merged into it)."""
        rep = self.reports.get(report_id)
        if rep is None or not rep["duplicate_of"]:
            return rep
        return self.reports.get(rep["duplicate_of"])

    def forget_before(self, now_ms: int) -> int:
        """Forget the reports received more than the window before ``now_ms``; returns how
        many. Reports come in roughly in time order, so this looks only at the oldest."""
        if self.window_ms is None:
            return 0
        cut = now_ms - self.window_ms
        gone = 0
        while self._received and self._received[0][0] < cut:
            received_ms, rid = self._received.popleft()
            rep = self.reports.get(rid)
            # None: discarded; another time: discarded, then received again (its own entry)
            if rep is None or rep["received_ms"] != received_ms:
                continue
            del self.reports[rid]
            self._unindex(rid, rep)
            gone += 1
        return gone

    def restore(self, rows, now_ms: int) -> int:
        """Remember stored reports (``store.load_reports(received_since_ms=...)`` rows, in the
        order received) as if just received; returns how many are kept (those inside the
        window at ``now_ms``). A desk's ``duplicates`` counts restart from the kept reports."""
        for row in rows:
            rep = dict(row)
            if rep["report_id"] in self.reports:
                continue
            rep["client_report_id"] = rep.get("client_report_id") or None
            rep["duplicates"] = 0
            self.add(rep)
            first = self.reports.get(rep["duplicate_of"]) if rep["duplicate_of"] else None
            if first is not None:
                first["duplicates"] += 1
        self.forget_before(now_ms)
        return len(self.reports)
