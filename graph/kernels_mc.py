"""Numba kernels of the Monte-Carlo snapshot source estimator (graph/sources_mc.py): one
discrete-SI run from a source with geometric edge delays on a calendar queue, and the Jaccard
similarities of many runs with the observed infected set. Arrays and numbers in, arrays out."""
from __future__ import annotations

import numba
import numpy as np

from graph.rng import splitmix_uniform

_CALENDAR = 1 << 16  # steps a pending infection may wait (see _simulate)


@numba.njit(cache=True, nogil=True)
def _geometric(state, log_q):
    """Steps until an S-I edge first transmits, >= 1 (log_q = log(1 - beta); beta = 1: 1)."""
    if log_q == -np.inf:
        return 1
    u = splitmix_uniform(state)
    g = 1.0 + np.floor(np.log1p(-u) / log_q)
    return int(g) if g < 1e9 else 1000000000


@numba.njit(cache=True, nogil=True)
def _simulate(ptr, idx, src, log_q, stop_size, closest, observed, state, tent, done, touched, heads, ent_node,
              ent_next, out):
    """One discrete-SI run from ``src``. Fills ``out[:k]`` with the infected nodes at the stopping
    step end and returns (k, |infected & observed|).

    Pending infections wait in a calendar queue: ``heads[t % H]`` is a linked list (through
    ``ent_node``/``ent_next``) of the nodes reached at step t; a node reached again earlier is
    re-queued and its old entry skipped (``tent`` holds its current step). Steps are integers
    and a run rarely spans more than a few hundred, so this beats a heap. ``tent``, ``done`` and
    ``heads`` must be -1/0/-1 on entry and are restored before returning (only touched entries:
    the graph may be large)."""
    h = len(heads)
    ntouch = 0
    n_ent = 0
    pending = 0
    tent[src] = 0
    touched[ntouch] = src
    ntouch += 1
    ent_node[0] = src
    ent_next[0] = -1
    heads[0] = 0
    n_ent = 1
    pending = 1
    t_last = 0  # the latest step any entry waits for
    k = 0
    inter = 0
    prev_k = 0
    prev_inter = 0
    res_k = -1
    res_inter = 0
    t = 0
    while pending > 0:
        b = t % h
        e = heads[b]
        heads[b] = -1
        k_before = k
        while e >= 0:
            v = ent_node[e]
            e = ent_next[e]
            pending -= 1
            if done[v] or tent[v] != t:
                continue  # stale: v was reached earlier by another edge
            done[v] = 1
            out[k] = v
            k += 1
            inter += observed[v]
            for q in range(ptr[v], ptr[v + 1]):
                w = idx[q]
                if done[w] or (tent[w] >= 0 and tent[w] <= t + 1):
                    continue  # no delay can beat what w already has
                d = t + _geometric(state, log_q)
                if d - t >= h:
                    continue  # beyond the calendar (beta >= 1e-3 makes this about e^-65)
                if tent[w] < 0 or d < tent[w]:
                    if tent[w] < 0:
                        touched[ntouch] = w
                        ntouch += 1
                    tent[w] = d
                    ent_node[n_ent] = w
                    ent_next[n_ent] = heads[d % h]
                    heads[d % h] = n_ent
                    n_ent += 1
                    pending += 1
                    if d > t_last:
                        t_last = d
        if k > k_before:  # the end of a step that infected someone: the stopping rule
            if k >= stop_size:
                res_k = k
                res_inter = inter
                if closest and stop_size - prev_k < k - stop_size:
                    res_k = prev_k
                    res_inter = prev_inter
                break
            prev_k = k
            prev_inter = inter
        t += 1
    if res_k < 0:  # the component ran out before stop_size
        res_k = k
        res_inter = inter
    for s in range(t + 1, t_last + 1):
        heads[s % h] = -1
    for i in range(ntouch):
        tent[touched[i]] = -1
        done[touched[i]] = 0
    return res_k, res_inter


@numba.njit(cache=True, nogil=True)
def _phis(ptr, idx, observed, m, sources, runs, log_q, stop_size, closest, state):
    """phi[c, r]: Jaccard similarity of run r from sources[c] with the observed set (size m)."""
    n = len(ptr) - 1
    tent = np.full(n, -1, dtype=np.int64)
    done = np.zeros(n, dtype=np.uint8)
    touched = np.empty(n, dtype=np.int32)
    heads = np.full(_CALENDAR, -1, dtype=np.int32)
    ent_node = np.empty(len(idx) + 1, dtype=np.int32)  # at most one entry per edge plus the source
    ent_next = np.empty(len(idx) + 1, dtype=np.int32)
    out = np.empty(n, dtype=np.int32)
    phi = np.empty((len(sources), runs))
    for c in range(len(sources)):
        for r in range(runs):
            k, inter = _simulate(ptr, idx, sources[c], log_q, stop_size, closest, observed, state, tent, done,
                                 touched, heads, ent_node, ent_next, out)
            phi[c, r] = inter / (k + m - inter)
    return phi
