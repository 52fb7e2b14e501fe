"""graph.sources / sources_sis / sources_time against the slow oracles in tests/naive_sources.py."""
import math

import numpy as np
import pytest

from benchmarks.generators import barabasi_albert, edges_to_csr, erdos_renyi, si, si_regular_tree, watts_strogatz
from graph.sources import distance_centrality, jordan_center, rumor_centrality, snapshot_scores
from graph.sources_sis import sis_likelihood
from graph.sources_time import earliest_observed, time_distance_correlation
from tests import naive_sources as naive


def _random_tree(n, rng):
    parents = [int(rng.integers(0, i)) for i in range(1, n)]
    return edges_to_csr(n, np.array(parents), np.arange(1, n))


@pytest.mark.parametrize("seed", range(6))
def test_rumor_centrality_counts_orderings_on_tiny_trees(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 8))
    ip, ix = _random_tree(n, rng)
    r = rumor_centrality(ip, ix, np.arange(n))
    g = naive.nx_graph(ip, ix)
    for v, score in zip(r.nodes, r.scores):
        assert round(math.exp(score)) == naive.count_orderings(g, int(v))


@pytest.mark.parametrize("seed", range(4))
def test_snapshot_scores_match_networkx_on_si_cascades(seed):
    rng = np.random.default_rng(100 + seed)
    make = [lambda: erdos_renyi(300, 6.0, rng), lambda: watts_strogatz(300, 6, 0.1, rng),
            lambda: barabasi_albert(300, 3, rng)][seed % 3]
    ip, ix = make()
    c = si(ip, ix, [int(rng.integers(300))], 25, rng)
    s = snapshot_scores(ip, ix, c.nodes)
    g = naive.nx_graph(ip, ix, c.nodes)
    ecc, dsum, rb, ra = naive.eccentricity(g), naive.distance_sums(g), naive.rumor_bfs(g), naive.rumor_avg(g)
    for i, v in enumerate(s["nodes"].tolist()):
        assert s["jordan"][i] == -ecc[v]
        assert s["distance"][i] == -dsum[v]
        assert s["rumor"][i] == pytest.approx(rb[v], abs=1e-9)
        assert s["rumor_avg"][i] == pytest.approx(ra[v], abs=1e-9)


def test_log_domain_survives_large_snapshots():
    ip, ix, c = si_regular_tree(3, 2000, seed=5)
    r = rumor_centrality(ip, ix, c.nodes, average=True)
    assert np.isfinite(r.scores).all() and r.scores.max() > 1000  # R ~ 2000!/..., far past float range


def test_wrappers_rank_the_centre_of_a_path_first():
    ip, ix = edges_to_csr(5, np.arange(4), np.arange(1, 5))
    assert rumor_centrality(ip, ix, range(5)).best() == 2
    assert jordan_center(ip, ix, range(5)).best() == 2
    assert distance_centrality(ip, ix, range(5)).best() == 2
    assert rumor_centrality(ip, ix, [3, 4]).ranking().tolist() == [3, 4]  # tie broken by id


def test_rumor_centrality_top1_on_regular_tree_is_near_theory():
    # Shah & Zaman: on 3-regular trees the ML (rumor centre) finds the source w.p. -> 1/4.
    rng = np.random.default_rng(11)
    hits = 0
    trials = 300
    for _ in range(trials):
        ip, ix, c = si_regular_tree(3, 100, rng)
        hits += rumor_centrality(ip, ix, c.nodes).best(rng) == c.source
    assert 0.17 < hits / trials < 0.34


def test_sis_likelihood_equals_rumor_ranking_on_whole_small_tree():
    # On a snapshot with no edges leaving it, every E_k equals the inside count, the weight is 1
    # for every ordering and the likelihood is the same for every source: ties everywhere.
    ip, ix = edges_to_csr(4, np.array([0, 0, 0]), np.array([1, 2, 3]))
    s = sis_likelihood(ip, ix, range(4), seed=0, refine_top=0)
    assert np.allclose(s.scores, 0.0)
    # With an outside neighbour on every leaf, a leaf source is penalised less at its first step
    # than the centre but the centre has more orderings: compare with the exact sum by brute force.
    ip, ix = edges_to_csr(7, np.array([0, 0, 0, 1, 2, 3]), np.array([1, 2, 3, 4, 5, 6]))
    est = sis_likelihood(ip, ix, [0, 1, 2, 3], seed=1, samples=4000, refine_top=0)
    g = naive.nx_graph(ip, ix)
    inf = {0, 1, 2, 3}
    for src, score in zip(est.nodes.tolist(), est.scores):
        exact = 0.0
        import itertools
        for perm in itertools.permutations(inf - {src}):
            seen, p = {src}, 1.0
            for v in perm:
                boundary = [(a, b) for a in seen for b in g.neighbors(a) if b not in seen]
                m = sum(1 for a, b in boundary if b == v)
                p *= m / len(boundary)
                seen.add(v)
            exact += p
        assert math.exp(score) == pytest.approx(exact, rel=0.05)


def test_timestamp_methods_match_oracle():
    rng = np.random.default_rng(3)
    ip, ix = erdos_renyi(200, 6.0, rng)
    c = si(ip, ix, [7], 60, rng)
    pick = rng.random(60) < 0.3
    obs, times = c.nodes[pick], c.times[pick]
    corr = time_distance_correlation(ip, ix, obs, times)
    oracle = naive.correlation_scores(naive.nx_graph(ip, ix), obs, times)
    assert sorted(oracle) == corr.nodes.tolist()
    assert np.allclose([oracle[v] for v in corr.nodes.tolist()], corr.scores)
    assert earliest_observed(ip, ix, obs, times).best() == int(obs[np.argmin(times)])
