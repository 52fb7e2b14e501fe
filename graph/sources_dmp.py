"""Source detection by dynamic message passing (DMP) for discrete-time SI (Lokhov, Mezard,
Ohta and Zdeborova, Phys. Rev. E 90, 012801, 2014), for an infection snapshot and optionally a
sample of infection times.

Model: ndlib's SI, as cosasi simulates it. At every step each infected node transmits to each
susceptible neighbour with probability ``lam``; the source is infected at step 0. For a
candidate source s, DMP computes per node i the probability P_S^i(t) that i is still susceptible
after t steps (exact on trees, a mean-field approximation on loopy graphs) with messages
theta^{k->i}(t) (k has not transmitted to i by t) and phi^{k->i}(t) (k infected and has not yet
transmitted to i):

    theta(t) = theta(t-1) - lam phi(t-1)
    phi(t)   = (1 - lam) phi(t-1) - [P_S^{k->i}(t) - P_S^{k->i}(t-1)]
    P_S^{k->i}(t) = P_S^k(0) prod_{l in N(k) minus i} theta^{l->k}(t)

Messages run on the infected subgraph only: a node seen uninfected never transmitted, so no
path can leave the snapshot and come back. Uninfected neighbours of the snapshot enter through
one outgoing message per infected node (all its outside neighbours get the same message).

The snapshot log-likelihood after T steps is (mean field)
    L(s, T) = sum_{i in I} log(1 - P_S^i(T)) + sum_{k in I} outside(k) log theta^{k->out}(T)
and the score of s is log sum_T exp L(s, T) (a flat prior on the unknown elapsed time).

With sampled times t_o (on any clock) and the snapshot taken at t_snap on the same clock, the
unknown start is t_snap - T and each observer adds log P(o infected at step t_o - t_snap + T)
= log(P_S^o(tau - 1) - P_S^o(tau)).
"""
from __future__ import annotations

import numba
import numpy as np

from graph.sources import SourceScores, _prepare

_FLOOR = 1e-300


@numba.njit(cache=True)
def _reverse_edges(ptr, idx):
    """rev[e] = index of the edge idx[e] -> u for edge e = u -> idx[e] (neighbours sorted)."""
    rev = np.empty(len(idx), dtype=np.int32)
    n = len(ptr) - 1
    for u in range(n):
        for e in range(ptr[u], ptr[u + 1]):
            w = idx[e]
            lo = ptr[w]
            hi = ptr[w + 1]
            while lo < hi:  # binary search for u among w's sorted neighbours
                mid = (lo + hi) // 2
                if idx[mid] < u:
                    lo = mid + 1
                else:
                    hi = mid
            rev[e] = lo
    return rev


@numba.njit(cache=True)
def _dmp(ptr, idx, rev, outside, source, lam, tmax, slack, obs, ps_obs, inside, bound, weights):
    """One DMP run from ``source`` for up to ``tmax`` steps. Fills the two parts of L(source, T),
    inside[T] = sum log(1 - P_S) and bound[T] = sum outside log theta_out, and ps_obs[k, T] = P_S
    of observer obs[k] after T steps. Returns the number of steps run: it stops once
    w * inside + bound has fallen ``slack`` below its best for every w in ``weights`` (both
    parts only fall from there on, so the rest adds nothing to a log-sum over T)."""
    n = len(ptr) - 1
    m = len(idx)
    theta = np.ones(m)  # theta^{u->idx[e]} for edge e leaving u
    phi = np.zeros(m)
    ps_edge = np.empty(m)  # P_S^{u->w}(t-1)
    ps0 = np.ones(n)
    ps0[source] = 0.0
    ps = ps0.copy()
    theta_out = np.ones(n)
    phi_out = np.zeros(n)
    phi_out[source] = 1.0
    for e in range(ptr[source], ptr[source + 1]):
        phi[e] = 1.0
    for u in range(n):
        for e in range(ptr[u], ptr[u + 1]):
            ps_edge[e] = ps0[u]
    prod_in = np.ones(n)  # product of the theta messages into each node
    best = np.full(len(weights), -np.inf)
    steps = tmax
    for k in range(len(obs)):
        ps_obs[k, 0] = ps0[obs[k]]
    inside[0] = 0.0 if n == 1 else -np.inf
    bound[0] = 0.0
    for t in range(1, tmax + 1):
        # theta(t) from theta(t-1), phi(t-1); theta >= (1 - lam) theta(t-1) > 0, so the cavity
        # product below may divide by it (products may underflow to 0 for hubs: P_S is then 0)
        for i in range(n):
            prod_in[i] = 1.0
        for e in range(m):
            th = theta[e] - lam * phi[e]
            if th < _FLOOR:
                th = _FLOOR
            theta[e] = th
            prod_in[idx[e]] *= th
        # phi(t) with the cavity P_S^{u->w}(t) = ps0[u] * prod_{l != w} theta^{l->u}(t)
        for u in range(n):
            if ps0[u] == 0.0:
                for e in range(ptr[u], ptr[u + 1]):
                    phi[e] = (1.0 - lam) * phi[e]
                continue
            pu = prod_in[u]
            for e in range(ptr[u], ptr[u + 1]):
                new_ps = pu / theta[rev[e]]
                phi[e] = (1.0 - lam) * phi[e] - (new_ps - ps_edge[e])
                ps_edge[e] = new_ps
        tin = 0.0
        tout = 0.0
        for u in range(n):
            new_ps = ps0[u] * prod_in[u]
            th = theta_out[u] - lam * phi_out[u]
            if th < _FLOOR:
                th = _FLOOR
            theta_out[u] = th
            phi_out[u] = (1.0 - lam) * phi_out[u] - (new_ps - ps[u])
            ps[u] = new_ps
            p_inf = 1.0 - new_ps
            tin += np.log(p_inf if p_inf > _FLOOR else _FLOOR)
            tout += outside[u] * np.log(th)
        inside[t] = tin
        bound[t] = tout
        for k in range(len(obs)):
            ps_obs[k, t] = ps[obs[k]]
        done = True
        for w in range(len(weights)):
            total = weights[w] * tin + tout
            if total > best[w]:
                best[w] = total
            if total >= best[w] - slack:
                done = False
        if done:
            steps = t
            break
    return steps


@numba.njit(cache=True)
def _logsumexp(x, n):
    m = -np.inf
    for i in range(n):
        if x[i] > m:
            m = x[i]
    if m == -np.inf:
        return m
    s = 0.0
    for i in range(n):
        s += np.exp(x[i] - m)
    return m + np.log(s)


@numba.njit(cache=True)
def _dmp_scores(ptr, idx, outside, lam, tmax, slack, obs, obs_steps, snap_step, weights):
    """out[w, v] = log sum_T exp(weights[w] * inside + bound + time terms) for source v.
    obs_steps are the observers' integer step times on a clock where the snapshot is at
    snap_step."""
    n = len(ptr) - 1
    rev = _reverse_edges(ptr, idx)
    k = len(obs)
    ps_obs = np.ones((k, tmax + 1))
    inside = np.full(tmax + 1, -np.inf)
    bound = np.zeros(tmax + 1)
    timed = np.zeros(tmax + 1)
    comb = np.full(tmax + 1, -np.inf)
    out = np.full((len(weights), n), -np.inf)
    for s in range(n):
        steps = _dmp(ptr, idx, rev, outside, s, lam, tmax, slack, obs, ps_obs, inside, bound, weights)
        for T in range(steps + 1):
            val = 0.0
            for q in range(k):
                tau = obs_steps[q] - snap_step + T
                if tau < 0 or tau > steps:
                    val = -np.inf
                    break
                before = 1.0 if tau == 0 else ps_obs[q, tau - 1]
                p = before - ps_obs[q, tau]
                val += np.log(p if p > _FLOOR else _FLOOR)
            timed[T] = val
        for w in range(len(weights)):
            for T in range(steps + 1):
                comb[T] = weights[w] * inside[T] + bound[T] + timed[T]
            out[w, s] = _logsumexp(comb, steps + 1)
    return out


def dmp_scores(indptr, indices, infected, lam: float = 0.1, inside_weights=(1.0,), observers=None, times=None,
               snapshot_time: float = 0.0, time_unit: float = 1.0, tmax: int = 2000, slack: float = 60.0):
    """DMP scores of every infected node as source, one row per inside weight w:
    log sum_T exp(w * sum_{i in I} log(1 - P_S^i(T)) + boundary(T) [+ observed-time terms]).
    w = 1 is Lokhov et al.'s mean-field likelihood; w < 1 tempers its over-confident inside term.
    Returns ``(nodes, scores)``.

    >>> ip = np.array([0, 1, 3, 5, 7, 8], np.int32); ix = np.array([1, 0, 2, 1, 3, 2, 4, 3], np.int32)
    >>> nodes, sc = dmp_scores(ip, ix, [1, 2, 3], lam=0.5, inside_weights=(1.0, 0.1))
    >>> nodes.tolist(), sc.shape, int(nodes[np.argmax(sc[1])])
    ([1, 2, 3], (2, 3), 2)
    """
    if not 0.0 < lam < 1.0:
        raise ValueError("lam must be in (0, 1)")
    nodes, ptr, idx, outside = _prepare(indptr, indices, infected)
    if observers is None:
        local = np.zeros(0, dtype=np.int32)
        steps = np.zeros(0, dtype=np.int64)
    else:
        observers = np.asarray(observers, dtype=np.int64)
        local = np.searchsorted(nodes, observers)
        if len(observers) and (local.max() >= len(nodes) or (nodes[local] != observers).any()):
            raise ValueError("every observer must be infected")
        steps = np.rint(np.asarray(times, dtype=np.float64) / time_unit).astype(np.int64)
    snap_step = int(np.rint(snapshot_time / time_unit))
    scores = _dmp_scores(ptr, idx, outside.astype(np.float64), float(lam), int(tmax), float(slack),
                         local.astype(np.int32), steps, snap_step, np.asarray(inside_weights, dtype=np.float64))
    return nodes, scores


def dmp_snapshot(indptr, indices, infected, lam: float = 0.1, inside_weight: float = 1.0, tmax: int = 2000,
                 slack: float = 60.0) -> SourceScores:
    """DMP log-likelihood of the snapshot for each infected node as source, the elapsed number
    of steps summed out (discrete-time SI with per-step transmission probability ``lam``).

    >>> ip = np.array([0, 1, 3, 5, 7, 8], np.int32); ix = np.array([1, 0, 2, 1, 3, 2, 4, 3], np.int32)
    >>> dmp_snapshot(ip, ix, [1, 2, 3], lam=0.5).best()  # the middle of a path seen 3 wide
    2
    """
    nodes, sc = dmp_scores(indptr, indices, infected, lam, (inside_weight,), tmax=tmax, slack=slack)
    return SourceScores(nodes, sc[0])


def dmp_timestamps(indptr, indices, infected, observers, times, snapshot_time: float, lam: float = 0.1,
                   time_unit: float = 1.0, inside_weight: float = 1.0, tmax: int = 2000,
                   slack: float = 60.0) -> SourceScores:
    """DMP likelihood of the snapshot plus the observed infection times of ``observers`` (a
    subset of ``infected``), for each infected node as source. ``times`` and ``snapshot_time``
    are on one clock whose origin is unknown; ``time_unit`` is the length of one SI step on it
    (times are rounded to steps).

    >>> ip = np.array([0, 1, 3, 5, 7, 8], np.int32); ix = np.array([1, 0, 2, 1, 3, 2, 4, 3], np.int32)
    >>> dmp_timestamps(ip, ix, [0, 1, 2, 3, 4], [0, 4], [10.0, 14.0], 14.0, lam=0.9).best()
    0

    Observers enter as a product of their marginals, so the order among them is lost: on the
    same path, observers 0, 1, 2 seen at 10, 11, 12 do not rule out source 4.
    """
    nodes, sc = dmp_scores(indptr, indices, infected, lam, (inside_weight,), observers, times, snapshot_time,
                           time_unit, tmax, slack)
    return SourceScores(nodes, sc[0])


def dmp_rumor(indptr, indices, infected, lam: float = 0.1, inside_weight: float = 0.1,
              dmp_weight: float = 0.5) -> SourceScores:
    """The combined snapshot estimator: log of rumor centrality averaged over BFS trees
    (``rumor_centrality(..., average=True)``) plus ``dmp_weight`` times the DMP score with a
    tempered inside term. Rumor centrality counts infection orderings but ignores degrees; DMP's
    boundary term sees that a hub source would have exposed its uninfected neighbours early.

    >>> ip = np.array([0, 1, 3, 5, 7, 8], np.int32); ix = np.array([1, 0, 2, 1, 3, 2, 4, 3], np.int32)
    >>> dmp_rumor(ip, ix, [0, 1, 2, 3, 4], lam=0.5).best()  # a whole path: its middle
    2
    """
    from graph.sources import snapshot_scores

    nodes, sc = dmp_scores(indptr, indices, infected, lam, (inside_weight,))
    return SourceScores(nodes, snapshot_scores(indptr, indices, infected)["rumor_avg"] + dmp_weight * sc[0])
