"""DAVA (graph/blocking_dava.py) against an independent networkx reading of the paper, exact
expectations on trees, and the benchmark's per-sample reach against a plain BFS."""
import itertools
import math

import networkx as nx
import numpy as np
import pytest

from benchmarks.generators import erdos_renyi
from graph import blocking_dava as dv


def _case(seed, n_lo=8, n_hi=30):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(n_lo, n_hi))
    ip, ix = erdos_renyi(n, 3.0, seed=int(rng.integers(1 << 30)))
    pe = rng.uniform(0.05, 0.9, len(ix))  # continuous per-edge probabilities: no ties
    inf = np.zeros(n, bool)
    inf[rng.choice(n, 2, replace=False)] = True
    return rng, n, ip, ix, pe, inf


def _nx_dava(ip, ix, pe, inf, blocked):
    """The paper's steps in networkx: merge I into s (1 - prod(1 - p)), immediate dominators of
    the merged graph, tree weights P(v)/P(idom v) from max-probability paths, benefit recursion."""
    n = len(inf)
    s = n
    G = nx.DiGraph()
    G.add_node(s)
    q = {}
    for u in range(n):
        for e in range(ip[u], ip[u + 1]):
            v = int(ix[e])
            if blocked[u] or blocked[v] or inf[v]:
                continue
            if inf[u]:
                q[v] = q.get(v, 1.0) * (1 - pe[e])
            else:
                G.add_edge(u, v, w=-math.log(pe[e]))
    for v, qv in q.items():
        G.add_edge(s, v, w=-math.log(1 - qv))
    idom = nx.immediate_dominators(G, s)
    dist = nx.single_source_dijkstra_path_length(G, s, weight="w")
    kids = {}
    for v, d in idom.items():
        if v != s:
            kids.setdefault(d, []).append(v)

    def weight(v):
        return math.exp(-dist[v] + (0.0 if idom[v] == s else dist[idom[v]]))

    def partial(v):
        return 1.0 + sum(weight(c) * partial(c) for c in kids.get(v, []))

    return {v: idom[v] for v in idom if v != s}, {v: weight(v) * partial(v) for v in idom if v != s}


@pytest.mark.parametrize("seed", range(10))
def test_tree_and_benefit_match_networkx_reading(seed):
    rng, n, ip, ix, pe, inf = _case(seed)
    blk = np.zeros(n, bool)
    blk[rng.choice(np.flatnonzero(~inf), 1)] = True
    ref_idom, ref_ben = _nx_dava(ip, ix, pe, inf, blk)
    idom, ben = dv.dava_tree(ip, ix, pe, inf, blk)
    assert {v: int(idom[v]) for v in range(n) if idom[v] >= 0} == ref_idom
    for v, b in ref_ben.items():
        assert ben[v] == pytest.approx(b, rel=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_greedy_picks_match_networkx_reading(seed):
    _, n, ip, ix, pe, inf = _case(seed + 50)
    blocked = np.zeros(n, bool)
    ref = []
    for _ in range(3):
        idom, ben = _nx_dava(ip, ix, pe, inf, blocked)
        first = [v for v, d in idom.items() if d == n]
        if not first:
            break
        v = max(first, key=ben.get)
        ref.append(v)
        blocked[v] = True
    assert dv.dava_block(ip, ix, pe, inf, 3) == ref
    idom, ben = _nx_dava(ip, ix, pe, inf, np.zeros(n, bool))
    first = sorted((v for v, d in idom.items() if d == n), key=ben.get, reverse=True)
    assert dv.dava_block(ip, ix, pe, inf, 3, fast=True)[: min(3, len(first))] == first[:3]


def _tree(rng, n):
    parent = [int(rng.integers(v)) for v in range(1, n)]
    rows = [[] for _ in range(n)]
    for v, u in enumerate(parent, start=1):
        rows[u].append(v)
        rows[v].append(u)
    ip = np.cumsum([0] + [len(r) for r in rows])
    ix = np.array([v for r in rows for v in r])
    return parent, ip, ix


@pytest.mark.parametrize("seed", range(5))
def test_benefit_is_exact_expected_saving_on_a_tree(seed):
    """DAVA-tree is exact on trees: the benefit of a child of the infected root equals the
    expected number of nodes its removal saves, summed over every live-edge world."""
    rng = np.random.default_rng(seed)
    n = 8
    parent, ip, ix = _tree(rng, n)
    p_edge = {v: float(rng.uniform(0.1, 0.9)) for v in range(1, n)}  # tree edge parent(v) - v
    pe = np.array([p_edge[max(u, int(v))] for u in range(n) for v in ix[ip[u]:ip[u + 1]]])
    inf = np.zeros(n, bool)
    inf[0] = True
    _, ben = dv.dava_tree(ip, ix, pe, inf)
    for c in [v for v in range(1, n) if parent[v - 1] == 0]:
        saved = 0.0
        for world in itertools.product([0, 1], repeat=n - 1):
            pr = math.prod(p_edge[v] if world[v - 1] else 1 - p_edge[v] for v in range(1, n))
            reached = {0}
            for v in range(1, n):  # parents have lower ids, so one pass finds the reach
                if world[v - 1] and parent[v - 1] in reached:
                    reached.add(v)
            down = {c} | {v for v in range(1, n) if _under(parent, v, c)}
            saved += pr * len(reached & down)
        assert ben[c] == pytest.approx(saved, rel=1e-9)


def _under(parent, v, c):
    while v > 0:
        if v == c:
            return True
        v = parent[v - 1]
    return False


def test_merge_combines_infected_neighbours():
    # 0 and 1 infected, both adjacent to 2; 2 - 3
    ip, ix = np.array([0, 1, 2, 5, 6]), np.array([2, 2, 0, 1, 3, 2])
    pe = np.array([0.3, 0.5, 0.9, 0.9, 0.4, 0.9])
    prob = dv.path_probability(ip, ix, pe, np.array([1, 1, 0, 0], bool))
    assert prob[2] == pytest.approx(1 - 0.7 * 0.5)
    assert prob[3] == pytest.approx((1 - 0.7 * 0.5) * 0.4)


def test_random_block_distinct_uninfected_and_seeded():
    inf = np.zeros(40, bool)
    inf[::3] = True
    a = dv.random_block(inf, 10, seed=5)
    assert len(set(a)) == 10 and not inf[a].any()
    assert a == dv.random_block(inf, 10, seed=5)


def test_bench_reach_per_sample_matches_bfs():
    from benchmarks.accuracy_blocking import world_ratio
    from tests.naive import live_reach

    rng = np.random.default_rng(3)
    ip, ix = erdos_renyi(40, 3.0, seed=7)
    live = rng.random((5, len(ix))) < 0.5
    inf = np.zeros(40, bool)
    inf[[1, 2]] = True
    blk = np.zeros(40, bool)
    blk[[5, 9, 11]] = True
    a0 = np.array([len(live_reach(ip, ix, live[r], inf, ())) for r in range(5)])
    ab = np.array([len(live_reach(ip, ix, live[r], inf, np.flatnonzero(blk).tolist())) for r in range(5)])
    mean, ratio = world_ratio(ip, ix, live, inf, blk)
    assert mean == pytest.approx(ab.mean()) and ratio == pytest.approx(np.mean((a0 - ab) / a0))


def test_dava_reading_spreads_from_every_infected_node():
    """Same graph, cascade and evaluation samples: with nothing spent (reading 'dava') the
    unblocked future reaches at least as far as the continued cascade, and every method's
    reduction is a fraction."""
    from benchmarks.accuracy_blocking import trial

    obs = trial("ba", 300, 0.12, 5, 10, 20, 40, 60, seed=3, reading="observed")
    fresh = trial("ba", 300, 0.12, 5, 10, 20, 40, 60, seed=3, reading="dava")
    assert fresh["base"] >= obs["base"] - 1e-9
    for row in (obs, fresh):
        for name, vals in row.items():
            if name != "base":
                assert all(-1e-9 <= x <= 1 + 1e-9 for x in vals), (name, vals)
