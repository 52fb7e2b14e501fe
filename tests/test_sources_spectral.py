"""graph.sources_spectral (NETSLEUTH) against networkx's Laplacian, a scipy eigensolver, and
cosasi 0.0.4's netsleuth (which keeps the LARGEST eigenvalue's eigenvector of the same matrix)."""
import networkx as nx
import numpy as np
import pytest
from scipy.sparse.linalg import eigsh

from graph.sources_spectral import netsleuth, netsleuth_vector, restricted_laplacian
from tests.naive_sources import nx_graph, ws_snapshot


@pytest.mark.parametrize("seed", range(3))
def test_restricted_laplacian_is_networkx_laplacian_submatrix(seed):
    ip, ix, inf = ws_snapshot(seed)
    nodes, lap = restricted_laplacian(ip, ix, inf)
    full = nx.laplacian_matrix(nx_graph(ip, ix), nodelist=range(len(ip) - 1)).toarray()
    assert nodes.tolist() == inf.tolist()
    np.testing.assert_array_equal(lap, full[np.ix_(nodes, nodes)])


@pytest.mark.parametrize("seed", range(3))
def test_vector_is_the_smallest_eigenpair(seed):
    ip, ix, inf = ws_snapshot(seed)
    nodes, u, lam1 = netsleuth_vector(ip, ix, inf)
    _, lap = restricted_laplacian(ip, ix, inf)
    vals, vecs = eigsh(lap, k=1, sigma=0, which="LM")  # shift-invert, independent of eigh
    assert lam1 == pytest.approx(vals[0], rel=1e-8)
    v = vecs[:, 0] * np.sign(vecs[:, 0].sum())
    np.testing.assert_allclose(u, v, atol=1e-8)
    assert (u > 0).all()  # Perron: a connected snapshot gives a positive vector
    assert lam1 > 0  # the uninfected neighbours make the boundary absorbing


def test_centre_of_an_arc_on_a_ring():
    n = 30  # a ring; infected arc 5..15: the middle, 10, is deepest inside
    u = np.arange(n)
    v = (u + 1) % n
    from benchmarks.generators import edges_to_csr

    ip, ix = edges_to_csr(n, u, v)
    assert netsleuth(ip, ix, np.arange(5, 16)).best() == 10


@pytest.mark.parametrize("seed", range(2))
def test_beside_cosasi(seed):
    """cosasi's netsleuth scores are +-(eigenvector of the largest eigenvalue of our restricted
    Laplacian): same matrix, the other end of the spectrum from the paper's rule."""
    ss = pytest.importorskip("cosasi.source_inference.single_source")
    ip, ix, inf = ws_snapshot(seed)
    g = nx_graph(ip, ix)
    res = ss.netsleuth(g.subgraph(inf.tolist()), g)
    theirs = np.real(np.array([res.data["scores"][int(v)] for v in inf]))
    _, lap = restricted_laplacian(ip, ix, inf)
    vals, vecs = np.linalg.eigh(lap)
    top = vecs[:, -1]
    assert min(np.abs(theirs - top).max(), np.abs(theirs + top).max()) < 1e-8
    ours = netsleuth(ip, ix, inf)
    assert not np.allclose(np.abs(top), np.exp(ours.scores) / np.linalg.norm(np.exp(ours.scores)))
