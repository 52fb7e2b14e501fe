"""benchmarks.accuracy_stats: paired tests against scipy and against simulated coverage."""
import math

import numpy as np
import pytest

from benchmarks import accuracy_stats as st


@pytest.mark.parametrize("b,c", [(0, 0), (0, 1), (4, 9), (17, 17), (30, 12), (120, 95), (400, 350)])
def test_mcnemar_matches_scipy_binomtest(b, c):
    stats = pytest.importorskip("scipy.stats")
    want = 1.0 if b + c == 0 else stats.binomtest(b, b + c, 0.5).pvalue
    assert st.mcnemar_exact(b, c) == pytest.approx(want, rel=1e-9, abs=1e-15)


def test_mcnemar_small_case_by_hand():
    # b=1, c=6: P(X<=1) for Bin(7, 1/2) = (1 + 7)/128, two-sided doubles it
    assert st.mcnemar_exact(1, 6) == pytest.approx(16 / 128)
    assert st.mcnemar_exact(6, 1) == st.mcnemar_exact(1, 6)


def test_newcombe_by_hand_without_correlation():
    # a*d == b*c gives phi = 0: the interval is the square-root combination of the two Wilson
    # half-widths (Newcombe's method 10 for independent-looking pairs)
    a, b, c, d = 20, 20, 10, 10  # n=60, p1=40/60, p2=30/60
    lo, hi = st.newcombe_paired(a, b, c, d)
    l1, u1 = st.wilson(40, 60)
    l2, u2 = st.wilson(30, 60)
    p1, p2 = 40 / 60, 30 / 60
    assert lo == pytest.approx(p1 - p2 - math.hypot(p1 - l1, u2 - p2))
    assert hi == pytest.approx(p1 - p2 + math.hypot(u1 - p1, p2 - l2))


def test_newcombe_close_to_wald_for_large_n():
    a, b, c, d = 2000, 600, 450, 6950
    n = a + b + c + d
    diff = (b - c) / n
    se = math.sqrt((b + c) / n - diff ** 2) / math.sqrt(n)
    lo, hi = st.newcombe_paired(a, b, c, d)
    assert lo == pytest.approx(diff - 1.96 * se, abs=2e-3)
    assert hi == pytest.approx(diff + 1.96 * se, abs=2e-3)


def test_paired_intervals_cover_the_true_difference():
    # correlated pairs with a known difference 0.25 - 0.20 = 0.05: both intervals should cover
    # it in about 95% of 300 simulated experiments of 300 trials
    rng = np.random.default_rng(7)
    probs = np.array([0.15, 0.10, 0.05, 0.70])  # both, ours only, theirs only, neither
    cover_n = cover_b = 0
    reps = 300
    for r in range(reps):
        cell = rng.choice(4, size=300, p=probs)
        x = (cell == 0) | (cell == 1)
        y = (cell == 0) | (cell == 2)
        res = st.paired_top1(x, y, seed=r)
        cover_n += res["newcombe_ci"][0] <= 0.05 <= res["newcombe_ci"][1]
        cover_b += res["bootstrap_ci"][0] <= 0.05 <= res["bootstrap_ci"][1]
    assert 0.91 <= cover_n / reps <= 0.99
    assert 0.90 <= cover_b / reps <= 0.99


def test_paired_top1_counts_and_shape_check():
    r = st.paired_top1([True, False, True, False], [False, True, True, False], seed=0)
    assert (r["ours_only"], r["theirs_only"], r["diff"], r["mcnemar_p"]) == (1, 1, 0.0, 1.0)
    with pytest.raises(ValueError):
        st.paired_top1([True], [True, False], seed=0)


def test_paired_cell_uses_the_declared_pairs():
    acc = {m: {"top1": [True, False]} for m in ("joint", "earliest", "correlation")}
    assert set(st.paired_cell(acc, "timestamps", 0)) == {"joint-vs-earliest", "joint-vs-correlation"}


@pytest.mark.parametrize("k,n,want", [
    # Newcombe (1998), Stat. Med. 17:857, Table I, method 3 (Wilson score, no continuity correction)
    (81, 263, (0.2553, 0.3662)), (15, 148, (0.0624, 0.1605)), (0, 20, (0.0, 0.1611)), (1, 29, (0.0061, 0.1718)),
])
def test_wilson_matches_the_published_table(k, n, want):
    assert st.wilson(k, n) == pytest.approx(want, abs=5e-5)


@pytest.mark.parametrize("k,n", [(0, 7), (3, 10), (150, 300), (299, 300)])
def test_wilson_matches_the_textbook_formula_and_scipy(k, n):
    # (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z = 1.96: the score test inverted
    z, p = 1.96, k / n
    mid, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert st.wilson(k, n) == pytest.approx(((mid - half) / (1 + z * z / n), (mid + half) / (1 + z * z / n)))
    stats = pytest.importorskip("scipy.stats")
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert st.wilson(k, n) == pytest.approx((ci.low, ci.high), abs=2e-4)  # scipy's z is 1.95996...


def test_every_accuracy_table_uses_the_one_wilson_interval():
    from benchmarks import accuracy, accuracy_cells

    assert accuracy.wilson is st.wilson and accuracy_cells.wilson is st.wilson


def test_bootstrap_intervals_are_the_normal_theory_95_percent_for_a_large_sample():
    # the mean of 2,000 normal draws: the percentile bootstrap is within a few percent of
    # mean +- 1.96 s / sqrt(n)
    from benchmarks.accuracy_cells import bootstrap_mean

    x = np.random.default_rng(3).normal(5.0, 2.0, 2000)
    half = 1.96 * x.std(ddof=1) / math.sqrt(len(x))
    lo, hi = bootstrap_mean(x, seed=0)
    assert lo == pytest.approx(x.mean() - half, abs=0.1 * half)
    assert hi == pytest.approx(x.mean() + half, abs=0.1 * half)
    y = x + np.random.default_rng(4).normal(0.0, 1.0, 2000)  # paired: the interval of mean(y - x)
    d = y - x
    half_d = 1.96 * d.std(ddof=1) / math.sqrt(len(d))
    lo, hi = st.paired_bootstrap(y, x, seed=0)
    assert lo == pytest.approx(d.mean() - half_d, abs=0.1 * half_d)
    assert hi == pytest.approx(d.mean() + half_d, abs=0.1 * half_d)


def _newcombe_10_by_the_book(a, b, c, d, z=1.96):
    # Newcombe (1998), Stat. Med. 17:2635, method 10, as Altman et al., "Statistics with
    # Confidence" (2000), p. 52 work it: phi from AD - BC reduced by N/2 when above it, 0 when in
    # [0, N/2], kept when negative
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = st.wilson(a + b, n, z)
    l2, u2 = st.wilson(a + c, n, z)
    cross = a * d - b * c
    num = cross - n / 2 if cross > n / 2 else (cross if cross < 0 else 0.0)
    den = (a + b) * (c + d) * (a + c) * (b + d)
    phi = num / math.sqrt(den) if den else 0.0
    return (p1 - p2 - math.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2),
            p1 - p2 + math.sqrt((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2))


@pytest.mark.parametrize("a,b,c,d", [(1, 0, 0, 1), (5, 0, 0, 3), (30, 20, 5, 45), (60, 20, 20, 200),
                                     (12, 9, 2, 21), (3, 1, 8, 0), (200, 3, 1, 96)])
def test_newcombe_is_method_10_with_its_corrected_phi(a, b, c, d):
    # without the correction, pairs that all agree (b = c = 0) gave a zero-width interval
    assert st.newcombe_paired(a, b, c, d) == pytest.approx(_newcombe_10_by_the_book(a, b, c, d))
    lo, hi = st.newcombe_paired(a, b, c, d)
    assert lo < (b - c) / (a + b + c + d) < hi
