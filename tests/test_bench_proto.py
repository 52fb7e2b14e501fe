"""The decoder prototype in benchmarks/proto_pipeline.py must give exactly the engine's output
(batch columns, dead letters, graph answers through the engine's Pipeline) before its speed-up
means anything."""
from __future__ import annotations

import numpy as np
import orjson
import pytest

from benchmarks import ingest_kit
from benchmarks.proto_pipeline import FastDecoder
from streams.events import Decoder
from streams.pipeline import Pipeline

NOW = 1_800_000_000_000


def _same_batch(a, b):
    for name in ("event_id", "rumour_id", "account_id", "parent_event_id", "parent_account_id",
                 "platform", "region", "text"):
        assert getattr(a, name) == getattr(b, name), name
    assert np.array_equal(a.ts_ms, b.ts_ms) and a.ts_ms.dtype == b.ts_ms.dtype
    assert np.array_equal(a.kind, b.kind) and a.kind.dtype == b.kind.dtype


def _dead(d):
    return [(x.raw, x.reason, x.source, x.rumour_id, x.event_id) for x in d]


@pytest.mark.parametrize("per_message", [1, 50])
def test_fast_decoder_equals_decoder_on_valid_streams(per_message):
    msgs = [v for _, v in ingest_kit.stream_messages(3000, per_message, 4, "p", 700)]
    (a, da), (b, db) = Decoder().decode(msgs, now_ms=NOW), FastDecoder().decode(msgs, now_ms=NOW)
    _same_batch(a, b)
    assert da == db == []


EVENT = {"event_id": "e1", "rumour_id": "r", "account_id": "a", "ts": 1_700_000_000_000}


@pytest.mark.parametrize("bad", [
    {**EVENT, "event_id": ""}, {**EVENT, "event_id": "  "}, {**EVENT, "ts": True},
    {**EVENT, "ts": "2020-01-01T00:00:00Z"}, {**EVENT, "ts": 5}, {**EVENT, "kind": "like"},
    {**EVENT, "kind": ["x"]}, {**EVENT, "parent_event_id": "e1"}, {**EVENT, "region": 7},
    {**EVENT, "parent_account_id": ""}, {**EVENT, "region": ""}, {**EVENT, "account_id": "x" * 300},
    {**EVENT, "ts": NOW + 10 ** 9}, [], "text",
])
def test_fast_decoder_equals_decoder_on_odd_input(bad):
    good = [dict(EVENT, event_id=f"g{i}") for i in range(3)]
    msgs = [orjson.dumps(good), orjson.dumps(bad), orjson.dumps([bad, good[0]]), b"{oops"]
    for batch in (msgs, msgs[1:2], msgs[2:3]):
        (a, da), (b, db) = Decoder().decode(batch, now_ms=NOW), FastDecoder().decode(batch, now_ms=NOW)
        _same_batch(a, b)
        assert _dead(da) == _dead(db)


def test_fast_decoder_through_the_pipeline_answers_equal_the_engine():
    pairs = ingest_kit.stream_messages(6000, 40, 9, "q", 900)
    # interleave rumours inside batches, and a debunk cascade, as a real topic would
    msgs = [v for _, v in pairs][::-1]
    extra = [orjson.dumps([{**EVENT, "event_id": f"d{i}", "rumour_id": "q-r0", "kind": "debunk",
                            "parent_event_id": f"d{i - 1}" if i else None} for i in range(30)])]
    engine, fast = Pipeline(None), Pipeline(None, FastDecoder())
    sa, sb = [], []
    for i in range(0, len(msgs), 13):
        chunk = msgs[i:i + 13] + (extra if i == 0 else [])
        sa.append(engine.process(chunk).summary())
        sb.append(fast.process(chunk).summary())
    assert sa == sb
    assert engine.rumour_ids() == fast.rumour_ids()
    for rid in engine.rumour_ids():
        assert engine.trace(rid, 5) == fast.trace(rid, 5)
