"""The same trace work done the obvious way in networkx, for the speed ratio in `rumour bench trace`.

Nodes are the event id strings (the dashboard asks by id), edges parent -> child, node attributes
``account`` and ``ts``. Every function here answers what the matching CascadeGraph call answers on
a cascade whose parents are all present (the benchmark shapes): tests check that they agree.

- :func:`origins_chains`: subtree sizes (reversed topological order), the roots ranked by
  (reach desc, ts, event id), and the chain (event -> root) of each probe event.
- :func:`cutoff`: greedy k rounds; each round recomputes, over what is still standing, every
  account's gain = sum of the subtree sizes of its top-level events (no ancestor by the same
  account) minus its own events inside them; origin accounts excluded; ties by the account's
  earliest ts, then account id. The picked account's subtrees are removed.
"""
from __future__ import annotations

import networkx as nx


def build(eid, aid, ts, pe) -> nx.DiGraph:
    g = nx.DiGraph()
    add(g, eid, aid, ts, pe)
    return g


def add(g: nx.DiGraph, eid, aid, ts, pe) -> None:
    """Append shares (the live update): nodes with attributes, then parent edges."""
    g.add_nodes_from((e, {"account": a, "ts": t}) for e, a, t in zip(eid, aid, ts.tolist()))
    g.add_edges_from((p, e) for e, p in zip(eid, pe) if p is not None)


def subtree_sizes(g: nx.DiGraph, removed=frozenset()) -> dict:
    size = {}
    for v in reversed(list(nx.topological_sort(g))):
        if v in removed:
            continue
        size[v] = 1 + sum(size.get(c, 0) for c in g.successors(v))
    return size


def origins_chains(g: nx.DiGraph, probes, limit: int = 100):
    size = subtree_sizes(g)
    ts = g.nodes
    roots = [v for v, d in g.in_degree() if d == 0]
    roots.sort(key=lambda v: (-size[v], ts[v]["ts"], v))
    chains = []
    for e in probes:
        hops = [e]
        preds = list(g.predecessors(e))
        while preds:
            hops.append(preds[0])
            preds = list(g.predecessors(preds[0]))
        chains.append([(h, ts[h]["account"], ts[h]["ts"]) for h in hops])
    top = [(ts[r]["account"], r, size[r]) for r in roots[:limit]]
    return top, chains


def cutoff(g: nx.DiGraph, k: int):
    nodes = g.nodes
    roots = [v for v, d in g.in_degree() if d == 0]
    excluded = {nodes[r]["account"] for r in roots}
    first_ts: dict = {}
    for v, a in g.nodes(data="account"):
        t = nodes[v]["ts"]
        if a not in first_ts or t < first_ts[a]:
            first_ts[a] = t
    removed: set = set()
    picks = []
    for _ in range(k):
        size = subtree_sizes(g, removed)
        gain: dict = {}
        for r in roots:
            if r in removed:
                continue
            on_path: dict = {}
            # Iterative DFS; a node's account is on the path while its subtree is visited.
            stack = [(r, False)]
            while stack:
                v, leaving = stack.pop()
                a = nodes[v]["account"]
                if leaving:
                    on_path[a] -= 1
                    continue
                if on_path.get(a, 0) == 0:
                    gain[a] = gain.get(a, 0) + size[v]
                gain[a] = gain.get(a, 0) - 1
                on_path[a] = on_path.get(a, 0) + 1
                stack.append((v, True))
                stack.extend((c, False) for c in g.successors(v) if c not in removed)
        best = None
        for a, gval in gain.items():
            if a in excluded or gval <= 0:
                continue
            key = (-gval, first_ts[a], a)
            if best is None or key < best[0]:
                best = (key, a, gval)
        if best is None:
            break
        _, acc, gval = best
        picks.append((acc, gval))
        excluded.add(acc)
        for v in [v for v, a in g.nodes(data="account") if a == acc and v not in removed]:
            if v in removed:
                continue
            removed.add(v)
            removed.update(nx.descendants(g, v))
    return picks
