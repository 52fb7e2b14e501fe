"""The cut-off kernel brings accounts into its heap a band of initial gains at a time
(graph/kernels_cutoff.py). Small bands force it to widen many times, mid-greedy and after
cuts; the picks must be those of the one-band heap (band large enough for every account),
which tests/test_graph_oracle.py checks against the brute-force greedy."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks import trace_shapes
from graph import CascadeGraph
from tests.naive import SHAPES, NaiveCascade, feed, random_rows

ALL = 1 << 30  # one band holds every account: the plain lazy greedy


def _same_picks(g, k, exclude):
    want_a, want_g = g._cutoff_nodes(k, exclude, band=ALL)
    for band in (1, 2, 3, 5, 17):
        a, gains = g._cutoff_nodes(k, exclude, band=band)
        assert a.tolist() == want_a.tolist() and gains.tolist() == want_g.tolist(), band
    a, gains = g._cutoff_nodes(k, exclude)  # the default band
    assert a.tolist() == want_a.tolist() and gains.tolist() == want_g.tolist()
    return want_a, want_g


@pytest.mark.parametrize("seed", range(120))
def test_small_bands_match_the_plain_greedy_and_the_oracle(seed):
    shape = SHAPES[seed % len(SHAPES)]
    rows = random_rows(seed, n=int(np.random.default_rng(seed).integers(20, 200)), shape=shape)
    g = CascadeGraph(f"r{seed}", capacity=16)
    feed(g, rows, np.random.default_rng(seed + 7))
    ref = NaiveCascade()
    ref.add_rows(rows)
    ans = ref.answers()
    for k, exclude in ((10, True), (4, False), (60, True)):
        accs, gains = _same_picks(g, k, exclude)
        got = list(zip(g.ac.strings(accs), gains.tolist()))
        assert got == ref.cutoff(ans, k, exclude)


@pytest.mark.parametrize("shape,seed", [("hawkes", 1), ("hawkes", 2), ("ic", 1), ("ic", 2)])
def test_bands_on_benchmark_shapes(shape, seed):
    # 20,000 shares: thousands of accounts with positive gain, so even the default band
    # (1,024 accounts) is widened, and big early cuts leave the heap stale.
    s = trace_shapes.make(shape, 20_000, seed)
    eid, aid, ts, pe, pa = trace_shapes.columns(s)
    g = CascadeGraph("b")
    for i in range(0, 20_000, 5_000):
        g.add_batch(eid[i:i + 5_000], aid[i:i + 5_000], ts[i:i + 5_000], pe[i:i + 5_000],
                    pa[i:i + 5_000])
    for k in (10, 200):
        accs, gains = _same_picks(g, k, True)
        # Gains only fall as cuts accumulate, so greedy picks come in non-increasing order.
        assert 0 < len(accs) <= k and np.all(np.diff(gains) <= 0)


@pytest.mark.parametrize("shape,seed", [("hawkes", 4), ("ic", 5)])
def test_cutoff_with_and_without_placeholders_matches_the_oracle(shape, seed):
    # Every node a present event: the kernel takes its node counts from the subtree sizes
    # (graph/kernels_cutoff.py _setup); some parents never arriving (placeholders): it counts
    # nodes itself. Both must give the brute-force greedy's picks.
    eid, aid, ts, pe, pa = trace_shapes.columns(trace_shapes.make(shape, 400, seed))
    rows = list(zip(eid, aid, ts.tolist(), pe, pa))
    parents = sorted({p for p in pe if p is not None})
    missing = set(parents[::7])
    for kept in (rows, [r for r in rows if r[0] not in missing]):
        g = CascadeGraph("p")
        g.add_batch(*map(list, zip(*kept)))
        assert (g.n_events == g.n_nodes) == (kept is rows)
        ref = NaiveCascade()
        ref.add_rows(kept)
        for k in (3, 10):
            assert [tuple(c) for c in g.cutoff(k)] == ref.cutoff(ref.answers(), k, True)
