"""graph.sources_time.observer_distances (multi-source bitset BFS with early stop) against one
plain BFS per observer over the whole graph (networkx), including disconnected graphs and more
than 64 observers (several bitset words)."""
import networkx as nx
import numpy as np
import pytest

from benchmarks.generators import contact_graph, edges_to_csr
from graph.sources_time import observer_distances, time_distance_correlation
from tests.naive_sources import nx_graph


def _reference(g, observers, targets):
    out = np.full((len(observers), len(targets)), -1)
    for i, o in enumerate(observers):
        lengths = nx.single_source_shortest_path_length(g, int(o))
        for j, t in enumerate(targets):
            out[i, j] = lengths.get(int(t), -1)
    return out


@pytest.mark.parametrize("model,k,seed", [("er", 5, 0), ("ws", 70, 1), ("ba", 130, 2), ("er", 64, 3)])
def test_matches_networkx_bfs(model, k, seed):
    rng = np.random.default_rng(seed)
    ip, ix = contact_graph(model, 600, rng)
    observers = rng.choice(600, size=k, replace=True)  # repeats allowed: each row is its own BFS
    targets = rng.choice(600, size=80, replace=False)
    got = observer_distances(ip, ix, observers, targets)
    assert (got == _reference(nx_graph(ip, ix), observers, targets)).all()


def test_unreachable_targets_are_minus_one():
    # two components: a path 0-1-2 and an edge 3-4, plus isolated node 5
    ip, ix = edges_to_csr(6, np.array([0, 1, 3]), np.array([1, 2, 4]))
    got = observer_distances(ip, ix, [0, 3], [2, 4, 5, 0])
    assert got.tolist() == [[2, -1, -1, 0], [-1, 1, -1, -1]]


def test_candidate_correlation_equals_whole_graph_correlation():
    rng = np.random.default_rng(11)
    ip, ix = contact_graph("ba", 800, rng)
    obs = rng.choice(800, size=40, replace=False)
    times = rng.random(40)
    cand = rng.choice(800, size=100, replace=False)
    whole = time_distance_correlation(ip, ix, obs, times)
    part = time_distance_correlation(ip, ix, obs, times, candidates=cand)
    keep = np.isin(whole.nodes, cand)
    assert part.nodes.tolist() == whole.nodes[keep].tolist()
    assert np.allclose(part.scores, whole.scores[keep])
