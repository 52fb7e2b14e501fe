"""Parent reconstruction: for each share whose parent is missing, the event it most likely came from.

Evidence (features of a candidate parent c for a share s, graph/reconstruct_kernels.py):
c is a root-like origin candidate; the time gap s - c (log and log squared, so a delay
distribution that rises then falls is representable); c's observed children (popular posts
attract more); how many candidates came between c and s; c's depth; how often c's account was
reposted across all rumours seen (the interaction graph); how often s's account reposted c's
account before; and repost text quoting c's text after ``@name:``. A conditional logit
(graph/choice.py) weighs them; the weights are fitted on observed links (those not missing),
so nothing about the missing links is used. :data:`DEFAULT_WEIGHTS` were fitted on the Weibo
training split by ``python -m benchmarks.accuracy_parents`` (its JSON: weibo_masked.weights.model).
"""
from __future__ import annotations

import re

import numpy as np

from graph import choice
from graph import reconstruct_kernels as rk
from graph.kernels_tree import walked_depths
from graph.types import FLAG_ACCOUNT_PLACEHOLDER, FLAG_PRESENT, KIND_MASK

POST_KIND = 0
SHARE_KIND = 1
MAX_CANDIDATES = 400
TARGETS_PER_CHUNK = 2048

# Fitted on the Weibo training half (benchmarks/accuracy_parents.py, JSON weights.model), order as
# reconstruct_kernels.FEATURE_NAMES.
DEFAULT_WEIGHTS = np.array([-1.6358, -0.2819, -0.0085, 0.9335, -0.4650, 0.0342, 0.3069, 0.5398, 0.8026, 0.2598, 0.4225, 2.4311])

_QUOTE = re.compile(r"@([^\s:：@/]{1,40})\s*[:：]\s*")


class Interactions:
    """The account interaction graph seen so far: who shared from whom, across rumours.

    >>> it = Interactions()
    >>> it.add(["b", "c", "b"], ["a", "a", "a"])
    >>> it.pair("b", "a"), it.influence_of("a"), it.pair("a", "b")
    (2, 3, 0)
    """

    def __init__(self):
        self.index: dict[str, int] = {}
        self._pairs: dict[int, int] = {}
        self._infl: list[int] = []
        self._frozen = None

    def account(self, name: str, add: bool = True) -> int:
        i = self.index.get(name, -1)
        if i < 0 and add:
            i = self.index[name] = len(self.index)
            self._infl.append(0)
        return i

    def add(self, child_accounts, parent_accounts) -> None:
        """Record observed links child account -> parent account (None entries skipped)."""
        for c, p in zip(child_accounts, parent_accounts):
            if c is None or p is None or c == p:
                continue
            ci, pi = self.account(c), self.account(p)
            key = ci * (1 << 31) + pi
            self._pairs[key] = self._pairs.get(key, 0) + 1
            self._infl[pi] += 1
        self._frozen = None

    def pair(self, child: str, parent: str) -> int:
        ci, pi = self.index.get(child, -1), self.index.get(parent, -1)
        if ci < 0 or pi < 0:
            return 0
        return self._pairs.get(ci * (1 << 31) + pi, 0)

    def influence_of(self, account: str) -> int:
        i = self.index.get(account, -1)
        return self._infl[i] if i >= 0 else 0

    def arrays(self):
        """(pair_keys sorted, pair_counts, n_accounts, influence) in the kernels' form."""
        if self._frozen is None:
            n = max(len(self.index), 1)
            if self._pairs:
                raw = np.fromiter(self._pairs.keys(), np.int64, len(self._pairs))
                cnt = np.fromiter(self._pairs.values(), np.int64, len(self._pairs))
                keys = (raw >> 31) * n + (raw & ((1 << 31) - 1))
                order = np.argsort(keys)
                keys, cnt = keys[order], cnt[order]
            else:
                keys, cnt = np.zeros(0, np.int64), np.zeros(0, np.int64)
            self._frozen = (keys, cnt, n, np.asarray(self._infl + [0], np.int64))
        return self._frozen


def text_keys(texts, targets, n: int) -> np.ndarray:
    """Sorted ``target * n + candidate`` pairs where the target's text quotes the candidate's
    whole text after ``@name:`` (how reposts on Weibo carry the chain).

    >>> text_keys(["hello world", "wow @ann: hello world", None], np.array([1]), 3).tolist()
    [3]
    """
    by_text: dict[str, list[int]] = {}
    for i, t in enumerate(texts):
        if t and len(t.strip()) >= 2:
            by_text.setdefault(t.strip(), []).append(i)
    keys = []
    for s in np.asarray(targets).tolist():
        t = texts[s]
        if not t or "@" not in t:
            continue
        for m in _QUOTE.finditer(t):
            seg = t[m.end():]
            cut = seg.find("//@")
            seg = (seg if cut < 0 else seg[:cut]).strip()
            for c in by_text.get(seg, ()):
                if c != s:
                    keys.append(s * n + c)
    return np.unique(np.asarray(keys, np.int64))


def infer(ts, par, acct, root_like, is_cand, targets, interactions=None, weights=None,
          texts=None, max_cands: int = MAX_CANDIDATES, cand=None, tie=None):
    """Most likely parent node of every target (-1 when it has no candidate) and its model
    probability (among the target's candidates; NaN where a cycle was broken, 0 with no
    candidate). ``cand`` = (ptr, nodes) overrides the candidate sets (default: every earlier
    candidate outside the target's subtree). ``tie``: per node, a rank that breaks ties in
    ``ts`` (default the node number; :func:`tie_rank` makes the answer independent of the
    arrival order).

    >>> ts = np.array([0.0, 60, 120, 125]); par = np.array([-1, 0, -1, 1])
    >>> p, _ = infer(ts, par, np.arange(4), np.array([1, 0, 0, 0]), np.ones(4, np.int64),
    ...              np.array([2]), weights=np.array([3.0] + [0.0] * 11))
    >>> p.tolist()
    [0]
    """
    targets = np.asarray(targets, np.int64)
    w = DEFAULT_WEIGHTS if weights is None else np.asarray(weights, np.float64)
    # Targets in chunks: a target has up to max_cands feature rows, so all at once held
    # 30,000 parentless shares x 400 rows x 12 features = 1.2 GB.
    step = len(targets) if cand is not None else TARGETS_PER_CHUNK
    parent = np.full(len(targets), -1, np.int64)
    prob = np.zeros(len(targets))
    for lo in range(0, len(targets), max(step, 1)):
        part = targets[lo:lo + step]
        X, ptr, cands = features(ts, par, acct, root_like, is_cand, part, interactions, texts,
                                 max_cands, cand, tie=tie)
        pos, prob[lo:lo + step] = choice.choose(X, ptr, w)
        # A target with no candidate (pos -1) may be the last group, whose start is
        # len(cands): clip the gather (np.where evaluates both sides); the mask puts -1 back.
        at = np.minimum(ptr[:-1] + np.maximum(pos, 0), max(len(cands) - 1, 0))
        parent[lo:lo + step] = np.where(pos >= 0, cands[at] if len(cands) else -1, -1)
    chosen = _break_cycles(np.asarray(par, np.int64), np.asarray(targets, np.int64), parent.copy(),
                           np.asarray(root_like), _time_order(ts, tie))
    # A link the cycle breaker replaced is no longer the model's choice: its probability is not known.
    return chosen, np.where(chosen == parent, prob, np.nan)


def _time_order(ts, tie=None):
    """Nodes earliest first, ties by ``tie`` (default node number)."""
    ts = np.asarray(ts, np.float64)
    if tie is None:
        return np.argsort(ts, kind="mergesort")
    return np.lexsort((np.asarray(tie, np.int64), ts))


def features(ts, par, acct, root_like, is_cand, targets, interactions=None, texts=None,
             max_cands: int = MAX_CANDIDATES, cand=None, loo: bool = False, tie=None):
    """(X, ptr, cands): the feature rows of every target's candidates (see :func:`infer`).
    ``loo``: the targets' own observed links are left out of the counts (for fitting)."""
    ts = np.ascontiguousarray(ts, np.float64)
    par = np.ascontiguousarray(par, np.int64)
    acct = np.ascontiguousarray(acct, np.int64)
    root_like = np.ascontiguousarray(root_like, np.int64)
    is_cand = np.ascontiguousarray(is_cand, np.int64)
    targets = np.ascontiguousarray(targets, np.int64)
    if cand is None:
        ptr, cands = rk.earlier_in_order(_time_order(ts, tie), par, is_cand, root_like, targets,
                                         int(max_cands))
    else:
        ptr, cands = (np.ascontiguousarray(a, np.int64) for a in cand)
    if interactions is None:
        keys, cnt, n_acc, infl = np.zeros(0, np.int64), np.zeros(0, np.int64), 1, np.zeros(1, np.int64)
        acct = np.full(len(ts), -1, np.int64) if acct.size and acct.max() >= 0 else acct
    else:
        keys, cnt, n_acc, infl = interactions.arrays()
    tk = text_keys(texts, targets, len(ts)) if texts is not None else np.zeros(0, np.int64)
    X = rk.pair_features(ts, par, acct, root_like, targets, ptr, cands, keys, cnt, n_acc, infl, tk,
                          1 if loo else 0)
    return X, ptr, cands


def _break_cycles(par, targets, chosen, root_like, order):
    # Candidates are strictly earlier, so chosen links alone cannot loop; observed links that
    # run backwards in time could. On each cycle, the target first in time (by ``order``, not
    # node number: that would depend on the arrival order) goes to the earliest root. One walk
    # with states (0 new, 1 on the current path, 2 done) finds every cycle in O(n); walking each
    # target's chain to its root was O(targets * depth).
    full = par.copy()
    full[targets] = chosen
    roots = order[root_like[order] == 1]
    pos = np.empty(len(order), np.int64)
    pos[order] = np.arange(len(order))
    slot = np.full(len(full), -1, np.int64)
    slot[targets] = np.arange(len(targets))
    state = np.zeros(len(full), np.int8)
    for q in np.argsort(pos[targets], kind="stable").tolist():  # targets in time order
        path = []
        x = int(targets[q])
        while x >= 0 and state[x] == 0:
            state[x] = 1
            path.append(x)
            x = int(full[x])
        if x >= 0 and state[x] == 1:  # the path closed a cycle starting at x
            cycle = path[path.index(x):]
            s = min((c for c in cycle if slot[c] >= 0), key=lambda c: pos[c])
            fallback = int(roots[0]) if len(roots) and roots[0] != s else -1
            chosen[slot[s]] = fallback
            full[s] = fallback
        state[path] = 2
    return chosen


def graph_arrays(graph, interactions=None):
    """Node arrays of a :class:`graph.CascadeGraph` for :func:`infer`: ``(ts, par, acct,
    root_like, is_cand, targets)``. Targets are present shares with no resolved parent;
    placeholders get the time of their earliest child."""
    par = graph._view()[0].astype(np.int64)
    n = graph.n_nodes
    kf = graph.kf[:n]
    present = (kf & FLAG_PRESENT) != 0
    kind = kf & KIND_MASK
    ts = graph.ts[:n].astype(np.float64) / 1000.0
    # A placeholder's time: its earliest child (a lower bound is unknown; this is the estimate).
    est = np.full(n, np.inf)
    has = par >= 0
    np.minimum.at(est, par[has], ts[has])
    ts = np.where(present, ts, np.where(np.isfinite(est), est, 0.0))
    local = graph.acct[:n]
    names = graph.ac.strings(np.arange(graph.ac.count))
    if interactions is not None:
        gid = np.array([interactions.account(a, add=False) for a in names] + [-1], np.int64)
        acct = gid[np.where(local >= 0, local, len(names))]
    else:
        acct = local.astype(np.int64)
    in_forest = present | (np.isfinite(est) & (local >= 0))
    roots = par < 0
    targets = np.flatnonzero(present & roots & (kind == SHARE_KIND))
    root_like = (roots & in_forest & ~(present & (kind == SHARE_KIND))).astype(np.int64)
    is_cand = in_forest.astype(np.int64)
    return ts, par, acct, root_like, is_cand, targets


def reconstruct_parents(graph, interactions=None, weights=None, texts=None) -> dict:
    """``{event_id: inferred parent event_id}`` for every share of ``graph`` with no parent
    (the value is None when the best candidate is an account known only from its children).

    >>> from graph import CascadeGraph
    >>> g = CascadeGraph("r")
    >>> _ = g.add_batch(["o", "a", "b"], ["src", "u", "v"], np.array([0, 60_000, 600_000]),
    ...                 [None, "o", None], [None, None, None], np.array([0, 1, 1]))
    >>> p = reconstruct_parents(g)
    >>> list(p), p["b"] in {"o", "a"}
    (['b'], True)
    """
    return {t: p for t, (p, _) in reconstruct_scored(graph, interactions, weights, texts).items()}


def reconstruct_scored(graph, interactions=None, weights=None, texts=None) -> dict:
    """:func:`reconstruct_parents` with each link's model probability: ``{event_id: (parent
    event_id or None, probability or None)}``. The probability is the conditional logit's
    (graph/choice.py) for the chosen candidate among the share's candidates; None where no
    parent is given or the choice was replaced to break a cycle.

    >>> from graph import CascadeGraph
    >>> g = CascadeGraph("r")
    >>> _ = g.add_batch(["o", "b"], ["src", "v"], np.array([0, 600_000]), [None, None],
    ...                 [None, None], np.array([0, 1]))
    >>> parent, p = reconstruct_scored(g)["b"]
    >>> parent, p
    ('o', 1.0)
    """
    ts, par, acct, root_like, is_cand, targets = graph_arrays(graph, interactions)
    if not len(targets):
        return {}
    # Among equal times, parents before children (so chosen links cannot close a cycle through
    # observed ones that do not run backwards in time), then by event id.
    tie = np.empty(len(ts), np.int64)
    tie[np.lexsort((tie_rank(graph), walked_depths(par)))] = np.arange(len(ts))
    txt = None
    if texts is not None:
        ids = graph.event_ids()
        txt = [texts.get(e) if e is not None else None for e in ids]
    parent, prob = infer(ts, par, acct, root_like, is_cand, targets, interactions, weights, txt,
                         tie=tie)
    ids = graph.ev.strings(np.maximum(parent, 0))
    tid = graph.ev.strings(targets)
    acct_ph = (graph.kf[np.maximum(parent, 0)] & FLAG_ACCOUNT_PLACEHOLDER) != 0
    out = {}
    for t, p, e, ph, pr in zip(tid, parent.tolist(), ids, acct_ph.tolist(), prob.tolist()):
        shown = None if p < 0 or ph else e
        out[t] = (shown, None if shown is None or pr != pr else round(pr, 4))
    return out


def tie_rank(graph) -> np.ndarray:
    """Rank of every node by its event id (an account's placeholder, which has none, by its
    account id after all events): a tie-break that does not depend on the arrival order.

    >>> from graph import CascadeGraph
    >>> g = CascadeGraph()
    >>> _ = g.add_batch(["b", "a"], ["u", "v"], np.array([5, 5]), [None, None], [None, "w"])
    >>> g.event_ids(), tie_rank(g).tolist()
    (['b', 'a', None], [1, 0, 2])
    """
    n = graph.n_nodes
    events = graph.event_ids()
    accounts = graph.ac.strings(graph.acct[:n])
    keys = [(0, e) if e is not None else (1, a or "") for e, a in zip(events, accounts)]
    rank = np.empty(n, np.int64)
    rank[sorted(range(n), key=keys.__getitem__)] = np.arange(n)
    return rank
