"""Parent reconstruction: conditional logit against a plain-Python oracle, candidates, the graph API."""
import numpy as np
import pytest

from graph import CascadeGraph, choice
from graph import reconstruct as rc
from graph import reconstruct_kernels as rk


def _oracle_choose(X, ptr, w):
    out = []
    for q in range(len(ptr) - 1):
        rows = list(range(ptr[q], ptr[q + 1]))
        if not rows:
            out.append(-1)
            continue
        scores = [float(np.dot(X[r], w)) for r in rows]
        out.append(scores.index(max(scores)))
    return out


def _oracle_ll(X, ptr, chosen, w):
    total = 0.0
    for q in range(len(ptr) - 1):
        s = X[ptr[q]:ptr[q + 1]] @ w
        total += s[chosen[q]] - np.log(np.exp(s).sum())
    return total / (len(ptr) - 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_choose_and_likelihood_match_oracle(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, 40)
    ptr = np.concatenate([[0], np.cumsum(sizes)])
    X = rng.normal(size=(ptr[-1], 4))
    w = rng.normal(size=4)
    pos, prob = choice.choose(X, ptr, w)
    assert pos.tolist() == _oracle_choose(X, ptr, w)
    assert ((prob > 0) & (prob <= 1)).all()
    chosen = np.array([rng.integers(0, s) for s in sizes])
    assert choice.log_likelihood(X, ptr, chosen, w) == pytest.approx(_oracle_ll(X, ptr, chosen, w))


def test_fit_recovers_weights():
    rng = np.random.default_rng(5)
    true_w = np.array([1.5, -1.0, 0.5])
    sizes = rng.integers(2, 8, 3000)
    ptr = np.concatenate([[0], np.cumsum(sizes)])
    X = rng.normal(size=(ptr[-1], 3))
    chosen = []
    for q in range(len(sizes)):
        s = X[ptr[q]:ptr[q + 1]] @ true_w
        p = np.exp(s - s.max())
        chosen.append(rng.choice(len(p), p=p / p.sum()))
    w = choice.fit(X, ptr, np.array(chosen))
    assert np.abs(w - true_w).max() < 0.15


def _oracle_candidates(ts, par, is_cand, root_like, s, cap):
    below = {s}
    changed = True
    while changed:
        changed = False
        for i, p in enumerate(par):
            if p in below and i not in below:
                below.add(i)
                changed = True
    earlier = sorted((i for i in range(len(ts)) if (ts[i], i) < (ts[s], s) and is_cand[i] and i not in below),
                     key=lambda i: (-ts[i], -i))
    out, taken = [], 0
    for c in earlier:
        if taken < cap or root_like[c]:
            out.append(c)
            taken += 1
    return out


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_candidates_match_oracle(seed):
    rng = np.random.default_rng(seed)
    n = 60
    ts = np.sort(rng.integers(0, 30, n)).astype(float)
    par = np.array([-1] + [int(rng.integers(0, i)) if rng.random() < 0.7 else -1 for i in range(1, n)])
    is_cand = (rng.random(n) < 0.9).astype(np.int64)
    root_like = ((par < 0) & (rng.random(n) < 0.5)).astype(np.int64)
    targets = np.flatnonzero(par < 0)[1:]
    ptr, cands = rk.earlier_candidates(ts, par, is_cand, root_like, targets, 5)
    for q, s in enumerate(targets.tolist()):
        assert cands[ptr[q]:ptr[q + 1]].tolist() == _oracle_candidates(ts, par, is_cand, root_like, s, 5)


def test_loo_removes_own_link_from_counts():
    ts = np.array([0.0, 10, 20])
    par = np.array([-1, 0, 0])
    inter = rc.Interactions()
    inter.add(["b", "c"], ["a", "a"])
    acct = np.array([inter.account(x) for x in "abc"])
    X, ptr, cands = rc.features(ts, par, acct, np.array([1, 0, 0]), np.ones(3, np.int64),
                                np.array([2]), inter, loo=True)
    row = X[ptr[0] + cands[ptr[0]:ptr[0] + 2].tolist().index(0)]
    names = rk.FEATURE_NAMES
    assert row[names.index("log_kids")] == pytest.approx(np.log(2))  # 2 kids, own left out
    assert row[names.index("log_pair")] == 0.0
    assert row[names.index("log_influence")] == pytest.approx(np.log(2))


def test_reconstruct_on_graph_every_orphan_share_gets_a_parent():
    g = CascadeGraph("r")
    g.add_batch(["o", "a", "b", "c", "d"], ["src", "u", "v", "w", "x"],
                np.array([0, 60, 120, 180, 240]) * 1000, [None, "o", None, "a", None],
                [None, None, None, None, None], np.array([0, 1, 1, 1, 1]))
    parents = rc.reconstruct_parents(g)
    assert set(parents) == {"b", "d"}
    for child, p in parents.items():
        assert p in {"o", "a", "b", "c"} and p != child


def test_text_quote_links_parent():
    g = CascadeGraph("r")
    g.add_batch(["o", "a", "b", "c"], ["src", "u", "v", "w"], np.array([0, 60, 120, 180]) * 1000,
                [None, "o", "o", None], [None] * 4, np.array([0, 1, 1, 1]))
    texts = {"a": "so true", "b": "hmm", "c": "agree //@u: so true"}
    w = np.zeros(rk.N_FEATURES)
    w[rk.FEATURE_NAMES.index("text")] = 5.0
    assert rc.reconstruct_parents(g, weights=w, texts=texts) == {"c": "a"}
