"""The per-rumour graphs a pipeline holds: grouping a batch by rumour, applying it, and a memory
budget with least-recently-touched eviction.

A rumour has up to two graphs: its shares, and the shares of debunk articles (``kind == debunk``),
which form a cascade of their own. Grouping uses one dict lookup per row to number the rumours and
a stable argsort of the codes; the id columns of the whole batch are encoded once
(:class:`BatchIds`) and each graph gets its rows as index arrays into that encoding (no per-rumour
string gathering, joining or encoding); within a group rows keep their batch order, so graphs see
exactly the sequence the former per-row loop gave them.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from graph import ADDED, CascadeGraph
from graph.ids import encode_batch
from streams.crossref import row_json
from streams.events import KIND_CODE, DeadLetter, EventBatch

DEBUNK = KIND_CODE["debunk"]


@dataclass
class BatchIds:
    """A batch's id columns UTF-8 encoded once (graph.ids.encode_batch of event id, account,
    parent event, parent account: string ``k * n + i`` of ``buf``), with each row's rumour as a
    number (``rumour[i]`` indexes ``names``, in order of first appearance). The cross-rumour
    check and every rumour's graph read their rows from this one encoding instead of joining
    and encoding the strings of each rumour again."""

    buf: np.ndarray
    st: np.ndarray  # int64, 4 * n
    en: np.ndarray
    rumour: np.ndarray  # int64 per row
    names: list

    def __len__(self) -> int:
        return self.rumour.shape[0]

    def take(self, rows) -> "BatchIds":
        """The same rows as ``EventBatch.take(rows)`` (indices or a boolean mask)."""
        n = len(self)
        pick = np.arange(n)[rows]
        sel = (pick[None, :] + (np.arange(4) * n)[:, None]).ravel()
        return BatchIds(self.buf, self.st[sel], self.en[sel], self.rumour[pick], self.names)

    def present(self) -> list:
        """Rumour ids that have at least one row."""
        if len(self.names) == 1:
            return list(self.names) if len(self) else []
        return [self.names[r] for r in np.flatnonzero(np.bincount(self.rumour,
                                                                  minlength=len(self.names)))]


def batch_ids(batch: EventBatch) -> BatchIds:
    """Encode a batch's ids once (see :class:`BatchIds`).

    >>> b = EventBatch(event_id=["a", "b"], rumour_id=["r", "s"], account_id=["u"] * 2,
    ...                ts_ms=np.array([1, 2]), parent_event_id=[None, "a"],
    ...                parent_account_id=[None] * 2, kind=np.array([1, 1], np.uint8),
    ...                platform=[""] * 2, region=[None] * 2, text=[""] * 2)
    >>> ids = batch_ids(b)
    >>> ids.rumour.tolist(), ids.names, len(ids.take([1])), ids.take([1]).present()
    ([0, 1], ['r', 's'], 1, ['s'])
    """
    # Numbered in C: dict.fromkeys keeps first appearance, map(getitem) looks each row up.
    names = list(dict.fromkeys(batch.rumour_id))
    if len(names) == 1:
        rumour = np.zeros(len(batch), np.int64)
    else:
        index = dict(zip(names, range(len(names))))
        rumour = np.fromiter(map(index.__getitem__, batch.rumour_id), np.int64, len(batch))
    # The decoder's encoding when it checked the ids with it (EventBatch.encoded): same bytes.
    buf, st, en = batch.encoded or encode_batch(batch.event_id, batch.account_id,
                                                batch.parent_event_id, batch.parent_account_id)
    return BatchIds(buf, st, en, rumour, names)


def group_codes(ids: BatchIds, batch: EventBatch) -> list:
    """``[((rumour_id, is_debunk), rows)]`` in order of first appearance of each rumour code
    (the rumour numbers of ``ids``, no dict pass); ``rows`` is an int64 array of row indices in
    batch order, or None for "every row".

    >>> b = EventBatch(event_id=["a", "b", "c"], rumour_id=["r", "s", "r"], account_id=["u"] * 3,
    ...                ts_ms=np.array([1, 2, 3]), parent_event_id=[None] * 3,
    ...                parent_account_id=[None] * 3, kind=np.array([0, 0, 0], np.uint8),
    ...                platform=[""] * 3, region=[None] * 3, text=[""] * 3)
    >>> [(k, r.tolist()) for k, r in group_codes(batch_ids(b), b)]
    [(('r', False), [0, 2]), (('s', False), [1])]
    """
    if not len(ids):
        return []
    codes = ids.rumour * 2
    codes += batch.kind == DEBUNK
    names = ids.names
    if codes.min() == codes.max():
        c = int(codes[0])
        return [((names[c // 2], bool(c % 2)), None)]
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    cuts = (np.flatnonzero(np.diff(sorted_codes)) + 1).tolist()
    starts, ends = [0, *cuts], [*cuts, len(order)]
    # Plain ints from here: thousands of rumours in a batch make numpy scalars per group costly.
    return [((names[c // 2], bool(c % 2)), order[lo:hi])
            for c, lo, hi in zip(sorted_codes[starts].tolist(), starts, ends)]


class RumourGraphs:
    """Graphs by rumour id (``graphs``: shares, ``debunks``: debunk cascades) with an LRU order.

    ``budget_bytes`` (None: unbounded) caps the memory of the graphs; :meth:`over_budget` names
    the least recently touched rumours to drop so the rest fit (the pipeline decides when).
    """

    def __init__(self, budget_bytes: int | None = None):
        self.graphs: dict[str, CascadeGraph] = {}
        self.debunks: dict[str, CascadeGraph] = {}
        self.drops = 0  # calls of drop(), ever
        self.budget_bytes = budget_bytes
        self._lru: OrderedDict[str, int] = OrderedDict()  # rumour -> bytes, oldest first
        self.evictions = 0
        # The interaction graph of the share graphs, kept by every change (None: not kept).
        self.interactions = None

    def track_interactions(self):
        """Keep the account interaction graph of the share graphs from now on
        (:class:`streams.held_interactions.HeldInteractions`); the graphs held now are counted
        once here. Returns it (the same one when already kept)."""
        if self.interactions is None:
            from streams.held_interactions import HeldInteractions

            self.interactions = HeldInteractions()
            for rumour_id, graph in self.graphs.items():
                self.interactions.update(rumour_id, graph)
        return self.interactions

    def __contains__(self, rumour_id: str) -> bool:
        return rumour_id in self.graphs or rumour_id in self.debunks

    def registries(self):
        return self.graphs, self.debunks

    def drop(self, rumour_id: str) -> None:
        self.drops += 1  # for those who index the graphs' events (the report desk)
        self.graphs.pop(rumour_id, None)
        self.debunks.pop(rumour_id, None)
        self._lru.pop(rumour_id, None)
        if self.interactions is not None:
            self.interactions.drop(rumour_id)

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

    def apply(self, batch: EventBatch, dead: list, ids: BatchIds | None = None) -> np.ndarray:
        """Add every row to its rumour's graph; status per row (ADDED, DUPLICATE, REJECTED).
        Rows the graph refuses (cycles, ...) become dead letters appended to ``dead``.
        ``ids``: the batch's :class:`BatchIds` when the caller has them (else encoded here)."""
        status = np.full(len(batch), ADDED, np.int8)
        if not len(batch):
            return status
        if ids is None:
            ids = batch_ids(batch)
        groups = group_codes(ids, batch)
        n = len(batch)
        if len(groups) > 1:
            # One gather of every column in group order; each group is then a slice of it.
            order = np.concatenate([idx for _, idx in groups])
            st4, en4 = ids.st.reshape(4, n)[:, order], ids.en.reshape(4, n)[:, order]
            ts, kind = batch.ts_ms[order], batch.kind[order]
        lo = 0
        for (rumour_id, is_debunk), idx in groups:
            registry = self.debunks if is_debunk else self.graphs
            graph = registry.get(rumour_id)
            if graph is None:
                graph = registry[rumour_id] = CascadeGraph(rumour_id=rumour_id)
            if idx is None:
                sel, st, en, g_ts, g_kind = slice(None), ids.st, ids.en, batch.ts_ms, batch.kind
            else:
                hi = lo + idx.shape[0]
                sel, st, en = idx, st4[:, lo:hi].ravel(), en4[:, lo:hi].ravel()
                g_ts, g_kind = ts[lo:hi], kind[lo:hi]
                lo = hi
            result = graph.add_encoded(ids.buf, st, en, g_ts, g_kind)
            status[sel] = result.status
            if self.interactions is not None and not is_debunk:
                self.interactions.update(rumour_id, graph)
            self._dead_rows(batch, idx, rumour_id, result.reasons, dead)
            self._touch(rumour_id)
        return status

    @staticmethod
    def _dead_rows(batch, idx, rumour_id, reasons, dead) -> None:
        for local, reason in reasons.items():
            row = local if idx is None else int(idx[local])
            dead.append(DeadLetter(
                raw=row_json(batch, row), reason=reason, source="graph",
                received_ms=int(time.time() * 1000), rumour_id=rumour_id,
                event_id=batch.event_id[row]))
