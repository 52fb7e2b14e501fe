"""Dominator-tree blocking: kernels against networkx and plain-Python reachability oracles."""
import itertools

import networkx as nx
import numpy as np
import pytest

from benchmarks.generators import erdos_renyi
from graph import blocking as bl
from graph.blocking import _dominated
from tests.naive import live_reach, mean_live_reach


def _case(seed, n_lo=6, n_hi=30):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(n_lo, n_hi))
    ip, ix = erdos_renyi(n, 3.0, seed=int(rng.integers(1 << 30)))
    live = rng.random(len(ix)) < 0.6
    inf = np.zeros(n, bool)
    inf[rng.choice(n, 2, replace=False)] = True
    return rng, n, ip, ix, live, inf


@pytest.mark.parametrize("seed", range(12))
def test_immediate_dominators_match_networkx(seed):
    rng, n, ip, ix, live, inf = _case(seed)
    blk = np.zeros(n, np.uint8)
    blk[rng.choice(np.flatnonzero(~inf), 1)] = 1
    idom, post, size = (np.empty(n + 1, np.int64) for _ in range(3))
    _dominated(ip.astype(np.int64), ix.astype(np.int64), live.astype(np.uint8), inf.astype(np.uint8), blk,
               idom, post, size, np.flatnonzero(inf), np.empty((3, n + 1), np.int64),
               np.zeros(n + 2, np.int64), np.empty(len(ix) + n, np.int64))
    G = nx.DiGraph()
    G.add_node(n)
    for u in range(n):
        for e in range(ip[u], ip[u + 1]):
            v = int(ix[e])
            if live[e] and not blk[u] and not blk[v] and not inf[v]:
                G.add_edge(u, v)
    for v in np.flatnonzero(inf).tolist():
        G.add_edge(n, v)
    ref = {int(a): int(b) for a, b in nx.immediate_dominators(G, n).items() if a != n}
    got = {v: int(idom[v]) for v in range(n) if post[v] >= 0}
    assert got == ref


@pytest.mark.parametrize("seed", range(8))
def test_gains_equal_reachability_lost(seed):
    rng, n, ip, ix, _, inf = _case(seed + 100)
    live = rng.random((3, len(ix))) < 0.5
    gain, reach = bl.dominator_gains(ip, ix, live, inf)
    base = [len(live_reach(ip, ix, live[r], inf, ())) for r in range(3)]
    assert reach == pytest.approx(np.mean(base))
    for v in np.flatnonzero(~inf).tolist():
        lost = np.mean([b - len(live_reach(ip, ix, live[r], inf, (v,))) for r, b in enumerate(base)])
        assert gain[v] == pytest.approx(lost)




@pytest.mark.parametrize("seed", range(4))
def test_greedy_first_pick_optimal_and_refine_never_worse(seed):
    rng, n, ip, ix, _, inf = _case(seed + 200, 8, 16)
    live = rng.random((4, len(ix))) < 0.5
    cand = np.flatnonzero(~inf).tolist()
    picks = bl.dominator_greedy(ip, ix, live, inf, 2)
    best1 = min(mean_live_reach(ip, ix, live, inf, [v]) for v in cand)
    assert mean_live_reach(ip, ix, live, inf, picks[:1]) == pytest.approx(best1)
    refined = bl.dominator_refine(ip, ix, live, inf, picks)
    assert mean_live_reach(ip, ix, live, inf, refined) <= mean_live_reach(ip, ix, live, inf, picks) + 1e-9
    best2 = min(mean_live_reach(ip, ix, live, inf, c) for c in itertools.combinations(cand, 2))
    assert mean_live_reach(ip, ix, live, inf, refined) >= best2 - 1e-9


def test_netshield_first_pick_is_top_eigenvector_entry():
    ip, ix = erdos_renyi(60, 5.0, seed=4)
    A = np.zeros((60, 60))
    for u in range(60):
        A[u, ix[ip[u]:ip[u + 1]]] = 1
    u = np.abs(np.linalg.eigh(A)[1][:, -1])
    inf = np.zeros(60, bool)
    inf[int(np.argmax(u))] = True  # the best node is infected, so the second best is picked
    assert bl.netshield_block(ip, ix, inf, 1) == [int(np.argsort(-u)[1])]


def test_degree_block_skips_infected():
    ip, ix = erdos_renyi(50, 4.0, seed=1)
    deg = np.diff(ip)
    inf = deg == deg.max()
    picks = bl.degree_block(ip, inf, 3)
    assert not inf[picks].any() and (deg[picks] >= np.sort(deg[~inf])[-3]).all()


def test_observation_stops_at_size_and_only_infected_tried():
    from benchmarks.accuracy_blocking import observe

    ip, ix = erdos_renyi(300, 6.0, seed=2)
    inf, tried = observe(ip, ix, 0.3, 20, np.random.default_rng(0))
    assert inf.sum() == 20
    rows = np.repeat(np.arange(300), np.diff(ip))
    assert inf[rows[tried]].all()  # only infected nodes have spent edges


@pytest.mark.parametrize("seed", range(4))
def test_search_no_worse_than_any_start_and_not_below_brute_force(seed):
    rng, n, ip, ix, _, inf = _case(seed + 300, 8, 16)
    live = rng.random((4, len(ix))) < 0.5
    cand = np.flatnonzero(~inf).tolist()
    starts = [bl.dominator_greedy(ip, ix, live, inf, 2), bl.degree_block(ip, inf, 2),
              rng.choice(cand, 2, replace=False).tolist()]
    got = mean_live_reach(ip, ix, live, inf, bl.dominator_search(ip, ix, live, inf, starts))
    for s in starts:
        assert got <= mean_live_reach(ip, ix, live, inf, bl.dominator_refine(ip, ix, live, inf, s, rounds=50)) + 1e-9
    best2 = min(mean_live_reach(ip, ix, live, inf, c) for c in itertools.combinations(cand, 2))
    assert got >= best2 - 1e-9
