"""Masked-parent recovery on synthetic cascades over a known follower graph, with timestamps.

Per trial: a fresh seeded contact graph (ER mean degree 6, WS k=6 p=0.1, BA m=3), every account
an influence weight (log-normal, mean 1), and ``cascades`` continuous-time independent cascades
from uniform seeds: an edge u->v transmits with probability min(1, p * influence_u) after a
log-normal delay (median 30 min, sigma 1, the shape reported for retweet delays). A ``mask``
fraction of the non-seed infections lose their parent. Candidates of a masked share are its
in-neighbours infected before it. Rules: the most recent and the earliest such in-neighbour; the
model is graph.reconstruct's conditional logit fitted on the trial's own observed links
(leave-one-out), so the masked links are never seen.
"""
from __future__ import annotations

import heapq

import numpy as np

from benchmarks.generators import contact_graph
from graph import choice
from graph import reconstruct as rc

MODELS = ("er", "ws", "ba")


def simulate(indptr, indices, influence, p, seed_node, rng, max_infected=300,
             median_delay=1800.0, sigma=1.0):
    """Continuous-time independent cascade; returns (nodes, times, parents) in time order."""
    t_of = {seed_node: 0.0}
    parent = {seed_node: -1}
    heap = [(0.0, seed_node, -1)]
    done, finished = [], set()
    mu = np.log(median_delay)
    while heap and len(done) < max_infected:
        t, v, pv = heapq.heappop(heap)
        if v in finished or t > t_of[v] or parent[v] != pv:
            continue  # a stale entry: v was reached sooner by another path
        done.append(v)
        finished.add(v)
        nb = indices[indptr[v]:indptr[v + 1]]
        hit = rng.random(len(nb)) < min(1.0, p * influence[v])
        delays = np.exp(mu + sigma * rng.standard_normal(len(nb)))
        for w, h, d in zip(nb.tolist(), hit.tolist(), delays.tolist()):
            if h and w not in finished and t + d < t_of.get(w, np.inf):
                t_of[w] = t + d
                parent[w] = v
                heapq.heappush(heap, (t + d, w, v))
    nodes = np.asarray(done, np.int64)
    return nodes, np.array([t_of[v] for v in done]), np.array([parent[v] for v in done], np.int64)


def _candidates(indptr, indices, nodes, times, targets):
    """In-neighbours infected strictly before each target, most recent first (node positions)."""
    pos = {int(v): i for i, v in enumerate(nodes)}
    ptr, out = [0], []
    for s in targets.tolist():
        v = int(nodes[s])
        cand = [pos[w] for w in indices[indptr[v]:indptr[v + 1]].tolist()
                if w in pos and (times[pos[w]], pos[w]) < (times[s], s)]
        cand.sort(key=lambda c: (-times[c], -c))
        out.extend(cand)
        ptr.append(len(out))
    return np.asarray(ptr, np.int64), np.asarray(out, np.int64)


def trial(model: str, n: int, seed, cascades: int = 10, p: float = 0.25, mask: float = 0.3):
    """One trial: accuracy of each rule on the masked links (and how many there were)."""
    rng = np.random.default_rng(seed)
    indptr, indices = contact_graph(model, n, rng)
    influence = np.exp(rng.normal(-0.5, 1.0, n))  # log-normal with mean 1
    sims = []
    for _ in range(cascades):
        nodes, times, parents = simulate(indptr, indices, influence, p, int(rng.integers(n)), rng)
        pos = {int(v): i for i, v in enumerate(nodes)}
        par = np.array([pos[int(u)] if u >= 0 else -1 for u in parents], np.int64)
        has = np.flatnonzero(par >= 0)
        masked = np.zeros(len(par), bool)
        masked[rng.choice(has, size=int(round(mask * len(has))), replace=False)] = True
        sims.append((nodes, times, par, masked))
    inter = rc.Interactions()
    for nodes, _, par, masked in sims:
        ok = (par >= 0) & ~masked
        inter.add([str(v) for v in nodes[ok]], [str(v) for v in nodes[par[ok]]])
    rows, evals = _rows(sims, indptr, indices, inter)
    X, ptr, chosen = rows
    w = choice.fit(X, ptr, chosen) if len(chosen) else np.zeros(rc.rk.N_FEATURES)
    hits = {"most recent": 0, "earliest": 0, "model": 0}
    total = 0
    for X, ptr, cands, truth in evals:
        total += len(truth)
        for q in range(len(truth)):
            seg = cands[ptr[q]:ptr[q + 1]]
            if len(seg):
                hits["most recent"] += int(seg[0] == truth[q])
                hits["earliest"] += int(seg[-1] == truth[q])
        pos, _ = choice.choose(X, ptr, w)
        got = np.where(pos >= 0, cands[ptr[:-1] + np.maximum(pos, 0)] if len(cands) else -1, -1)
        hits["model"] += int(np.count_nonzero(got == truth))
    return hits, total


def _rows(sims, indptr, indices, inter):
    Xs, ptrs, chosen, evals = [], [0], [], []
    for nodes, times, par, masked in sims:
        acct = np.array([inter.account(str(v), add=False) for v in nodes], np.int64)
        obs = np.where(masked, -1, par)
        root_like = (par < 0).astype(np.int64)
        ones = np.ones(len(nodes), np.int64)
        train = np.flatnonzero(obs >= 0)
        test = np.flatnonzero(masked)
        for targets, loo in ((train, True), (test, False)):
            if not len(targets):
                continue
            cand = _candidates(indptr, indices, nodes, times, targets)
            X, ptr, cands = rc.features(times, obs, acct, root_like, ones, targets, inter,
                                        cand=cand, loo=loo)
            if loo:
                for q, s in enumerate(targets.tolist()):
                    hit = np.flatnonzero(cands[ptr[q]:ptr[q + 1]] == obs[s])
                    chosen.append(int(hit[0]) if len(hit) else -1)
                Xs.append(X)
                ptrs.extend((ptr[1:] + ptrs[-1]).tolist())
            else:
                evals.append((X, ptr, cands, par[targets]))
    X = np.vstack(Xs) if Xs else np.zeros((0, rc.rk.N_FEATURES))
    return (X, np.asarray(ptrs, np.int64), np.asarray(chosen, np.int64)), evals


def run(models=MODELS, trials: int = 300, n: int = 2000, seed: int = 0, log=None, mask: float = 0.3) -> dict:
    """Per model: per-trial accuracy of each rule on a ``mask`` fraction of masked links, mean with
    a 95% bootstrap interval; the model's paired difference to each rule (``model minus most
    recent``, ``model minus earliest``), and to the better of the two in each trial separately
    (``model minus best rule``: a harder bar than the better rule overall, since it takes
    whichever rule won that trial)."""
    from benchmarks.accuracy import bootstrap_mean

    out = {}
    for mi, model in enumerate(models):
        per = {"most recent": [], "earliest": [], "model": []}
        links = 0
        for t in range(trials):
            hits, total = trial(model, n, (seed, mi, t), mask=mask)
            if log and (t + 1) % max(trials // 10, 1) == 0:
                log(f"{model}: {t + 1}/{trials} trials")
            links += total
            for k in per:
                per[k].append(hits[k] / total if total else np.nan)
        cell = {"trials": trials, "masked_links": links}
        for k, v in per.items():
            v = np.asarray(v)
            v = v[np.isfinite(v)]
            cell[k] = (float(v.mean()), *bootstrap_mean(v, seed))
        model_acc = np.asarray(per["model"])
        for key, other in (("model minus best rule", np.maximum(per["most recent"], per["earliest"])),
                           ("model minus most recent", np.asarray(per["most recent"])),
                           ("model minus earliest", np.asarray(per["earliest"]))):
            diff = model_acc - other
            cell[key] = (float(np.nanmean(diff)), *bootstrap_mean(diff[np.isfinite(diff)], seed))
        out[model] = cell
        if log:
            log(f"{model}: " + ", ".join(f"{k} {v[0]:.3f}" for k, v in cell.items() if isinstance(v, tuple)))
    return out
