"""streams.seen: a fixed-size Bloom filter of rumour ids never answers a false "no", holds its
size whatever it is fed, and its false-positive rate is the textbook one."""
from __future__ import annotations

import tracemalloc

import pytest

from streams.seen import ExactSeen, Seen, expected_false_positive_rate, make_seen


def test_no_false_negatives_and_fixed_size_over_200k_ids():
    s = Seen(64 * 1024, seed=3)
    ids = [f"rumour-{i}" for i in range(200_000)]
    for i in range(0, len(ids), 10_000):
        s.update(ids[i:i + 10_000])
    assert s.nbytes == 64 * 1024
    assert s.contains_many(ids).all()
    assert all(i in s for i in ids[::997])
    # The one-id path (plain ints) and the array path agree, on absent ids too.
    others = [f"other-{i}" for i in range(3000)]
    assert [o in s for o in others] == s.contains_many(others).tolist()


@pytest.mark.parametrize("n", [10_000, 20_000])
def test_false_positive_rate_matches_the_formula(n):
    nbits = 1 << 17
    s = Seen(nbits // 8, seed=11)
    s.update(f"in-{i}" for i in range(n))
    probes = 200_000  # >= 400 expected false positives: the ratio is not noise
    observed = s.contains_many([f"out-{i}" for i in range(probes)]).mean()
    expected = expected_false_positive_rate(n, nbits, s.k)
    # Binomial noise at these counts is a few percent of the expectation; double hashing adds
    # a little over the ideal formula, never a factor.
    assert abs(observed / expected - 1) < 0.2, (observed, expected)
    # The filter's own estimate (fill ** k) tells an operator the same.
    assert abs(s.false_positive_rate() / expected - 1) < 0.2


def test_seed_changes_the_positions_not_the_answers():
    a, b = Seen(256, seed=1), Seen(256, seed=2)
    a.update(["x", "y"])
    b.update(["x", "y"])
    assert "x" in a and "y" in b
    assert (a._bits != b._bits).any()


def test_bytes_retained_stay_at_the_configured_size():
    """tracemalloc: 200,000 ids into a 1 MB filter retain ~1 MB; the exact set grows with them."""
    ids = [f"rumour-{i:08d}" for i in range(200_000)]
    retained = {}
    for mb in (1, 0):
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            s = make_seen(mb)
            for i in range(0, len(ids), 20_000):
                s.update(ids[i:i + 20_000])
            retained[mb] = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        del s
    assert retained[1] < (1 << 20) + 64 * 1024, retained
    # The old bookkeeping (a set; the strings are shared with ``ids`` here, so only the table).
    assert retained[0] > 4 * (1 << 20), retained


def test_exact_variant_has_the_same_methods():
    e = ExactSeen()
    e.update(["a", "b"])
    assert "a" in e and "c" not in e and e.contains_many(["c", "b"]).tolist() == [False, True]
    assert e.false_positive_rate() == 0.0 and e.added == 2
