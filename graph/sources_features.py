"""Per-candidate features of a snapshot for the learned source ranker (graph.sources_learned).

Every infected node is a candidate; each feature is an existing score or a local fact about it:

- ``rumor_avg``, ``rumor``, ``jordan``, ``distance``: graph.sources.snapshot_scores.
- ``dmp``, ``dmp_t``, ``dmp_h``: graph.sources_dmp.dmp_scores with inside weight 1 (Lokhov's
  mean-field likelihood), 0.1 (the tempered score inside dmp_rumor) and 0.3; the weight of the
  inside term against the boundary term is learned through their combination. (Weight 0, the
  boundary term alone, is no feature: summed over the unknown time it is about 0 for every
  candidate, from T = 0.)
- ``netsleuth``: log of the NETSLEUTH eigenvector entry (graph.sources_spectral).
- ``log_degree``: log of the full-graph degree; ``outside``: number of uninfected neighbours.
- ``clustering``: local clustering coefficient in the full graph (WS nodes near 0.5, shortcut
  ends lower).
- ``boundary_dist``: minus the mean hop distance, in the infected subgraph, to the infected nodes
  that have uninfected neighbours, weighted by how many (a centre measured against the frontier
  the spread actually reached, not against every infected node).

``FEATURES`` names the columns of :func:`candidate_features`.
"""
from __future__ import annotations

import numpy as np

from graph.sources import _prepare, snapshot_scores
from graph.sources_dmp import dmp_scores
from graph.sources_spectral import netsleuth_vector

FEATURES = ("rumor_avg", "rumor", "jordan", "distance", "dmp", "dmp_t", "dmp_h", "netsleuth",
            "log_degree", "outside", "clustering", "boundary_dist")
_FLOOR = -1e6  # stands in for -inf (a disconnected snapshot), so standardising stays finite


def _clustering(indptr, indices, nodes):
    """Local clustering coefficient of ``nodes`` in the full graph."""
    from scipy import sparse

    n_all = len(indptr) - 1
    a = sparse.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(n_all, n_all))
    rows = a[nodes]
    tri = np.asarray((rows @ a).multiply(rows).sum(axis=1)).ravel() / 2.0
    deg = np.diff(indptr)[nodes].astype(np.float64)
    pairs = deg * (deg - 1) / 2.0
    return np.divide(tri, pairs, out=np.zeros_like(tri), where=pairs > 0)


def _boundary_dist(ptr, idx, outside):
    from scipy import sparse
    from scipy.sparse.csgraph import shortest_path

    n = len(ptr) - 1
    sub = sparse.csr_matrix((np.ones(len(idx)), idx, ptr), shape=(n, n))
    w = outside.astype(np.float64)
    if w.sum() == 0:
        return np.zeros(n)
    dist = shortest_path(sub, unweighted=True, directed=False, indices=np.flatnonzero(w > 0))
    dist[~np.isfinite(dist)] = n  # another component: farther than anything reachable
    return -(w[w > 0] @ dist) / w.sum()


def candidate_features(indptr, indices, infected, lam: float = 0.1):
    """``(nodes, X)``: one row per infected node (sorted ids), columns named by ``FEATURES``.

    >>> ip = np.array([0, 1, 3, 5, 7, 9, 11, 12], np.int32)
    >>> ix = np.array([1, 0, 2, 1, 3, 2, 4, 3, 5, 4, 6, 5], np.int32)
    >>> nodes, X = candidate_features(ip, ix, [1, 2, 3, 4, 5], lam=0.5)  # the path 0-...-6
    >>> nodes.tolist(), X.shape, X[:, FEATURES.index("outside")].tolist()
    ([1, 2, 3, 4, 5], (5, 12), [1.0, 0.0, 0.0, 0.0, 1.0])
    """
    s = snapshot_scores(indptr, indices, infected)
    nodes, ptr, idx, outside = _prepare(indptr, indices, infected)
    _, dmp = dmp_scores(indptr, indices, infected, lam, (1.0, 0.1, 0.3))
    _, u, _ = netsleuth_vector(indptr, indices, infected)
    with np.errstate(divide="ignore"):
        ns = np.log(np.clip(u, 1e-300, None))
    deg = np.diff(np.asarray(indptr))[nodes].astype(np.float64)
    cols = [s["rumor_avg"], s["rumor"], s["jordan"], s["distance"], dmp[0], dmp[1], dmp[2], ns,
            np.log(np.maximum(deg, 1.0)), outside.astype(np.float64),
            _clustering(np.asarray(indptr), np.asarray(indices), nodes), _boundary_dist(ptr, idx, outside)]
    x = np.column_stack(cols)
    x[~np.isfinite(x)] = _FLOOR
    # huge sentinels (disconnected: eccentricity 2^30) would dominate a per-cascade standardisation
    return nodes, np.maximum(x, _FLOOR)


def standardise(x):
    """Per-cascade z-scores of each column (a constant column becomes 0), so coefficients do not
    depend on the cascade's size or on the graph's scale.

    >>> standardise(np.array([[1.0, 5.0], [3.0, 5.0]])).tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
    """
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    return np.divide(x - mu, sd, out=np.zeros_like(x), where=sd > 0)
