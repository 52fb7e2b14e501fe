"""A parent that arrives after its child, in another rumour (the case :mod:`streams.crossref`
cannot see at the child's arrival).

Event ids are unique within a rumour, so a child's ``parent_event_id`` names an event of its own
rumour. When the child arrives first, its parent is an event of no rumour yet: the child is
stored, hanging under an unobserved placeholder of its own rumour's graph. If an event with
that id then arrives in ANOTHER rumour (and the child's rumour still has none), the child's
link was the wrong one, by the same rule :mod:`streams.crossref` applies when the parent came
first. The parent is fine on its own and is stored; the child is already stored. What is
recorded is the link: a dead letter (reason :data:`LATE_CROSS_RUMOUR`, the child's rumour and
event id, raw = the link as JSON with the parent's rumour) in the dead-letter table, the
data-quality record. The trace never joins the two rumours: each rumour has its own graph, and
the child keeps its own rumour's placeholder, never the other rumour's event.

:class:`LateParents` remembers the waiting children (noted by
``refuse_cross_rumour_parents(..., late=)``: rows whose parent is an event of no rumour in the
batch, the graphs, the store or the unstored batches) per parent id, oldest first, at most
``max_children`` of them (older ones are forgotten and counted: their late parent then goes
unnoticed, as before). A parent arriving in the child's own rumour settles the child (the
common case: a child that overtook its parent). A conflict leaves the child waiting, so a batch
whose write failed (its rumours discarded, processed again) reports it again, and so does an
event with that id in a third rumour; the hook therefore passes only the rows the graphs
ADDED, so a re-delivered parent (a duplicate) reports nothing twice.

Scope: the memory is the worker's. Rumours are partitioned by id, so the parent's rumour is
seen by this worker only when both rumours' partitions are its own (always in embedded mode);
a rebalance starts it empty. Checking across workers needs the same index in the store (see
the session-6 report, task R).
"""
from __future__ import annotations

import time
from itertools import compress

import orjson

from streams.events import DeadLetter, EventBatch

LATE_CROSS_RUMOUR = "parent in another rumour (arrived after the child)"


class LateParents:
    """Children whose parent was an event of no rumour when they arrived, by parent id.

    >>> from streams.decoder import Decoder
    >>> def batch(*rows):
    ...     return Decoder().decode([orjson.dumps(list(rows))])[0]
    >>> late = LateParents()
    >>> child = batch({"event_id": "c", "rumour_id": "A", "account_id": "x", "ts": 1_700_000_000_000,
    ...                "parent_event_id": "p"})
    >>> late.note(child, [0]); late.conflicts(child)  # noted, then added to the graphs: it waits
    []
    >>> [(d.rumour_id, d.event_id) for d in late.conflicts(batch(
    ...     {"event_id": "p", "rumour_id": "B", "account_id": "y", "ts": 1_700_000_000_000}))]
    [('A', 'c')]
    """

    def __init__(self, max_children: int = 100_000):
        self.max_children = int(max_children)
        # parent event id -> {(child rumour, child event): None}; dicts keep the noting order,
        # so the oldest parent ids are the first to go beyond the cap.
        self._waiting: dict[str, dict[tuple[str, str], None]] = {}
        self._count = 0
        self._staged: set[tuple[str, str, str]] = set()  # (rumour, event, parent), until added
        self.forgotten = 0  # children dropped beyond the cap
        self.settled = 0  # children whose parent arrived in their own rumour
        self.reported = 0  # dead letters made

    def __len__(self) -> int:
        return self._count

    def note(self, batch: EventBatch, rows) -> None:
        """Stage rows of ``batch`` whose parent is an event of no rumour (or a placeholder of
        their own): they wait from the next :meth:`conflicts` on, if it names them, with the same
        parent, as added (a duplicate in the batch may name another parent than the row the
        graphs took). A new batch's notes replace the stage (its predecessor was given up)."""
        parents, rumours, events = batch.parent_event_id, batch.rumour_id, batch.event_id
        self._staged = {(rumours[i], events[i], parents[i]) for i in rows}

    def _wait(self, added: EventBatch) -> None:
        staged, self._staged = self._staged, set()
        if not staged:
            return
        rows = list(zip(added.rumour_id, added.event_id, added.parent_event_id))
        for rumour_id, event_id, parent in compress(rows, map(staged.__contains__, rows)):
            kids = self._waiting.setdefault(parent, {})
            key = (rumour_id, event_id)
            if key not in kids:
                kids[key] = None
                self._count += 1
        while self._count > self.max_children:
            kids = self._waiting.pop(next(iter(self._waiting)))
            self._count -= len(kids)
            self.forgotten += len(kids)

    def conflicts(self, batch: EventBatch, now_ms: int | None = None) -> list[DeadLetter]:
        """Dead letters for the waiting children whose parent id is an event of ``batch`` (the
        events newly added to the graphs) in another rumour; children whose parent is in
        ``batch`` under their own rumour are settled first (then the other rumour's event of the
        same id is no conflict: the child's link was right). The staged notes (:meth:`note`)
        of ``batch``'s rows start waiting first."""
        self._wait(batch)
        if not self._waiting or not len(batch):
            return []
        waiting = self._waiting
        # compress + map(__contains__): the batch is scanned in C, Python sees the hits only.
        hits = list(dict.fromkeys(compress(zip(batch.event_id, batch.rumour_id),
                                           map(waiting.__contains__, batch.event_id))))
        for event_id, rumour_id in hits:
            kids = waiting.get(event_id)
            if kids is None:
                continue
            own = [k for k in kids if k[0] == rumour_id]
            for k in own:
                del kids[k]
            self._count -= len(own)
            self.settled += len(own)
            if not kids:
                del waiting[event_id]
        now = int(time.time() * 1000) if now_ms is None else now_ms
        out = []
        for event_id, rumour_id in hits:
            for child_rumour, child_event in waiting.get(event_id, ()):
                link = {"rumour_id": child_rumour, "event_id": child_event, "parent_event_id": event_id,
                        "parent_rumour_id": rumour_id}
                out.append(DeadLetter(raw=orjson.dumps(link), reason=LATE_CROSS_RUMOUR, source="pipeline",
                                      received_ms=now, rumour_id=child_rumour, event_id=child_event))
        self.reported += len(out)
        return out

    def sizes(self) -> dict:
        return {"waiting_children": self._count, "waiting_parents": len(self._waiting),
                "forgotten": self.forgotten, "settled": self.settled, "reported": self.reported}
