"""Parents in another rumour: detection at ingest (see RELIABILITY.md).

Event ids are unique within a rumour, so ``parent_event_id`` names an event of the child's own
rumour. A parent id that is not an event of the child's rumour (in its graph or in the batch) but
is an event of another rumour (in the same batch, or already in the store) marks the child as
``parent in another rumour``: it becomes a dead letter. A parent that reaches the store only
after its child is not detected (the child keeps an unobserved placeholder parent).
"""
from __future__ import annotations

import time

import numpy as np
import orjson

import sql
from sql.queries import quote
from streams.events import DeadLetter, EventBatch

CROSS_RUMOUR = "parent in another rumour"


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
