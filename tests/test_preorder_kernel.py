"""graph.kernels_tree.preorder (numba) against a plain Python depth-first walk, on seeded random
forests with and without injected cycles: the same order and subtree counts, every subtree a
range of the order holding exactly the node's descendants, and nodes no root reaches (on a
cycle or below one) each their own one-node range after the trees, in index order."""
from __future__ import annotations

import doctest

import numpy as np
import pytest

import graph.kernels_tree as kt
from graph import cutoff_time as ct


def plain_preorder(par):
    """The obvious walk: from each root in index order, children in index order; what no root
    reaches follows, in index order, each alone."""
    n = len(par)
    kids = {v: [] for v in range(n)}
    for v in range(n):
        if par[v] >= 0:
            kids[par[v]].append(v)
    order, cnt, seen = [], [1] * n, [False] * n

    def walk(v):  # recursion is fine at these sizes
        seen[v] = True
        order.append(v)
        for c in kids[v]:
            walk(c)
            cnt[v] += cnt[c]

    for r in range(n):
        if par[r] < 0:
            walk(r)
    order.extend(v for v in range(n) if not seen[v])
    return order, cnt


def random_forest(rng, n: int, cycles: int) -> np.ndarray:
    """Parents are earlier nodes or none (a forest in arrival order), shuffled so parents also
    come after children; then ``cycles`` cycles closed by pointing a node at one of its
    descendants (or itself)."""
    par = np.array([-1 if i == 0 or rng.random() < 0.15 else int(rng.integers(0, i)) for i in range(n)], np.int64)
    perm = rng.permutation(n)  # node i becomes perm[i]
    shuffled = np.full(n, -1, np.int64)
    shuffled[perm] = np.where(par >= 0, perm[np.maximum(par, 0)], -1)
    par = shuffled
    for _ in range(cycles):
        v = int(rng.integers(0, n))
        below = [v]
        for _ in range(int(rng.integers(0, 4))):  # walk down a few steps
            kids = np.flatnonzero(par == below[-1])
            if not len(kids):
                break
            below.append(int(rng.choice(kids)))
        par[v] = below[-1]  # v's parent is now in v's own subtree: a cycle through v
    return par


def descendants(par, v) -> set:
    out, stack = set(), [v]
    while stack:
        x = stack.pop()
        out.add(x)
        stack.extend(int(c) for c in np.flatnonzero(par == x) if c not in out)
    return out


def reached_from_a_root(par, v) -> bool:
    walked = set()
    while v >= 0 and v not in walked:
        walked.add(v)
        v = par[v]
    return v < 0


@pytest.mark.parametrize("cycles", [0, 1, 3])
@pytest.mark.parametrize("seed", range(8))
def test_kernel_matches_the_plain_walk(seed, cycles):
    rng = np.random.default_rng(seed)
    for n in (1, 2, 7, 60, 300):
        par = random_forest(rng, n, cycles if n > 1 else 0)
        order, cnt, pos = kt.preorder(par)
        want_order, want_cnt = plain_preorder(par.tolist())
        assert order.tolist() == want_order and cnt.tolist() == want_cnt
        assert (order[pos] == np.arange(n)).all()
        reached = [reached_from_a_root(par, v) for v in range(n)]
        first_alone = sum(reached)  # the trees fill the first positions
        for v in range(n):
            inside = set(order[pos[v]:pos[v] + cnt[v]].tolist())
            if reached[v]:
                assert inside == descendants(par, v) and pos[v] < first_alone
            else:
                assert inside == {v} and pos[v] >= first_alone


def test_injected_cycles_really_are_cycles_and_the_kernel_returns():
    """The generator's cycles exist (else the cycle cases test nothing), and a pure cycle (no
    root at all) still returns: every node alone, in index order."""
    rng = np.random.default_rng(5)
    par = random_forest(rng, 200, 3)
    assert not all(reached_from_a_root(par, v) for v in range(200))
    ring = np.array([3, 0, 1, 2], np.int64)
    order, cnt, _ = kt.preorder(ring)
    assert order.tolist() == [0, 1, 2, 3] and cnt.tolist() == [1, 1, 1, 1]


def test_int32_parents_give_the_same_answer():
    par = random_forest(np.random.default_rng(9), 100, 2)
    a = kt.preorder(par)
    b = kt.preorder(par.astype(np.int32))
    assert all((x == y).all() for x, y in zip(a, b))


def test_greedy_on_a_cyclic_parent_array_treats_cycle_nodes_as_alone():
    """cutoff_time's greedy over the kernel: a 2-cycle (1 <-> 2) with a child (3) under it;
    each unreached node is worth its own value only, so account 3's node 3 (value 4) is not
    inside account 1's range."""
    par = np.array([-1, 2, 1, 1, 0], np.int64)
    acct = np.array([0, 1, 2, 3, 4], np.int64)
    value = np.array([10.0, 5, 1, 4, 3])
    picks = ct.greedy_accounts(par, acct, value, 4, [0])
    assert picks == [(1, 5.0), (3, 4.0), (4, 3.0), (2, 1.0)]


def test_doctest_of_preorder():
    failures, tried = doctest.testmod(kt, extraglobs={"np": np})[:2]
    assert failures == 0 and tried >= 3


@pytest.mark.parametrize("seed", range(5))
def test_node_counts_and_slots_are_the_two_sweeps_of_preorder_positions(seed):
    from graph.kernels_tree import node_counts, preorder_positions, preorder_slots
    par = random_forest(np.random.default_rng(seed), 300, cycles=0).astype(np.int32)
    topo = kt.topo_order(par)  # parents come after children too: not index order
    cnt, pos = preorder_positions(par, topo)
    assert cnt.tolist() == node_counts(par, topo).tolist()
    assert pos.tolist() == preorder_slots(par, topo, cnt).tolist()
    # The buffer-taking variants (the cut-off's reused scratch) over an earlier call's garbage.
    rng = np.random.default_rng(seed + 100)
    dirty = lambda: rng.integers(-9, 9, 300).astype(np.int32)  # noqa: E731
    assert kt.node_counts_into(par, topo, dirty()).tolist() == cnt.tolist()
    assert kt.preorder_slots_into(par, topo, cnt, dirty(), dirty()).tolist() == pos.tolist()
    assert sorted(pos.tolist()) == list(range(300))  # a permutation: one slot per node
    for v in range(300):  # each subtree is the interval its count says
        assert {int(pos[u]) for u in descendants(par, v)} == set(range(pos[v], pos[v] + cnt[v]))
