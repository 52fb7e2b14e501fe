"""The per-rumour graphs a pipeline holds: grouping a batch by rumour, applying it, and a memory
budget with least-recently-touched eviction.

A rumour has up to two graphs: its shares, and the shares of debunk articles (``kind == debunk``),
which form a cascade of their own. Grouping uses one dict lookup per row to number the rumours, a
stable argsort of the codes, and ``itemgetter`` to gather each group's columns (no Python loop per
row beyond the dict lookup); within a group rows keep their batch order, so graphs see exactly the
sequence the former per-row loop gave them.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from operator import itemgetter

import numpy as np

from graph import ADDED, CascadeGraph
from streams.crossref import row_json
from streams.events import KIND_CODE, DeadLetter, EventBatch

DEBUNK = KIND_CODE["debunk"]


def group_rows(batch: EventBatch) -> list:
    """``[((rumour_id, is_debunk), rows)]`` in order of first appearance of each rumour code;
    ``rows`` is an int64 array of row indices in batch order, or None for "every row".

    >>> b = EventBatch(event_id=["a", "b", "c"], rumour_id=["r", "s", "r"], account_id=["u"] * 3,
    ...                ts_ms=np.array([1, 2, 3]), parent_event_id=[None] * 3,
    ...                parent_account_id=[None] * 3, kind=np.array([0, 0, 0], np.uint8),
    ...                platform=[""] * 3, region=[None] * 3, text=[""] * 3)
    >>> [(k, r.tolist()) for k, r in group_rows(b)]
    [(('r', False), [0, 2]), (('s', False), [1])]
    """
    index: dict = {}
    codes = np.array([index.setdefault(r, len(index)) for r in batch.rumour_id], np.int64) * 2
    codes += batch.kind == DEBUNK
    names = list(index)
    if codes.min() == codes.max():
        c = int(codes[0])
        return [((names[c // 2], bool(c % 2)), None)]
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    cuts = np.flatnonzero(np.diff(sorted_codes)) + 1
    out = []
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(order)]):
        c = int(sorted_codes[lo])
        out.append(((names[c // 2], bool(c % 2)), order[lo:hi]))
    return out


def _pick(col, getter):
    return col if getter is None else list(getter(col))


class RumourGraphs:
    """Graphs by rumour id (``graphs``: shares, ``debunks``: debunk cascades) with an LRU order.

    ``budget_bytes`` (None: unbounded) caps the memory of the graphs; :meth:`over_budget` names
    the least recently touched rumours to drop so the rest fit (the pipeline decides when).
    """

    def __init__(self, budget_bytes: int | None = None):
        self.graphs: dict[str, CascadeGraph] = {}
        self.debunks: dict[str, CascadeGraph] = {}
        self.budget_bytes = budget_bytes
        self._lru: OrderedDict[str, int] = OrderedDict()  # rumour -> bytes, oldest first
        self.evictions = 0

    def __contains__(self, rumour_id: str) -> bool:
        return rumour_id in self.graphs or rumour_id in self.debunks

    def registries(self):
        return self.graphs, self.debunks

    def drop(self, rumour_id: str) -> None:
        self.graphs.pop(rumour_id, None)
        self.debunks.pop(rumour_id, None)
        self._lru.pop(rumour_id, None)

    def nbytes(self) -> int:
        return sum(self._lru.values())

    def _touch(self, rumour_id: str) -> None:
        size = 0
        for reg in (self.graphs, self.debunks):
            g = reg.get(rumour_id)
            if g is not None:
                size += g.nbytes()
        self._lru[rumour_id] = size
        self._lru.move_to_end(rumour_id)

    def over_budget(self, keep=()) -> list[str]:
        """Least recently touched rumours (not in ``keep``) whose removal brings the total under
        the budget; empty when unbounded or within it."""
        if self.budget_bytes is None:
            return []
        total = sum(self._lru.values())
        out = []
        for rumour_id, size in self._lru.items():
            if total <= self.budget_bytes:
                break
            if rumour_id in keep:
                continue
            out.append(rumour_id)
            total -= size
        return out

    def apply(self, batch: EventBatch, dead: list) -> np.ndarray:
        """Add every row to its rumour's graph; status per row (ADDED, DUPLICATE, REJECTED).
        Rows the graph refuses (cycles, ...) become dead letters appended to ``dead``."""
        status = np.full(len(batch), ADDED, np.int8)
        if not len(batch):
            return status
        for (rumour_id, is_debunk), idx in group_rows(batch):
            registry = self.debunks if is_debunk else self.graphs
            graph = registry.get(rumour_id)
            if graph is None:
                graph = registry[rumour_id] = CascadeGraph(rumour_id=rumour_id)
            if idx is None:
                getter, sel = None, slice(None)
            else:
                rows = idx.tolist()
                getter = itemgetter(*rows) if len(rows) > 1 else (lambda col, r=rows[0]: (col[r],))
                sel = idx
            result = graph.add_batch(
                _pick(batch.event_id, getter), _pick(batch.account_id, getter), batch.ts_ms[sel],
                _pick(batch.parent_event_id, getter), _pick(batch.parent_account_id, getter),
                batch.kind[sel])
            status[sel] = result.status
            for local, reason in result.reasons.items():
                row = local if idx is None else int(idx[local])
                dead.append(DeadLetter(
                    raw=row_json(batch, row), reason=reason, source="graph",
                    received_ms=int(time.time() * 1000), rumour_id=rumour_id,
                    event_id=batch.event_id[row]))
            self._touch(rumour_id)
        return status
