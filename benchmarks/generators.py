"""Seeded contact-graph models as symmetric CSR int32 arrays, plus the cascade simulators.

Every generator takes ``seed`` (an int or a ``numpy.random.Generator``); nothing uses global
randomness. Graphs are returned as ``(indptr, indices)`` with int32 dtypes, neighbours sorted
ascending, no self loops, no duplicate edges. The epidemic simulators live in
``benchmarks.generators_cascades`` and are re-exported here.
"""
from __future__ import annotations

import numba
import numpy as np

from benchmarks.generators_cascades import (
    Cascade,
    hawkes_cascade,
    hawkes_times,
    independent_cascade,
    si,
    si_regular_tree,
)

__all__ = [
    "GRAPH_MODELS", "barabasi_albert", "contact_graph", "edges_to_csr", "erdos_renyi", "regular_tree",
    "rng_of", "sorted_unique", "watts_strogatz",
    # re-exported from benchmarks.generators_cascades
    "Cascade", "hawkes_cascade", "hawkes_times", "independent_cascade", "si", "si_regular_tree",
]

GRAPH_MODELS = ("tree3", "er", "ws", "ba")


def rng_of(seed) -> np.random.Generator:
    """A Generator from an int seed or a Generator (passed through)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def sorted_unique(x: np.ndarray) -> np.ndarray:
    """``np.unique`` of an int array by sort + mask: numpy 2.4's hash-based unique is about 60x
    slower on the 300k edge keys of a 50,000-node graph.

    >>> sorted_unique(np.array([5, 1, 5, 3])).tolist()
    [1, 3, 5]
    """
    y = np.sort(x)
    if len(y) == 0:
        return y
    keep = np.empty(len(y), dtype=bool)
    keep[0] = True
    np.not_equal(y[1:], y[:-1], out=keep[1:])
    return y[keep]


def edges_to_csr(n: int, u: np.ndarray, v: np.ndarray):
    """Symmetric CSR (indptr, indices) int32 from undirected edge lists; drops loops and duplicates.

    >>> ip, ix = edges_to_csr(3, np.array([0, 1, 1]), np.array([1, 2, 0]))
    >>> ip.tolist(), ix.tolist()
    ([0, 1, 3, 4], [1, 0, 2, 1])
    """
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    keep = u != v
    a = np.concatenate([u[keep], v[keep]])
    b = np.concatenate([v[keep], u[keep]])
    key = sorted_unique(a * n + b)  # sorted by (row, col): CSR order with sorted neighbours
    rows = key // n
    cols = (key % n).astype(np.int32)
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr, cols


def regular_tree(d: int, depth: int):
    """The d-regular tree cut at ``depth`` (root 0 has d children, others d-1), BFS-numbered.

    >>> ip, ix = regular_tree(3, 2)
    >>> len(ip) - 1, np.diff(ip).tolist()[:4]
    (10, [3, 3, 3, 3])
    """
    parents = [np.zeros(0, dtype=np.int64)]
    level = np.array([0], dtype=np.int64)
    n = 1
    for k in range(depth):
        fan = d if k == 0 else d - 1
        kids = np.arange(n, n + len(level) * fan, dtype=np.int64)
        parents.append(np.repeat(level, fan))
        n += len(kids)
        level = kids
    par = np.concatenate(parents)
    return edges_to_csr(n, par, np.arange(1, n, dtype=np.int64))


def erdos_renyi(n: int, mean_degree: float, seed):
    """G(n, p) with p = mean_degree/(n-1): a Binomial edge count, then distinct uniform pairs.

    >>> ip, ix = erdos_renyi(2000, 6.0, seed=1)
    >>> 5.5 < len(ix) / 2000 < 6.5
    True
    """
    rng = rng_of(seed)
    pairs = n * (n - 1) // 2
    m = int(rng.binomial(pairs, mean_degree / (n - 1)))
    keys = np.zeros(0, dtype=np.int64)
    # Rejection on collisions and loops: few redraws, since m << n^2.
    while len(keys) < m:
        need = m - len(keys)
        a = rng.integers(0, n, size=need + need // 8 + 16)
        b = rng.integers(0, n, size=len(a))
        ok = a != b
        lo, hi = np.minimum(a, b)[ok], np.maximum(a, b)[ok]
        new = sorted_unique(np.concatenate([keys, lo * n + hi]))
        if len(new) > m:  # drop a random surplus so the count stays Binomial
            new = np.sort(rng.choice(new, size=m, replace=False))
        keys = new
    return edges_to_csr(n, keys // n, keys % n)


@numba.njit(cache=True)
def _ws_rewire(n, k, u, v, draws, targets):
    # Same procedure as networkx.watts_strogatz_graph: for each lattice edge (u, u+j) in
    # order, with probability p move its far end to a uniform node that is neither u nor
    # already a neighbour of u. ``draws`` < p marks the rewired edges.
    present = set()
    for i in range(len(u)):
        present.add(u[i] * n + v[i])
        present.add(v[i] * n + u[i])
    ti = 0
    for i in range(len(u)):
        if not draws[i]:
            continue
        a = u[i]
        # give up rewiring a node that is already adjacent to almost everyone
        for _ in range(64):
            w = targets[ti % len(targets)]
            ti += 1
            if w != a and (a * n + w) not in present:
                present.discard(a * n + v[i])
                present.discard(v[i] * n + a)
                present.add(a * n + w)
                present.add(w * n + a)
                v[i] = w
                break
    return u, v


def watts_strogatz(n: int, k: int, p: float, seed):
    """Watts-Strogatz small world: ring lattice with k neighbours, each edge rewired w.p. p.

    >>> ip, ix = watts_strogatz(1000, 6, 0.1, seed=2)
    >>> len(ix) // 2
    3000
    """
    rng = rng_of(seed)
    base = np.arange(n, dtype=np.int64)
    u = np.concatenate([base for _ in range(k // 2)])
    v = np.concatenate([(base + j) % n for j in range(1, k // 2 + 1)])
    draws = rng.random(len(u)) < p
    targets = rng.integers(0, n, size=int(draws.sum()) * 2 + 64)
    u, v = _ws_rewire(n, k, u, v.copy(), draws, targets)
    return edges_to_csr(n, u, v)


@numba.njit(cache=True)
def _ba_edges(n, m, uniforms):
    # Preferential attachment through the list of edge endpoints (each node appears once per
    # unit of degree), as networkx.barabasi_albert_graph, starting from a star on m+1 nodes.
    src = np.empty((n - m) * m, dtype=np.int64)
    dst = np.empty((n - m) * m, dtype=np.int64)
    rep = np.empty(2 * (n - m) * m + 2 * m, dtype=np.int64)
    r = 0
    e = 0
    for j in range(1, m + 1):  # star: node 0 joined to 1..m
        src[e] = 0
        dst[e] = j
        e += 1
        rep[r] = 0
        rep[r + 1] = j
        r += 2
    chosen = np.empty(m, dtype=np.int64)
    ui = 0
    for new in range(m + 1, n):
        c = 0
        while c < m:
            t = rep[int(uniforms[ui % len(uniforms)] * r)]
            ui += 1
            dup = False
            for q in range(c):
                if chosen[q] == t:
                    dup = True
            if not dup:
                chosen[c] = t
                c += 1
        for q in range(m):
            src[e] = new
            dst[e] = chosen[q]
            e += 1
            rep[r] = new
            rep[r + 1] = chosen[q]
            r += 2
    return src[:e], dst[:e]


def barabasi_albert(n: int, m: int, seed):
    """Barabasi-Albert preferential attachment with m edges per new node.

    >>> ip, ix = barabasi_albert(1000, 3, seed=3)
    >>> len(ix) // 2 == 3 + (1000 - 4) * 3  # the initial star, then m edges per node
    True
    """
    rng = rng_of(seed)
    u, v = _ba_edges(n, m, rng.random(4 * n * m + 64))
    return edges_to_csr(n, u, v)


# er (mean degree 6), ws (k = 6) and ba (m = 3) need more nodes than their degree: below this,
# contact_graph fails deep inside a trial ("p < 0, p > 1 or p is NaN") or gives empty cells.
MIN_NODES = 10


def contact_graph(model: str, n: int, seed):
    """One of the benchmark models by name: ``er`` (mean degree 6), ``ws`` (k=6, p=0.1),
    ``ba`` (m=3), ``tree3`` (3-regular tree cut near n nodes).

    >>> ip, ix = contact_graph("ba", 500, seed=0)
    >>> ip.dtype, ix.dtype
    (dtype('int32'), dtype('int32'))
    """
    if model == "er":
        return erdos_renyi(n, 6.0, seed)
    if model == "ws":
        return watts_strogatz(n, 6, 0.1, seed)
    if model == "ba":
        return barabasi_albert(n, 3, seed)
    if model == "tree3":
        depth = int(np.ceil(np.log2((n - 1) / 3 + 1)))
        return regular_tree(3, max(depth, 1))
    raise ValueError(f"unknown graph model {model!r}")
