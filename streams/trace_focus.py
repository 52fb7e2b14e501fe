"""One rumour out of a dump: ``rumour trace --rumour ID`` builds and answers only that rumour.

The whole-input trace decodes every message and builds the graph of every rumour before
answering one. Here a line is decoded only when it may hold an event of the rumour asked for:
when its bytes hold the rumour id as a JSON string (``"ID"``), or hold a backslash (an escape
could spell the id otherwise), or it is a line too long to read (its dead letter). A line
without either cannot name the rumour, whatever else it says. Only the rows of that rumour then
reach the pipeline, in the batches the whole-input run makes (``batch_size`` messages), so its
graph sees exactly the rows, in exactly the batches, it saw there.

A rumour's graph depends on the others in one way: a share whose parent is no event of its own
rumour (in its graph or its batch) but is an event of another rumour in the same batch is
refused as ``parent in another rumour`` (streams/crossref.py). When one of the rumour's rows
names a parent its rumour does not hold, its whole batch is decoded to look for that parent in
another rumour, as the whole-input run did (:class:`Later`). So the answer is the same, byte
for byte.

What is not the same: the dead letters. Lines that cannot hold the rumour are not checked, so a
malformed line there is not reported, nor are the dead letters the engine would make of other
rumours' events (their parents in another rumour, late links); the malformed lines that may be
the rumour's and the rumour's own dead letters are. ``--parents`` reads the account interaction
graph of every rumour's links: streams/trace_focus_parents.py counts what it reads of them, one
rumour at a time. A store (``--store``) takes every event, so it is not focused
(streams/trace.py decides).
"""
from __future__ import annotations

import numpy as np
import orjson

from streams.crossref import refuse_cross_rumour_parents
from streams.events import EventBatch
from streams.inputs import OversizedLine, chunked
from streams.message_sources import picked_sources


def may_hold(rumour: str):
    """A test of a raw message: may it hold an event of ``rumour``?

    >>> maybe = may_hold("r1")
    >>> maybe(b'{"rumour_id":"r1","event_id":"e"}'), maybe(b'{"rumour_id":"r10"}')
    (True, False)
    >>> maybe(b'{"rumour_id":"\\\\u0072\\\\u0031"}')  # an escape may spell it
    True
    >>> maybe('{"rumour_id":"r10"}')
    True
    """
    needle = orjson.dumps(rumour)  # "ID" as JSON writes it; escapes (a backslash) are decoded

    def maybe(raw) -> bool:
        if not isinstance(raw, (bytes, bytearray)):
            return True  # a str message (a caller's, not a file's): decoded, as before
        return needle in raw or b"\\" in raw or isinstance(raw, OversizedLine)
    return maybe


class Later:
    """The event and rumour ids of a batch, decoded only if asked for (``make()`` gives the
    batch): where the cross-rumour check looks for a parent it did not find in its rumour."""

    def __init__(self, make):
        self._make = make
        self._batch = None

    def _got(self) -> EventBatch:
        if self._batch is None:
            self._batch = self._make()
        return self._batch

    @property
    def event_id(self) -> list:
        return self._got().event_id

    @property
    def rumour_id(self) -> list:
        return self._got().rumour_id


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


def focus(batch: EventBatch, dead: list, rumour: str, registries, whole=None) -> EventBatch:
    """The rows of ``rumour`` in ``batch`` without those whose parent is an event of another
    rumour of ``whole`` (default ``batch``; anything with ``event_id`` and ``rumour_id``, such
    as a :class:`Later`) and none of their own rumour (in the batch or in its graph, one of
    ``registries``); those become dead letters appended to ``dead``: what the pipeline's own
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
    if whole is None and rows.size == len(batch):
        return batch  # nothing else in it: the pipeline's check is the whole check
    mine = batch if rows.size == len(batch) else batch.take(rows)
    if not len(mine):
        return mine
    # ``whole`` as "another batch of events": its rows of other rumours are where a parent may
    # be found (its rows of this rumour are not "another rumour"); no store is asked. It is
    # read only for rows whose parent their own rumour does not hold.
    return refuse_cross_rumour_parents(mine, dead, registries, None, unstored=[batch if whole is None else whole])


def replay_one(messages, pipeline, batch_size: int, rumour: str) -> list:
    """Feed ``(raw, source)`` pairs to ``pipeline`` in the batches
    :func:`streams.embedded.replay_messages` makes, only the rows of ``rumour``; returns the
    dead letters of the messages that may hold it (:func:`may_hold`) and of its rows."""
    dead: list = []
    decoder = pipeline.decoder
    registries = (pipeline.graphs, pipeline.debunks)
    maybe = may_hold(rumour)
    for msgs, srcs in chunked(messages, batch_size):
        picked = [i for i, raw in enumerate(msgs) if maybe(raw)]
        if not picked:
            continue
        batch, bad = decoder.decode([msgs[i] for i in picked], picked_sources(srcs, picked))
        bad = list(bad)
        whole = Later(lambda msgs=msgs, srcs=srcs: decoder.decode(msgs, srcs)[0])
        mine = focus(batch, bad, rumour, registries, whole)
        if not len(mine):
            dead.extend(bad)  # nothing of the rumour: no graph to touch
            continue
        dead.extend(pipeline.process_batch(mine, bad).dead)
    return dead


def observed_one(messages, decoder, rumour: str, observe: float | None):
    """``(batch, dead, whole)`` for the one-batch trace (``--observe``): the decoded messages
    that may hold ``rumour`` (cut to ``observe`` seconds after each rumour's start), their dead
    letters, and a :class:`Later` of every message so cut (where other rumours' events are)."""
    from streams.trace import observe_first

    kept, srcs, everything = [], [], []
    maybe = may_hold(rumour)
    for raw, source in messages:
        everything.append((raw, source))
        if maybe(raw):
            kept.append(raw)
            srcs.append(source)
    batch, dead = decoder.decode(kept, srcs)

    def whole() -> EventBatch:
        b, _ = decoder.decode([m for m, _ in everything], [s for _, s in everything])
        return b if observe is None else observe_first(b, observe)

    if observe is not None:
        # Each rumour's start is its first event: all of this rumour's events are decoded here.
        batch = observe_first(batch, observe)
    return batch, list(dead), Later(whole)
