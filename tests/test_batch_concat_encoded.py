"""EventBatch.concat keeps the decoder's id encoding (graph.ids_encode.concat_encoded): a
worker's take() of many columnar messages is then not encoded a second time, and the kept bytes
are exactly what encoding the concatenated columns gives."""
import numpy as np
import orjson

from graph.ids_encode import concat_encoded, encode_batch
from streams.decoder import Decoder
from streams.events import EventBatch
from streams.rumour_graphs import batch_ids


def _message(rng, first: int, n: int) -> bytes:
    ids = [f"微博:{first + i}" if rng.random() < 0.3 else f"e{first + i}" for i in range(n)]
    parents = [None if i == 0 or rng.random() < 0.2 else ids[int(rng.integers(0, i))] for i in range(n)]
    return orjson.dumps({"v": 1, "columns": {
        "event_id": ids, "rumour_id": "r1", "account_id": [f"u{int(rng.integers(0, 50))}" for _ in range(n)],
        "ts": [1_347_557_095_000 + first + i for i in range(n)], "parent_event_id": parents,
        "parent_account_id": [None if p is None or rng.random() < 0.5 else "u9" for p in parents],
    }})


def _strings(encoded) -> list:
    buf, starts, ends = encoded
    return [bytes(buf[i:j]) for i, j in zip(starts, ends)]


def _same(a, b) -> bool:
    """The same strings in the same places (the bytes may lie in another order in the buffer)."""
    return _strings(a) == _strings(b)


def test_concat_encoded_equals_a_fresh_encoding_on_seeded_batches():
    rng = np.random.default_rng(7)
    for _ in range(50):
        cols = [[[f"x{rng.integers(0, 9)}é" * int(rng.integers(0, 3)) or None
                  for _ in range(int(n))] for _ in range(4)] for n in rng.integers(1, 6, 3)]
        parts = [encode_batch(*c) for c in cols]
        whole = [sum((c[k] for c in cols), []) for k in range(4)]
        assert _same(concat_encoded(parts, 4), encode_batch(*whole))


def test_decoded_messages_concatenated_keep_their_encoding():
    rng = np.random.default_rng(3)
    decoder = Decoder()
    msgs = [_message(rng, 1000 * k, int(n)) for k, n in enumerate(rng.integers(1, 40, 5))]
    batch, dead = decoder.decode(msgs)
    assert dead == [] and batch.encoded is not None
    fresh = encode_batch(batch.event_id, batch.account_id, batch.parent_event_id, batch.parent_account_id)
    assert _same(batch.encoded, fresh)
    ids = batch_ids(batch)  # what the graphs are handed: the kept bytes, not a new encoding
    assert ids.buf is batch.encoded[0] and _same((ids.buf, ids.st, ids.en), fresh)


def test_concat_without_an_encoding_in_one_part_keeps_none():
    a = Decoder().decode([_message(np.random.default_rng(1), 0, 3)])[0]
    assert a.encoded is not None
    assert _same(EventBatch.concat([a, a]).encoded, concat_encoded([a.encoded, a.encoded], 4))
    plain = EventBatch.from_columns([("e",), ("r1",), ("a",), (5,), (None,), (None,), (1,),
                                     ("weibo",), ("",), (None,)])
    assert EventBatch.concat([a, plain]).encoded is None
