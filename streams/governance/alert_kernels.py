"""The numba kernels of the alert router (:mod:`streams.governance.alerts`): the volume and
growth rules and the EWMA rate of many units' pending minutes in one call
(:func:`_judge_kernel`), and :class:`IdHashes`, the table of the event ids a rumour counted.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from streams.governance.view_kernels import EMPTY_HASH, hash_slot

NO_ALERT = -(1 << 62)  # last_alert minute of a rule that never fired (kernel arrays)
VOLUME, GROWTH, BURST_CANDIDATE = 1, 2, 4


@numba.njit(cache=True)
def _judge_kernel(starts, minutes, counts, h_starts, h_minutes, h_counts, evaluated_to, rate, first,
                  last_volume, last_growth, w, volume_shares, growth_min, growth_ratio, alpha, warmup,
                  burst_min, burst_p, cooldown, floor):  # pragma: no cover - compiled
    """The volume and growth rules of every pending minute of every unit (pair ``p``: minutes
    ``starts[p]:starts[p+1]``, judged history ``h_starts[p]:h_starts[p+1]``), in time order,
    with the EWMA rate; of the burst rule, the minutes that may fire (:func:`may_be_below`'s
    bound with a margin: the caller settles them with CPython's lgamma, as before). Updates the
    per-pair arrays in place; returns per minute the window sums, the rule flags and lambda,
    and per pair where its kept history starts in history + pending."""
    n = len(minutes)
    window, before = np.zeros(n, np.int64), np.zeros(n, np.int64)
    flags, lam = np.zeros(n, np.uint8), np.zeros(n, np.float64)
    keep_from = np.zeros(len(starts) - 1, np.int64)
    for p in range(len(starts) - 1):
        hs, nh, s, e = h_starts[p], h_starts[p + 1] - h_starts[p], starts[p], starts[p + 1]
        total = nh + e - s
        cm, pre = np.empty(total, np.int64), np.zeros(total + 1, np.int64)
        for k in range(total):
            cm[k] = h_minutes[hs + k] if k < nh else minutes[s + k - nh]
            pre[k + 1] = pre[k] + (h_counts[hs + k] if k < nh else counts[s + k - nh])
        lo = mid = 0
        r, et, lv, lg = rate[p], evaluated_to[p], last_volume[p], last_growth[p]
        for k in range(nh, total):
            j, minute = s + k - nh, cm[k]
            c = counts[j]
            if et >= 0:
                r *= (1 - alpha) ** float(max(0, minute - et - 1))
            while lo <= k and cm[lo] <= minute - 2 * w:  # the rules read 2w minutes
                lo += 1
            mid = max(mid, lo)
            while mid <= k and cm[mid] <= minute - w:
                mid += 1
            win, bef = pre[k + 1] - pre[mid], pre[mid] - pre[lo]
            window[j], before[j] = win, bef
            f = 0
            if win >= volume_shares and not (lv != NO_ALERT and minute - lv < cooldown):
                f |= VOLUME
                lv = minute
            if (bef > 0 and win >= growth_min and win >= growth_ratio * bef
                    and not (lg != NO_ALERT and minute - lg < cooldown)):
                f |= GROWTH
                lg = minute
            lam[j] = max(r, floor)
            if minute - first[p] >= warmup and c >= burst_min and (
                    burst_p > 0.49 or (c > lam[j] and math.exp(-lam[j] + c * math.log(lam[j]) - math.lgamma(c + 1))
                                       < burst_p * (1 + 1e-6))):
                f |= BURST_CANDIDATE
            flags[j] = f
            r = alpha * c + (1 - alpha) * r
            et = minute
        rate[p], evaluated_to[p], last_volume[p], last_growth[p] = r, et, lv, lg
        keep_from[p] = lo
    return window, before, flags, lam, keep_from


EMPTY = EMPTY_HASH  # a free slot of an IdHashes table: view_kernels.hashes_of never returns it


@numba.njit(cache=True)
def _insert_new(table, keys, order):  # pragma: no cover - compiled
    """Insert ``keys`` (visited in ``order``) into the open-addressing ``table``; True for
    each key that was not there (the first of equal keys in ``order``)."""
    new = np.zeros(len(keys), np.bool_)
    for j in order:
        i = hash_slot(table, keys[j])
        if table[i] == EMPTY:
            table[i] = keys[j]
            new[j] = True
    return new


class IdHashes:
    """A set of int64 id hashes in a numpy open-addressing table (load <= 1/2): numba
    inserts a batch at a time, and the garbage collector does not walk it as it would a set.

    >>> s = IdHashes()
    >>> s.insert_new(np.array([5, 7, 5]), np.arange(3)).tolist(), len(s)
    ([True, True, False], 2)
    """

    __slots__ = ("table", "count")

    def __init__(self):
        self.table = np.full(16, EMPTY, np.int64)
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def insert_new(self, keys: np.ndarray, order: np.ndarray) -> np.ndarray:
        if 2 * (self.count + len(keys)) > len(self.table):
            size = len(self.table)
            while 2 * (self.count + len(keys)) > size:
                size *= 2
            old = self.table[self.table != EMPTY]
            self.table = np.full(size, EMPTY, np.int64)
            _insert_new(self.table, old, np.arange(len(old)))
        new = _insert_new(self.table, keys, order)
        self.count += int(new.sum())
        return new
