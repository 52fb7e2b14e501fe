"""Numba ordering kernels: a comparator merge sort and the ranking of origins.

Every order here ends in a comparison of id bytes, so ties never depend on arrival order.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from graph.ids import bytes_cmp

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
    """Comparators: kind 0 = events by (ts, event id); kind 1 = origins ranking.

    Origins: reach ``a0`` desc, observed ``a1`` desc, ts ``a2`` asc, event id, account id
    (``a3`` = account index per node).
    """
    if kind == 0:
        if a2[x] != a2[y]:
            return a2[x] < a2[y]
        return bytes_cmp(arena1, offs1[x], offs1[x + 1], arena1, offs1[y], offs1[y + 1]) < 0
    if a0[x] != a0[y]:
        return a0[x] > a0[y]
    if a1[x] != a1[y]:
        return a1[x] > a1[y]
    if a2[x] != a2[y]:
        return a2[x] < a2[y]
    c = bytes_cmp(arena1, offs1[x], offs1[x + 1], arena1, offs1[y], offs1[y + 1])
    if c != 0:
        return c < 0
    ax = a3[x]
    ay = a3[y]
    if ax < 0 or ay < 0:
        return ax < ay
    return bytes_cmp(arena2, offs2[ax], offs2[ax + 1], arena2, offs2[ay], offs2[ay + 1]) < 0


@njit(cache=True)
def ranked_origins(par, kf, acct, ts, sz, ev_offs, ev_arena, ac_offs, ac_arena):
    """Origin nodes, most likely first: reach desc, observed first, ts asc, event id, account."""
    n = par.shape[0]
    m = 0
    for j in range(n):
        if par[j] < 0 and sz[j] > 0 and acct[j] >= 0:
            m += 1
    roots = np.empty(m, np.int32)
    m = 0
    obs = np.zeros(n, np.uint8)
    for j in range(n):
        if par[j] < 0 and sz[j] > 0 and acct[j] >= 0:
            roots[m] = j
            m += 1
            if kf[j] & _PRESENT:
                obs[j] = 1
    return _merge_sort(roots, 1, sz, obs, ts, acct, ev_offs, ev_arena, ac_offs, ac_arena)
