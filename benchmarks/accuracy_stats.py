"""Paired comparison of two source-detection methods that saw the same cascades (issue 3).

Every method of a benchmark cell ranks the same simulated cascades, so a difference in top-1
is judged on the pairs: trials where both hit or both missed carry no information on which
method is better; only the discordant trials (one hit, the other missed) do. Overlapping
Wilson intervals of the two proportions are far too conservative for that question.

- ``mcnemar_exact``: exact McNemar test, the two-sided binomial test of b vs c discordant pairs.
- ``newcombe_paired``: Newcombe's (1998, Stat. Med. 17:2635, method 10) score interval for the
  difference of two paired proportions, from the Wilson intervals of each and the phi
  correlation of the pairs.
- ``paired_bootstrap``: percentile interval of the difference, resampling whole trials.
- ``paired_top1``: all three for two boolean hit vectors.
"""
from __future__ import annotations

import math

import numpy as np


def wilson(k: int, n: int, z: float = 1.96):
    """95% Wilson score interval of a proportion k/n (no continuity correction), the one interval
    every accuracy table prints; (nan, nan) for n = 0.

    >>> [round(x, 3) for x in wilson(30, 100)]
    [0.219, 0.396]
    """
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(mid - half, 0.0), min(mid + half, 1.0)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for b pairs won by the first method only and c by the
    second only: 2 P(X <= min(b, c)) for X ~ Binomial(b + c, 1/2), capped at 1.

    >>> mcnemar_exact(0, 5)  # 2 / 32
    0.0625
    >>> mcnemar_exact(3, 3)
    1.0
    """
    m = b + c
    if m == 0:
        return 1.0
    lo = min(b, c)
    # exact sum of binomial coefficients in integers, so large m stays exact
    tail = sum(math.comb(m, i) for i in range(lo + 1))
    return min(1.0, 2.0 * tail / 2.0 ** m)


def newcombe_paired(a: int, b: int, c: int, d: int, z: float = 1.96):
    """95% interval for p1 - p2 from a 2x2 table of paired outcomes: a both hit, b only the
    first, c only the second, d neither (Newcombe's method 10: Wilson intervals without continuity
    correction, combined through his corrected phi).

    >>> lo, hi = newcombe_paired(30, 20, 5, 45)  # p1 = 0.50, p2 = 0.35
    >>> bool(0.0 < lo < 0.15 < hi < 0.3)
    True
    """
    n = a + b + c + d
    if n == 0:
        return (float("nan"), float("nan"))
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b, n, z)
    l2, u2 = wilson(a + c, n, z)
    den = (a + b) * (c + d) * (a + c) * (b + d)
    # Newcombe's phi-hat: a positive AD - BC is reduced by N/2 (to 0 when smaller), a negative one
    # kept. Uncorrected, all-concordant pairs (b = c = 0) give phi = 1 and an interval of width 0.
    cross = a * d - b * c
    cross = cross - n / 2 if cross > n / 2 else min(cross, 0)
    phi = cross / math.sqrt(den) if den > 0 else 0.0
    diff = p1 - p2
    lower = math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    upper = math.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0.0))
    return (max(diff - lower, -1.0), min(diff + upper, 1.0))


def paired_bootstrap(x, y, seed, reps: int = 4000):
    """Percentile 95% interval of mean(x) - mean(y), resampling trials (pairs) together.

    >>> x = np.r_[np.ones(60), np.zeros(40)]; y = np.r_[np.ones(40), np.zeros(60)]
    >>> lo, hi = paired_bootstrap(x, y, seed=0)
    >>> bool(0.1 < lo < 0.2 < hi < 0.3)
    True
    """
    diff = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(reps, len(diff)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def paired_top1(ours, theirs, seed) -> dict:
    """Paired comparison of two boolean top-1 hit vectors over the same trials.

    >>> r = paired_top1([1, 1, 1, 0, 0], [1, 0, 0, 0, 0], seed=0)
    >>> r["diff"], r["ours_only"], r["theirs_only"], r["mcnemar_p"]
    (0.4, 2, 0, 0.5)
    """
    x = np.asarray(ours, dtype=bool)
    y = np.asarray(theirs, dtype=bool)
    if x.shape != y.shape:
        raise ValueError("the two methods must be scored on the same trials")
    a = int(np.sum(x & y))
    b = int(np.sum(x & ~y))
    c = int(np.sum(~x & y))
    d = int(np.sum(~x & ~y))
    n = len(x)
    return {
        "trials": n,
        "diff": (b - c) / n if n else float("nan"),
        "newcombe_ci": newcombe_paired(a, b, c, d),
        "bootstrap_ci": paired_bootstrap(x, y, seed) if n else (float("nan"), float("nan")),
        "ours_only": b,
        "theirs_only": c,
        "mcnemar_p": mcnemar_exact(b, c),
    }


# (ours, baseline) pairs reported per observation model of benchmarks.accuracy
PAIRS = {
    "snapshot": (("dmp_rumor", "rumor"), ("dmp_rumor", "jordan"), ("dmp_rumor", "dmp")),
    "timestamps": (("joint", "earliest"), ("joint", "correlation")),
}


def paired_cell(acc: dict, obs: str, seed) -> dict:
    """``paired_top1`` for every pair of ``PAIRS[obs]`` whose methods ran, keyed "ours-vs-baseline".
    ``acc`` maps a method to its per-trial records (``acc[name]["top1"]`` a list of booleans)."""
    out = {}
    for ours, base in PAIRS[obs]:
        if ours in acc and base in acc:
            out[f"{ours}-vs-{base}"] = paired_top1(acc[ours]["top1"], acc[base]["top1"], seed)
    return out


def print_paired(results, out) -> None:
    """The paired table of every cell of a ``benchmarks.accuracy`` result."""
    print("\npaired top-1 differences (same cascades): diff [Newcombe 95%] [paired bootstrap 95%], "
          "discordant ours-only/baseline-only, exact McNemar p", file=out)
    print(f"{'model':<6} {'observation':<11} {'ours - baseline':<26} {'diff':>7}  {'Newcombe':<17} "
          f"{'bootstrap':<17} {'b/c':<9} p", file=out)
    for model, cell in results["cells"].items():
        for obs in ("snapshot", "timestamps"):
            for key, r in cell.get("paired", {}).get(obs, {}).items():
                nl, nh = r["newcombe_ci"]
                bl, bh = r["bootstrap_ci"]
                print(f"{model:<6} {obs:<11} {key:<26} {r['diff']:>+7.3f}  [{nl:+.3f},{nh:+.3f}] "
                      f"[{bl:+.3f},{bh:+.3f}] {r['ours_only']:>3}/{r['theirs_only']:<5} {r['mcnemar_p']:.3g}",
                      file=out)
