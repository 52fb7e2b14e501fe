"""Checks of encoded id columns in one numba pass: length in characters, possibly blank
strings and rows whose two ids are the same, read from the UTF-8 bytes of
:func:`graph.ids_encode.encode_batch` instead of one Python call per value.

The answers are exact where they say "fine" and cautious otherwise: a string counts as possibly
blank when it has no byte but ASCII whitespace and non-ASCII bytes (``str.strip`` also strips
non-ASCII whitespace, which only Python can tell), so the caller re-checks such a column in
Python.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _ascii_space(b):
    # The ASCII characters str.isspace accepts: \t \n \v \f \r, \x1c-\x1f and space.
    return (9 <= b <= 13) or (28 <= b <= 32)


@njit(cache=True, nogil=True)
def _chars(buf, s, e):
    count = 0
    for t in range(s, e):
        count += (buf[t] & 0xC0) != 0x80  # a UTF-8 continuation byte is no new character
    return count


@njit(cache=True, nogil=True)
def id_column_stats(buf, st, en, n_cols, n, limit, same_a, same_b):
    """Whether some string of the ``n_cols`` columns of ``n`` strings (string ``c * n + i`` of
    column ``c``) has more than ``limit`` characters; per column, how many strings may be blank
    (empty, or only ASCII whitespace and non-ASCII bytes); and whether some row ``i`` has the
    same non-empty string in columns ``same_a`` and ``same_b`` (UTF-8 is one-to-one, so equal
    bytes are equal ids).

    >>> from graph.ids_encode import encode_batch
    >>> buf, st, en = encode_batch(["e1", " ", "é"], ["e0", None, "é"])
    >>> too_long, blank, same = id_column_stats(buf, st, en, 2, 3, 1, 0, 1)
    >>> too_long, blank.tolist(), same
    (True, [2, 2], True)
    >>> id_column_stats(buf, st, en, 2, 3, 2, 0, 1)[0]  # "é" is 2 bytes but 1 character
    False
    """
    too_long = False
    blank = np.zeros(n_cols, np.int64)
    for c in range(n_cols):
        for k in range(c * n, (c + 1) * n):
            s, e = st[k], en[k]
            # Characters are counted only when the bytes exceed the limit (never fewer bytes).
            if e - s > limit and _chars(buf, s, e) > limit:
                too_long = True
            maybe_blank = True
            for t in range(s, e):  # usually stops at the first byte
                b = buf[t]
                if b < 0x80 and not _ascii_space(b):
                    maybe_blank = False
                    break
            blank[c] += maybe_blank
    same = False
    a0, b0 = same_a * n, same_b * n
    for i in range(n):
        s, e = st[a0 + i], en[a0 + i]
        s2, e2 = st[b0 + i], en[b0 + i]
        if e > s and e - s == e2 - s2:
            equal = True
            for t in range(e - s):
                if buf[s + t] != buf[s2 + t]:
                    equal = False
                    break
            if equal:
                same = True
                break
    return too_long, blank, same
