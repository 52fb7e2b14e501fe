"""What an import read, wrote, repaired and could not use: the :class:`ImportReport`.

Accounting contract: every input record (a Weibo repost record, a Twitter tree line) is either
used for exactly one output event or counted under ``dropped`` with a reason, so
``records_in == records_used + sum(dropped.values())`` (see :meth:`ImportReport.balanced`).
Events that were written but changed on the way (a year guessed, a timestamp clamped, a parent
replaced) are counted under ``repaired``; observations that change nothing are ``notes``.
Each of these also appears in ``problems`` with the file and item it concerns.

For a person: :meth:`ImportReport.summary` (per reason, its count and a few examples); the whole
list, one JSON object a line: :meth:`ImportReport.write_problems`.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

DROPPED = "dropped"
REPAIRED = "repaired"
NOTED = "noted"
EXAMPLE_CHARS = 160  # an example's detail in the summary is cut here (the JSON keeps it whole)


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
            "problems_by_reason": dict(sorted(self.problems_by_reason().items())),
            "problems": [p.to_dict() for p in shown],
        }

    def problems_by_reason(self) -> Counter:
        """How many problems have each reason (a problem, not a record: a dropped tree is one
        problem however many lines it had; ``dropped`` counts the records)."""
        return Counter(p.reason for p in self.problems)

    def summary(self, examples: int = 3) -> str:
        """The report for a person: the counts, then per reason (dropped first, then repaired,
        noted; most frequent first) how many problems and up to ``examples`` of them.

        >>> r = ImportReport("twitter15-16", "t.tar.gz", cascades=1, events=2, records_in=9, records_used=2)
        >>> for i in range(4): r.drop("t/1.txt", f"line {i}", "self_loop", "u -> u")
        >>> r.drop("t/2.txt", "*", "duplicate_tree", "same tweet id as t/1.txt", records=3)
        >>> r.repair("t/1.txt", "line 9", "ts_before_parent", "-1.0 -> 0.0")
        >>> print(r.summary(examples=2))
        twitter15-16 from t.tar.gz: 1 cascades, 2 events; 9 records in, 2 used, 7 dropped (balanced: yes)
        6 problems in 3 reasons:
          self_loop: 4 dropped
            t/1.txt line 0: u -> u
            t/1.txt line 1: u -> u
            ... and 2 more
          duplicate_tree: 1 dropped (3 records)
            t/2.txt *: same tweet id as t/1.txt
          ts_before_parent: 1 repaired
            t/1.txt line 9: -1.0 -> 0.0
        """
        dropped = sum(self.dropped.values())
        lines = [f"{self.dataset} from {self.source}: {self.cascades:,} cascades, {self.events:,} events; "
                 f"{self.records_in:,} records in, {self.records_used:,} used, {dropped:,} dropped "
                 f"(balanced: {'yes' if self.balanced() else 'no'})"]
        if not self.problems:
            return lines[0] + "\nno problems"
        by_reason: dict = {}
        for p in self.problems:
            by_reason.setdefault((p.action, p.reason), []).append(p)
        rank = {DROPPED: 0, REPAIRED: 1, NOTED: 2}
        keys = sorted(by_reason, key=lambda k: (rank.get(k[0], 3), -len(by_reason[k]), k[1]))
        lines.append(f"{len(self.problems):,} problems in {len(keys)} reasons:")
        for action, reason in keys:
            found = by_reason[action, reason]
            records = sum(p.records for p in found)
            also = f" ({records:,} records)" if action == DROPPED and records != len(found) else ""
            lines.append(f"  {reason}: {len(found):,} {action}{also}")
            for p in found[:examples]:
                detail = p.detail if len(p.detail) <= EXAMPLE_CHARS else p.detail[:EXAMPLE_CHARS - 3] + "..."
                lines.append(f"    {p.file} {p.item}" + (f": {detail}" if detail else ""))
            if len(found) > examples:
                lines.append(f"    ... and {len(found) - examples:,} more")
        return "\n".join(lines)

    def write_problems(self, path) -> None:
        """Every problem, one JSON object a line (as in :meth:`to_dict`), to ``path``: written
        whole or not at all (through ``<path>.partial``)."""
        path = Path(path)
        partial = path.with_name(path.name + ".partial")
        try:
            with open(partial, "wb") as fh:
                for p in self.problems:
                    fh.write(orjson.dumps(p.to_dict()) + b"\n")
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, path)
