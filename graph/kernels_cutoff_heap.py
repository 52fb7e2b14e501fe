"""The cut-off greedy's heap (graph/kernels_cutoff.py): a max-heap of (gain, account) with the
tie order of the answers, and the first band of accounts it starts with.

Ties: earliest first present event, then account id (bytes), so results never depend on the
arrival order.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros

from graph.ids_slots import bytes_cmp


@njit(cache=True)
def better(g1, a1, g2, a2, first_ts, ac_offs, ac_arena):
    if g1 != g2:
        return g1 > g2
    if first_ts[a1] != first_ts[a2]:
        return first_ts[a1] < first_ts[a2]
    return bytes_cmp(ac_arena, ac_offs[a1], ac_offs[a1 + 1],
                     ac_arena, ac_offs[a2], ac_offs[a2 + 1]) < 0


@njit(cache=True)
def sift_down(hg, ha, m, i, first_ts, ac_offs, ac_arena):
    while True:
        left = 2 * i + 1
        if left >= m:
            return
        best = left
        right = left + 1
        if right < m and better(hg[right], ha[right], hg[left], ha[left], first_ts, ac_offs, ac_arena):
            best = right
        if better(hg[best], ha[best], hg[i], ha[i], first_ts, ac_offs, ac_arena):
            hg[i], hg[best] = hg[best], hg[i]
            ha[i], ha[best] = ha[best], ha[i]
            i = best
        else:
            return


@njit(cache=True)
def bit_length(g):
    """Bits of a non-negative integer (0 for 0): one count-leading-zeros instruction.

    >>> bit_length(1), bit_length(5), bit_length(0), bit_length(2**40)
    (1, 3, 0, 41)
    """
    return 64 - np.int64(leading_zeros(np.uint64(g)))


@njit(cache=True)
def by_bit_length(row, excluded, n_acc):
    """Accounts with a positive initial gain, grouped by the gain's bit length, longest first
    (a counting sort over <= 33 groups): (accounts, group starts ``start[65 - b]`` for bit length
    ``b``).

    >>> row = np.array([[0, 0, 0, 5], [1, 0, 0, 3], [0, 0, 0, 6], [0, 0, 0, 0]], np.int32)
    >>> order, start = by_bit_length(row, np.zeros(4, np.uint8), 4)
    >>> order.tolist(), int(start[65 - 3]), int(start[65 - 2])  # gains 5, 2, 6, 0
    ([0, 2, 1], 0, 2)
    """
    return by_bit_length_into(row, excluded, n_acc, np.empty(n_acc, np.uint8),
                              np.empty(n_acc, np.int32))


@njit(cache=True)
def by_bit_length_into(row, excluded, n_acc, bits, order):
    """:func:`by_bit_length` with its per-account arrays passed in (``bits`` uint8 scratch,
    ``order`` int32 receiving the accounts; each at least ``n_acc`` long, contents
    overwritten); the accounts returned are a view of ``order``.

    >>> row = np.array([[0, 0, 0, 5], [1, 0, 0, 3], [0, 0, 0, 6]], np.int32)
    >>> order = np.full(5, -1, np.int32)
    >>> got, start = by_bit_length_into(row, np.zeros(3, np.uint8), 3, np.ones(5, np.uint8), order)
    >>> got.tolist(), order.tolist()
    ([0, 2, 1], [0, 2, 1, -1, -1])
    """
    hist = np.zeros(66, np.int64)
    # Each account's bit length (0: not listed) kept for the second pass, which then reads one
    # byte per account instead of its row and excluded flag again.
    bits[:n_acc] = 0
    for a in range(n_acc):
        g = row[a, 3] - row[a, 0]
        if g > 0 and excluded[a] == 0:
            b = bit_length(g)
            bits[a] = b
            hist[65 - b] += 1
    start = np.zeros(67, np.int64)
    for b in range(66):
        start[b + 1] = start[b] + hist[b]
    fill = start[:66].copy()
    order = order[:start[66]]
    for a in range(n_acc):
        if bits[a]:
            j = 65 - np.int64(bits[a])
            order[fill[j]] = a
            fill[j] += 1
    return order, start


@njit(cache=True)
def first_band(row, order, start, want, hg, ha, first_ts, ac_offs, ac_arena):
    """Heap the first whole groups of ``order`` until at least ``want`` accounts are in, with
    their initial gains; returns (heap size = the first accounts of ``order`` taken, ``thr``:
    every account left out has a gain below it; 1 when none is left out).

    >>> row = np.array([[0, 0, 0, 5], [1, 0, 0, 3], [0, 0, 0, 6]], np.int32)
    >>> order, start = by_bit_length(row, np.zeros(3, np.uint8), 3)
    >>> hg, ha = np.empty(3, np.int64), np.empty(3, np.int32)
    >>> no_ts, no_ids = np.zeros(3, np.int64), np.zeros(4, np.int64)
    >>> m, thr = first_band(row, order, start, 1, hg, ha, no_ts, no_ids, np.zeros(0, np.uint8))
    >>> m, int(thr), hg[:m].tolist(), ha[:m].tolist()  # gains 5 and 6 share 3 bits; 2 is below 4
    (2, 4, [6, 5], [2, 0])
    """
    end = 0
    total = order.shape[0]
    while end < total and end < want:
        a = order[end]
        end = start[66 - bit_length(row[a, 3] - row[a, 0])]  # whole groups: ties never split
    for j in range(end):
        a = order[j]
        hg[j] = row[a, 3] - row[a, 0]
        ha[j] = a
    for i in range(end // 2 - 1, -1, -1):
        sift_down(hg, ha, end, i, first_ts, ac_offs, ac_arena)
    if end >= total:
        return end, np.int64(1)
    a = order[end]
    return end, np.int64(1) << (bit_length(row[a, 3] - row[a, 0]))
