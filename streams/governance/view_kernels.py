"""The numba kernels of the batch view (:mod:`streams.governance.batchview`): a string column's
distinct values and each row's code among them (:func:`column_codes`), and the 64-bit hash of
each id (:func:`hashes_of`), both read from the column's UTF-8 bytes
(:func:`graph.ids_encode.encode_batch`, or the encoding the decoder left on a columnar batch),
so no Python call runs per row.

Why (issue 5, session 21): the observers' Python-level passes over string columns (a dict
lookup per row for each of the rumour and region columns, ``hash()`` per event id for the alert
router's counted ids) were about 0.3 us of the hub's 1.0 us per event; hashing and probing the
bytes in numba costs about a tenth of that. Codes are exact: a row joins a code only when its
bytes equal that code's first row's (a hash only chooses where to look).
"""
from __future__ import annotations

import numba
import numpy as np

from graph.ids_encode import encode_batch
from graph.ids_slots import id_hash
from graph.kernels_ingest import _same_bytes as _same  # the ids' bytes compared, as ingest does

EMPTY_HASH = -1  # IdHashes' free slot (streams.governance.alert_kernels.EMPTY): never a hash


@numba.njit(cache=True)
def hash_slot(table, h):  # pragma: no cover - compiled
    """The slot of hash ``h`` in the linear-probing ``table`` (a power-of-two size, free slots
    :data:`EMPTY_HASH`): where it is, or the free slot where it goes. The one probe loop of the
    governance tables (post_index, alert_kernels.IdHashes).

    >>> t = np.full(4, EMPTY_HASH, np.int64); t[1] = 5
    >>> hash_slot(t, 5), hash_slot(t, 9)
    (1, 2)
    """
    mask = len(table) - 1
    i = h & mask
    while table[i] != EMPTY_HASH and table[i] != h:
        i = (i + 1) & mask
    return i


@numba.njit(cache=True)
def _factorize(buf, starts, ends):  # pragma: no cover - compiled
    """Per row its code (int32, first appearance order) and per code its first row. A row equal
    to the one before (a rumour's run) takes its code without a probe."""
    n = len(starts)
    codes = np.empty(n, np.int32)
    firsts = np.empty(max(n, 1), np.int64)
    hashes = np.empty(max(n, 1), np.uint64)
    size = 64
    table = np.full(size, -1, np.int32)
    count = 0
    last = np.uint64(0)
    for i in range(n):
        s, e = starts[i], ends[i]
        h = id_hash(buf, s, e)
        if i > 0 and h == last and _same(buf, s, e, starts[i - 1], ends[i - 1]):
            codes[i] = codes[i - 1]
            continue
        last = h
        mask = size - 1
        slot = np.int64(h & np.uint64(mask))
        while True:
            c = table[slot]
            if c == -1:
                c = count
                count += 1
                firsts[c], hashes[c] = i, h
                table[slot] = c
                if 2 * count > size:  # load <= 1/2: grow and place every code again
                    size *= 4
                    mask = size - 1
                    table = np.full(size, -1, np.int32)
                    for k in range(count):
                        t = np.int64(hashes[k] & np.uint64(mask))
                        while table[t] != -1:
                            t = (t + 1) & mask
                        table[t] = k
                break
            if hashes[c] == h and _same(buf, s, e, starts[firsts[c]], ends[firsts[c]]):
                break
            slot = (slot + 1) & mask
        codes[i] = c
    return codes, firsts[:count]


@numba.njit(cache=True)
def _hashes(buf, starts, ends):  # pragma: no cover - compiled
    out = np.empty(len(starts), np.int64)
    for i in range(len(starts)):
        h = np.int64(id_hash(buf, starts[i], ends[i]))
        out[i] = h if h != EMPTY_HASH else EMPTY_HASH - 1
    return out


def column_codes(column: list) -> tuple[list, np.ndarray]:
    """The distinct values of a string column in order of first appearance, and each row's
    index among them (int32). ``None`` and ``""`` are one value (no id, no region: the
    observers treat both alike), given as whichever came first.

    >>> distinct, codes = column_codes(["b", None, "b", "a", "", "é"])
    >>> distinct, codes.tolist()
    (['b', None, 'a', 'é'], [0, 1, 0, 2, 1, 3])
    >>> column_codes([])[0], column_codes([])[1].tolist()
    ([], [])
    """
    buf, starts, ends = encode_batch(column)
    codes, firsts = _factorize(buf, starts, ends)
    return [column[i] for i in firsts.tolist()], codes


def hashes_of(buf, starts, ends) -> np.ndarray:
    """The 64-bit hash (:func:`graph.ids_slots.id_hash`, never -1) of each string
    ``buf[starts[i]:ends[i]]`` (an :func:`~graph.ids_encode.encode_batch` layout). Deterministic
    across processes, unlike ``hash()``.

    >>> from graph.ids_encode import encode_batch
    >>> h = hashes_of(*encode_batch(["x", "y", "x"]))
    >>> bool(h[0] == h[2] != h[1]), (hashes_of(*encode_batch(["y"])) == h[1:2]).tolist()
    (True, [True])
    """
    return _hashes(buf, starts, ends)
