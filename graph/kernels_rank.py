"""Numba ordering kernels: a comparator merge sort and the ranking of origins.

Every order here ends in a comparison of id bytes, so ties never depend on arrival order.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from graph.ids_slots import bytes_cmp

_PRESENT = 0x80


@njit(cache=True)
def _event_less(j, k, ts, ev_offs, ev_arena):
    """(ts, event id) order of two present nodes, so ties never depend on arrival order."""
    if ts[j] != ts[k]:
        return ts[j] < ts[k]
    return bytes_cmp(ev_arena, ev_offs[j], ev_offs[j + 1], ev_arena, ev_offs[k], ev_offs[k + 1]) < 0


@njit(cache=True)
def _merge_sort(idx, less_kind, a0, a1, a2, a3, offs1, arena1, offs2, arena2):
    """Stable bottom-up merge sort of ``idx`` under comparator ``less_kind`` (see ``_less``)."""
    n = idx.shape[0]
    src = idx.copy()
    dst = np.empty_like(idx)
    width = 1
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i = lo
            j = mid
            k = lo
            while i < mid and j < hi:
                if _less(less_kind, src[j], src[i], a0, a1, a2, a3, offs1, arena1, offs2, arena2):
                    dst[k] = src[j]
                    j += 1
                else:
                    dst[k] = src[i]
                    i += 1
                k += 1
            while i < mid:
                dst[k] = src[i]
                i += 1
                k += 1
            while j < hi:
                dst[k] = src[j]
                j += 1
                k += 1
        src, dst = dst, src
        width *= 2
    return src


@njit(cache=True)
def _less(kind, x, y, a0, a1, a2, a3, offs1, arena1, offs2, arena2):
    """Comparators: kind 0 = events by (ts, event id); kind 1 = origins ranking; kind 2 = its
    id tail only (event id, account id).

    Origins: reach ``a0`` desc, observed ``a1`` desc, ts ``a2`` asc, event id, account id
    (``a3`` = account index per node).
    """
    if kind == 0:
        if a2[x] != a2[y]:
            return a2[x] < a2[y]
        return bytes_cmp(arena1, offs1[x], offs1[x + 1], arena1, offs1[y], offs1[y + 1]) < 0
    if kind == 2:
        return _ids_less(x, y, a3, offs1, arena1, offs2, arena2)
    if a0[x] != a0[y]:
        return a0[x] > a0[y]
    if a1[x] != a1[y]:
        return a1[x] > a1[y]
    if a2[x] != a2[y]:
        return a2[x] < a2[y]
    return _ids_less(x, y, a3, offs1, arena1, offs2, arena2)


@njit(cache=True)
def _ids_less(x, y, a3, offs1, arena1, offs2, arena2):
    """Event id bytes, then account id bytes (``a3`` = account per node, -1 sorts first)."""
    c = bytes_cmp(arena1, offs1[x], offs1[x + 1], arena1, offs1[y], offs1[y + 1])
    if c != 0:
        return c < 0
    ax = a3[x]
    ay = a3[y]
    if ax < 0 or ay < 0:
        return ax < ay
    return bytes_cmp(arena2, offs2[ax], offs2[ax + 1], arena2, offs2[ay], offs2[ay + 1]) < 0


@njit(cache=True)
def origin_roots(par, sz, acct):
    """Origin candidates in node order: roots with present events under them and an account.

    >>> import numpy as np
    >>> origin_roots(np.array([-1, 0, -1]), np.array([2, 1, 0]), np.array([0, 1, 2])).tolist()
    [0]
    """
    n = par.shape[0]
    buf = np.empty(n, np.int32)  # one pass (untouched pages of the buffer cost nothing)
    m = 0
    for j in range(n):
        if par[j] < 0 and sz[j] > 0 and acct[j] >= 0:
            buf[m] = j
            m += 1
    return buf[:m].copy()


@njit(cache=True)
def _break_ties(roots, reach, obs, ts_r, acct, ev_offs, ev_arena, ac_offs, ac_arena):
    """Sort, in place by id bytes, each run of ``roots`` with equal (reach, observed, ts) keys.

    ``reach``/``obs``/``ts_r`` are per position of ``roots`` (already sorted by those keys);
    the runs are few and short, so the comparator sort touches little memory.
    """
    m = roots.shape[0]
    dummy = np.zeros(1, np.int64)
    lo = 0
    while lo < m:
        hi = lo + 1
        while hi < m and reach[hi] == reach[lo] and obs[hi] == obs[lo] and ts_r[hi] == ts_r[lo]:
            hi += 1
        if hi - lo > 1:
            # Equal numeric keys: the comparator falls through to event id, then account id.
            roots[lo:hi] = _merge_sort(roots[lo:hi], 2, dummy, dummy, dummy, acct,
                                       ev_offs, ev_arena, ac_offs, ac_arena)
        lo = hi
    return roots


def ranked_origins(par, kf, acct, ts, sz, ev_offs, ev_arena, ac_offs, ac_arena):
    """Origin nodes, most likely first: reach desc, observed first, ts asc, event id, account.

    Why not one comparator sort: at 10^6 nodes the roots are scattered, and a merge sort that
    reads reach/ts/flags through the node index misses the caches on every comparison. Here
    the numeric keys are gathered once into small arrays and sorted by numpy; only runs of
    exactly equal keys are ordered by id bytes.

    >>> import numpy as np
    >>> par = np.array([-1, 0, -1, -1], np.int32); sz = np.array([2, 1, 1, 1], np.int32)
    >>> kf = np.full(4, 0x80, np.uint8); acct = np.arange(4, dtype=np.int32)
    >>> ts = np.array([5, 6, 3, 3]); offs = np.array([0, 1, 2, 3, 4], np.int32)
    >>> arena = np.frombuffer(b"abdc", np.uint8)
    >>> ranked_origins(par, kf, acct, ts, sz, offs, arena, offs, arena).tolist()
    [0, 3, 2]
    """
    n = par.shape[0]
    roots = origin_roots(par, sz[:n], acct[:n])
    reach = sz[roots]
    obs = (kf[roots] & _PRESENT) != 0
    ts_r = ts[roots]
    # lexsort: last key is primary; stable, so index order within full ties (fixed below).
    perm = np.lexsort((ts_r, ~obs, -reach.astype(np.int64)))
    roots = np.ascontiguousarray(roots[perm])
    return _break_ties(roots, np.ascontiguousarray(reach[perm]),
                       np.ascontiguousarray(obs[perm].view(np.uint8)),
                       np.ascontiguousarray(ts_r[perm]), acct, ev_offs, ev_arena, ac_offs, ac_arena)
