"""NETSLEUTH's single-source spectral score (Prakash, Vreeken and Faloutsos, "Spotting culprits
in epidemics: how many and which ones?", ICDM 2012; KAIS 2013).

Take the Laplacian of the WHOLE contact graph, L = D - A with D the full-graph degrees, and
restrict it to the infected nodes: L_I = D_I - A_I. Each uninfected neighbour of an infected node
still counts in D_I, so it acts as an absorbing boundary (a mean-field walk that steps out of the
infected set is lost). L_I is an irreducible M-matrix on a connected infected set, so the
eigenvector u of its smallest eigenvalue is positive (Perron-Frobenius on c I - L_I); the
paper's best single seed is argmax u, the node deepest inside the infected set with respect to
that absorbing boundary. It sees the boundary, which a centre method (Jordan, distance) does not.

cosasi 0.0.4's ``single_source.netsleuth`` takes the eigenvector of the LARGEST eigenvalue of the
same submatrix (and signs it arbitrarily, as ``np.linalg.eig`` returns it), which is not the
paper's rule; ``benchmarks.accuracy_spectral`` runs both side by side.
"""
from __future__ import annotations

import numpy as np

from graph.sources import SourceScores, _prepare


def restricted_laplacian(indptr, indices, infected):
    """``(nodes, L_I)``: the full graph's Laplacian D - A restricted to the infected nodes
    (sorted ids), dense. D holds full-graph degrees.

    >>> ip = np.array([0, 1, 3, 5, 6], np.int32); ix = np.array([1, 0, 2, 1, 3, 2], np.int32)
    >>> restricted_laplacian(ip, ix, [1, 2])[1].tolist()  # path 0-1-2-3, infected {1, 2}
    [[2.0, -1.0], [-1.0, 2.0]]
    """
    nodes, ptr, idx, outside = _prepare(indptr, indices, infected)
    n = len(nodes)
    lap = np.zeros((n, n))
    rows = np.repeat(np.arange(n), np.diff(ptr))
    lap[rows, idx] = -1.0
    lap[np.arange(n), np.arange(n)] = np.diff(ptr) + outside
    return nodes, lap


def netsleuth_vector(indptr, indices, infected):
    """``(nodes, u, lambda_1)``: the eigenvector (unit norm, positive sum) and the eigenvalue of
    the smallest eigenvalue of the restricted Laplacian.

    >>> ip = np.array([0, 1, 3, 5, 7, 8], np.int32); ix = np.array([1, 0, 2, 1, 3, 2, 4, 3], np.int32)
    >>> nodes, u, lam1 = netsleuth_vector(ip, ix, [1, 2, 3])  # the middle of a path 0-1-2-3-4
    >>> int(nodes[np.argmax(u)]), bool((u > 0).all())
    (2, True)
    """
    nodes, lap = restricted_laplacian(indptr, indices, infected)
    vals, vecs = np.linalg.eigh(lap)  # ascending; L_I is symmetric
    u = vecs[:, 0]
    if u.sum() < 0:
        u = -u
    return nodes, u, float(vals[0])


def netsleuth(indptr, indices, infected) -> SourceScores:
    """NETSLEUTH single-source score: log of the smallest-eigenvalue eigenvector entry of the
    restricted Laplacian (higher = likelier source). Entries that are not positive (possible only
    when the infected subgraph is disconnected) score -inf.

    >>> ip = np.array([0, 1, 3, 5, 7, 9, 11, 12], np.int32)
    >>> ix = np.array([1, 0, 2, 1, 3, 2, 4, 3, 5, 4, 6, 5], np.int32)
    >>> s = netsleuth(ip, ix, [2, 3, 4, 5])  # path 0-...-6: two middles, 2 and 5 on the boundary
    >>> sorted(s.ranking()[:2].tolist()), bool(s.scores[0] < s.scores[1])
    ([3, 4], True)
    """
    nodes, u, _ = netsleuth_vector(indptr, indices, infected)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(u > 0, np.log(np.where(u > 0, u, 1.0)), -np.inf)
    return SourceScores(nodes, score)
