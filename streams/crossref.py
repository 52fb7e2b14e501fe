"""Parents in another rumour: detection at ingest (see RELIABILITY.md).

Event ids are unique within a rumour, so ``parent_event_id`` names an event of the child's own
rumour. A parent id that is not an event of the child's rumour (in its graph or in the batch) but
is an event of another rumour (in the same batch, or already in the store) marks the child as
``parent in another rumour``: it becomes a dead letter. A parent that reaches the store only
after its child is not detected here (the child keeps an unobserved placeholder parent): with
``late`` (a :class:`streams.crossref_late.LateParents`) such children are remembered, and the
parent's arrival in another rumour records the child's link as a data-quality dead letter.
"""
from __future__ import annotations

import time
from itertools import compress

import numpy as np
import orjson

import sql
from graph.kernels_ingest import parents_outside
from sql.queries import quote
from streams.events import DeadLetter, EventBatch

CROSS_RUMOUR = "parent in another rumour"


def refuse_cross_rumour_parents(batch: EventBatch, dead: list, registries, store,
                                unstored=(), ids=None, late=None):
    """Rows whose parent is an event of another rumour (not of their own) become dead letters.

    ``unstored``: batches already accepted whose store write is still under way (write-behind);
    they count as stored. ``ids``: the batch's streams.rumour_graphs.BatchIds if the caller has
    them. ``late``: a :class:`streams.crossref_late.LateParents` that notes the rows whose parent
    is an event of no rumour yet. Returns the batch without those rows (and, with ``ids`` given,
    ``(batch, ids)``)."""
    from streams.rumour_graphs import batch_ids

    given = ids is not None
    if not len(batch):
        return (batch, ids) if given else batch
    if ids is None:
        ids = batch_ids(batch)
    orphans = None if late is None else []
    bad = cross_rumour_rows(batch, ids, registries, store, unstored, orphans)
    if late is not None:  # also with none: a batch given up must not leave its notes staged
        late.note(batch, orphans)
    if bad:
        now = int(time.time() * 1000)
        for i in bad:
            dead.append(DeadLetter(raw=row_json(batch, i), reason=CROSS_RUMOUR, source="pipeline",
                                   received_ms=now, rumour_id=batch.rumour_id[i],
                                   event_id=batch.event_id[i]))
        keep = np.ones(len(batch), bool)
        keep[bad] = False
        batch, ids = batch.take(keep), ids.take(keep)
    return (batch, ids) if given else batch


def cross_rumour_rows(batch: EventBatch, ids, registries, store, unstored=(), orphans=None) -> list:
    """Sorted rows of ``batch`` whose parent is no event of their own rumour (in the batch, in
    its graphs) but is one of another rumour (in the batch, the store or ``unstored``).
    ``orphans`` (a list) receives the rows whose parent is an event of no rumour at all, or only
    an unobserved placeholder of their own rumour's graph."""
    n = len(batch)
    # Parents that are not in the batch under the same rumour: one numba pass over the batch's
    # encoded ids (a hash table of (rumour, event id)) instead of a Python set of tuples.
    pending = np.flatnonzero(parents_outside(ids.buf, ids.st, ids.en, ids.rumour))
    if not pending.size:
        return []
    # Then each rumour's graphs are asked once, on the same encoded bytes.
    unknown = []  # rows whose parent is not (yet) an event of their own rumour
    placeholders = []  # rows whose parent is only a placeholder of their own rumour (orphans only)
    codes = ids.rumour[pending]
    order = np.argsort(codes, kind="stable")
    pending, codes = pending[order], codes[order]
    p_st, p_en = ids.st[2 * n + pending], ids.en[2 * n + pending]  # one gather for all rumours
    cuts = (np.flatnonzero(np.diff(codes)) + 1).tolist()
    starts, ends = [0, *cuts], [*cuts, pending.size]
    for code, lo, hi in zip(codes[starts].tolist(), starts, ends):
        rid = ids.names[code]
        graphs = [g for g in (reg.get(rid) for reg in registries) if g is not None]
        if not graphs:
            unknown.extend(pending[lo:hi].tolist())
            continue
        known = np.zeros(hi - lo, bool)
        present = np.zeros(hi - lo, bool)
        for g in graphs:
            node = g.ev.find_encoded(ids.buf, p_st[lo:hi], p_en[lo:hi])
            known |= node >= 0
            if orphans is not None:
                present |= g.nodes_present(node)
        unknown.extend(pending[lo:hi][~known].tolist())
        if orphans is not None:
            placeholders.extend(pending[lo:hi][known & ~present].tolist())
    if orphans is not None:
        # A placeholder counts as known below (the child is not refused), so the store is not
        # asked about it: its children wait for the parent all the same.
        orphans.extend(placeholders)
    if not unknown:
        return []
    unknown.sort()
    parent_ids = batch.parent_event_id
    wanted = {parent_ids[i] for i in unknown}
    elsewhere: dict[str, set] = {}
    # compress + map(wanted.__contains__): the scan of each batch runs in C, Python sees hits only.
    for eid, rid in compress(zip(batch.event_id, batch.rumour_id),
                             map(wanted.__contains__, batch.event_id)):
        elsewhere.setdefault(eid, set()).add(rid)
    for eid, rid in _stored_rumours_of(store, wanted):
        elsewhere.setdefault(eid, set()).add(rid)
    for other in unstored:
        for eid, rid in compress(zip(other.event_id, other.rumour_id),
                                 map(wanted.__contains__, other.event_id)):
            elsewhere.setdefault(eid, set()).add(rid)
    if orphans is not None:
        orphans.extend(i for i in unknown if parent_ids[i] not in elsewhere)
    rumour_ids = batch.rumour_id
    return [i for i in unknown if elsewhere.get(parent_ids[i], set()) - {rumour_ids[i]}]


def _stored_rumours_of(store, event_ids) -> list[tuple[str, str]]:
    """(event_id, rumour_id) of stored events with these ids, any rumour."""
    rows = getattr(store, "_rows", None)
    if rows is None or not event_ids:
        return []
    # ORDER BY (rumour_id, event_id): this scans the event_id column; it runs only for
    # parents unknown in their own rumour (mostly children that overtook their parent).
    query = (f"SELECT DISTINCT event_id, rumour_id FROM {sql.check_identifier(store.database)}"
             f".share_events WHERE event_id IN ({', '.join(quote(e) for e in sorted(event_ids))})")
    return [(str(e), str(r)) for e, r in rows(query)]


def row_json(batch: EventBatch, row: int) -> bytes:
    """One row of a batch as its v1 JSON (the raw bytes of a dead letter made after decoding)."""
    return orjson.dumps(next(batch.take([row]).rows()))
