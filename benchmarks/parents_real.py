"""Origin and parent recovery on real Weibo cascades with the origin post removed and parents masked.

Observation (issue 3, model c+b): the source post is deleted; a seeded ``mask`` fraction of the
other shares lose their parent link entirely; the rest keep ``parent_event_id`` and
``parent_account_id`` (so the deleted post survives as a placeholder named by its children).
Everything goes through the engine's :class:`graph.CascadeGraph`. Parent weights are fitted on
the observed links of the training half (graph.reconstruct with leave-one-out counts) and
evaluated on the masked links of the evaluation half.
"""
from __future__ import annotations

import numpy as np

from benchmarks.accuracy_stats import wilson
from graph import CascadeGraph, choice
from graph import reconstruct as rc
from graph.confidence import origin_confidence
from streams.masking import mask_rumour

_ABLATIONS = {
    "model": (),
    "no timing": (1, 2, 4, 9, 10),
    "no interaction graph": (6, 7, 11),
    "no text": (8,),
}


class Observed:
    """One masked cascade in the engine plus its ground truth."""

    def __init__(self, cascade, mask: float, seed, remove_origin: bool = True):
        c = cascade
        events = [{"event_id": c.event_ids[i], "account_id": c.accounts[i], "kind": c.kinds[i],
                   "parent_event_id": c.event_ids[p] if p >= 0 else None,
                   "parent_account_id": c.accounts[p] if p >= 0 else None}
                  for i, p in enumerate(c.parents.tolist())]
        # The variant `rumour mask --drop-origin-post` writes (one copy: streams.masking).
        kept, _ = mask_rumour(events, mask, np.random.default_rng(seed), remove_origin)
        self._pos_cache = pos = {e: i for i, e in enumerate(c.event_ids)}
        at = np.array([pos[e["event_id"]] for e in kept], np.int64)
        pe = [e["parent_event_id"] for e in kept]
        pa = [e["parent_account_id"] for e in kept]
        g = CascadeGraph(c.rumour_id)
        kinds = np.array([0 if e["kind"] == "post" else 1 for e in kept], np.uint8)
        g.add_batch([e["event_id"] for e in kept], [e["account_id"] for e in kept],
                    c.ts_ms[at], pe, pa, kinds)
        self.masked = np.zeros(len(c.event_ids), bool)
        self.masked[at] = (c.parents[at] >= 0) & np.array([x is None for x in pe], bool)
        self.cascade, self.graph = c, g
        self.child_accounts = [e["account_id"] for e in kept]
        self.parent_accounts = pa

    def truth_nodes(self, targets) -> np.ndarray:
        """The graph node of each target's true parent (-1 if it is not in the graph)."""
        c, g = self.cascade, self.graph
        ids = g.event_ids()
        out = []
        for t in targets.tolist():
            i = self._pos[ids[t]]
            p = c.parents[i]
            out.append(g.node(c.event_ids[p]) if p >= 0 else -1)
        return np.asarray(out, np.int64)

    @property
    def _pos(self):
        return self._pos_cache


def observe_all(cascades, mask: float, seed: int):
    obs = [Observed(c, mask, (seed, i)) for i, c in enumerate(cascades)]
    inter = rc.Interactions()
    for o in obs:
        inter.add(o.child_accounts, o.parent_accounts)
    return obs, inter


def _texts(o):
    pos = o._pos
    return [o.cascade.texts[pos[e]] if e in pos else None for e in o.graph.event_ids()]


def training_rows(obs, inter, use_text=True):
    """Feature rows of every observed link in ``obs`` (leave-one-out), with the chosen row."""
    Xs, ptrs, chosen = [], [0], []
    for o in obs:
        ts, par, acct, root_like, is_cand, _ = rc.graph_arrays(o.graph, inter)
        targets = np.flatnonzero((par >= 0) & ((o.graph.kf[:len(par)] & 0x80) != 0))
        if not len(targets):
            continue
        X, ptr, cands = rc.features(ts, par, acct, root_like, is_cand, targets, inter,
                                    _texts(o) if use_text else None, loo=True)
        for q, s in enumerate(targets.tolist()):
            seg = cands[ptr[q]:ptr[q + 1]]
            hit = np.flatnonzero(seg == par[s])
            chosen.append(int(hit[0]) if len(hit) else -1)
        Xs.append(X)
        ptrs.extend((ptr[1:] + ptrs[-1]).tolist())
    return np.vstack(Xs), np.asarray(ptrs, np.int64), np.asarray(chosen, np.int64)


def fit_weights(rows, drop=()):
    X, ptr, chosen = rows
    if drop:
        X = X.copy()
        X[:, list(drop)] = 0.0
    return choice.fit(X, ptr, chosen)


def evaluate(obs, inter, weights: dict, seed: int = 0):
    """Accuracy of every rule on the masked links; origin top-1 before/after reconstruction."""
    # per evaluation cascade (for the intervals, resampling cascades): hits of each rule, masked links
    per_hits = {name: [] for name in ["all to origin", "most recent", *weights]}
    per_total = []
    top1_raw = top1_rec = 0
    conf_rows = []
    for o in obs:
        g = o.graph
        ts, par, acct, root_like, is_cand, targets = rc.graph_arrays(g, inter)
        origins = g.origins(1)
        top1_raw += bool(origins and origins[0].account_id == o.cascade.origin_account)
        if not len(targets):
            top1_rec += bool(origins and origins[0].account_id == o.cascade.origin_account)
            continue
        truth = o.truth_nodes(targets)
        X, ptr, cands = rc.features(ts, par, acct, root_like, is_cand, targets, inter, _texts(o))
        per_total.append(len(targets))
        hits = {name: 0 for name in per_hits}
        reach = g.subtree_sizes()
        for q in range(len(targets)):
            seg = cands[ptr[q]:ptr[q + 1]]
            if not len(seg):
                continue
            roots = seg[root_like[seg] == 1]
            best_root = roots[np.argmax(reach[roots])] if len(roots) else seg[-1]
            hits["all to origin"] += int(best_root == truth[q])
            hits["most recent"] += int(seg[0] == truth[q])
        for name, w in weights.items():
            pos, _ = choice.choose(X, ptr, w)
            got = np.where(pos >= 0, cands[ptr[:-1] + np.maximum(pos, 0)], -1)
            hits[name] += int(np.count_nonzero(got == truth))
            if name == "model":
                full = par.copy()
                full[targets] = got
                ranked = origin_confidence(g, full)
                ok = bool(ranked) and ranked[0][0] == o.cascade.origin_account
                top1_rec += ok
                if ranked:
                    conf_rows.append((ranked[0][1], ok))
        for name, k in hits.items():
            per_hits[name].append(k)
    n, total = len(obs), sum(per_total)
    return {"masked_links": total,
            "parent_accuracy": {k: sum(v) / max(total, 1) for k, v in per_hits.items()},
            # 95% percentile bootstrap over evaluation cascades (a cascade's links are not independent)
            "parent_accuracy_ci": {k: ratio_bootstrap(v, per_total, seed) for k, v in per_hits.items()},
            "model_minus_all_to_origin": ratio_bootstrap_diff(per_hits["model"], per_hits["all to origin"],
                                                              per_total, seed),
            "origin_top1_engine": top1_raw / max(n, 1),
            "origin_top1_engine_ci": wilson(top1_raw, n),
            "origin_top1_reconstructed": top1_rec / max(n, 1),
            "origin_top1_reconstructed_ci": wilson(top1_rec, n),
            "confidence_rows": conf_rows, "cascades": n}


def ratio_bootstrap(hits, totals, seed, reps: int = 2000) -> tuple:
    """95% percentile interval of sum(hits) / sum(totals), resampling whole cascades (rows).

    >>> lo, hi = ratio_bootstrap([5, 0, 9, 3], [10, 4, 12, 6], seed=0)
    >>> bool(0.2 < lo < 17 / 32 < hi < 0.8)
    True
    """
    return ratio_bootstrap_diff(hits, np.zeros(len(hits)), totals, seed, reps)[1:]


def ratio_bootstrap_diff(hits_a, hits_b, totals, seed, reps: int = 2000) -> tuple:
    """(difference, 95% low, high) of two rules' pooled accuracies on the same cascades,
    sum(a - b) / sum(totals), resampling whole cascades; (nan, nan, nan) without any.

    >>> d, lo, hi = ratio_bootstrap_diff([5, 3, 9], [4, 3, 6], [10, 6, 12], seed=0)
    >>> round(d, 4), bool(0 <= lo <= d <= hi)
    (0.1429, True)
    """
    a, b = np.asarray(hits_a, np.float64), np.asarray(hits_b, np.float64)
    t = np.asarray(totals, np.float64)
    if not len(t) or t.sum() == 0:
        return (float("nan"),) * 3
    idx = np.random.default_rng(seed).integers(0, len(t), size=(reps, len(t)))
    ratios = (a - b)[idx].sum(axis=1) / np.maximum(t[idx].sum(axis=1), 1.0)
    return (float((a - b).sum() / t.sum()), float(np.quantile(ratios, 0.025)), float(np.quantile(ratios, 0.975)))


def run(cascades, mask: float = 0.3, seed: int = 0, max_train: int = 300):
    """Fit on (up to ``max_train`` cascades of) the training half, evaluate on the other half;
    every ablation side by side."""
    obs, inter = observe_all(cascades, mask, seed)
    train = [o for o in obs if o.cascade.split() == 0][:max_train]
    test = [o for o in obs if o.cascade.split() == 1]
    rows = training_rows(train, inter)
    weights = {name: fit_weights(rows, drop) for name, drop in _ABLATIONS.items()}
    result = evaluate(test, inter, weights, seed)
    result["weights"] = {k: v.tolist() for k, v in weights.items()}
    result["train_cascades"] = len(train)
    return result


def full_links(cascades) -> dict:
    """(a) every link observed: is the top origin the source post's author, and the only one?"""
    top = single = 0
    for c in cascades:
        g = CascadeGraph(c.rumour_id)
        pe = [c.event_ids[p] if p >= 0 else None for p in c.parents.tolist()]
        g.add_batch(c.event_ids, c.accounts, c.ts_ms, pe, [None] * len(pe),
                    np.array([0 if k == "post" else 1 for k in c.kinds], np.uint8))
        o = g.origins()
        top += bool(o and o[0].account_id == c.origin_account and o[0].event_id == c.event_ids[0])
        single += len(o) == 1
    return {"cascades": len(cascades), "origin_is_author": top, "single_origin": single}
