"""``EventBatch.from_columns``: the one constructor from ten columns in field order, shared by
the decoder's per-event path (rows transposed) and the stores' ``load_events`` (a SELECT)."""
from __future__ import annotations

from dataclasses import fields

import numpy as np
import orjson

from streams.events import Decoder, EventBatch
from streams.synthetic import synthetic_events


def test_from_columns_round_trips_a_decoded_batch():
    events = list(synthetic_events(3, 40, seed=4, debunk_fraction=0.2))
    # One event per message: the decoder's row path (validate_event, then _to_batch).
    batch, dead = Decoder().decode([orjson.dumps(e) for e in events])
    assert not dead and len(batch) == len(events)
    names = [f.name for f in fields(EventBatch)]
    again = EventBatch.from_columns([tuple(getattr(batch, n)) for n in names])
    for name in names:
        a, b = getattr(batch, name), getattr(again, name)
        if isinstance(a, np.ndarray):
            assert b.dtype == a.dtype and np.array_equal(a, b), name
        else:
            assert isinstance(b, list) and b == a, name
    assert again.event_id == [e["event_id"] for e in events]
    assert again.ts_ms.tolist() == [e["ts"] for e in events]


def test_from_columns_of_empty_columns_is_empty():
    empty = EventBatch.from_columns([[] for _ in fields(EventBatch)])
    assert len(empty) == 0 and empty.ts_ms.dtype == np.int64 and empty.kind.dtype == np.uint8
