"""benchmarks.generators / generators_cascades / observe: structure, seeding, ground truth."""
import math

import networkx as nx
import numpy as np
import pytest

from benchmarks.generators import (barabasi_albert, contact_graph, edges_to_csr, erdos_renyi, hawkes_cascade, hawkes_times,
                                   independent_cascade, si, si_regular_tree, watts_strogatz)
from benchmarks.generators_cascades import si_discrete
from benchmarks.observe import mask_parents, merge_sources, remove_origin, sampled_timestamps, to_event_parents
from tests.naive_sources import nx_graph


def _valid_csr(ip, ix):
    n = len(ip) - 1
    assert ip.dtype == np.int32 and ix.dtype == np.int32
    g = nx_graph(ip, ix)
    assert nx.number_of_selfloops(g) == 0 and 2 * g.number_of_edges() == len(ix)  # no duplicates
    for u in range(n):
        row = ix[ip[u]:ip[u + 1]]
        assert (np.diff(row) > 0).all()
    return g


@pytest.mark.parametrize("model", ["er", "ws", "ba", "tree3"])
def test_models_are_simple_symmetric_and_seeded(model):
    ip, ix = contact_graph(model, 2000, seed=9)
    g = _valid_csr(ip, ix)
    again = contact_graph(model, 2000, seed=9)
    assert np.array_equal(ip, again[0]) and np.array_equal(ix, again[1])
    other = contact_graph(model, 2000, seed=10)
    if model != "tree3":
        assert not np.array_equal(ix, other[1])
    if model == "tree3":
        assert nx.is_tree(g) and max(d for _, d in g.degree) == 3
    if model == "ws":
        assert g.number_of_edges() == 2000 * 3
    if model == "ba":
        assert g.number_of_edges() == 3 + (2000 - 4) * 3 and nx.is_connected(g)
    if model == "er":
        assert 5.6 < 2 * g.number_of_edges() / 2000 < 6.4


def test_fifty_thousand_nodes_is_fast():
    import time
    for make in (lambda: erdos_renyi(50_000, 6.0, 1), lambda: watts_strogatz(50_000, 6, 0.1, 1),
                 lambda: barabasi_albert(50_000, 3, 1)):
        make()  # compile
        # CPU time of this process: wall time says little on a machine shared with other runs
        t = time.process_time()
        make()
        assert time.process_time() - t < 3.0


@pytest.mark.parametrize("kind", ["si", "si_discrete", "ic", "tree"])
def test_cascade_ground_truth_is_consistent(kind):
    ip, ix = watts_strogatz(3000, 6, 0.1, seed=4)
    if kind == "si":
        c = si(ip, ix, [17], 300, seed=4)
    elif kind == "si_discrete":
        c = si_discrete(ip, ix, [17], 300, 0.2, seed=4)
    elif kind == "ic":
        c = independent_cascade(ip, ix, [17], 0.5, seed=4, max_infected=300)
    else:
        ip, ix, c = si_regular_tree(3, 300, seed=4)
    g = nx_graph(ip, ix)
    assert len(set(c.nodes.tolist())) == len(c.nodes) >= (300 if kind != "ic" else 2)
    assert c.parents[0] == -1 and (c.parents[1:] >= 0).all()
    pos = {v: i for i, v in enumerate(c.nodes.tolist())}
    for v, p, t in zip(c.nodes[1:].tolist(), c.parents[1:].tolist(), c.times[1:]):
        assert g.has_edge(v, p) and pos[p] < pos[v] and c.times[pos[p]] < t or (kind == "ic" and c.times[pos[p]] < t)
    again = si(ip, ix, [c.source], 50, seed=1), si(ip, ix, [c.source], 50, seed=1)
    assert np.array_equal(again[0].nodes, again[1].nodes)


def test_si_picks_each_boundary_edge_uniformly():
    # A star centre infected: the first new infection is a uniform leaf (all rates equal).
    ip, ix = contact_graph("tree3", 4, seed=0)  # root with 3 leaves
    rng = np.random.default_rng(0)
    firsts = [int(si(ip, ix, [0], 2, rng).nodes[1]) for _ in range(3000)]
    counts = np.bincount(firsts, minlength=4)[1:]
    assert counts.min() > 900


def test_hawkes():
    par = np.array([-1])
    seed = 0
    while len(par) < 50:  # subcritical cascades often die young: take the first sizeable one
        par, t = hawkes_cascade(seed=seed, branching=0.95, max_events=3000)
        seed += 1
    assert par[0] == -1 and (par[1:] < np.arange(1, len(par))).all() and (par[1:] >= 0).all()
    assert (t[1:] >= t[par[1:]]).all()
    t2 = hawkes_times(par, seed=1, kernel="exp", scale=10.0)
    d = t2[1:] - t2[par[1:]]
    assert (d > 0).all() and 8.0 < d.mean() < 12.0


def test_observation_models():
    ip, ix = erdos_renyi(1000, 6.0, 2)
    c = si(ip, ix, [3], 200, seed=2)
    nodes, times = sampled_timestamps(c, 0.2, seed=5)
    assert 15 < len(nodes) < 70 and set(nodes.tolist()) <= set(c.nodes.tolist())
    ev = to_event_parents(c)
    assert (ev[1:] < np.arange(1, len(ev))).all()
    par, masked = mask_parents(ev, 0.3, seed=1)
    assert masked.sum() == round(0.3 * 199) and (par[~masked] == ev[~masked]).all()
    p, t, names, kept = remove_origin(ev, c.times)
    assert len(p) == 199 and names.sum() == (ev == 0).sum() and (p[names] == -1).all()
    mp, mt, which = merge_sources([(ev, c.times), (ev[:10], c.times[:10] + 0.5)])
    assert len(mp) == 210 and (np.diff(mt) >= 0).all() and (mp == -1).sum() == 2
    assert (mt[mp[mp >= 0]] <= mt[mp >= 0]).all()


def test_si_discrete_parent_is_uniform_among_successful_tries():
    # path 0-1-2 with both ends infected and beta=1: node 1 is infected at step 1 by both ends
    ip, ix = edges_to_csr(3, np.array([0, 1]), np.array([1, 2]))
    rng = np.random.default_rng(5)
    par = [int(si_discrete(ip, ix, [0, 2], 3, 1.0, rng).parents[2]) for _ in range(2000)]
    assert set(par) == {0, 2} and 850 < par.count(0) < 1150


def test_si_discrete_is_ndlib_si_in_distribution():
    # a star centre infected at step 0: each leaf is infected at step 1 with probability beta
    ip, ix = edges_to_csr(6, np.zeros(5, dtype=np.int64), np.arange(1, 6))
    rng = np.random.default_rng(6)
    firsts = [int((si_discrete(ip, ix, [0], 2, 0.3, rng).times == 1).sum()) for _ in range(3000)]
    # leaves infected in step 1 ~ Binomial(5, 0.3) (a step with none just runs on)
    counts = np.bincount(firsts, minlength=6)
    p = np.array([math.comb(5, j) * 0.3 ** j * 0.7 ** (5 - j) for j in range(6)])
    assert np.all(np.abs(counts - p * 3000) < 5 * np.sqrt(p * 3000) + 5)
