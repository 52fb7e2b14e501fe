"""The cosasi 0.0.4 side-by-side cell of the accuracy benchmark (``benchmarks.accuracy``): our
rumor, averaged rumor and Jordan centrality beside cosasi's on small cascades (top-1 agreement,
each one's top-1, the largest score difference).
"""
from __future__ import annotations

import argparse
import importlib.util

import numpy as np

from benchmarks.accuracy_cells import GRAPH_INDEX, _cascade
from benchmarks.observe import snapshot
from graph.sources import snapshot_scores


def _nx_graph(ptr, idx, nodes=None):
    """networkx graph whose adjacency order is ascending, so its BFS trees equal ours."""
    import networkx as nx

    g = nx.Graph()
    keep = np.arange(len(ptr) - 1) if nodes is None else np.asarray(nodes)
    inside = np.zeros(len(ptr) - 1, dtype=bool)
    inside[keep] = True
    g.add_nodes_from(int(v) for v in keep)
    for u in keep:
        for w in idx[ptr[u]:ptr[u + 1]]:
            if inside[w] and w > u:
                g.add_edge(int(u), int(w))
    return g


def compare_cosasi(ptr, idx, infected):
    """Our rumor (BFS heuristic), averaged rumor and Jordan scores beside cosasi's on one
    snapshot: returns per method (our top-1 set, cosasi top-1, max |log score difference|)."""
    from cosasi import single_source as ss

    s = snapshot_scores(ptr, idx, infected)
    nodes = s["nodes"]
    g_inf = _nx_graph(ptr, idx, nodes)
    out = {}
    pairs = {
        "rumor": lambda: ss.rumor_centrality(g_inf, g_inf, only_roots=True),
        "rumor_avg": lambda: ss.rumor_centrality(g_inf, g_inf),
        "jordan": lambda: ss.jordan_centrality(g_inf, g_inf),
    }
    for name, call in pairs.items():
        res = call()
        theirs = np.array([res.data["scores"][int(v)] for v in nodes], dtype=np.float64)
        ours = s[name]
        if name == "jordan":
            ours_cmp, theirs_cmp = -ours, 1.0 / theirs  # eccentricities
        else:  # cosasi normalises by the max; compare log(score / max)
            ours_cmp, theirs_cmp = ours - ours.max(), np.log(theirs)
        best = set(nodes[ours == ours.max()].tolist())
        out[name] = {
            "ours_best": best,
            "cosasi_best": int(res.rank()[0]),
            "max_abs_diff": float(np.max(np.abs(ours_cmp - theirs_cmp))),
        }
    return out


def run_cosasi_cell(model, args, log):
    if importlib.util.find_spec("cosasi") is None:
        log("  cosasi not installed: skipping the side-by-side cell")
        return None
    res = {name: {"agree": 0, "ours_top1": 0, "cosasi_top1": 0, "max_abs_diff": 0.0}
           for name in ("rumor", "rumor_avg", "jordan")}
    # Continuous SI so each snapshot has exactly cosasi_infected nodes: cosasi's rumor centrality
    # divides exact factorials as floats and overflows past about 170 infected, which a
    # discrete-time overshoot on BA reaches. The scores compared do not depend on the SI model.
    sub = argparse.Namespace(**{**vars(args), "infected": args.cosasi_infected, "si": "continuous"})
    for trial in range(args.cosasi_trials):
        rng = np.random.default_rng([args.seed, 100 + GRAPH_INDEX[model], trial])
        ip, ix, c = _cascade(model, sub, rng)
        cmp = compare_cosasi(ip, ix, snapshot(c))
        for name, r in cmp.items():
            row = res[name]
            row["agree"] += r["cosasi_best"] in r["ours_best"]
            row["cosasi_top1"] += r["cosasi_best"] == c.source
            row["ours_top1"] += r["ours_best"] == {c.source}  # a tie counts as a miss for both
            row["max_abs_diff"] = max(row["max_abs_diff"], r["max_abs_diff"])
    n = args.cosasi_trials
    log(f"  {model}: cosasi cell done ({n} cascades of {args.cosasi_infected})")
    return {name: {"trials": n, "top1_agreement": r["agree"] / n, "ours_top1_unique": r["ours_top1"] / n,
                   "cosasi_top1": r["cosasi_top1"] / n, "max_abs_log_score_diff": r["max_abs_diff"]}
            for name, r in res.items()}
