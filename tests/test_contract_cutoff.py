"""The vectorised greedy cut-off at time t (graph/cutoff_time.py) against the plain walk over
every node's ancestors it replaced (O(n * depth): 40 s on a chain of 8,000 shares)."""
from __future__ import annotations

import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from graph import CascadeGraph
from graph import cutoff_time as ct


def plain_greedy(par, acct, value, k, excluded=(), bonus=None):
    bonus = bonus or {}
    n = len(par)
    anc = []
    for i in range(n):
        chain, x = [], par[i]
        while x >= 0:
            chain.append(x)
            x = par[x]
        anc.append(chain)
    by_acct = {}
    for i in range(n):
        if acct[i] >= 0:
            by_acct.setdefault(int(acct[i]), []).append(i)
    skip = set(excluded)
    covered = np.zeros(n, bool)
    inner = np.zeros(n)
    chosen = []
    for _ in range(k):
        gains = {}
        for a, nodes in by_acct.items():
            if a in skip:
                continue
            tops = [i for i in nodes if not covered[i] and not any(x in nodes for x in anc[i])]
            gains[a] = sum(value[i] - inner[i] for i in tops) + bonus.get(a, 0.0)
        if not gains or max(gains.values()) <= 1e-9:
            break
        g = max(gains.values())
        best = min(a for a, v in gains.items() if v >= g - 1e-9 * max(1.0, abs(g)))
        chosen.append((best, gains[best]))
        skip.add(best)
        for i in by_acct[best]:
            if covered[i] or any(covered[x] for x in anc[i]):
                continue
            for x in anc[i]:
                inner[x] += value[i] - inner[i]
            stack = [i]
            while stack:
                y = stack.pop()
                covered[y] = True
                stack.extend(np.flatnonzero(par == y).tolist())
    return chosen


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.lists(st.integers(-1, 10_000), min_size=n, max_size=n),
    st.lists(st.integers(-1, 5), min_size=n, max_size=n),
    st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.25]), min_size=n, max_size=n),
    st.integers(0, 6))))
def test_greedy_matches_the_plain_walk(case):
    raw, acct, value, k = case
    # Parents always earlier nodes (a forest): raw picks one of them or none.
    par = np.array([-1 if (i == 0 or r < 0) else r % i for i, r in enumerate(raw)], np.int64)
    acct = np.array(acct, np.int64)
    bonus = {a: 0.25 * a for a in range(0, 6, 2)}
    got = ct.greedy_accounts(par, acct, np.array(value), k, [0], bonus)
    want = plain_greedy(par, acct, np.array(value), k, [0], bonus)
    assert [a for a, _ in got] == [a for a, _ in want]
    assert np.allclose([g for _, g in got], [g for _, g in want])


def test_cutoff_at_on_a_long_chain_is_fast():
    n = 8000
    g = CascadeGraph("r")
    g.add_batch([f"e{i}" for i in range(n)], [f"a{i % 97}" for i in range(n)],
                np.arange(n) * 100, [None] + [f"e{i}" for i in range(n - 1)], [None] * n,
                np.array([0] + [1] * (n - 1)))
    started = time.process_time()
    picks = ct.cutoff_at(g, k=10)
    assert time.process_time() - started < 5.0  # was about 40 s
    assert len(picks) == 10 and all(c["prevented"] >= 0 for c in picks)
    # On a chain the top event of an account is its earliest: it prevents everything below.
    first = {f"a{i % 97}": i for i in reversed(range(n))}
    assert all(c["prevented"] == n - 1 - first[c["account_id"]] for c in picks)
