"""graph.sources_dmp against exact tree marginals and a dict-based DMP oracle."""
import math

import numpy as np
import pytest
from scipy.special import logsumexp

from benchmarks.generators import edges_to_csr, erdos_renyi
from benchmarks.generators_cascades import si_discrete
from graph.sources import _prepare
from graph.sources_dmp import _dmp, _reverse_edges, dmp_rumor, dmp_scores, dmp_snapshot, dmp_timestamps
from tests import naive_sources as naive


def _run_kernel(ip, ix, infected, source_global, lam, steps):
    nodes, ptr, idx, outside = _prepare(ip, ix, infected)
    src = int(np.searchsorted(nodes, source_global))
    obs = np.arange(len(nodes), dtype=np.int32)
    ps = np.ones((len(nodes), steps + 1))
    inside, bound = np.full(steps + 1, -np.inf), np.zeros(steps + 1)
    _dmp(ptr, idx, _reverse_edges(ptr, idx), outside.astype(float), src, lam, steps, 1e300, obs, ps, inside, bound,
         np.ones(1))
    return nodes, ps, inside + bound, outside


@pytest.mark.parametrize("seed", range(3))
def test_marginals_are_exact_on_trees(seed):
    rng = np.random.default_rng(seed)
    n = 25
    parents = [int(rng.integers(0, i)) for i in range(1, n)]
    ip, ix = edges_to_csr(n, np.array(parents), np.arange(1, n))
    lam = float(rng.uniform(0.1, 0.6))
    source = int(rng.integers(n))
    nodes, ps, _, _ = _run_kernel(ip, ix, np.arange(n), source, lam, 15)
    g = naive.nx_graph(ip, ix)
    import networkx as nx
    dist = nx.single_source_shortest_path_length(g, source)
    for v in range(n):
        for t in range(16):
            assert ps[v, t] == pytest.approx(naive.negbin_survival(dist[v], lam, t), abs=1e-12)


def _loopy_case(seed):
    rng = np.random.default_rng(seed)
    ip, ix = erdos_renyi(80, 5.0, rng)
    c = si_discrete(ip, ix, [int(rng.integers(80))], 25, 0.4, rng)
    return ip, ix, c, rng


@pytest.mark.parametrize("seed", range(3))
def test_kernel_equals_dict_oracle_on_loopy_graphs(seed):
    ip, ix, c, rng = _loopy_case(seed)
    lam = 0.3
    src = int(c.nodes[int(rng.integers(len(c.nodes)))])
    nodes, ps, snap, outside = _run_kernel(ip, ix, c.nodes, src, lam, 12)
    g = naive.nx_graph(ip, ix, c.nodes)
    ps_o, snap_o = naive.dmp_naive(g, dict(zip(nodes.tolist(), outside.tolist())), src, lam, 12)
    for t in range(13):
        assert np.allclose(ps[:, t], [ps_o[t][v] for v in nodes.tolist()], atol=1e-12)
        if math.isinf(snap_o[t]):
            assert snap[t] < -600  # the kernel floors log 0 at log 1e-300
        else:
            assert snap[t] == pytest.approx(snap_o[t], rel=1e-9, abs=1e-9)


def test_scores_sum_the_oracle_over_elapsed_steps():
    ip, ix, c, rng = _loopy_case(7)
    lam, steps = 0.3, 25
    got = dmp_snapshot(ip, ix, c.nodes, lam=lam, tmax=steps, slack=1e300)
    g = naive.nx_graph(ip, ix, c.nodes)
    _, _, _, outside = _prepare(ip, ix, c.nodes)
    out = dict(zip(got.nodes.tolist(), outside.tolist()))
    for v, score in zip(got.nodes.tolist(), got.scores):
        _, snap = naive.dmp_naive(g, out, v, lam, steps)
        snap = np.maximum(np.array(snap), math.log(1e-300) * len(g))  # same floor as the kernel
        assert score == pytest.approx(logsumexp(snap), rel=1e-9)


def test_timestamp_scores_equal_the_oracle():
    ip, ix, c, rng = _loopy_case(11)
    lam, steps = 0.4, 20
    pick = np.sort(rng.choice(len(c.nodes), size=6, replace=False))
    obs, times = c.nodes[pick], c.times[pick] + 100.0  # an arbitrary clock origin
    t_snap = c.times.max() + 100.0
    got = dmp_timestamps(ip, ix, c.nodes, obs, times, t_snap, lam=lam, tmax=steps, slack=1e300)
    g = naive.nx_graph(ip, ix, c.nodes)
    _, _, _, outside = _prepare(ip, ix, c.nodes)
    out = dict(zip(got.nodes.tolist(), outside.tolist()))
    for v, score in zip(got.nodes.tolist(), got.scores):
        ps, snap = naive.dmp_naive(g, out, v, lam, steps)
        terms = []
        for T in range(steps + 1):
            val = max(snap[T], math.log(1e-300) * len(g))
            for o, t in zip(obs.tolist(), times):
                tau = int(round(t - t_snap)) + T
                if tau < 0:
                    val = -math.inf
                    break
                p = (1.0 if tau == 0 else ps[tau - 1][o]) - ps[tau][o]
                val += math.log(max(p, 1e-300))
            terms.append(val)
        assert score == pytest.approx(logsumexp(terms), rel=1e-9) or (score == -math.inf and max(terms) == -math.inf)
    # the true source is among the best few: the times pin the start down
    assert got.nodes[np.argsort(-got.scores)[:3]].tolist().count(c.source) == 1


def test_inside_weight_and_the_combined_estimator():
    ip, ix, c, rng = _loopy_case(5)
    lam, steps = 0.3, 25
    nodes, sc = dmp_scores(ip, ix, c.nodes, lam, (1.0, 0.25), tmax=steps, slack=1e300)
    g = naive.nx_graph(ip, ix, c.nodes)
    _, _, _, outside = _prepare(ip, ix, c.nodes)
    out = dict(zip(nodes.tolist(), outside.tolist()))
    zero = {v: 0 for v in out}
    for i, v in enumerate(nodes.tolist()[:8]):
        _, full = naive.dmp_naive(g, out, v, lam, steps)
        _, inner = naive.dmp_naive(g, zero, v, lam, steps)  # the inside part alone
        bound = np.array(full[1:]) - np.array(inner[1:])
        assert sc[0, i] == pytest.approx(logsumexp(full[1:]), rel=1e-9)
        assert sc[1, i] == pytest.approx(logsumexp(0.25 * np.array(inner[1:]) + bound), rel=1e-9)
    from graph.sources import rumor_centrality
    comb = dmp_rumor(ip, ix, c.nodes, lam=lam, inside_weight=0.25, dmp_weight=0.5)
    assert np.allclose(comb.scores, rumor_centrality(ip, ix, c.nodes, average=True).scores + 0.5 * sc[1])


def test_needs_a_probability_and_infected_observers():
    ip, ix = edges_to_csr(3, np.array([0, 1]), np.array([1, 2]))
    with pytest.raises(ValueError):
        dmp_snapshot(ip, ix, [0, 1], lam=1.0)
    with pytest.raises(ValueError):
        dmp_timestamps(ip, ix, [0, 1], [2], [1.0], 1.0)
