"""A batch of id strings UTF-8 encoded in one go, for the id tables of :mod:`graph.ids`.

A batch of Python strings is encoded once (``"\\x00".join`` then one ``encode``) and split on
NUL bytes inside numba; strings that themselves contain NUL fall back to one encode each. The
result, ``(buf, starts, ends)``, is what every id lookup and append of ``graph`` takes: string
``i`` is ``buf[starts[i]:ends[i]]``.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def split_nul(buf, n):
    """Start and end offsets of the ``n`` NUL-separated strings in ``buf``, and whether ``buf``
    holds exactly ``n - 1`` NULs (else some string contains NUL itself: offsets unusable).

    >>> s, e, ok = split_nul(np.frombuffer(b"ab\\x00\\x00c", np.uint8), 3)
    >>> s.tolist(), e.tolist(), ok
    ([0, 3, 4], [2, 3, 5], True)
    """
    last = n - 1
    pos = np.empty(n, np.int64)  # pos[k]: the k-th NUL (pos[last] takes the overflow)
    k = 0
    for i in range(buf.shape[0]):
        # Branch-free: every byte writes pos[k] and a NUL moves k on, so separators at
        # unpredictable places cost no mispredicted branches (about 0.033 -> 0.027 ms per 1,000
        # shares, 4 ids each, measured alternately in one process).
        pos[k if k < last else last] = i
        k += buf[i] == 0
    starts = np.empty(n, np.int64)
    ends = np.empty(n, np.int64)
    if k != last:
        return starts, ends, False
    starts[0] = 0
    for j in range(last):
        ends[j] = pos[j]
        starts[j + 1] = pos[j] + 1
    ends[last] = buf.shape[0]
    return starts, ends, True


def _joined(strings) -> str:
    """The strings joined by NUL, ``None`` as empty; TypeError names a non-str id."""
    try:
        # Columns without None (the common case) pay for nothing but the join.
        return "\x00".join(strings)
    except TypeError:
        pass
    try:
        return "\x00".join(["" if s is None else s for s in strings])
    except TypeError:
        bad = next(s for s in strings if s is not None and not isinstance(s, str))
        raise TypeError(f"ids must be str or None, got {type(bad).__name__}") from None


def joined_utf8(columns) -> np.ndarray:
    """The Python half of :func:`encode_batch`: every string of the columns, NUL-separated, as
    one UTF-8 byte array (benchmarks/profile_update.py times it apart from the split).

    >>> bytes(joined_utf8([["a", None], ["é"]]))
    b'a\\x00\\x00\\xc3\\xa9'
    """
    raw = "\x00".join([_joined(c) for c in columns if len(c)]).encode("utf-8", "surrogatepass")
    return np.frombuffer(raw, np.uint8)


def encode_batch(*columns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UTF-8 bytes of lists of str (``None`` -> empty) as (buf, starts, ends); with several
    columns of equal length n, string ``i`` of column ``c`` is entry ``c * n + i``.

    Why several at once: one encode and one split for all the columns of a batch (a 1,000-share
    update spends a good part of its time here).

    >>> buf, s, e = encode_batch(["ab", None, "é"])
    >>> [bytes(buf[a:b]) for a, b in zip(s, e)]
    [b'ab', b'', b'\\xc3\\xa9']
    >>> buf, s, e = encode_batch(["x", "y"], [None, "z"])
    >>> [bytes(buf[a:b]) for a, b in zip(s, e)]
    [b'x', b'y', b'', b'z']
    """
    n = sum(len(c) for c in columns)
    if n == 0:
        z = np.zeros(0, np.int64)
        return np.zeros(0, np.uint8), z, z
    buf = joined_utf8(columns)
    starts, ends, ok = split_nul(buf, n)
    if ok:
        return buf, starts, ends
    # Some id contains NUL itself: encode one by one (rare, slower).
    parts = [b"" if s is None else s.encode("utf-8", "surrogatepass") for c in columns for s in c]
    lens = np.fromiter((len(p) for p in parts), np.int64, n)
    ends = np.cumsum(lens)
    return np.frombuffer(b"".join(parts), np.uint8), ends - lens, ends


def concat_encoded(parts, columns: int):
    """The :func:`encode_batch` layout of batches put end to end: ``parts`` are (buf, starts,
    ends) of ``columns`` columns each, the result what encode_batch of each column's rows
    concatenated would give (same bytes, offsets shifted), without encoding anything again.

    >>> a, b = encode_batch(["x"], ["u"]), encode_batch(["yy", "z"], [None, "é"])
    >>> buf, s, e = concat_encoded([a, b], 2)
    >>> [bytes(buf[i:j]) for i, j in zip(s, e)]
    [b'x', b'yy', b'z', b'u', b'', b'\\xc3\\xa9']
    """
    offset, starts, ends = 0, [], []
    for buf, st, en in parts:
        starts.append(np.asarray(st, np.int64).reshape(columns, -1) + offset)
        ends.append(np.asarray(en, np.int64).reshape(columns, -1) + offset)
        offset += len(buf)
    return (np.concatenate([p[0] for p in parts]), np.concatenate(starts, axis=1).ravel(),
            np.concatenate(ends, axis=1).ravel())
