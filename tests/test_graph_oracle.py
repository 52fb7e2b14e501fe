"""Every CascadeGraph answer against the slow oracle in tests/naive.py on seeded random cascades
(several shapes, shuffled arrival, random batch sizes, duplicates, missing parents, account-only
links, false account claims, equal timestamps)."""
from __future__ import annotations

import numpy as np
import pytest

from graph import CascadeGraph
from tests.naive import SHAPES, NaiveCascade, acct_node, feed, random_rows

SEEDS = range(300)


def build(rows, seed):
    g = CascadeGraph(rumour_id=f"r{seed}", capacity=16)
    results = feed(g, rows, np.random.default_rng(seed + 10_000))
    ref = NaiveCascade()
    expected = ref.add_rows(rows)
    return g, results, ref, expected


def node_keys(g):
    """Oracle key of every node of g: its event id, or the account stand-in key."""
    keys = []
    for j, e in enumerate(g.event_ids()):
        keys.append(e if e is not None else acct_node(g.ac.string(int(g.acct[j]))))
    return keys


@pytest.mark.parametrize("seed", SEEDS)
def test_against_oracle(seed):
    rows = random_rows(seed)
    g, results, ref, expected = build(rows, seed)
    status = np.concatenate([np.zeros(0, np.int8)] + [r.status for r in results])
    assert status.tolist() == [s for s, _ in expected]
    reasons = {}
    off = 0
    for r in results:
        reasons.update({off + i: why for i, why in r.reasons.items()})
        off += len(r.status)
    assert reasons == {i: why for i, (s, why) in enumerate(expected) if why}
    ans = ref.answers()
    assert g.n_events == len(ans["present"])
    n = g.n_nodes
    assert g.n_blind == int(np.count_nonzero((g.kf[:n] < 0x40) & (g.acct[:n] < 0)))

    keys = node_keys(g)
    depth, size = g.depths(), g.subtree_sizes()
    for j, key in enumerate(keys):
        if key in ans["depth"]:
            assert depth[j] == ans["depth"][key], key
            assert size[j] == ans["size"][key], key
        else:
            # An account stand-in made while the account had no events; they came since.
            assert g.event_ids()[j] is None and size[j] == 0
    assert set(ans["depth"]) <= set(keys)

    assert [tuple(o) for o in g.origins()] == ans["origins"]
    for e in ans["present"]:
        assert [tuple(h) for h in g.chain(e)] == ref.chain(ans, e)
    accounts = sorted({ref.events[e]["account"] for e in ans["present"]})
    for a in accounts[:5]:
        evs = sorted((ref.events[e]["ts"], e) for e in ans["present"] if ref.events[e]["account"] == a)
        assert [[tuple(h) for h in c] for c in g.account_chains(a)] == [ref.chain(ans, e) for _, e in evs]
    for k in (1, 3, 10):
        for excl in (True, False):
            assert [tuple(c) for c in g.cutoff(k, exclude_origins=excl)] == ref.cutoff(ans, k, excl)


@pytest.mark.parametrize("seed", range(60))
def test_arrival_order_does_not_matter(seed):
    """Same distinct events, other order and batching: same answers (no cycles here)."""
    rows = random_rows(seed, shuffle=False, p_dup=0.0)
    rng = np.random.default_rng(seed)
    answers = []
    for attempt in range(3):
        perm = rng.permutation(len(rows)) if attempt else np.arange(len(rows))
        g = CascadeGraph()
        feed(g, [rows[int(i)] for i in perm], np.random.default_rng(seed * 7 + attempt))
        ids = g.event_ids()
        d, s = g.depths(), g.subtree_sizes()
        per_event = {e: (int(d[j]), int(s[j])) for j, e in enumerate(ids) if e is not None}
        chains = {e: g.chain(e) for e in ids if e is not None}
        answers.append((g.origins(), per_event, chains, g.cutoff(10), g.cutoff(5, False),
                        g.trace(3)))
    assert answers[0] == answers[1] == answers[2]


@pytest.mark.parametrize("shape", SHAPES)
def test_bigger_cascades(shape):
    """A few hundred events per shape, in one batch and shuffled."""
    for seed in range(3):
        rows = random_rows(1000 + seed, n=400, shape=shape)
        g, results, ref, expected = build(rows, seed)
        ans = ref.answers()
        assert [tuple(o) for o in g.origins()] == ans["origins"]
        assert [tuple(c) for c in g.cutoff(10)] == ref.cutoff(ans, 10)


def test_hostile_cycles_rejected_like_oracle():
    """Rows naming each other as parents in every order: the oracle says who closes the cycle."""
    rng = np.random.default_rng(5)
    for trial in range(200):
        n = int(rng.integers(2, 12))
        rows = [(f"e{i}", f"u{rng.integers(0, 4)}", int(rng.integers(0, 5)),
                 f"e{rng.integers(0, n)}" if rng.random() < 0.9 else None,
                 f"u{rng.integers(0, 4)}" if rng.random() < 0.3 else None) for i in range(n)]
        g, results, ref, expected = build(rows, trial)
        status = np.concatenate([np.zeros(0, np.int8)] + [r.status for r in results])
        assert status.tolist() == [s for s, _ in expected]
        ans = ref.answers()
        assert [tuple(o) for o in g.origins()] == ans["origins"]
        assert [tuple(c) for c in g.cutoff(4, False)] == ref.cutoff(ans, 4, False)
