"""A second, deliberately plain oracle for whole trace answers over event dicts (networkx).

Only for cascades whose events name their parent event (synthetic streams): origins are the
roots ranked by reach (then earliest), and cut-off is the greedy pick, each round, of the account
whose events' subtrees hold the most not-yet-removed shares by other accounts.
"""
from __future__ import annotations

import networkx as nx


def reference_trace(events, k: int = 10) -> dict:
    g = nx.DiGraph()
    seen = {}
    for e in events:
        seen.setdefault(e["event_id"], e)
    for eid, e in seen.items():
        g.add_node(eid, account=e["account_id"], ts=e["ts"])
    for eid, e in seen.items():
        if e.get("parent_event_id"):
            g.add_edge(e["parent_event_id"], eid)
    roots = [n for n in g if g.in_degree(n) == 0]
    origins = sorted(({"account_id": g.nodes[r]["account"], "event_id": r, "ts": g.nodes[r]["ts"],
                       "reach": 1 + len(nx.descendants(g, r))} for r in roots),
                     key=lambda o: (-o["reach"], o["ts"]))
    origin_accounts = {o["account_id"] for o in origins}
    first_ts = {}
    for n, data in g.nodes(data=True):
        a = data["account"]
        first_ts[a] = min(first_ts.get(a, data["ts"]), data["ts"])
    removed: set = set()
    cutoff = []
    for _ in range(k):
        best = None
        for a in sorted(first_ts, key=lambda a: (first_ts[a], a)):
            if a in origin_accounts or any(c["account_id"] == a for c in cutoff):
                continue
            under = set()
            for n, data in g.nodes(data=True):
                if data["account"] == a and n not in removed:
                    under.add(n)
                    under |= nx.descendants(g, n)
            gain = sum(1 for v in under - removed if g.nodes[v]["account"] != a)
            if gain > 0 and (best is None or gain > best[1]):
                best = (a, gain, under)
        if best is None:
            break
        cutoff.append({"account_id": best[0], "prevented": best[1]})
        removed |= best[2]
    return {"events": len(seen), "origins": origins, "cutoff": cutoff}
