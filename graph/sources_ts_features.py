"""Per-candidate features for source detection from a snapshot plus sampled infection times
(the learned timestamp ranker, graph.sources_ts).

The analyst sees the contact graph, the infected set I, and for a sample of infected nodes their
infection step on a clock of unknown origin. Candidates are the infected nodes. Facts of
synchronous discrete SI that the features use:

- the source is infected strictly before every other node, so an observed candidate can be the
  source only if it is the unique earliest observer e;
- every hop takes at least one step, so a candidate s started at t_s needs t_j - t_s >= d(s, j)
  for every observer j (d: hop distance in the contact graph). An observed candidate fixes t_s to
  its own time, so e is either feasible or impossible; an unobserved candidate's latest feasible
  start is B_s = min(min_j (t_j - d(s, j)), t_e - 1).

``possible`` is False exactly for the candidates these two rules exclude. Columns of X, named by
``TS_FEATURES`` (the continuous ones, ``TS_CONTINUOUS``, are standardised within the cascade by the
ranker; the ``is_e`` ones are indicators of the feasible earliest observer, kept raw):

- ``rumor_avg``, ``dmp``, ``dmp_t``, ``jordan``, ``distance``: the snapshot scores (graph.sources,
  graph.sources_dmp with inside weight 1 and 0.1).
- ``corr_zz``: z|z|/2, z the Fisher z of the time / hop-distance correlation (graph.sources_joint).
- ``gfit``: Gaussian profile log-likelihood of t_j ~ N(t0 + mu d, sigma^2 (d + 1)) with mu >= 0 and
  the start constrained as above (t0 = t_e for e, t0 <= B_s otherwise).
- ``near_e``: minus the hop distance to e (the first of tied earliest observers);
  ``near_early``: minus the mean hop distance to the three earliest observers.
- ``is_e``; ``is_e_gap``: is_e * log(1 + gap between the two earliest observed times);
  ``is_e_span``: is_e * log(1 + latest - earliest observed time); ``is_e_k``: is_e * log(k).
"""
from __future__ import annotations

import numpy as np

from graph.sources import snapshot_scores
from graph.sources_dmp import dmp_scores
from graph.sources_joint import correlation_z
from graph.sources_time import observer_distances

TS_CONTINUOUS = ("rumor_avg", "dmp", "dmp_t", "jordan", "distance", "corr_zz", "gfit", "near_e", "near_early")
TS_INDICATORS = ("is_e", "is_e_gap", "is_e_span", "is_e_k")
TS_FEATURES = TS_CONTINUOUS + TS_INDICATORS


def feasibility(dist, times, is_observed_at):
    """``(possible, bound, e)`` from the (observers x candidates) hop distances: the hard rules of
    the module docstring. ``is_observed_at[c]`` is the observer row of candidate c, or -1.
    ``bound`` is an observed candidate's own time and B_s for an unobserved one; ``e`` is the
    candidate index of the unique earliest observer (-1 if the earliest time is tied).

    >>> d = np.array([[0, 1, 2], [2, 1, 0]])  # observers are candidates 0 and 2 on a path
    >>> p, b, e = feasibility(d, np.array([5.0, 7.0]), np.array([0, -1, 1]))
    >>> p.tolist(), b.tolist(), e
    ([True, True, False], [5.0, 4.0, 7.0], 0)
    >>> feasibility(d, np.array([5.0, 6.0]), np.array([0, -1, 1]))[0].tolist()  # 6 - 5 < 2 hops
    [False, True, False]
    """
    times = np.asarray(times, np.float64)
    t_e = times.min()
    latest = (times[:, None] - dist).min(axis=0)  # min_j t_j - d(s, j)
    obs = np.asarray(is_observed_at)
    earliest_rows = np.flatnonzero(times == t_e)
    e = -1
    if len(earliest_rows) == 1:
        hit = np.flatnonzero(obs == earliest_rows[0])
        e = int(hit[0]) if len(hit) else -1
    possible = obs < 0
    bound = np.minimum(latest, t_e - 1.0)
    bound[obs >= 0] = times[obs[obs >= 0]]  # an observed candidate started at its own time
    if e >= 0:
        possible[e] = latest[e] >= t_e  # its own row gives t_e; anything smaller is a violation
    return possible, bound, e


def constrained_gaussian_fit(dist, times, bound, fixed):
    """Per candidate (column): max over mu >= 0 and t0 (t0 = bound if ``fixed``, else
    t0 <= bound) of the Gaussian log-likelihood of t_j = t0 + mu d_j + noise, noise variance
    sigma^2 (d_j + 1), sigma profiled out.

    >>> d = np.array([[0, 1], [1, 0], [2, 1]]); t = np.array([0.0, 2.0, 4.0])
    >>> f = constrained_gaussian_fit(d, t, np.array([0.0, -1.0]), np.array([True, False]))
    >>> bool(f[0] > f[1])  # times grow by 2 per hop from candidate 0
    True
    """
    d = np.asarray(dist, np.float64)
    t = np.asarray(times, np.float64)[:, None]
    w = 1.0 / (d + 1.0)
    sw, swd, swt = w.sum(0), (w * d).sum(0), (w * t).sum(0)
    swdd, swdt = (w * d * d).sum(0), (w * d * t).sum(0)
    den = sw * swdd - swd * swd
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(den > 1e-12, (sw * swdt - swd * swt) / den, 0.0)
        mu = np.maximum(mu, 0.0)
        t0 = (swt - mu * swd) / sw
        pin = fixed | (t0 > bound)
        # pinned start: the slope alone (mu >= 0 again)
        mu_pin = np.maximum(np.where(swdd > 0, (swdt - bound * swd) / swdd, 0.0), 0.0)
    t0 = np.where(pin, bound, t0)
    mu = np.where(pin, mu_pin, mu)
    rss = (w * (t - t0 - mu * d) ** 2).sum(0)
    k = d.shape[0]
    return -0.5 * k * np.log(rss / k + 1e-12) - 0.5 * np.log(d + 1.0).sum(0)


def ts_features(indptr, indices, infected, observers, times, lam: float = 0.1, snapshot=None):
    """``(nodes, X, possible)``: one row per infected node (sorted ids), columns ``TS_FEATURES``.
    ``snapshot`` may pass precomputed ``(rumor_avg, dmp, dmp_t, jordan, distance)`` on the sorted
    nodes (the benchmark has them already).

    >>> ip = np.array([0, 1, 3, 5, 7, 9, 11, 12], np.int32)
    >>> ix = np.array([1, 0, 2, 1, 3, 2, 4, 3, 5, 4, 6, 5], np.int32)
    >>> nodes, X, ok = ts_features(ip, ix, [1, 2, 3, 4, 5], [2, 4, 5], [3.0, 9.0, 12.0], lam=0.5)
    >>> ok.tolist(), X[:, TS_FEATURES.index("is_e")].tolist()  # the path 0-...-6; 2 is earliest
    ([True, True, True, False, False], [0.0, 1.0, 0.0, 0.0, 0.0])
    """
    observers = np.asarray(observers, np.int64)
    times = np.asarray(times, np.float64)
    if snapshot is None:
        s = snapshot_scores(indptr, indices, infected)
        nodes = s["nodes"]
        _, dmp = dmp_scores(indptr, indices, infected, lam, (1.0, 0.1))
        snapshot = (s["rumor_avg"], dmp[0], dmp[1], s["jordan"], s["distance"])
    else:
        nodes = np.unique(np.asarray(infected, np.int64)).astype(np.int32)
    dist = observer_distances(indptr, indices, observers, nodes.astype(np.int64)).astype(np.float64)
    # unreachable (another component of the graph): as far as the whole cascade
    dist[dist < 0] = len(nodes)
    row = np.full(len(nodes), -1)
    pos = np.searchsorted(nodes, observers)
    row[pos] = np.arange(len(observers))
    possible, bound, e = feasibility(dist, times, row)
    fixed = row >= 0
    gfit = constrained_gaussian_fit(dist, times, bound, fixed)
    z = correlation_z(indptr, indices, observers, times, nodes)
    order = np.argsort(times, kind="stable")
    early = dist[order[:3]].mean(axis=0)
    near_e = -dist[order[0]]  # an earliest observer (the first if tied)
    is_e = np.zeros(len(nodes))
    if e >= 0 and possible[e]:
        is_e[e] = 1.0
    ts = np.sort(times)
    gap = ts[1] - ts[0] if len(ts) > 1 else 0.0
    cols = list(snapshot) + [0.5 * z * np.abs(z), gfit, near_e, -early,
                             is_e, is_e * np.log1p(gap), is_e * np.log1p(ts[-1] - ts[0]),
                             is_e * np.log(len(ts))]
    x = np.column_stack(cols)
    x[~np.isfinite(x)] = -1e6
    return nodes, np.maximum(x, -1e6), possible
