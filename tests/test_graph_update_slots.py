"""The live update's remembered insert slots (graph/kernels_resolve.py): checked against a dict
and, through add_batch, against the naive cascade of tests/naive.py."""
from __future__ import annotations

import numpy as np
import pytest

from graph import CascadeGraph
from graph.ids import IdIndex, append_at, encode_batch, id_hash
from graph.kernels_resolve import resolve_slots, settle
from tests.naive import NaiveCascade, columns


def _random_ids(rng, k, alphabet="ab\x01é"):
    # Tiny alphabet, short ids: many equal ids in one batch and long shared probe runs.
    return ["".join(rng.choice(list(alphabet), int(rng.integers(1, 6)))) for _ in range(k)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_resolve_slots_then_settle_and_insert_matches_a_dict(seed):
    """Resolve a batch ahead, then intern it id by id through settle(): every index must be the
    dict's, also when an earlier id of the batch took the slot remembered for a later one."""
    rng = np.random.default_rng(seed)
    ix = IdIndex(capacity=1)
    ref: dict[str, int] = {}
    for _ in range(30):
        batch = _random_ids(rng, int(rng.integers(1, 400)))
        buf, st, en = encode_batch(batch)
        ix.reserve(len(batch), buf.shape[0])  # what the graph's room check guarantees
        k = len(batch)
        hs, res = np.zeros(k, np.uint64), np.full(k, -7, np.int64)
        resolve_slots(ix.table, ix.offs, ix.arena, buf, st, en, 0, k, hs, res,
                      np.zeros(0, np.uint8))
        size = ix.table.shape[0]
        for i, s in enumerate(batch):
            assert int(hs[i]) == int(id_hash(buf, st[i], en[i]))
            if s in ref:
                assert res[i] == ref[s]
            else:  # absent: an empty slot at the end of a run of other ids
                slot = -2 - int(res[i])
                assert ix.table[slot] == -1
                walk = ((int(hs[i]) >> 32) * size) >> 32  # the home slot: high half scaled
                while walk != slot:
                    assert ix.table[walk] != -1
                    walk = (walk + 1) % size
        got = []
        for i, s in enumerate(batch):
            j, slot = settle(ix.table, ix.offs, ix.arena, buf, st[i], en[i], hs[i], res[i])
            if j < 0:
                assert ix.table[slot] == -1
                j = ix.count
                ix.count = append_at(ix.table, slot, ix.offs, ix.arena, ix.count, buf, st[i],
                                     en[i], hs[i])
            got.append(int(j))
            ref.setdefault(s, len(ref))
        assert got == [ref[s] for s in batch]
        assert ix.find(list(ref)).tolist() == list(range(len(ref)))


def _rows(rng, n, n_ids, n_acc):
    """Shares whose ids come from small pools: repeats inside one batch (duplicates, children
    before parents, placeholders filled) and crowded hash tables."""
    rows = []
    for i in range(n):
        e = f"e{int(rng.integers(0, n_ids))}"
        p = f"e{int(rng.integers(0, n_ids))}" if rng.random() < 0.8 else None
        q = f"u{int(rng.integers(0, n_acc))}" if rng.random() < 0.4 else None
        rows.append((e, f"u{int(rng.integers(0, n_acc))}", int(rng.integers(0, 50)), p, q))
    return rows


@pytest.mark.parametrize("seed", range(6))
def test_add_batch_with_repeated_new_ids_against_oracle(seed):
    rng = np.random.default_rng(100 + seed)
    rows = _rows(rng, 2500, n_ids=int(rng.integers(300, 3000)), n_acc=int(rng.integers(5, 500)))
    g = CascadeGraph(capacity=int(rng.integers(1, 64)))
    status, lo = [], 0
    while lo < len(rows):
        k = int(rng.integers(1, 600))
        status += g.add_batch(*columns(rows[lo:lo + k])).status.tolist()
        lo += k
    ref = NaiveCascade()
    assert status == [s for s, _ in ref.add_rows(rows)]
    ans = ref.answers()
    assert [tuple(o) for o in g.origins()] == ans["origins"]
    for e in sorted(e for e in ans["present"] if isinstance(e, str))[:50]:
        assert [tuple(h) for h in g.chain(e)] == ref.chain(ans, e)


@pytest.mark.parametrize("seed", [3, 4])
def test_find_encoded_matches_a_dict_at_every_load(seed):
    """find_encoded (pipelined since the cross-rumour check asks it of every parent of a batch):
    present, absent, empty and repeated ids, in gathered (non-contiguous) offsets, against a dict,
    as the table fills up to its load limit and grows."""
    rng = np.random.default_rng(seed)
    ix = IdIndex(capacity=1)
    ref: dict[str, int] = {}
    for _ in range(25):
        new = _random_ids(rng, int(rng.integers(1, 300)), alphabet="abcdé\x01")
        for s, j in zip(new, ix.add(new).tolist()):
            assert ref.setdefault(s, j) == j
        asked = [*_random_ids(rng, 200, alphabet="abcdé\x01"), None, *list(ref)[:50]]
        buf, st, en = encode_batch(asked)
        pick = rng.permutation(len(asked))  # offsets gathered, as crossref passes them
        got = ix.find_encoded(buf, st[pick], en[pick])
        assert got.dtype == np.int32
        assert got.tolist() == [ref.get(asked[i], -1) if asked[i] else -1 for i in pick]
    assert ix.find_encoded(buf, st[:0], en[:0]).tolist() == []
