"""Numba kernel that packs a batch's short string fields into one row buffer (the ClickHouse
writer's ``share_event_rows.fields``, sql/005_share_event_rows.sql).

Why a kernel: joining ~9 Python strings per event, then counting and splitting the joined text,
held the GIL for about 0.5 us per event in the worker's store-write thread; here the fields are
encoded once as a whole (one C call) and interleaved into rows with the GIL released, so the
pipeline thread can prepare the next batch meanwhile.
"""
from __future__ import annotations

import numpy as np
from numba import njit

ROW_MARK = b"\x00\x01\x00"  # between two rows: no field holds \x01, so it marks rows only


@njit(cache=True, nogil=True)
def _pack(buf, starts, ends, codes, nf):
    n = codes.shape[0]
    size = 0
    for j in range(starts.shape[0]):
        size += ends[j] - starts[j]
    for p in range(buf.shape[0]):  # one check of every byte, so the copies below need none
        if buf[p] == 1:
            # \x01 (a field holding it cannot travel this way) or a NUL inside a field: only
            # their own fields are checked byte by byte, in the slow loop of _checked.
            return _checked(buf, starts, ends, codes, nf, size)
    return _rows(buf, starts, ends, codes, nf, size), True


@njit(cache=True, nogil=True)
def _checked(buf, starts, ends, codes, nf, size):
    for j in range(starts.shape[0]):
        for p in range(starts[j], ends[j]):
            if buf[p] <= 1:
                return np.empty(0, np.uint8), False
    return _rows(buf, starts, ends, codes, nf, size), True


@njit(cache=True, nogil=True)
def _rows(buf, starts, ends, codes, nf, size):
    n = codes.shape[0]
    # Per row: nf fields and the code (<= 3 digits) joined by nf NULs, then NUL \x01 NUL before
    # the next row: at most nf + 6 bytes beside the fields (no bounds checks in here).
    out = np.empty(size + n * (nf + 6), np.uint8)
    k = 0
    for i in range(n):
        if i:
            out[k] = 1
            out[k + 1] = 0
            k += 2
        for f in range(nf):
            j = f * n + i
            for p in range(starts[j], ends[j]):  # ids are short: a byte loop beats a slice copy
                out[k] = buf[p]
                k += 1
            out[k] = 0
            k += 1
        c = codes[i]
        if c >= 100:
            out[k] = 48 + c // 100
            k += 1
        if c >= 10:
            out[k] = 48 + (c // 10) % 10
            k += 1
        out[k] = 48 + c % 10
        k += 1
        if i + 1 < n:
            out[k] = 0
            k += 1
    return out[:k]


def pack_rows(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, codes: np.ndarray,
              nf: int) -> bytes | None:
    """Rows ``f1 NUL f2 ... NUL fnf NUL code`` joined by :data:`ROW_MARK`, where field ``f`` of
    row ``i`` is ``buf[starts[f*n+i]:ends[f*n+i]]`` (n = ``len(codes)``) and ``code`` is the row's
    code (0-255) in decimal; None when some field holds a NUL or \\x01 byte.

    >>> buf = np.frombuffer(b"e1e2ra", np.uint8)
    >>> st, en = np.array([0, 2, 4, 4, 5, 5]), np.array([2, 4, 4, 5, 5, 6])
    >>> pack_rows(buf, st, en, np.array([105, 7], np.uint8), 3).split(ROW_MARK)
    [b'e1\\x00\\x00\\x00105', b'e2\\x00r\\x00a\\x007']
    >>> pack_rows(np.frombuffer(b"\\x01", np.uint8), np.array([0]), np.array([1]), np.zeros(1, np.uint8), 1) is None
    True
    """
    out, ok = _pack(buf, starts, ends, codes, nf)
    return out.tobytes() if ok else None
