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
