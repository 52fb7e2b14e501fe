"""Seeded cascade shapes for `rumour bench trace`, as parent arrays in arrival order.

Two shapes, both with parents always earlier than their children (arrival = time order):

- ``hawkes``: a Hawkes cluster process (a branching process in continuous time). Immigrant
  posts arrive uniformly over a day; every share has Poisson(m * w) children, m = 0.98 the
  branching ratio and w a Pareto(alpha=1.6) popularity mark scaled to mean 1 (a few hubs, many
  leaves); a child follows its parent after a Lomax (power-law) delay. Accounts are reused: 80%
  of shares come from a large pool, 20% from a small pool of very active accounts.
- ``ic``: independent cascade (edge probability 0.3) on a Barabasi-Albert contact graph
  (m=3) of 2 n people (more if the epidemic dies out before n), from 3 seeds, cut at n shares: one account per share, times are
  generations (one per ten minutes) plus arrival order inside a generation.

:func:`columns` turns a shape into the five columns ``CascadeGraph.add_batch`` takes.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

START_MS = 1_764_547_200_000
SHAPES = ("hawkes", "ic")


class Shape(NamedTuple):
    parent: np.ndarray  # int64, -1 for a root; parent[i] < i
    account: np.ndarray  # int64 account number
    ts_ms: np.ndarray  # int64, non-decreasing


def hawkes(n: int, seed: int, m: float = 0.98, alpha: float = 1.6) -> Shape:
    """Hawkes cluster process cut at the first ``n`` shares by time.

    >>> s = hawkes(1000, seed=1)
    >>> len(s.parent), bool((s.parent < np.arange(1000)).all()), bool((np.diff(s.ts_ms) >= 0).all())
    (1000, True, True)
    """
    rng = np.random.default_rng(seed)
    # Expected cluster size is 1/(1-m), but small runs die out early: add immigrants until the
    # day holds n shares.
    n_roots = max(1, int(n * (1 - m) * 1.5) + 1)
    while True:
        out = _hawkes_try(n, rng, n_roots, m, alpha)
        if out is not None:
            return out
        n_roots *= 2


def _hawkes_try(n, rng, n_roots, m, alpha):
    day = 86_400.0
    times = [np.sort(rng.uniform(0, day, n_roots))]
    parents = [np.full(n_roots, -1, np.int64)]
    total = n_roots
    gen_times, gen_ids = times[0], np.arange(n_roots)
    scale = (alpha - 1) / alpha  # Pareto(alpha) + 1 has mean alpha/(alpha-1)
    while gen_ids.size and total < 4 * n:
        marks = (rng.pareto(alpha, gen_ids.size) + 1) * scale
        kids = rng.poisson(m * marks)
        par = np.repeat(gen_ids, kids)
        delay = 300.0 * rng.pareto(1.5, par.size)  # Lomax delay, median about 2 minutes
        t = np.repeat(gen_times, kids) + delay
        keep = t < day
        par, t = par[keep], t[keep]
        ids = np.arange(total, total + par.size)
        times.append(t)
        parents.append(par)
        total += par.size
        gen_times, gen_ids = t, ids
    t_all = np.concatenate(times)
    p_all = np.concatenate(parents)
    if t_all.size < n:
        return None
    order = np.argsort(t_all, kind="stable")[:n]
    rank = np.full(t_all.size, -1, np.int64)
    rank[order] = np.arange(order.size)
    parent = np.where(p_all[order] >= 0, rank[np.maximum(p_all[order], 0)], -1)
    # A child's time exceeds its parent's, so a kept child has a kept, earlier parent.
    assert (parent < np.arange(order.size)).all()
    pool = max(10, n // 3)
    hub = max(2, pool // 100)
    account = np.where(rng.random(order.size) < 0.8, rng.integers(0, pool, order.size),
                       pool + rng.integers(0, hub, order.size))
    ts = START_MS + (t_all[order] * 1000).astype(np.int64)
    return Shape(parent, account, ts)


def ic(n: int, seed: int, p: float = 0.3) -> Shape:
    """Independent cascade on a Barabasi-Albert graph, cut at ``n`` shares.

    >>> s = ic(1000, seed=1)
    >>> len(s.parent), bool((s.parent < np.arange(len(s.parent))).all())
    (1000, True)
    """
    from benchmarks.generators import barabasi_albert
    from benchmarks.generators_cascades import independent_cascade

    rng = np.random.default_rng(seed)
    size = max(int(n * 2), 100)
    while True:  # the epidemic reaches only part of the graph: grow it until n are infected
        indptr, indices = barabasi_albert(size, 3, rng)
        sources = rng.choice(size, 3, replace=False)
        casc = independent_cascade(indptr, indices, sources, p, rng, max_infected=n)
        if len(casc.nodes) >= n:
            break
        size = int(size * 1.5)  # (or it died out early: the retry draws new seeds)
    k = len(casc.nodes)
    pos = np.full(size, -1, np.int64)
    pos[casc.nodes] = np.arange(k)
    parent = np.where(casc.parents >= 0, pos[np.maximum(casc.parents, 0)], -1)
    ts = START_MS + casc.times.astype(np.int64) * 600_000 + np.arange(k)
    return Shape(parent, casc.nodes.astype(np.int64), ts)


def make(shape: str, n: int, seed: int) -> Shape:
    if shape == "hawkes":
        return hawkes(n, seed)
    if shape == "ic":
        return ic(n, seed)
    raise ValueError(f"unknown cascade shape {shape!r} (have {', '.join(SHAPES)})")


def columns(s: Shape):
    """``(event_ids, account_ids, ts_ms, parent_event_ids, parent_account_ids)`` as add_batch
    takes them (ids as strings, both parent ids given, as a real share carries them)."""
    eid = [f"e{i}" for i in range(len(s.parent))]
    aid = [f"u{a}" for a in s.account.tolist()]
    par = s.parent.tolist()
    pe = [eid[q] if q >= 0 else None for q in par]
    pa = [aid[q] if q >= 0 else None for q in par]
    return eid, aid, s.ts_ms, pe, pa
