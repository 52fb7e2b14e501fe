"""Snapshot source detection on a contact network: who started an SI spread, given only the
set of infected nodes (no parent links, no times).

Graphs are symmetric CSR arrays ``(indptr, indices)`` with sorted neighbours (as
``benchmarks.generators`` makes them). Every method scores the infected nodes; higher is more
likely the source. Methods:

- ``rumor_centrality``: Shah & Zaman. On a tree R(v) = n! / prod_u T_u^v counts the infection
  orderings that start at v; on a general graph v is scored on the BFS tree of the infected
  subgraph rooted at v (their BFS heuristic). With ``average=True`` the score of v is instead the
  mean of R(v, T_r) over the BFS trees of every root r (cosasi's default). All in the log domain.
- ``jordan_center``: minus the eccentricity of v in the infected subgraph.
- ``distance_centrality``: minus the sum of hop distances from v to the other infected nodes.
- ``sis_likelihood`` (in ``graph.sources_sis``): the SI likelihood of the snapshot itself.
"""
from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np


class SourceScores(NamedTuple):
    """Scores over candidate nodes: ``nodes[i]`` (global id) scored ``scores[i]`` (higher = likelier)."""

    nodes: np.ndarray
    scores: np.ndarray

    def ranking(self, seed=None) -> np.ndarray:
        """Candidate node ids, best first. Ties are broken uniformly at random when ``seed`` is
        given (so a method never wins by node numbering), else by node id.

        >>> SourceScores(np.array([5, 7, 9]), np.array([1.0, 3.0, 3.0])).ranking().tolist()
        [7, 9, 5]
        """
        if seed is None:
            tie = self.nodes
        else:
            rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
            tie = rng.random(len(self.nodes))
        order = np.lexsort((tie, -self.scores))
        return self.nodes[order]

    def best(self, seed=None) -> int:
        return int(self.ranking(seed)[0])


@numba.njit(cache=True)
def _induced(indptr, indices, nodes):
    """CSR of the subgraph induced by ``nodes`` (sorted global ids) in local numbering,
    plus each node's number of neighbours outside the set."""
    n_all = len(indptr) - 1
    local = np.full(n_all, -1, dtype=np.int32)
    for i in range(len(nodes)):
        local[nodes[i]] = i
    sub_ptr = np.zeros(len(nodes) + 1, dtype=np.int32)
    outside = np.zeros(len(nodes), dtype=np.int32)
    for i in range(len(nodes)):
        u = nodes[i]
        c = 0
        for j in range(indptr[u], indptr[u + 1]):
            if local[indices[j]] >= 0:
                c += 1
        sub_ptr[i + 1] = sub_ptr[i] + c
        outside[i] = indptr[u + 1] - indptr[u] - c
    sub_idx = np.empty(sub_ptr[-1], dtype=np.int32)
    for i in range(len(nodes)):
        u = nodes[i]
        k = sub_ptr[i]
        for j in range(indptr[u], indptr[u + 1]):
            w = local[indices[j]]
            if w >= 0:
                sub_idx[k] = w
                k += 1
    return sub_ptr, sub_idx, outside


@numba.njit(cache=True)
def _bfs(ptr, idx, root, dist, parent, order):
    """BFS from root over local CSR; fills dist/parent/order, returns the number reached.
    dist must be -1 everywhere on entry for the nodes that matter (reset by the caller)."""
    dist[root] = 0
    parent[root] = -1
    order[0] = root
    head = 0
    tail = 1
    while head < tail:
        u = order[head]
        head += 1
        for j in range(ptr[u], ptr[u + 1]):
            w = idx[j]
            if dist[w] < 0:
                dist[w] = dist[u] + 1
                parent[w] = u
                order[tail] = w
                tail += 1
    return tail


@numba.njit(cache=True)
def _tree_log_rumor(order, parent, reached, logs, sizes, out):
    """Log rumor centrality of every node of one spanning tree (given by BFS order + parent),
    by message passing: subtree sizes in one reverse sweep, then
    log R(root) = log n! - sum_u log T_u and R(child) = R(parent) * T_child / (n - T_child)."""
    n = reached
    for k in range(n):
        sizes[order[k]] = 1
    total = 0.0
    for k in range(n - 1, 0, -1):
        u = order[k]
        sizes[parent[u]] += sizes[u]
        total += logs[sizes[u]]
    total += logs[n]
    log_fact = 0.0
    for i in range(2, n + 1):
        log_fact += logs[i]
    out[order[0]] = log_fact - total
    for k in range(1, n):
        u = order[k]
        out[u] = out[parent[u]] + logs[sizes[u]] - logs[n - sizes[u]]


@numba.njit(cache=True)
def _all_roots(ptr, idx):
    """One BFS per root r of the (connected) subgraph. Returns per node v: log R(v, T_v),
    log mean_r R(v, T_r), eccentricity, sum of distances."""
    n = len(ptr) - 1
    logs = np.zeros(n + 1)
    for i in range(1, n + 1):
        logs[i] = np.log(i)
    dist = np.full(n, -1, dtype=np.int32)
    parent = np.empty(n, dtype=np.int32)
    order = np.empty(n, dtype=np.int32)
    sizes = np.empty(n, dtype=np.int64)
    tree_r = np.empty(n)
    bfs_score = np.full(n, -np.inf)
    acc = np.full(n, -np.inf)
    ecc = np.zeros(n, dtype=np.int32)
    dsum = np.zeros(n, dtype=np.int64)
    for r in range(n):
        reached = _bfs(ptr, idx, r, dist, parent, order)
        _tree_log_rumor(order, parent, reached, logs, sizes, tree_r)
        bfs_score[r] = tree_r[r]
        e = 0
        s = 0
        for k in range(reached):
            u = order[k]
            d = dist[u]
            s += d
            if d > e:
                e = d
            a = acc[u]
            b = tree_r[u]
            # log-sum-exp accumulation so 300+ nodes (R ~ 300!) never overflow
            if a >= b:
                acc[u] = a + np.log1p(np.exp(b - a))
            else:
                acc[u] = b + np.log1p(np.exp(a - b))
            dist[u] = -1
        if reached < n:  # disconnected: infinite eccentricity, as networkx/cosasi treat it
            e = 1 << 30
            s = 1 << 40
        ecc[r] = e
        dsum[r] = s
    for v in range(n):
        acc[v] -= np.log(n)
    return bfs_score, acc, ecc, dsum


def _prepare(indptr, indices, infected):
    nodes = np.unique(np.asarray(infected, dtype=np.int32))
    if len(nodes) == 0:
        raise ValueError("no infected nodes")
    ptr, idx, outside = _induced(np.asarray(indptr, np.int32), np.asarray(indices, np.int32), nodes)
    return nodes, ptr, idx, outside


def snapshot_scores(indptr, indices, infected) -> dict:
    """All one-pass snapshot scores at once (one BFS per infected node, O(n (n + m))):
    ``{"nodes", "rumor", "rumor_avg", "jordan", "distance"}``, higher = likelier source.

    >>> ip = np.array([0, 1, 3, 5, 6], np.int32); ix = np.array([1, 0, 2, 1, 3, 2], np.int32)
    >>> s = snapshot_scores(ip, ix, [0, 1, 2, 3])  # the path 0-1-2-3
    >>> np.round(np.exp(s["rumor"])).tolist(), s["jordan"].tolist()
    ([1.0, 3.0, 3.0, 1.0], [-3.0, -2.0, -2.0, -3.0])
    """
    nodes, ptr, idx, _ = _prepare(indptr, indices, infected)
    bfs_score, acc, ecc, dsum = _all_roots(ptr, idx)
    return {
        "nodes": nodes,
        "rumor": bfs_score,
        "rumor_avg": acc,
        "jordan": -ecc.astype(np.float64),
        "distance": -dsum.astype(np.float64),
    }


def rumor_centrality(indptr, indices, infected, average: bool = False) -> SourceScores:
    """Log rumor centrality of each infected node (Shah & Zaman, BFS heuristic on general graphs).

    On a tree, exp(score) is the number of infection orderings starting at the node.

    >>> ip = np.array([0, 3, 4, 5, 6], np.int32); ix = np.array([1, 2, 3, 0, 0, 0], np.int32)
    >>> r = rumor_centrality(ip, ix, [0, 1, 2, 3])  # a star centred on 0: 3! orderings from 0
    >>> r.best(), round(float(np.exp(r.scores[0])))
    (0, 6)
    """
    s = snapshot_scores(indptr, indices, infected)
    return SourceScores(s["nodes"], s["rumor_avg" if average else "rumor"])


def jordan_center(indptr, indices, infected) -> SourceScores:
    """Minus the eccentricity of each infected node within the infected subgraph.

    >>> ip = np.array([0, 1, 3, 5, 6], np.int32); ix = np.array([1, 0, 2, 1, 3, 2], np.int32)
    >>> jordan_center(ip, ix, [0, 1, 2]).best()
    1
    """
    s = snapshot_scores(indptr, indices, infected)
    return SourceScores(s["nodes"], s["jordan"])


def distance_centrality(indptr, indices, infected) -> SourceScores:
    """Minus the sum of hop distances to the other infected nodes, in the infected subgraph.

    >>> ip = np.array([0, 1, 3, 5, 6], np.int32); ix = np.array([1, 0, 2, 1, 3, 2], np.int32)
    >>> distance_centrality(ip, ix, [1, 2, 3]).best()
    2
    """
    s = snapshot_scores(indptr, indices, infected)
    return SourceScores(s["nodes"], s["distance"])
