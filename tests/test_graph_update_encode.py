"""The branch-free NUL split of graph.ids (a live update's encoding) against bytes.split."""
from __future__ import annotations

import numpy as np
import pytest

from graph.ids import encode_batch, split_nul


@pytest.mark.parametrize("seed", range(4))
def test_split_nul_matches_bytes_split(seed):
    rng = np.random.default_rng(seed)
    for _ in range(300):
        raw = bytes(rng.choice([0, 0, 97, 98, 200], int(rng.integers(0, 40))).astype(np.uint8))
        parts = raw.split(b"\x00")
        for n in {max(len(parts) + d, 1) for d in (-1, 0, 1)}:
            st, en, ok = split_nul(np.frombuffer(raw, np.uint8), n)
            assert ok == (len(parts) == n)
            if ok:
                assert [raw[a:b] for a, b in zip(st, en)] == parts


def test_encode_batch_of_many_columns_round_trips():
    rng = np.random.default_rng(9)
    cols = [[None if rng.random() < 0.2 else "".join("xé\x01"[int(c)] for c in
             rng.integers(0, 3, int(rng.integers(0, 5)))) for _ in range(50)] for _ in range(4)]
    buf, st, en = encode_batch(*cols)
    assert [bytes(buf[a:b]).decode() for a, b in zip(st, en)] == [s or "" for c in cols for s in c]
