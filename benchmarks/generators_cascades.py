"""Seeded epidemic simulators on CSR contact graphs, with ground truth (who infected whom, when).

- ``si``: continuous-time SI, every S-I edge fires after an Exp(1) delay, run until N infected.
- ``si_regular_tree``: the same on the infinite d-regular tree, grown lazily as it is reached.
- ``independent_cascade``: each newly infected node gets one chance per susceptible neighbour.
- ``hawkes_cascade`` / ``hawkes_times``: self-exciting retweet timestamps on a cascade tree.

Kernels draw from a splitmix64 stream seeded from the caller's Generator, so a run is a pure
function of the seed (numba's own np.random state would be hidden global state).
"""
from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from graph.rng import splitmix_uniform

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


class Cascade(NamedTuple):
    """Ground truth of one simulated cascade, in infection order.

    nodes[i] was infected at times[i] by parents[i] (a node id, -1 for a seed)."""

    nodes: np.ndarray  # int32
    times: np.ndarray  # float64
    parents: np.ndarray  # int32

    @property
    def source(self) -> int:
        return int(self.nodes[0])


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _state(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(1, 2**63 - 1, size=1, dtype=np.int64).astype(np.uint64)


@numba.njit(cache=True)
def _si_kernel(indptr, indices, seeds, n_target, state):
    n = len(indptr) - 1
    infected = np.zeros(n, dtype=np.uint8)
    nodes = np.empty(n_target, dtype=np.int32)
    times = np.empty(n_target, dtype=np.float64)
    parents = np.empty(n_target, dtype=np.int32)
    # Boundary edges (infected end, other end); entries go stale when the other end gets
    # infected and are dropped lazily when drawn. ``valid`` counts the live S-I edges = rate.
    eu = np.empty(len(indices) + 1, dtype=np.int32)
    ev = np.empty(len(indices) + 1, dtype=np.int32)
    size = 0
    valid = 0
    k = 0
    t = 0.0
    for s in seeds:
        if infected[s] == 0 and k < n_target:
            infected[s] = 1
            nodes[k] = s
            times[k] = 0.0
            parents[k] = -1
            k += 1
    for i in range(k):
        s = nodes[i]
        for j in range(indptr[s], indptr[s + 1]):
            w = indices[j]
            if infected[w] == 0:
                eu[size] = s
                ev[size] = w
                size += 1
                valid += 1
    while k < n_target and valid > 0:
        t += -np.log(1.0 - splitmix_uniform(state)) / valid
        while True:
            j = int(splitmix_uniform(state) * size)
            if infected[ev[j]] == 0:
                break
            size -= 1
            eu[j] = eu[size]
            ev[j] = ev[size]
        v = ev[j]
        p = eu[j]
        size -= 1
        eu[j] = eu[size]
        ev[j] = ev[size]
        infected[v] = 1
        nodes[k] = v
        times[k] = t
        parents[k] = p
        k += 1
        for q in range(indptr[v], indptr[v + 1]):
            w = indices[q]
            if infected[w]:
                valid -= 1  # the edge w-v was live, now internal
            else:
                eu[size] = v
                ev[size] = w
                size += 1
                valid += 1
    return nodes[:k], times[:k], parents[:k]


def si(indptr, indices, sources, n_infected: int, seed) -> Cascade:
    """Continuous-time SI (Exp(1) per S-I edge) from ``sources`` until ``n_infected`` are infected
    (or the component is exhausted: check ``len(result.nodes)``).

    >>> from benchmarks.generators import regular_tree
    >>> c = si(*regular_tree(3, 6), sources=[0], n_infected=20, seed=1)
    >>> len(c.nodes), c.source, int(c.parents[0]), bool((np.diff(c.times) >= 0).all())
    (20, 0, -1, True)
    """
    seeds = np.atleast_1d(np.asarray(sources, dtype=np.int32))
    nodes, times, parents = _si_kernel(
        np.asarray(indptr, np.int32), np.asarray(indices, np.int32), seeds, int(n_infected), _state(_rng(seed))
    )
    return Cascade(nodes, times, parents)


@numba.njit(cache=True)
def _si_tree_kernel(d, n_target, state):
    cap = n_target * d + 1
    par_of = np.full(cap, -1, dtype=np.int32)  # tree parent of every created node
    created = 1
    boundary = np.empty(cap, dtype=np.int32)
    nb = 0
    nodes = np.empty(n_target, dtype=np.int32)
    times = np.empty(n_target, dtype=np.float64)
    parents = np.empty(n_target, dtype=np.int32)
    t = 0.0
    v = 0
    for k in range(n_target):
        if k > 0:
            # On a tree each susceptible boundary node has exactly one infected neighbour,
            # so the next infection is a uniform boundary node after an Exp(nb) wait.
            t += -np.log(1.0 - splitmix_uniform(state)) / nb
            j = int(splitmix_uniform(state) * nb)
            v = boundary[j]
            nb -= 1
            boundary[j] = boundary[nb]
        nodes[k] = v
        times[k] = t
        parents[k] = par_of[v]
        fan = d if v == 0 else d - 1
        for _ in range(fan):
            par_of[created] = v
            boundary[nb] = created
            nb += 1
            created += 1
    return nodes, times, parents, par_of[:created]


def si_regular_tree(d: int, n_infected: int, seed):
    """SI on the infinite d-regular tree, built only as far as the infection reaches
    (infected nodes and their neighbours), with node labels shuffled so ids carry no hint.

    Returns ``(indptr, indices, cascade)``.

    >>> ip, ix, c = si_regular_tree(3, 50, seed=4)
    >>> len(c.nodes), int(np.diff(ip)[c.nodes].min()), int(np.diff(ip)[c.nodes].max())
    (50, 3, 3)
    """
    from benchmarks.generators import edges_to_csr

    rng = _rng(seed)
    nodes, times, parents, par_of = _si_tree_kernel(int(d), int(n_infected), _state(rng))
    n = len(par_of)
    perm = rng.permutation(n).astype(np.int32)
    indptr, indices = edges_to_csr(n, perm[par_of[1:]], perm[np.arange(1, n)])
    relabel_par = np.where(parents >= 0, perm[np.maximum(parents, 0)], -1).astype(np.int32)
    return indptr, indices, Cascade(perm[nodes], times, relabel_par)


@numba.njit(cache=True)
def _seeded(n, seeds):
    """The state of an n-node discrete-time epidemic after the distinct ``seeds`` are infected:
    ``(when, nodes, parents, k)``, each node's infection time (-1 = susceptible), then the
    infection order and each infected node's parent (-1 for a seed), of which ``k`` are set."""
    when = np.full(n, -1, dtype=np.int32)
    nodes = np.empty(n, dtype=np.int32)
    parents = np.empty(n, dtype=np.int32)
    k = 0
    for s in seeds:
        if when[s] < 0:
            when[s] = 0
            nodes[k] = s
            parents[k] = -1
            k += 1
    return when, nodes, parents, k


@numba.njit(cache=True)
def _ic_kernel(indptr, indices, seeds, p, max_infected, state):
    gen, nodes, parents, k = _seeded(len(indptr) - 1, seeds)
    lo = 0
    while lo < k and k < max_infected:
        hi = k
        # Shuffle the active generation so that, when several succeed, the parent is random.
        for i in range(hi - 1, lo, -1):
            j = lo + int(splitmix_uniform(state) * (i - lo + 1))
            nodes[i], nodes[j] = nodes[j], nodes[i]
            parents[i], parents[j] = parents[j], parents[i]
        for i in range(lo, hi):
            u = nodes[i]
            for q in range(indptr[u], indptr[u + 1]):
                w = indices[q]
                if gen[w] < 0 and splitmix_uniform(state) < p and k < max_infected:
                    gen[w] = gen[u] + 1
                    nodes[k] = w
                    parents[k] = u
                    k += 1
        lo = hi
    return nodes[:k], gen[nodes[:k]].astype(np.float64), parents[:k]


def independent_cascade(indptr, indices, sources, p: float, seed, max_infected: int | None = None) -> Cascade:
    """Independent cascade with edge probability p; times are generation numbers.

    >>> from benchmarks.generators import regular_tree
    >>> c = independent_cascade(*regular_tree(3, 8), sources=[0], p=1.0, seed=0, max_infected=10)
    >>> len(c.nodes), c.times[:4].tolist()
    (10, [0.0, 1.0, 1.0, 1.0])
    """
    seeds = np.atleast_1d(np.asarray(sources, dtype=np.int32))
    cap = len(indptr) - 1 if max_infected is None else int(max_infected)
    nodes, times, parents = _ic_kernel(
        np.asarray(indptr, np.int32), np.asarray(indices, np.int32), seeds, float(p), cap, _state(_rng(seed))
    )
    return Cascade(nodes, times, parents)


def _delays(rng, size, kernel, scale, exponent):
    if kernel == "exp":
        return rng.exponential(scale, size)
    if kernel == "power":
        # Lomax: density (exponent/scale)(1 + t/scale)^-(1+exponent), the usual retweet kernel.
        return scale * ((1.0 - rng.random(size)) ** (-1.0 / exponent) - 1.0)
    raise ValueError(f"unknown kernel {kernel!r}")


def hawkes_times(parents, seed, kernel: str = "power", scale: float = 60.0, exponent: float = 1.5):
    """Timestamps for a given cascade tree (parents[i] < i, -1 for roots): each share comes a
    kernel-distributed delay after its parent.

    >>> t = hawkes_times(np.array([-1, 0, 0, 1]), seed=0)
    >>> bool(t[0] == 0 and t[3] > t[1] > 0)
    True
    """
    rng = _rng(seed)
    parents = np.asarray(parents)
    d = _delays(rng, len(parents), kernel, scale, exponent)
    t = np.zeros(len(parents))
    for i in range(len(parents)):
        t[i] = 0.0 if parents[i] < 0 else t[parents[i]] + d[i]
    return t


def hawkes_cascade(seed, branching: float = 0.9, max_events: int = 5000, kernel: str = "power",
                   scale: float = 60.0, exponent: float = 1.5, horizon: float = np.inf,
                   mark_alpha: float = 2.5):
    """A self-exciting (Hawkes) retweet cascade via its branching (cluster) form: share i has
    Poisson(branching * m_i) direct reshares, m_i a heavy-tailed Pareto(mark_alpha) influence mark
    of mean 1, each reshare following after a kernel delay. Returns ``(parents, times)`` sorted
    by time (parent index < child index); subcritical ``branching`` < 1 keeps it finite.

    >>> par, t = hawkes_cascade(seed=1, max_events=200)
    >>> bool(par[0] == -1 and (par[1:] < np.arange(1, len(par))).all() and (np.diff(t) >= 0).all())
    True
    """
    rng = _rng(seed)
    par, tim = [-1], [0.0]
    i = 0
    while i < len(par) and len(par) < max_events:
        mark = (1.0 - rng.random()) ** (-1.0 / mark_alpha) * (mark_alpha - 1.0) / mark_alpha
        kids = min(rng.poisson(branching * mark), max_events - len(par))
        for dt in _delays(rng, kids, kernel, scale, exponent):
            if tim[i] + dt <= horizon:
                par.append(i)
                tim.append(tim[i] + dt)
        i += 1
    par, tim = np.asarray(par), np.asarray(tim)
    order = np.argsort(tim, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    new_par = np.where(par[order] >= 0, rank[np.maximum(par[order], 0)], -1)
    return new_par.astype(np.int32), tim[order]


@numba.njit(cache=True)
def _si_discrete_kernel(indptr, indices, seeds, n_target, beta, state):
    n = len(indptr) - 1
    step, nodes, parents, k = _seeded(n, seeds)
    where = np.zeros(n, dtype=np.int32)  # position of a node in ``nodes``
    wins = np.zeros(n, dtype=np.int32)  # successful tries on a node in its infection step
    t = 0
    while k < n_target:
        t += 1
        before = k
        # Every infected node tries every susceptible neighbour with probability beta; the
        # susceptible node is infected if any try succeeds (1-(1-beta)^k, as ndlib's SI), and
        # its parent is a uniform choice among the successful tries (reservoir of size one,
        # driven by r / beta, which is uniform given a success, so no extra draw is needed).
        for i in range(before):
            u = nodes[i]
            for q in range(indptr[u], indptr[u + 1]):
                w = indices[q]
                if step[w] < 0 or step[w] == t:
                    r = splitmix_uniform(state)
                    if r < beta:
                        if step[w] < 0:
                            step[w] = t
                            where[w] = k
                            wins[w] = 1
                            nodes[k] = w
                            parents[k] = u
                            k += 1
                        else:
                            wins[w] += 1
                            if r / beta * wins[w] < 1.0:
                                parents[where[w]] = u
        if k == before:
            # no new infection this round; stop only when nothing can ever spread
            stuck = True
            for i in range(before):
                u = nodes[i]
                for q in range(indptr[u], indptr[u + 1]):
                    if step[indices[q]] < 0:
                        stuck = False
            if stuck:
                break
    return nodes[:k], step[nodes[:k]].astype(np.float64), parents[:k]


def si_discrete(indptr, indices, sources, n_infected: int, beta: float, seed) -> Cascade:
    """Discrete-time SI (each step every S-I edge transmits with probability ``beta``), observed
    at the end of the first step with at least ``n_infected`` infected (so it may overshoot).

    >>> from benchmarks.generators import regular_tree
    >>> c = si_discrete(*regular_tree(3, 9), sources=[0], n_infected=30, beta=1.0, seed=0)
    >>> len(c.nodes), float(c.times.max())  # beta=1 is BFS: 1+3+6+12+24 after four steps
    (46, 4.0)
    """
    seeds = np.atleast_1d(np.asarray(sources, dtype=np.int32))
    nodes, times, parents = _si_discrete_kernel(
        np.asarray(indptr, np.int32), np.asarray(indices, np.int32), seeds, int(n_infected), float(beta),
        _state(_rng(seed))
    )
    return Cascade(nodes, times, parents)
