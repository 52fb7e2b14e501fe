"""The cut-off works in a scratch kept between calls (graph/cutoff_scratch.py): whatever an
earlier call, a bigger graph or a smaller one left in it, every answer must be a fresh graph's
(and the brute-force greedy's, tests/naive.py); its kernels' buffer-taking variants must match
the allocating ones; and a repeated call must not take new pages."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import trace_shapes
from graph import CascadeGraph, cutoff_scratch
from graph.kernels_cutoff_heap import bit_length, by_bit_length_into
from tests.naive import SHAPES, NaiveCascade, columns, feed, random_rows


def _fresh(rows, k, exclude=True):
    g = CascadeGraph("fresh")
    g.add_batch(*columns(rows))
    return [tuple(c) for c in g.cutoff(k, exclude)]


@pytest.mark.parametrize("seed", range(40))
def test_repeated_and_grown_calls_answer_as_a_fresh_graph(seed):
    rng = np.random.default_rng(seed)
    rows = random_rows(seed, n=int(rng.integers(30, 250)), shape=SHAPES[seed % len(SHAPES)])
    half = len(rows) // 2
    g = CascadeGraph("live", capacity=16)
    feed(g, rows[:half], rng)
    first = [tuple(c) for c in g.cutoff(10)]
    assert [tuple(c) for c in g.cutoff(10)] == first == _fresh(rows[:half], 10)
    feed(g, rows[half:], rng)  # the graph grew: more nodes and accounts than the scratch held
    ref = NaiveCascade()
    ref.add_rows(rows)
    ans = ref.answers()
    for k, exclude in ((10, True), (3, False), (10, True)):
        got = [tuple(c) for c in g.cutoff(k, exclude)]
        assert got == _fresh(rows, k, exclude) == ref.cutoff(ans, k, exclude)


@pytest.mark.parametrize("shape", ["hawkes", "ic"])
def test_a_small_graph_after_a_big_one_on_the_same_scratch(shape):
    # The scratch is the thread's: after a 20,000-share graph it is larger than a 300-share
    # graph needs and full of the big graph's state.
    eid, aid, ts, pe, pa = trace_shapes.columns(trace_shapes.make(shape, 20_000, 3))
    big = CascadeGraph("big")
    big.add_batch(eid, aid, ts, pe, pa)
    big_answer = big.cutoff(10)
    rows = random_rows(11, n=300, shape="bushy")
    small = CascadeGraph("small")
    small.add_batch(*columns(rows))
    scratch = cutoff_scratch.for_thread()
    assert scratch.nodes > small.n_nodes + 1  # it really is the big graph's scratch
    ref = NaiveCascade()
    ref.add_rows(rows)
    assert [tuple(c) for c in small.cutoff(10)] == ref.cutoff(ref.answers(), 10, True)
    assert big.cutoff(10) == big_answer  # and back to the big one


def test_scratch_grows_with_headroom_and_keeps_its_memory_below_it():
    s = cutoff_scratch.CutoffScratch()
    nodes, accounts = s.fit(1000, 300)
    assert [len(b) for b in nodes] == [1001, 1000, 1000, 1000, 1001, 1000, 1000, 1001]
    assert all(len(b) == 300 for b in accounts) and accounts[0].shape == (300, 4)
    base = nodes[3].base
    nodes, _ = s.fit(1100, 330)  # within the 1/8 headroom: the same memory
    assert nodes[3].base is base and len(nodes[3]) == 1100
    nodes, accounts = s.fit(2000, 330)
    assert nodes[3].base is not base and s.nodes >= 2001 and len(accounts[0]) == 330


def plain_by_bit_length(row, excluded):
    """Accounts with a positive, not excluded gain, longest bit length first, then by index."""
    gains = [(int(r[3]) - int(r[0]), a) for a, r in enumerate(row)]
    listed = [(g.bit_length(), a) for g, a in gains if g > 0 and not excluded[a]]
    return [a for _, a in sorted(listed, key=lambda t: (-t[0], t[1]))]


@pytest.mark.parametrize("seed", range(10))
def test_by_bit_length_into_dirty_buffers_matches_plain_grouping(seed):
    rng = np.random.default_rng(seed)
    n_acc = int(rng.integers(1, 400))
    row = np.zeros((n_acc, 4), np.int32)
    row[:, 3] = rng.integers(0, 1 << int(rng.integers(1, 30)), n_acc)
    row[:, 0] = rng.integers(0, 3, n_acc)
    excluded = (rng.random(n_acc) < 0.2).astype(np.uint8)
    bits = rng.integers(0, 255, n_acc + 7).astype(np.uint8)  # garbage of an earlier call
    order = rng.integers(-5, 5, n_acc + 7).astype(np.int32)
    got, start = by_bit_length_into(row, excluded, n_acc, bits, order)
    want = plain_by_bit_length(row, excluded)
    assert got.tolist() == want
    for b in range(1, 33):  # group starts: every account of bit length b in its group
        members = got[start[65 - b]:start[66 - b]]
        assert all(bit_length(row[a, 3] - row[a, 0]) == b for a in members)


_REPEAT_FAULTS = """
import resource
from benchmarks import trace_shapes
from graph import CascadeGraph
g = CascadeGraph("faults")
g.add_batch(*trace_shapes.columns(trace_shapes.make("ic", 100_000, 1)))
first = g.cutoff(10)
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    assert g.cutoff(10) == first
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(max(faults))
"""


def test_a_repeated_cutoff_takes_no_new_pages():
    # In a child whose malloc maps every block over 128 kB anew (glibc's starting threshold,
    # held fixed; by default it adapts, so whether freed arrays come back as fresh pages depends
    # on the process's history, as at 10^6 shares in the bench). Arrays allocated per call
    # would fault in ~7 MB here (~1,700 pages a call); the scratch is reused.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", _REPEAT_FAULTS], cwd=root, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) < 100
