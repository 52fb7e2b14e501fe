"""DAVA (Zhang and Prakash, SDM 2014): data-aware vaccination by one dominator tree of the graph.

The published algorithm, as its authors' and later studies' code runs it (Logins and Karras,
"An Experimental Study on Network Immunization"): merge the infected set into one super-source
whose edge to a susceptible v has probability 1 - prod(1 - p_uv) over v's infected neighbours;
build the dominator tree of the *whole* merged graph (every edge, no sampling); weight the tree
edge idom(v) -> v by P(v) / P(idom(v)), P being the maximum propagation-path probability from
the super-source (Dijkstra on -log p); score each child v of the super-source by
benefit(v) = w(s, v) * (1 + sum over v's tree children c of w(v, c) * (1 + ...)), the expected
number of nodes its removal saves if the tree were the graph (exact on trees). DAVA removes the
best child and rebuilds, k times; DAVA-fast takes the top k of one tree.

This differs from :func:`graph.blocking.dominator_greedy`, which averages exact dominated-subtree
sizes over sampled live-edge graphs; here one deterministic tree and path probabilities stand in
for the expectation, which is what the reference numbers were measured with.
"""
from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from graph.blocking import _dominated

P_MAX = 0.99999  # -log(1) = 0 would read as "no edge" in the sparse Dijkstra (the reference clamps too)


def _edge_probs(indices, p) -> np.ndarray:
    return np.broadcast_to(np.asarray(p, np.float64), (len(indices),)).astype(np.float64)


def path_probability(indptr, indices, p, infected, blocked=None) -> np.ndarray:
    """Maximum propagation-path probability from the merged infected super-source to each node
    (1 on the infected, 0 where unreachable or blocked); p is one probability or one per edge.

    >>> ip, ix = np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1])  # path 0-1-2
    >>> path_probability(ip, ix, 0.5, np.array([1, 0, 0], bool)).round(3).tolist()
    [1.0, 0.5, 0.25]
    """
    indptr = np.asarray(indptr, np.int64)
    indices = np.asarray(indices, np.int64)
    infected = np.asarray(infected, bool)
    n = len(indptr) - 1
    blocked = np.zeros(n, bool) if blocked is None else np.asarray(blocked, bool)
    pe = np.minimum(_edge_probs(indices, p), P_MAX)
    rows = np.repeat(np.arange(n), np.diff(indptr))
    alive = ~infected & ~blocked
    keep = alive[rows] & alive[indices] & (pe > 0)
    src = infected[rows] & alive[indices] & (pe > 0)
    q = np.ones(n)
    np.multiply.at(q, indices[src], 1.0 - pe[src])  # MERGE: 1 - prod(1 - p) over infected neighbours
    first = np.flatnonzero(q < 1.0)
    w = -np.log(np.minimum(np.concatenate([pe[keep], 1.0 - q[first]]), P_MAX))
    m = csr_matrix((w, (np.concatenate([rows[keep], np.full(len(first), n)]),
                        np.concatenate([indices[keep], first]))), shape=(n + 1, n + 1))
    prob = np.exp(-dijkstra(m, indices=n))[:n]
    prob[infected] = 1.0
    prob[blocked & ~infected] = 0.0
    return prob


def dava_tree(indptr, indices, p, infected, blocked=None):
    """(merged idom, benefit): idom of each node in the merged graph's dominator tree (n = the
    super-source, -1 unreached or infected) and the DAVA-tree benefit w(idom, v) * partial(v):
    for a super-source child the expected saving of removing it, deeper down the same given that
    its dominator is infected.

    >>> ip, ix = np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1])  # path 0-1-2, 0 infected
    >>> idom, ben = dava_tree(ip, ix, 0.5, np.array([1, 0, 0], bool))
    >>> idom.tolist(), ben.round(3).tolist()
    ([-1, 3, 1], [0.0, 0.75, 0.5])
    """
    indptr = np.asarray(indptr, np.int64)
    indices = np.asarray(indices, np.int64)
    infected = np.asarray(infected, bool)
    n = len(indptr) - 1
    blocked = np.zeros(n, bool) if blocked is None else np.asarray(blocked, bool)
    prob = path_probability(indptr, indices, p, infected, blocked)
    # the dominator tree of the graph itself: every edge live (the kernel's s joins the infected)
    live = (_edge_probs(indices, p) > 0).astype(np.uint8)
    idom = np.empty(n + 1, np.int64)
    post = np.empty(n + 1, np.int64)
    size = np.empty(n + 1, np.int64)
    buf = np.empty((3, n + 1), np.int64)
    k = _dominated(indptr, indices, live, infected.astype(np.uint8), blocked.astype(np.uint8), idom, post, size,
                   np.flatnonzero(infected), buf, np.zeros(n + 2, np.int64), np.empty(len(indices) + n, np.int64))
    order = buf[0, : k - 1].copy()  # postorder without the super-source: children before dominators
    merged = np.full(n, -1, np.int64)
    partial = np.ones(n + 1)
    weight = np.zeros(n)
    for v in order.tolist():
        if infected[v]:
            continue
        d = int(idom[v])
        d = n if d == n or infected[d] else d  # an infected dominator is the merged super-source
        merged[v] = d
        weight[v] = prob[v] / (1.0 if d == n else prob[d])
        partial[d] += weight[v] * partial[v]
    benefit = np.where(merged >= 0, weight * partial[:n], 0.0)
    return merged, benefit


def dava_block(indptr, indices, p, infected, k: int, fast: bool = False) -> list:
    """DAVA: k times, remove the super-source child of highest benefit and rebuild the tree
    (``fast``: the top k children of one tree, then other reached nodes by benefit).

    >>> ip, ix = np.array([0, 1, 3, 5, 6]), np.array([1, 0, 2, 1, 3, 2])  # path 0-1-2-3
    >>> dava_block(ip, ix, 0.5, np.array([1, 0, 0, 0], bool), 1)
    [1]
    """
    infected = np.asarray(infected, bool)
    n = len(infected)
    blocked = np.zeros(n, bool)
    if fast:
        merged, ben = dava_tree(indptr, indices, p, infected, blocked)
        reached = np.flatnonzero(merged >= 0)
        top = merged[reached] == n  # super-source children first, as DAVA ranks only those
        rank = reached[np.lexsort((-ben[reached], ~top))]
        return rank[: int(k)].tolist()
    out = []
    for _ in range(int(k)):
        merged, ben = dava_tree(indptr, indices, p, infected, blocked)
        cand = np.flatnonzero(merged == n)
        if len(cand) == 0:  # nothing susceptible is reachable: further removals change nothing
            break
        v = int(cand[np.argmax(ben[cand])])
        blocked[v] = True
        out.append(v)
    return out


def random_block(infected, k: int, seed) -> list:
    """k distinct uninfected nodes uniformly at random (the baseline).

    >>> sorted(random_block(np.array([1, 0, 0], bool), 2, seed=0))
    [1, 2]
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    cand = np.flatnonzero(~np.asarray(infected, bool))
    return rng.choice(cand, size=min(int(k), len(cand)), replace=False).tolist()
