"""What an import read, wrote, repaired and could not use: the :class:`ImportReport`.

Accounting contract: every input record (a Weibo repost record, a Twitter tree line) is either
used for exactly one output event or counted under ``dropped`` with a reason, so
``records_in == records_used + sum(dropped.values())`` (see :meth:`ImportReport.balanced`).
Events that were written but changed on the way (a year guessed, a timestamp clamped, a parent
replaced) are counted under ``repaired``; observations that change nothing are ``notes``.
Each of these also appears in ``problems`` with the file and item it concerns.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

DROPPED = "dropped"
REPAIRED = "repaired"
NOTED = "noted"


@dataclass(slots=True)
class Problem:
    """One thing that could not be read as it was: where, what, and what the importer did."""

    file: str
    item: str
    reason: str
    action: str  # dropped | repaired | noted
    detail: str = ""
    records: int = 1  # input records it concerns (a dropped tree counts all its lines)

    def to_dict(self) -> dict:
        out = {"file": self.file, "item": self.item, "reason": self.reason, "action": self.action}
        if self.detail:
            out["detail"] = self.detail
        if self.records != 1:
            out["records"] = self.records
        return out


@dataclass
class ImportReport:
    """Counters and problems of one import; filled while the events are iterated.

    >>> r = ImportReport("weibo-ced", "x")
    >>> r.records_in = 3; r.records_used = 2
    >>> r.drop("f.json", "m1", "missing_uid")
    >>> r.balanced(), dict(r.dropped)
    (True, {'missing_uid': 1})
    """

    dataset: str
    source: str
    cascades: int = 0
    events: int = 0
    posts: int = 0
    shares: int = 0
    comments: int = 0
    synthesised: int = 0  # events with no input record of their own (e.g. a parent only referenced)
    records_in: int = 0
    records_used: int = 0
    dropped: dict = field(default_factory=Counter)
    repaired: dict = field(default_factory=Counter)
    notes: dict = field(default_factory=Counter)
    labels: dict = field(default_factory=Counter)
    problems: list = field(default_factory=list)
    seconds: float = 0.0  # wall time of the import
    cpu_seconds: float = 0.0  # process CPU time: the figure to compare on a shared machine

    def drop(self, file: str, item: str, reason: str, detail: str = "", records: int = 1) -> None:
        self.dropped[reason] += records
        self.problems.append(Problem(file, item, reason, DROPPED, detail, records))

    def repair(self, file: str, item: str, reason: str, detail: str = "") -> None:
        self.repaired[reason] += 1
        self.problems.append(Problem(file, item, reason, REPAIRED, detail))

    def note(self, file: str, item: str, reason: str, detail: str = "") -> None:
        self.notes[reason] += 1
        self.problems.append(Problem(file, item, reason, NOTED, detail))

    def count_event(self, kind: str) -> None:
        self.events += 1
        if kind == "post":
            self.posts += 1
        elif kind == "comment":
            self.comments += 1
        else:
            self.shares += 1

    def balanced(self) -> bool:
        """True when every input record is either used or dropped with a reason."""
        return self.records_in == self.records_used + sum(self.dropped.values())

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self, max_problems: int | None = 200) -> dict:
        """A JSON-ready summary; ``problems`` is cut to ``max_problems`` (None: all)."""
        shown = self.problems if max_problems is None else self.problems[:max_problems]
        return {
            "dataset": self.dataset,
            "source": self.source,
            "cascades": self.cascades,
            "events": self.events,
            "posts": self.posts,
            "shares": self.shares,
            "comments": self.comments,
            "synthesised": self.synthesised,
            "records_in": self.records_in,
            "records_used": self.records_used,
            "dropped": dict(sorted(self.dropped.items())),
            "repaired": dict(sorted(self.repaired.items())),
            "notes": dict(sorted(self.notes.items())),
            "balanced": self.balanced(),
            "labels": dict(sorted(self.labels.items())),
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "events_per_s": round(self.events_per_s, 1),
            "events_per_cpu_s": round(self.events / self.cpu_seconds, 1) if self.cpu_seconds > 0 else 0.0,
            "problems_total": len(self.problems),
            "problems": [p.to_dict() for p in shown],
        }
