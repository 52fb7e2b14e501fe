"""The machine's own limits, measured where the benchmark runs (not quoted from a datasheet).

- :func:`pointer_chase_ns`: nanoseconds per *dependent* random load over an int32 array of a
  given size (one random cycle, Sattolo's algorithm, so every load depends on the previous one and
  the hardware cannot overlap them). A graph walk that touches each share once through a random
  index can not beat this per share unless the loads are independent (then the CPU overlaps them).
- :func:`gather_ns`: nanoseconds per *independent* random load (``a[idx[i]]`` summed): the best a
  sweep over parent pointers in arrival order can hope for.
- :func:`sequential_ns`: nanoseconds per element of a sequential int32 sum (bandwidth bound).

All three take a seed and return the median of ``repeat`` runs.
"""
from __future__ import annotations

import statistics
import time

import numba
import numpy as np


@numba.njit(cache=True)
def _sattolo(n, state):
    """One random cycle through 0..n-1 (next index per slot), from a xorshift seed."""
    nxt = np.arange(n).astype(np.int32)
    x = np.uint64(state) | np.uint64(1)
    for i in range(n - 1, 0, -1):
        x ^= x << np.uint64(13)
        x ^= x >> np.uint64(7)
        x ^= x << np.uint64(17)
        j = np.int64(x % np.uint64(i))  # j < i: Sattolo, a single cycle
        nxt[i], nxt[j] = nxt[j], nxt[i]
    return nxt


@numba.njit(cache=True)
def _chase(nxt, steps):
    p = np.int32(0)
    for _ in range(steps):
        p = nxt[p]
    return p


@numba.njit(cache=True)
def _gather(values, idx):
    s = np.int64(0)
    for i in range(idx.shape[0]):
        s += values[idx[i]]
    return s


@numba.njit(cache=True)
def _scan(values):
    s = np.int64(0)
    for i in range(values.shape[0]):
        s += values[i]
    return s


def _median_ns(fn, count: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        times.append((time.perf_counter_ns() - t0) / max(count, 1))
    return statistics.median(times)


def pointer_chase_ns(n: int, seed: int = 0, repeat: int = 3, max_steps: int = 4_000_000) -> float:
    """ns per dependent load over a random cycle of ``n`` int32 slots.

    >>> 0 < pointer_chase_ns(1000, seed=1, repeat=1) < 1e6
    True
    """
    n = max(int(n), 2)
    nxt = _sattolo(n, np.uint64(seed * 2654435761 + 12345))
    steps = min(max(n, 100_000), max_steps)
    _chase(nxt, 1000)  # compile or load the cache outside the timing
    return _median_ns(lambda: _chase(nxt, steps), steps, repeat)


def gather_ns(n: int, seed: int = 0, repeat: int = 3) -> float:
    """ns per independent random load (random indices into an int32 array of ``n``).

    >>> 0 < gather_ns(1000, seed=1, repeat=1) < 1e6
    True
    """
    n = max(int(n), 2)
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 100, n).astype(np.int32)
    idx = rng.integers(0, n, n).astype(np.int32)
    _gather(values[:10], idx[:10] % 10)
    return _median_ns(lambda: _gather(values, idx), n, repeat)


def sequential_ns(n: int, repeat: int = 3) -> float:
    """ns per element of a sequential sum over an int32 array of ``n``.

    >>> 0 < sequential_ns(1000, repeat=1) < 1e6
    True
    """
    values = np.ones(max(int(n), 1), np.int32)
    _scan(values[:10])
    return _median_ns(lambda: _scan(values), values.shape[0], repeat)


def limits(n: int, seed: int = 0, repeat: int = 3) -> dict:
    """All three figures for arrays of ``n`` elements, rounded for the report."""
    return {"pointer_chase_ns": round(pointer_chase_ns(n, seed, repeat), 2),
            "gather_ns": round(gather_ns(n, seed, repeat), 2),
            "sequential_ns": round(sequential_ns(n, repeat), 3)}
