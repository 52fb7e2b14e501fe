"""The ingest kernel's pieces: tagged hash slots, pipelined batch lookups (resolve_slots), the one-pass
encoding of several columns, and add_batch across table growth with crowded probe runs."""
from __future__ import annotations

import numpy as np
import pytest

from graph import CascadeGraph
from graph.ids import IdIndex, encode_batch, id_hash, tag_of
from graph.kernels_resolve import resolve_slots
from tests.naive import NaiveCascade, columns


def _random_ids(rng, k, alphabet="ab\x01é"):
    # A tiny alphabet and short lengths: many ids of equal length and shared prefixes.
    return ["".join(rng.choice(list(alphabet), int(rng.integers(1, 6)))) for _ in range(k)]


def test_resolve_matches_a_dict_across_growth():
    rng = np.random.default_rng(11)
    ix = IdIndex(capacity=1)
    ref: dict[str, int] = {}
    for _ in range(25):
        known = _random_ids(rng, 300)
        for s, j in zip(known, ix.add(known).tolist()):
            assert ref.setdefault(s, len(ref)) == j
        probe = _random_ids(rng, 200) + [None, ""]
        buf, st, en = encode_batch(probe)
        hs = np.zeros(len(probe), np.uint64)
        res = np.full(len(probe), -7, np.int64)
        extra = np.zeros(len(ix) + 1, np.uint8)
        resolve_slots(ix.table, ix.offs, ix.arena, buf, st, en, 0, len(probe), hs, res, extra)
        # found: the index; empty: -1; absent: -2 - (an empty slot), i.e. <= -2
        assert [r if r >= -1 else "absent" for r in res.tolist()] == [
            ref.get(s, "absent") if s else -1 for s in probe]
        assert all(ix.table[-2 - r] == -1 for r in res.tolist() if r <= -2)
        assert all(int(h) == (int(id_hash(buf, a, b)) if b > a else 0)
                   for h, a, b in zip(hs, st, en))


def test_slots_carry_index_and_tag():
    ix = IdIndex()
    ids = [f"id{i}" for i in range(500)]
    ix.add(ids)
    size = ix.table.shape[0]
    mask = (1 << (size - 1).bit_length()) - 1  # index bits: the least power of two >= size
    assert size & (size - 1), "500 ids should sit in a table that is not a power of two"
    full = ix.table[ix.table >= 0].astype(np.int64)
    assert sorted((full & mask).tolist()) == list(range(500))
    for v in full.tolist():
        j = v & mask
        a, b = int(ix.offs[j]), int(ix.offs[j + 1])
        assert v & ~mask == tag_of(np.uint64(id_hash(ix.arena, a, b)), mask)


def test_encode_several_columns_with_none_and_nul():
    cols = (["a", "b\x00c"], [None, "d"], ["", None])
    buf, st, en = encode_batch(*cols)
    flat = [s or "" for c in cols for s in c]
    assert [bytes(buf[a:b]).decode() for a, b in zip(st, en)] == flat
    buf, st, en = encode_batch(["x", "y"], ["z", None])
    assert [bytes(buf[a:b]) for a, b in zip(st, en)] == [b"x", b"y", b"z", b""]


def test_add_batch_with_nul_ids_and_growth_against_oracle():
    """Ids holding NUL take encode's slow path; a tiny start capacity forces growth (and table
    rehashes) mid-batch, where the kernel resumes with lookups made before the growth."""
    rng = np.random.default_rng(4)
    rows = []
    for i in range(3000):
        parent = f"e\x00{int(rng.integers(0, i))}" if i and rng.random() < 0.9 else None
        claim = f"u{int(rng.integers(0, 40))}" if parent and rng.random() < 0.3 else None
        rows.append((f"e\x00{i}", f"u{int(rng.integers(0, 300))}", i, parent, claim))
    perm = rng.permutation(len(rows))
    rows = [rows[int(k)] for k in perm] + rows[:50]  # shuffled (children first), then duplicates
    g = CascadeGraph(capacity=1)
    status = []
    for lo in range(0, len(rows), 700):
        status += g.add_batch(*columns(rows[lo:lo + 700])).status.tolist()
    ref = NaiveCascade()
    assert status == [s for s, _ in ref.add_rows(rows)]
    ans = ref.answers()
    assert [tuple(o) for o in g.origins()] == ans["origins"]
    assert g.node("e\x0017") >= 0 and g.node("e\x00nope") == -1


def test_kinds_default_and_given_and_reject_reasons():
    from graph.types import DEFAULT_KIND, KIND_MASK

    g = CascadeGraph()
    g.add_batch(["a", "b"], ["u", "v"], np.array([1, 2]), [None, "a"], [None, None])
    r = g.add_batch(["c", "", "d", "e"], ["w", "x", "", "y"], np.array([3, 4, 5, 6]),
                    [None, None, None, "e"], [None, None, None, None], kinds=[3, 2, 2, 4])
    assert [int(g.kf[g.node(e)]) & KIND_MASK for e in "abc"] == [DEFAULT_KIND] * 2 + [3]
    assert r.status.tolist() == [0, 2, 2, 2]
    assert r.reasons == {1: "empty event_id", 2: "empty account_id", 3: "parent cycle"}
    assert g.add_batch(["f"], ["z"], np.array([7]), [None], [None]).reasons == {}


@pytest.mark.parametrize("n", [0, 1, 7, 300, 2000])
def test_parents_outside_matches_a_set_of_the_batch_pairs(n):
    from graph.kernels_ingest import parents_outside

    rng = np.random.default_rng(n)
    # Few distinct ids and groups: many repeats, parents both inside and outside their group.
    events = [f"e{int(x)}" for x in rng.integers(0, max(1, n // 2), n)]
    groups = rng.integers(0, 5, n)
    parents = [None if x < 0 else ("" if x == 0 else f"e{int(x)}")
               for x in rng.integers(-3, max(2, n // 2), n)]
    buf, st, en = encode_batch(events, [None] * n, parents, [None] * n)
    pairs = set(zip(groups.tolist(), events))
    expected = [bool(p) and (int(g), p) not in pairs for g, p in zip(groups, parents)]
    assert parents_outside(buf, st, en, groups).tolist() == expected
