"""Slow, obvious oracles for graph.sources: networkx and plain Python, exact enumeration."""
from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np


def nx_graph(indptr, indices, nodes=None) -> nx.Graph:
    g = nx.Graph()
    # ascending node and neighbour order, so networkx BFS trees are the ones graph.sources builds
    keep = range(len(indptr) - 1) if nodes is None else sorted(int(v) for v in nodes)
    inside = set(keep)
    g.add_nodes_from(keep)
    for u in keep:
        for w in indices[indptr[u]:indptr[u + 1]]:
            if int(w) in inside:
                g.add_edge(u, int(w))
    return g


def ws_snapshot(seed: int, n: int = 400, size: int = 60):
    """A small seeded discrete-SI snapshot on Watts-Strogatz (k=6, p=0.1): ``(indptr, indices,
    infected nodes sorted)``."""
    from benchmarks.generators import watts_strogatz
    from benchmarks.generators_cascades import si_discrete

    rng = np.random.default_rng(seed)
    ip, ix = watts_strogatz(n, 6, 0.1, rng)
    c = si_discrete(ip, ix, [int(rng.integers(n))], size, 0.3, rng)
    return ip, ix, np.sort(np.asarray(c.nodes))


def count_orderings(tree: nx.Graph, root) -> int:
    """Number of orderings of the tree's nodes that start at root and in which every node comes
    after its neighbour towards the root, by brute-force enumeration of permutations."""
    parent = {root: None}
    for u, w in nx.bfs_edges(tree, root):
        parent[w] = u
    rest = [v for v in tree.nodes if v != root]
    count = 0
    for perm in itertools.permutations(rest):
        seen = {root}
        ok = True
        for v in perm:
            if parent[v] not in seen:
                ok = False
                break
            seen.add(v)
        count += ok
    return count


def rumor_bfs(g: nx.Graph) -> dict:
    """Shah-Zaman BFS heuristic: log R(v, BFS tree of g rooted at v) from the product formula
    R = n! / prod_u T_u, with subtree sizes counted by networkx descendants."""
    n = g.number_of_nodes()
    out = {}
    for v in g.nodes:
        t = nx.bfs_tree(g, v)
        out[v] = math.lgamma(n + 1) - sum(math.log(1 + len(nx.descendants(t, u))) for u in t.nodes)
    return out


def rumor_avg(g: nx.Graph) -> dict:
    """log of the mean over roots r of R(v, BFS tree rooted at r)."""
    n = g.number_of_nodes()
    acc = {v: [] for v in g.nodes}
    for r in g.nodes:
        t = nx.bfs_tree(g, r)
        for v in g.nodes:
            # re-root the same tree at v: T_u^v differs from sizes only on the v..r path
            und = t.to_undirected()
            tv = nx.bfs_tree(und, v)
            acc[v].append(math.lgamma(n + 1) - sum(math.log(1 + len(nx.descendants(tv, u))) for u in tv.nodes))
    return {v: float(np.logaddexp.reduce(vals) - math.log(n)) for v, vals in acc.items()}


def eccentricity(g: nx.Graph) -> dict:
    return nx.eccentricity(g)


def distance_sums(g: nx.Graph) -> dict:
    return {v: sum(nx.single_source_shortest_path_length(g, v).values()) for v in g.nodes}


def correlation_scores(g: nx.Graph, observers, times) -> dict:
    """Pearson correlation of hop distance and time for every node reachable from all observers."""
    dists = [nx.single_source_shortest_path_length(g, int(o)) for o in observers]
    out = {}
    for v in g.nodes:
        if all(v in d for d in dists):
            d = np.array([dd[v] for dd in dists], dtype=float)
            t = np.asarray(times, dtype=float)
            if d.std() == 0 or t.std() == 0:
                out[v] = 0.0
            else:
                out[v] = float(np.corrcoef(d, t)[0, 1])
    return out


def dmp_naive(g: nx.Graph, outside: dict, source, lam: float, steps: int):
    """Lokhov et al. DMP for discrete SI written out edge by edge with dicts, on the infected
    subgraph g (outside[v] = number of v's uninfected neighbours). Returns (ps, snap) with
    ps[t][v] = P(v still susceptible after t steps) and snap[t] the mean-field log-likelihood
    sum_v log(1 - ps[t][v]) + outside[v] log theta_out[v](t)."""
    theta = {(k, i): 1.0 for k in g for i in g.neighbors(k)}
    phi = {(k, i): 1.0 if k == source else 0.0 for (k, i) in theta}
    ps0 = {v: 0.0 if v == source else 1.0 for v in g}

    def cavity(th, k, i):
        p = ps0[k]
        for l in g.neighbors(k):
            if l != i:
                p *= th[(l, k)]
        return p

    def node_ps(th, v):
        p = ps0[v]
        for k in g.neighbors(v):
            p *= th[(k, v)]
        return p

    ps_edge = {(k, i): cavity(theta, k, i) for (k, i) in theta}
    t_out = {v: 1.0 for v in g}
    f_out = {v: 1.0 if v == source else 0.0 for v in g}
    ps = [dict(ps0)]
    snap = [0.0 if g.number_of_nodes() == 1 else -math.inf]
    for _ in range(steps):
        theta = {e: theta[e] - lam * phi[e] for e in theta}
        new_edge = {e: cavity(theta, *e) for e in theta}
        phi = {e: (1 - lam) * phi[e] - (new_edge[e] - ps_edge[e]) for e in theta}
        ps_edge = new_edge
        cur = {v: node_ps(theta, v) for v in g}
        t_out = {v: t_out[v] - lam * f_out[v] for v in g}
        f_out = {v: (1 - lam) * f_out[v] - (cur[v] - ps[-1][v]) for v in g}
        ps.append(cur)
        total = 0.0
        for v in g:
            total += math.log(max(1 - cur[v], 1e-300)) + outside[v] * math.log(t_out[v])
        snap.append(total)
    return ps, snap


def negbin_survival(d: int, lam: float, t: int) -> float:
    """P(the sum of d independent Geometric(lam) delays on {1, 2, ...} exceeds t): on a tree the
    probability that a node d hops from the source is still susceptible after t SI steps."""
    if d == 0:
        return 0.0
    # P(sum <= t) = sum_{k=d}^{t} C(k-1, d-1) lam^d (1-lam)^(k-d)
    le = sum(math.comb(k - 1, d - 1) * lam ** d * (1 - lam) ** (k - d) for k in range(d, t + 1))
    return 1.0 - le
