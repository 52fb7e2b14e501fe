"""One rumour out of a dump: ``rumour trace --rumour ID`` builds and answers only that rumour.

The whole-input trace feeds every message through the pipeline, which builds the graph of every
rumour (14 s and 1.6 GB on the Weibo dump) before answering one. A rumour's graph depends on the
others in one way only: a share whose parent is no event of its own rumour (in its graph or its
batch) but is an event of another rumour in the same batch is refused as ``parent in another
rumour`` (streams/crossref.py). So every message is still read and decoded in the same batches
(a malformed line anywhere is the same dead letter as before), the batch's rows of the rumour
asked for are checked against the whole batch for that refusal, and only they reach the
pipeline: the graph sees exactly the rows, in exactly the batches, that the whole-input run gave
it, and the answer is the same byte for byte.

What is not the same: dead letters the pipeline makes for *other* rumours' rows (their parents in
another rumour, their graph refusals, late links) are not looked for, since finding them needs
those rumours' graphs; the dead letters of the input's malformed messages and events, and those
of the rumour asked for, are all there. ``--parents`` needs every graph (the account interaction
graph is built from all rumours' links) and a store (``--store``) every event, so neither is
focused (streams/trace.py decides).
"""
from __future__ import annotations

import numpy as np

from streams.crossref import refuse_cross_rumour_parents
from streams.events import EventBatch
from streams.inputs import chunked


def rows_of(batch: EventBatch, rumour: str) -> np.ndarray:
    """Row indices of ``batch`` whose rumour is ``rumour``.

    >>> b = EventBatch(event_id=["a", "b", "c"], rumour_id=["r", "s", "r"], account_id=["u"] * 3,
    ...                ts_ms=np.arange(3), parent_event_id=[None] * 3, parent_account_id=[None] * 3,
    ...                kind=np.ones(3, np.uint8), platform=[None] * 3, region=[None] * 3, text=[None] * 3)
    >>> rows_of(b, "r").tolist(), rows_of(b, "x").tolist()
    ([0, 2], [])
    """
    # map(__eq__) runs in C: the scan costs little beside decoding the rows.
    return np.flatnonzero(np.fromiter(map(rumour.__eq__, batch.rumour_id), bool, len(batch)))


def focus(batch: EventBatch, dead: list, rumour: str, registries) -> EventBatch:
    """The rows of ``rumour`` in ``batch`` without those whose parent is an event of another
    rumour of ``batch`` (and none of their own rumour: in the batch or in its graph, one of
    ``registries``), which become dead letters appended to ``dead``: what the pipeline's own
    check on the whole batch refuses of these rows, so the pipeline, given only them, keeps
    what it would have kept.

    >>> b = EventBatch(event_id=["p", "c", "d"], rumour_id=["s", "r", "r"], account_id=["u"] * 3,
    ...                ts_ms=np.arange(3), parent_event_id=[None, "p", "c"], parent_account_id=[None] * 3,
    ...                kind=np.ones(3, np.uint8), platform=[None] * 3, region=[None] * 3, text=[None] * 3)
    >>> dead = []
    >>> mine = focus(b, dead, "r", ({}, {}))
    >>> mine.event_id, [(d.event_id, d.reason) for d in dead]
    (['d'], [('c', 'parent in another rumour')])
    """
    rows = rows_of(batch, rumour)
    if rows.size == len(batch):
        return batch  # nothing else in it: the pipeline's check is the whole check
    mine = batch.take(rows)
    if not len(mine):
        return mine
    # The whole batch as "another batch of events": its rows of other rumours are where a
    # parent may be found (its own rows are not "another rumour"); no store is asked.
    return refuse_cross_rumour_parents(mine, dead, registries, None, unstored=[batch])


def replay_one(messages, pipeline, batch_size: int, rumour: str) -> list:
    """Feed ``(raw, source)`` pairs to ``pipeline`` in the batches
    :func:`streams.embedded.replay_messages` makes, only the rows of ``rumour`` past the decoder;
    returns the dead letters (every malformed message or event, and those of ``rumour``)."""
    dead: list = []
    registries = (pipeline.graphs, pipeline.debunks)
    for msgs, srcs in chunked(messages, batch_size):
        batch, bad = pipeline.decoder.decode(msgs, srcs)
        bad = list(bad)
        mine = focus(batch, bad, rumour, registries)
        if not len(mine):
            dead.extend(bad)  # nothing of the rumour: no graph to touch
            continue
        dead.extend(pipeline.process_batch(mine, bad).dead)
    return dead
