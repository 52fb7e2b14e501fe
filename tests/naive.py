"""Slow, obvious reference implementations (oracles) for tests and benchmarks.

``NaiveCascade`` restates the semantics of ``graph.CascadeGraph`` (see graph/cascade.py and
graph/answers.py) with dicts, sets and networkx, without any of the tricks (no interning, no
preorder intervals, no top-level flags, no lazy greedy). Use it on small cascades only.
"""
from __future__ import annotations

import math

import networkx as nx
import numpy as np

ADDED, DUPLICATE, REJECTED = 0, 1, 2


def acct_node(account_id: str) -> tuple:
    """Key of the unobserved stand-in node of an account that has no present event."""
    return ("acct", account_id)


class NaiveCascade:
    """Reference for one rumour: feed rows with :meth:`add`, then ask the questions."""

    def __init__(self):
        self.events: dict[str, dict] = {}
        self.links = nx.DiGraph()  # child event -> parent event, accepted events only

    def add(self, event_id, account_id, ts_ms, parent_event_id=None, parent_account_id=None):
        """Apply one row in arrival order; returns (status, reason or None)."""
        if not event_id:
            return REJECTED, "empty event_id"
        if not account_id:
            return REJECTED, "empty account_id"
        if event_id in self.events:
            return DUPLICATE, None
        pe = parent_event_id or None
        pa = parent_account_id or None
        if pe is not None:
            if pe == event_id or (pe in self.links and event_id in self.links
                                  and nx.has_path(self.links, pe, event_id)):
                return REJECTED, "parent cycle"
            self.links.add_edge(event_id, pe)
        self.events[event_id] = {"account": account_id, "ts": int(ts_ms), "pe": pe, "pa": pa}
        return ADDED, None

    def add_rows(self, rows):
        return [self.add(*r) for r in rows]

    # ---- the resolved forest -------------------------------------------------------------
    def forest(self):
        """(parent, info): parent[node] (None = root) and info[node] = (account, ts, observed)."""
        ev = self.events
        info = {}
        for e, d in ev.items():
            info[e] = (d["account"], d["ts"], True)
        claims: dict[str, list] = {}
        for d in ev.values():
            if d["pe"] is not None and d["pe"] not in ev:
                claims.setdefault(d["pe"], [])
                if d["pa"] is not None:
                    claims[d["pe"]].append(d["pa"])
        for p, names in claims.items():
            info[p] = (min(names) if names else None, None, False)
        by_account: dict[str, list] = {}
        for e, d in ev.items():
            by_account.setdefault(d["account"], []).append((d["ts"], e))
        parent = {}
        for e, d in ev.items():
            if d["pe"] is not None:
                p = d["pe"]
                parent[e] = p if info[p][0] is not None else None
            elif d["pa"] is not None:
                cands = sorted(c for c in by_account.get(d["pa"], []) if c[1] != e)
                before = [c for c in cands if c[0] <= d["ts"]]
                if before:
                    parent[e] = before[-1][1]
                elif cands:
                    parent[e] = cands[0][1]
                else:
                    node = acct_node(d["pa"])
                    info[node] = (d["pa"], None, False)
                    parent[e] = node
            else:
                parent[e] = None
        for node in info:
            parent.setdefault(node, None)
        # Break cycles made by account links: the account-linked event first by (ts, id) of
        # each cycle becomes a root.
        while True:
            g = nx.DiGraph([(c, p) for c, p in parent.items() if p is not None])
            try:
                cyc = nx.find_cycle(g)
            except nx.NetworkXNoCycle:
                break
            members = [c for c, _ in cyc]
            cut = min((info[m][1], m) for m in members
                      if ev[m]["pe"] is None and ev[m]["pa"] is not None)[1]
            parent[cut] = None
        return parent, info

    def answers(self):
        """A dict of every answer, computed the slow way."""
        parent, info = self.forest()
        tree = nx.DiGraph()
        tree.add_nodes_from(parent)
        tree.add_edges_from((p, c) for c, p in parent.items() if p is not None)
        present = {n for n in info if info[n][2]}
        size = {n: sum(1 for d in nx.descendants(tree, n) | {n} if d in present) for n in tree}
        depth = {}
        for n in tree:
            d, v = 0, n
            while parent[v] is not None:
                v = parent[v]
                d += 1
            depth[n] = d
        roots = [n for n in tree if parent[n] is None and info[n][0] is not None and size[n] > 0]

        def eid(n):
            return n if isinstance(n, str) else None

        def okey(n):
            acc, ts, obs = info[n]
            return (-size[n], not obs, ts if obs else 0, eid(n) or "", acc)

        origins = [(info[n][0], eid(n), info[n][1], size[n], info[n][2])
                   for n in sorted(roots, key=okey)]
        return {"parent": parent, "info": info, "tree": tree, "size": size, "depth": depth,
                "origins": origins, "present": present}

    def chain(self, ans, event_id):
        """[(event_id, account_id, ts, observed)] from the event up to its root."""
        out, v = [], event_id
        while v is not None:
            acc, ts, obs = ans["info"][v]
            out.append((v if isinstance(v, str) else None, acc, ts, obs))
            v = ans["parent"][v]
        return out

    def cutoff(self, ans, k, exclude_origins=True):
        """Greedy by brute force: [(account_id, prevented)]."""
        info, tree, present = ans["info"], ans["tree"], ans["present"]
        excluded = {o[0] for o in ans["origins"]} if exclude_origins else set()
        nodes_of: dict[str, list] = {}
        for n, (acc, _, _) in info.items():
            if acc is not None:
                nodes_of.setdefault(acc, []).append(n)
        first_ts = {a: min((info[n][1] for n in ns if info[n][2]), default=math.inf)
                    for a, ns in nodes_of.items()}
        removed: set = set()
        picks = []
        for _ in range(k):
            best = None
            for a, ns in nodes_of.items():
                if a in excluded or any(a == p for p, _ in picks):
                    continue
                region = set()
                for n in ns:
                    region |= nx.descendants(tree, n) | {n}
                region -= removed
                gain = sum(1 for d in region if d in present and info[d][0] != a)
                key = (-gain, first_ts[a], a)
                if best is None or key < best[0]:
                    best = (key, a, gain, region)
            if best is None or best[2] <= 0:
                break
            picks.append((best[1], best[2]))
            removed |= best[3]
        return picks


# ---- seeded random cascades: several shapes, shuffled, with the mess of real streams ------
SHAPES = ("recursive", "chain", "star", "forest", "bushy")


def tree_parents(shape: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Parent index (< own index, -1 = root) of each of n nodes."""
    par = np.full(n, -1, np.int64)
    for i in range(1, n):
        if shape == "chain":
            par[i] = i - 1
        elif shape == "star":
            par[i] = 0
        elif shape == "forest":
            par[i] = -1 if rng.random() < 0.15 else rng.integers(0, i)
        elif shape == "bushy":  # preferential: few hubs with many children
            par[i] = rng.integers(0, max(1, i // 8) + 1) if rng.random() < 0.7 else rng.integers(0, i)
        else:
            par[i] = rng.integers(0, i)
    return par


def random_rows(seed: int, n: int | None = None, shape: str | None = None,
                p_missing: float = 0.1, p_dup: float = 0.1, p_account_only: float = 0.15,
                p_claim: float = 0.5, p_unlinked: float = 0.03, shuffle: bool = True):
    """Rows (event_id, account_id, ts, parent_event_id, parent_account_id) in arrival order."""
    rng = np.random.default_rng(seed)
    if n is None:
        n = int(rng.integers(1, 60))
    if shape is None:
        shape = SHAPES[seed % len(SHAPES)]
    par = tree_parents(shape, n, rng)
    n_acc = max(1, int(n * rng.uniform(0.2, 1.0)))
    acc = rng.integers(0, n_acc, n)
    # Coarse timestamps make ties, which must be broken by ids, not by arrival.
    ts = 1_000 + np.cumsum(rng.integers(0, 3, n))
    names = rng.permutation(10 * n)
    eid = [f"e{names[i]}" for i in range(n)]
    aid = [f"u{a}" for a in acc]
    rows = []
    for i in range(n):
        p = par[i]
        pe = pa = None
        if p >= 0:
            r = rng.random()
            if r < p_account_only:
                pa = aid[p]
            elif r < p_account_only + p_unlinked:
                pass
            else:
                pe = eid[p]
                if rng.random() < p_claim:
                    # Mostly the true account, sometimes a false claim.
                    pa = aid[p] if rng.random() < 0.8 else f"u{rng.integers(0, n_acc)}"
        rows.append((eid[i], aid[i], int(ts[i]), pe, pa))
    keep = [r for r in rows if rng.random() >= p_missing]
    dups = [keep[int(j)] for j in rng.integers(0, len(keep), int(p_dup * len(keep)))] if keep else []
    out = keep + dups
    if shuffle:
        perm = rng.permutation(len(out))
        out = [out[int(j)] for j in perm]
    return out


def columns(rows):
    """Rows -> the add_batch columns."""
    return ([r[0] for r in rows], [r[1] for r in rows], np.array([r[2] for r in rows], np.int64),
            [r[3] for r in rows], [r[4] for r in rows])


def feed(graph, rows, rng: np.random.Generator | None = None):
    """Add rows to a CascadeGraph in random batch sizes; returns the concatenated statuses."""
    statuses = []
    i = 0
    while i < len(rows):
        step = len(rows) if rng is None else int(rng.integers(1, 12))
        res = graph.add_batch(*columns(rows[i:i + step]))
        statuses.append(res)
        i += step
    return statuses


def fill_table(table, offs, arena, count) -> None:
    """Insert ids ``0..count-1`` (blanks skipped) into the empty id ``table`` (all -1), one after
    the other with linear probing: the refill that graph.kernels_rehash.fill_table_ahead must
    reproduce slot for slot."""
    from graph.ids import id_hash, index_mask, tag_of

    size = table.shape[0]
    mask = int(index_mask(size))
    for j in range(count):
        s, e = int(offs[j]), int(offs[j + 1])
        if e == s:
            continue
        h = int(id_hash(arena, s, e))
        slot = ((h >> 32) * size) >> 32  # the high half scaled to the table
        while table[slot] != -1:
            slot = (slot + 1) % size
        table[slot] = j | int(tag_of(np.uint64(h), np.int64(mask)))


def live_reach(ip, ix, live, infected, blocked) -> set:
    """Nodes reachable from the infected set over the live edges of one sampled world, never
    entering a blocked node (``blocked``: a collection of node ids). Plain BFS."""
    blocked = set(blocked)
    seen = set(np.flatnonzero(infected).tolist())
    stack = list(seen)
    while stack:
        u = stack.pop()
        for e in range(ip[u], ip[u + 1]):
            v = int(ix[e])
            if live[e] and v not in seen and v not in blocked:
                seen.add(v)
                stack.append(v)
    return seen


def mean_live_reach(ip, ix, live, infected, picks) -> float:
    """Mean over the sampled worlds (rows of ``live``) of ``live_reach`` with ``picks`` blocked."""
    return float(np.mean([len(live_reach(ip, ix, world, infected, picks)) for world in live]))

