"""The prepare path as it was before session 3 (a Python set of (rumour, event) pairs for the
cross-rumour check; each rumour's string columns gathered and encoded by ``add_batch``): the
reference tests/test_prepare_equivalence.py compares the engine with. Copied from
streams/crossref.py and streams/rumour_graphs.py at commit 937bedf; not used by the engine."""
from __future__ import annotations

import time
from operator import itemgetter

import numpy as np

from graph import ADDED, CascadeGraph
from streams.crossref import CROSS_RUMOUR, _stored_rumours_of, row_json
from streams.events import DeadLetter, EventBatch
from streams.rumour_graphs import DEBUNK


def refuse_cross_rumour_parents(batch: EventBatch, dead: list, registries, store,
                                unstored=()) -> EventBatch:
    """Rows whose parent is an event of another rumour (not of their own) become dead letters.

    ``unstored``: batches already accepted whose store write is still under way (write-behind);
    they count as stored."""
    if not len(batch):
        return batch
    rumour_ids, parent_ids = batch.rumour_id, batch.parent_event_id
    # Parents that are not in the batch under the same rumour, grouped by rumour so that each
    # rumour's graphs are asked once (one vectorised IdIndex.find) instead of once per row.
    in_batch = set(zip(rumour_ids, batch.event_id))  # built at C speed
    pending: dict[str, list] = {}
    for i, (pid, rid) in enumerate(zip(parent_ids, rumour_ids)):
        if pid is not None and (rid, pid) not in in_batch:
            pending.setdefault(rid, []).append(i)
    if not pending:
        return batch
    unknown = []  # rows whose parent is not (yet) an event of their own rumour
    for rid, rows in pending.items():
        known = np.zeros(len(rows), bool)
        pids = [batch.parent_event_id[i] for i in rows]
        for g in (reg.get(rid) for reg in registries):
            if g is not None:
                known |= g.ev.find(pids) >= 0
        unknown.extend(r for r, k in zip(rows, known.tolist()) if not k)
    unknown.sort()
    if not unknown:
        return batch
    wanted = {batch.parent_event_id[i] for i in unknown}
    elsewhere: dict[str, set] = {}
    for eid, rid in zip(batch.event_id, rumour_ids):
        if eid in wanted:
            elsewhere.setdefault(eid, set()).add(rid)
    for eid, rid in _stored_rumours_of(store, wanted):
        elsewhere.setdefault(eid, set()).add(rid)
    for other in unstored:
        for eid, rid in zip(other.event_id, other.rumour_id):
            if eid in wanted:
                elsewhere.setdefault(eid, set()).add(rid)
    bad = [i for i in unknown if elsewhere.get(batch.parent_event_id[i], set()) - {batch.rumour_id[i]}]
    if not bad:
        return batch
    now = int(time.time() * 1000)
    for i in bad:
        dead.append(DeadLetter(raw=row_json(batch, i), reason=CROSS_RUMOUR, source="pipeline",
                               received_ms=now, rumour_id=batch.rumour_id[i],
                               event_id=batch.event_id[i]))
    keep = np.ones(len(batch), bool)
    keep[bad] = False
    return batch.take(keep)



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


def apply(memory, batch: EventBatch, dead: list) -> np.ndarray:
    """RumourGraphs.apply as it was (``memory``: a streams.rumour_graphs.RumourGraphs)."""
    status = np.full(len(batch), ADDED, np.int8)
    if not len(batch):
        return status
    for (rumour_id, is_debunk), idx in group_rows(batch):
        registry = memory.debunks if is_debunk else memory.graphs
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
        memory._touch(rumour_id)
    return status
