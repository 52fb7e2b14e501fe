"""Parent reconstruction at scale (graph/reconstruct*.py): the candidate scan and the chunked
inference the contract audit needed, checked against plain oracles."""
from __future__ import annotations

import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from graph import CascadeGraph
from graph import reconstruct as rc
from graph import reconstruct_kernels as rk


def plain_candidates(order, par, is_cand, root_like, s, max_cands):
    """Earlier candidates of target s, most recent first: max_cands recent, then root-likes."""
    below, stack = set(), [s]
    while stack:
        x = stack.pop()
        below.add(x)
        stack.extend(np.flatnonzero(par == x).tolist())
    out, taken = [], 0
    rank = {int(c): r for r, c in enumerate(order)}
    for r in range(rank[s] - 1, -1, -1):
        c = int(order[r])
        if not is_cand[c] or c in below:
            continue
        if taken < max_cands or root_like[c]:
            out.append(c)
            taken += 1
    return out


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 30).flatmap(lambda n: st.tuples(
    st.permutations(list(range(n))),
    st.lists(st.integers(-1, 1000), min_size=n, max_size=n),
    st.lists(st.booleans(), min_size=n, max_size=n),
    st.lists(st.booleans(), min_size=n, max_size=n),
    st.integers(0, 5))))
def test_candidate_scan_matches_the_plain_one(case):
    order, raw, cand, rl, max_cands = case
    par = np.array([-1 if (i == 0 or r < 0) else r % i for i, r in enumerate(raw)], np.int64)
    is_cand = np.array(cand, np.int64)
    root_like = np.array(rl, np.int64) * (par < 0)
    targets = np.flatnonzero(par < 0)
    ptr, cands = rk.earlier_in_order(np.array(order, np.int64), par, is_cand, root_like, targets,
                                     max_cands)
    for q, s in enumerate(targets.tolist()):
        assert cands[ptr[q]:ptr[q + 1]].tolist() == plain_candidates(order, par, is_cand, root_like,
                                                                     s, max_cands)


def _parentless(n, seed):
    rng = np.random.default_rng(seed)
    g = CascadeGraph("r")
    g.add_batch([f"e{i}" for i in range(n)], [f"a{rng.integers(0, n)}" for i in range(n)],
                np.sort(rng.integers(0, 3_600_000, n)), [None] * n, [None] * n, np.ones(n, np.uint8))
    return g


def test_chunked_inference_gives_the_same_parents(monkeypatch):
    g = _parentless(700, 3)
    whole = rc.reconstruct_parents(g)
    monkeypatch.setattr(rc, "TARGETS_PER_CHUNK", 64)
    assert rc.reconstruct_parents(g) == whole
    assert len(whole) == 700 and sum(v is None for v in whole.values()) == 1


def test_many_parentless_shares_take_linear_time():
    # Every earlier node was scanned for root-like candidates: 30,000 shares took 19 s.
    rc.reconstruct_parents(_parentless(500, 1))  # compile
    started = time.process_time()
    rc.reconstruct_parents(_parentless(4000, 1))
    small = time.process_time() - started
    started = time.process_time()
    rc.reconstruct_parents(_parentless(16000, 1))
    big = time.process_time() - started
    assert big < 8 * small + 1.0  # 4x the shares: about 4x the time, not 16x
