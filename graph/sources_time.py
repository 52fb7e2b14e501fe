"""Source detection from a sample of infected nodes with their infection times (the sampled
timestamp model): only the observed nodes and times are known, plus the contact graph.

Candidates are all graph nodes within reach of every observer. Methods (higher = likelier):

- ``earliest_observed``: the observer with the smallest time (ranked by time).
- ``time_distance_correlation``: Pearson correlation between hop distance from the candidate
  and observed time (the baseline of the issue).
- ``gaussian_time_fit``: Gaussian ML of t_o = t0 + mu * d(v, o) + noise with noise variance
  proportional to d(v, o) (a sum of d per-hop delays, as in Pinto-Thiran-Vetterli, without their
  shared-path covariance), t0 <= earliest observed time, mu >= 0, t0, mu, sigma profiled out.
"""
from __future__ import annotations

import numba
import numpy as np

from graph.sources import SourceScores, _bfs


@numba.njit(cache=True)
def _observer_distances(indptr, indices, observers):
    """dist[i, v] = hops from observers[i] to v over the whole graph (-1 if unreachable)."""
    n = len(indptr) - 1
    dist = np.full((len(observers), n), -1, dtype=np.int32)
    parent = np.empty(n, dtype=np.int32)  # the BFS tree: scratch, not needed here
    queue = np.empty(n, dtype=np.int32)
    for i in range(len(observers)):
        _bfs(indptr, indices, observers[i], dist[i], parent, queue)
    return dist


@numba.njit(cache=True)
def _target_distances(indptr, indices, observers, targets):
    """dist[i, j] = hops from observers[i] to targets[j] (-1 if unreachable), exact, by one
    level-synchronous BFS from all observers at once: each node carries a bitset of the
    observers that reached it (64 per word), so a level costs one pass over the frontier's
    edges for every 64 observers instead of one each. Stops as soon as every target has been
    reached by every observer, which on a cascade-sized target set is usually a few levels."""
    n = len(indptr) - 1
    k = len(observers)
    words = (k + 63) // 64
    dist = np.full((k, len(targets)), -1, dtype=np.int32)
    if k == 0 or len(targets) == 0:
        return dist
    slot = np.full(n, -1, dtype=np.int64)
    for j in range(len(targets)):
        slot[targets[j]] = j
    seen = np.zeros((n, words), dtype=np.uint64)
    front = np.zeros((n, words), dtype=np.uint64)
    nxt = np.zeros((n, words), dtype=np.uint64)
    frontier = np.empty(n, dtype=np.int64)
    touched = np.empty(n, dtype=np.int64)
    mark = np.zeros(n, dtype=np.bool_)
    nf = 0
    left = k * len(targets)
    for i in range(k):
        o = observers[i]
        bit = np.uint64(1) << np.uint64(i % 64)
        if not mark[o]:
            mark[o] = True
            frontier[nf] = o
            nf += 1
        seen[o, i // 64] |= bit
        front[o, i // 64] |= bit
        if slot[o] >= 0 and dist[i, slot[o]] < 0:
            dist[i, slot[o]] = 0
            left -= 1
    for q in range(nf):
        mark[frontier[q]] = False
    level = 0
    while nf > 0 and left > 0:
        level += 1
        nt = 0
        for q in range(nf):
            u = frontier[q]
            for e in range(indptr[u], indptr[u + 1]):
                w = indices[e]
                for b in range(words):
                    new = front[u, b] & ~seen[w, b]
                    if new != 0:
                        if not mark[w]:
                            mark[w] = True
                            touched[nt] = w
                            nt += 1
                        nxt[w, b] |= new
        for q in range(nf):
            u = frontier[q]
            for b in range(words):
                front[u, b] = 0
        for q in range(nt):
            w = touched[q]
            mark[w] = False
            j = slot[w]
            for b in range(words):
                new = nxt[w, b]
                nxt[w, b] = 0
                seen[w, b] |= new
                front[w, b] = new
                if j >= 0:
                    while new != 0:
                        low = new & (~new + np.uint64(1))  # lowest set bit
                        i = b * 64
                        t = low
                        while t > np.uint64(1):
                            t >>= np.uint64(1)
                            i += 1
                        dist[i, j] = level
                        left -= 1
                        new ^= low
            frontier[q] = w
        nf = nt
    return dist


def observer_distances(indptr, indices, observers, targets) -> np.ndarray:
    """Hop distances in the contact graph from each observer (rows) to each target (columns),
    -1 where unreachable.

    >>> ip = np.array([0, 1, 3, 5, 7, 8], np.int32); ix = np.array([1, 0, 2, 1, 3, 2, 4, 3], np.int32)
    >>> observer_distances(ip, ix, [0, 4], [2, 3]).tolist()  # path 0-1-2-3-4
    [[2, 3], [2, 1]]
    """
    return _target_distances(np.asarray(indptr, np.int32), np.asarray(indices, np.int32),
                             np.asarray(observers, np.int64), np.asarray(targets, np.int64))


@numba.njit(cache=True)
def _corr_and_fit(dist, times, nugget):
    k, n = dist.shape
    corr = np.full(n, -np.inf)
    fit = np.full(n, -np.inf)
    tmin = times.min()
    for v in range(n):
        ok = True
        for i in range(k):
            if dist[i, v] < 0:
                ok = False
                break
        if not ok:
            continue
        # Pearson correlation of (d, t)
        md = 0.0
        mt = 0.0
        for i in range(k):
            md += dist[i, v]
            mt += times[i]
        md /= k
        mt /= k
        sdd = 0.0
        stt = 0.0
        sdt = 0.0
        for i in range(k):
            a = dist[i, v] - md
            b = times[i] - mt
            sdd += a * a
            stt += b * b
            sdt += a * b
        corr[v] = sdt / np.sqrt(sdd * stt) if sdd > 0 and stt > 0 else 0.0
        # weighted least squares, weights 1/(d + nugget)
        sw = 0.0
        swd = 0.0
        swt = 0.0
        swdd = 0.0
        swdt = 0.0
        logdet = 0.0
        for i in range(k):
            var = dist[i, v] + nugget
            w = 1.0 / var
            logdet += np.log(var)
            d = dist[i, v]
            sw += w
            swd += w * d
            swt += w * times[i]
            swdd += w * d * d
            swdt += w * d * times[i]
        den = sw * swdd - swd * swd
        mu = (sw * swdt - swd * swt) / den if den > 1e-12 else 0.0
        if mu < 0.0:
            mu = 0.0
        t0 = (swt - mu * swd) / sw
        if t0 > tmin:
            # the source cannot be infected after an observed node: refit mu with t0 = tmin
            t0 = tmin
            mu = (swdt - t0 * swd) / swdd if swdd > 0 else 0.0
            if mu < 0.0:
                mu = 0.0
        rss = 0.0
        for i in range(k):
            r = times[i] - t0 - mu * dist[i, v]
            rss += r * r / (dist[i, v] + nugget)
        fit[v] = -0.5 * k * np.log(rss / k + 1e-12) - 0.5 * logdet
    return corr, fit


def _check(indptr, observers, times):
    observers = np.asarray(observers, dtype=np.int32)
    times = np.asarray(times, dtype=np.float64)
    if len(observers) == 0 or len(observers) != len(times):
        raise ValueError("need at least one observer and one time per observer")
    return observers, times


def earliest_observed(indptr, indices, observers, times) -> SourceScores:
    """Observers ranked by observed time, earliest first.

    >>> earliest_observed(None, None, [4, 2, 9], [3.0, 1.0, 2.0]).best()
    2
    """
    observers, times = _check(indptr, observers, times)
    return SourceScores(observers, -times)


def time_distance_correlation(indptr, indices, observers, times, candidates=None) -> SourceScores:
    """Correlation of observed time with hop distance (in the contact graph) from each candidate:
    every node within reach of all observers, or only ``candidates`` (e.g. the infected set
    when a snapshot is known too).

    >>> ip = np.array([0, 1, 3, 5, 7, 8], np.int32); ix = np.array([1, 0, 2, 1, 3, 2, 4, 3], np.int32)
    >>> time_distance_correlation(ip, ix, [0, 2, 4], [1.0, 2.0, 3.0]).best()  # path 0-1-2-3-4
    0
    """
    observers, times = _check(indptr, observers, times)
    if candidates is not None:  # BFS only as far as the candidates (the usual snapshot case)
        cand = np.unique(np.asarray(candidates, dtype=np.int64))
        corr, _ = _corr_and_fit(observer_distances(indptr, indices, observers, cand), times, 1.0)
        keep = np.isfinite(corr)
        return SourceScores(cand[keep].astype(np.int32), corr[keep])
    dist = _observer_distances(np.asarray(indptr, np.int32), np.asarray(indices, np.int32), observers)
    corr, _ = _corr_and_fit(dist, times, 1.0)
    keep = np.isfinite(corr)
    return SourceScores(np.flatnonzero(keep).astype(np.int32), corr[keep])


def gaussian_time_fit(indptr, indices, observers, times, nugget: float = 1.0) -> SourceScores:
    """Profile log-likelihood of each candidate under t_o ~ N(t0 + mu d, sigma^2 (d + nugget)).

    >>> ip = np.array([0, 1, 3, 5, 7, 8], np.int32); ix = np.array([1, 0, 2, 1, 3, 2, 4, 3], np.int32)
    >>> gaussian_time_fit(ip, ix, [0, 2, 4], [1.0, 2.0, 3.0]).best()  # path 0-1-2-3-4
    0
    """
    observers, times = _check(indptr, observers, times)
    dist = _observer_distances(np.asarray(indptr, np.int32), np.asarray(indices, np.int32), observers)
    _, fit = _corr_and_fit(dist, times, float(nugget))
    keep = np.isfinite(fit)
    return SourceScores(np.flatnonzero(keep).astype(np.int32), fit[keep])
