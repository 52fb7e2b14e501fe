"""Blocking k uninfected nodes of an independent cascade observed at about 20 infected.

Per trial (seeded): a fresh contact graph (BA m=3, or WS k=6 rewired 0.1, 2,000 nodes), a
uniform source, an independent cascade with edge probability p stopped the moment ``--observe``
nodes are infected (the observed set I; sources whose cascade dies earlier are redrawn). Each
method names k uninfected nodes to block. The future is the same IC continued: every edge not
yet tried gets its one chance (spent nodes stay spent), estimated on ``--eval`` live-edge
samples drawn from a stream no method sees, the same samples for every method. Reported per method: the reduction of the expected
*new* infections after t, 1 - E[final_B - |I|] / E[final_0 - |I|] (mean over trials), and of
the expected final infected 1 - E[final_B] / E[final_0]; 95% bootstrap intervals.

Methods: degree, NetShield (graph/blocking.py), the dominator-tree greedy on ``--samples``
live-edge samples, and ours: the same greedy on ``--ours-samples`` samples followed by the
coordinate-ascent refinement (graph.blocking.dominator_refine).

    python -m benchmarks.accuracy_blocking [--trials 300] [--models ba,ws] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from benchmarks.generators import barabasi_albert, independent_cascade, watts_strogatz
from graph import blocking as bl

METHODS = ("degree", "netshield", "dominator", "ours")
MODELS = {"ba": 0.12, "ws": 0.3}  # IC edge probability per graph model (issue 3)


def graph_of(model: str, n: int, seed, rewire: float = 0.1):
    if model == "ba":
        return barabasi_albert(n, 3, seed)
    if model == "ws":
        return watts_strogatz(n, 6, rewire, seed)
    raise ValueError(model)


def observe(ip, ix, p, size, rng, tries: int = 1000):
    """(infected mask, tried edge slots) of an IC run stopped the moment ``size`` nodes are
    infected; the source is redrawn if its cascade dies earlier. A tried edge has had its one
    chance (successful or not), so the future runs on untried edges only: nodes of earlier
    generations are spent, the newest ones still fully active, one node possibly half-way.
    """
    n = len(ip) - 1
    for _ in range(tries):
        inf = np.zeros(n, bool)
        tried = np.zeros(int(ip[-1]), bool)
        src = int(rng.integers(n))
        inf[src], count, gen = True, 1, [src]
        while gen and count < size:
            rng.shuffle(gen)  # a generation's members try their edges in random order
            nxt = []
            for u in gen:
                for e in range(ip[u], ip[u + 1]):
                    if count >= size:
                        break
                    tried[e] = True
                    v = ix[e]
                    if not inf[v] and rng.random() < p:
                        inf[v] = True
                        count += 1
                        nxt.append(v)
            gen = nxt
        if count >= size:
            return inf, tried
    raise RuntimeError("no cascade reached the observation size")


def trial(model, n, p, k, observed, samples, ours_samples, n_eval, seed, rewire=0.1, refine=1):
    ss = np.random.SeedSequence([seed, len(model), ord(model[0])])
    g_seed, o_seed, s_seed, e_seed = ss.spawn(4)
    ip, ix = graph_of(model, n, np.random.default_rng(g_seed), rewire)
    inf, tried = observe(ip, ix, p, observed, np.random.default_rng(o_seed))
    fit_rng = np.random.default_rng(s_seed)
    live_d = bl.live_edges(ip, samples, p, fit_rng) & ~tried
    live_o = np.concatenate([live_d, bl.live_edges(ip, max(ours_samples - samples, 0), p, fit_rng) & ~tried])
    picks = {"degree": bl.degree_block(ip, inf, k), "netshield": bl.netshield_block(ip, ix, inf, k)}
    picks["dominator"] = bl.dominator_greedy(ip, ix, live_d, inf, k)
    picks["ours"] = bl.dominator_refine(ip, ix, live_o, inf, bl.dominator_greedy(ip, ix, live_o, inf, k),
                                         rounds=refine)
    live_e = bl.live_edges(ip, n_eval, p, np.random.default_rng(e_seed)) & ~tried
    _, base = bl.dominator_gains(ip, ix, live_e, inf)
    out = {"base": base}
    for name, nodes in picks.items():
        blocked = np.zeros(n, bool)
        blocked[nodes] = True
        _, reach = bl.dominator_gains(ip, ix, live_e, inf, blocked)
        new0 = base - observed
        out[name] = (1.0 - (reach - observed) / new0 if new0 > 0 else 1.0, 1.0 - reach / base)
    return out


def run(models=("ba", "ws"), trials=300, n=2000, k=10, observed=20, samples=200, ours_samples=1000,
        n_eval=1000, seed=0, probs=None, rewire=0.1, refine=1, log=print):
    from benchmarks.accuracy import bootstrap_mean

    probs = dict(MODELS, **(probs or {}))
    res = {}
    for model in models:
        t0 = time.time()
        rows = [trial(model, n, probs[model], k, observed, samples, ours_samples, n_eval, seed + i, rewire, refine)
                for i in range(trials)]
        cell = {"trials": trials, "p": probs[model], "ws_rewire": rewire if model == "ws" else None,
                "final_no_blocking": float(np.mean([r["base"] for r in rows])), "seconds": time.time() - t0}
        for name in METHODS:
            new = np.array([r[name][0] for r in rows])
            tot = np.array([r[name][1] for r in rows])
            cell[name] = {"new": float(new.mean()), "new_ci": bootstrap_mean(new, seed),
                          "final": float(tot.mean()), "final_ci": bootstrap_mean(tot, seed)}
        d = np.array([r["ours"][0] - r["dominator"][0] for r in rows])
        cell["ours_minus_dominator"] = {"mean": float(d.mean()), "ci": bootstrap_mean(d, seed)}
        res[model] = cell
        log(table(model, cell, n, k, observed))
    return res


def table(model, cell, n, k, observed) -> str:
    rw = f" rewired {cell['ws_rewire']}" if cell.get("ws_rewire") is not None else ""
    lines = [f"{model}{rw} {n} nodes, IC p={cell['p']}, observed at {observed} infected, k={k}: "
             f"{cell['trials']} trials, E[final] without blocking {cell['final_no_blocking']:.1f}",
             f"{'method':<11}{'new infections prevented':<26}{'final infected reduction'}"]
    for name in METHODS:
        c = cell[name]
        lines.append(f"{name:<11}{c['new']:.3f} [{c['new_ci'][0]:.3f},{c['new_ci'][1]:.3f}]     "
                     f"{c['final']:.3f} [{c['final_ci'][0]:.3f},{c['final_ci'][1]:.3f}]")
    d = cell["ours_minus_dominator"]
    lines.append(f"ours - dominator (new): {d['mean']:+.4f} [{d['ci'][0]:+.4f},{d['ci'][1]:+.4f}]")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.accuracy_blocking", description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="ba,ws")
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--nodes", type=int, default=2000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--observe", type=int, default=20, help="infected count at observation")
    ap.add_argument("--samples", type=int, default=200, help="live-edge samples of the dominator greedy")
    ap.add_argument("--ours-samples", type=int, default=1000)
    ap.add_argument("--eval", type=int, default=1000, help="held-out live-edge samples for the measure")
    ap.add_argument("--refine", type=int, default=1, help="coordinate-ascent rounds of ours")
    ap.add_argument("--p-ba", type=float, default=MODELS["ba"])
    ap.add_argument("--p-ws", type=float, default=MODELS["ws"])
    ap.add_argument("--ws-rewire", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    res = run(a.models.split(","), a.trials, a.nodes, a.k, a.observe, a.samples, a.ours_samples, a.eval, a.seed,
              {"ba": a.p_ba, "ws": a.p_ws}, a.ws_rewire, a.refine)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"config": vars(a), "cells": res}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
