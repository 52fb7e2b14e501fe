"""The numba row packer (graph/kernels_rows.py) behind ``event_rows_columns`` gives, byte for
byte, what session 6's join-and-split path gave (kept here as the reference), on seeded random
batches with nulls, empty strings, unicode and the values that must be refused."""
from __future__ import annotations

import numpy as np
import pytest

from graph.ids_encode import encode_batch
from graph.kernels_rows import ROW_MARK, pack_rows
from streams.events import EventBatch
from streams.store.clickhouse import NULL_BITS, event_rows_columns
from streams.store.clickhouse_rows import _encoded_parent_nulls

_FIELDS = ("event_id", "rumour_id", "account_id", "parent_event_id", "parent_account_id",
           "platform", "region")
_NF = len(_FIELDS) + 1


def joined_rows(batch: EventBatch):
    """Session 6's event_rows_columns: every cell joined into one string, split at row marks."""
    n = len(batch)
    if n and int(batch.kind.max()) > 3:
        return None
    codes = batch.kind.astype(np.uint8) * np.uint8(32)
    cells = ["\x01"] * ((_NF + 1) * n - 1)
    for i, name in enumerate(_FIELDS):
        values = list(getattr(batch, name))
        if name in NULL_BITS:
            nulls = [v is None for v in values]
            codes[np.array(nulls, bool)] |= np.uint8(NULL_BITS[name])
            values = ["" if v is None else v for v in values]
        cells[i::_NF + 1] = values
    texts = list(batch.text)
    codes[np.array([t is None for t in texts], bool)] |= np.uint8(NULL_BITS["text"])
    texts = ["" if t is None else t for t in texts]
    cells[_NF - 1::_NF + 1] = [str(c) for c in codes.tolist()]
    joined = "\0".join(cells)
    if joined.count("\0") != len(cells) - 1 or joined.count("\x01") != n - 1:
        return None
    joined_texts = "\0".join(texts)
    if joined_texts.count("\0") != n - 1:
        return None
    return [joined.encode("utf-8").split(b"\0\x01\0"), joined_texts.encode("utf-8").split(b"\0"),
            batch.ts_ms.tolist()]


POOL = ["", " ", "a", "é", "转发微博", "😀", "x" * 70, "CN-11", "weibo", "quote ' \\"]
BAD = ["a\x00b", "\x01", "tail\x01"]


def random_batch(rng: np.random.Generator, n: int, p_none: float, p_bad: float) -> EventBatch:
    def value(optional: bool):
        r = rng.random()
        if optional and r < p_none:
            return None
        if r > 1 - p_bad:
            return BAD[rng.integers(len(BAD))]
        return POOL[rng.integers(len(POOL))] + str(rng.integers(50))

    col = lambda optional: [value(optional) for _ in range(n)]  # noqa: E731
    kinds = rng.integers(0, 4, n).astype(np.uint8)
    if rng.random() < 0.05:
        kinds[rng.integers(n)] = 4 + rng.integers(200)
    return EventBatch(col(False), col(False), col(False), rng.integers(0, 2**62, n),
                      col(True), col(True), kinds, col(True), col(True), col(True))


@pytest.mark.parametrize("seed", range(12))
def test_packed_rows_match_the_joined_path(seed):
    rng = np.random.default_rng(seed)
    refused = packed = 0
    for _ in range(40):
        n = int(rng.choice([1, 2, 17, 300]))
        # None shares from none to all; the few-Nones, mask and all-None shapes are all hit.
        p_none = float(rng.choice([0.0, 0.01, 0.3, 1.0]))
        p_bad = float(rng.choice([0.0, 0.0, 0.002, 0.05]))
        batch = random_batch(rng, n, p_none, p_bad)
        expected, got = joined_rows(batch), event_rows_columns(batch)
        assert got == expected
        refused += got is None
        packed += got is not None
    assert refused and packed  # both outcomes were exercised


def test_constant_and_all_null_columns_match():
    n = 50
    batch = EventBatch([f"e{i}" for i in range(n)], ["r"] * n, ["a"] * n, np.arange(n),
                       [None] * n, [None] * (n - 1) + ["p"], np.ones(n, np.uint8), ["weibo"] * n,
                       [""] * n, [None] * n)
    assert event_rows_columns(batch) == joined_rows(batch)


def test_pack_rows_refuses_nul_and_x01_in_a_field():
    col = lambda b: np.frombuffer(b, np.uint8)  # noqa: E731
    assert pack_rows((col(b"ab\x00\x01c"),), np.zeros(2, np.uint8)) is None
    assert pack_rows((col(b"a\x00b"), col(b"x\x00\x00y")), np.zeros(2, np.uint8)) is None  # a NUL in a field
    ok = pack_rows((col(b"a\x00b"), col(b"\x00")), np.array([0, 255], np.uint8))
    assert ok.split(ROW_MARK) == [b"a\x00\x000", b"b\x00\x00255"]


def test_empty_batch_is_not_packed():
    assert event_rows_columns(EventBatch()) is None is joined_rows(EventBatch())


def _with_encoding(batch: EventBatch) -> EventBatch:
    """The batch carrying the encoding of its ids that the decoder sets (EventBatch.encoded)."""
    batch.encoded = encode_batch(batch.event_id, batch.account_id, batch.parent_event_id,
                                 batch.parent_account_id)
    return batch


@pytest.mark.parametrize("seed", range(8))
def test_rows_read_from_the_decoders_encoding_match_the_joined_path(seed):
    # The ids then come from EventBatch.encoded (pack_rows_encoded), not from joining the lists
    # again; NULs and \x01 in ids (encode_batch's one-by-one fallback among them) are refused.
    rng = np.random.default_rng(100 + seed)
    refused = packed = 0
    for _ in range(40):
        n = int(rng.choice([1, 2, 17, 300]))
        batch = _with_encoding(random_batch(rng, n, float(rng.choice([0.0, 0.01, 0.3, 1.0])),
                                            float(rng.choice([0.0, 0.0, 0.002, 0.05]))))
        got = event_rows_columns(batch)
        assert got == joined_rows(batch)
        refused += got is None
        packed += got is not None
    assert refused and packed


def test_an_empty_parent_that_is_not_null_is_read_from_the_lists():
    # In the encoding '' and None are both empty; a '' parent (not null) must not get the null bit.
    n = 3
    batch = _with_encoding(EventBatch(["e1", "e2", "e3"], ["r"] * n, ["a", "b", "c"], np.arange(n),
                                      [None, "", "e1"], ["", None, "a"], np.ones(n, np.uint8),
                                      ["w"] * n, [None] * n, [None] * n))
    assert _encoded_parent_nulls(batch) is None
    assert event_rows_columns(batch) == joined_rows(batch)
    codes = [row.split(b"\x00")[-1] for row in event_rows_columns(batch)[0]]
    # kind share (32), region (8) and text (16) null; parent event (1) of row 0, account (2) of row 1
    assert codes == [b"57", b"58", b"56"]


def test_decoded_batches_pack_the_same_with_and_without_their_encoding(monkeypatch):
    from benchmarks import ingest_kit as kit
    from streams.store import clickhouse_rows
    from benchmarks.bench_ingest import columnar_pairs
    from streams.decoder import Decoder

    messages = [v for _, v in columnar_pairs(kit.stream_messages(6000, 500, 3, "rk"))]
    batch, dead = Decoder().decode(messages)
    assert not dead and batch.encoded is not None and _encoded_parent_nulls(batch) is not None
    with monkeypatch.context() as m:  # the decoder's encoding is read, the ids not joined again
        m.setattr(clickhouse_rows, "pack_rows", None)
        with_encoding = event_rows_columns(batch)
    batch.encoded = None
    assert with_encoding == event_rows_columns(batch) == joined_rows(batch)
