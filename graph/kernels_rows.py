"""Numba kernel that packs a batch's short string fields into one row buffer (the ClickHouse
writer's ``share_event_rows.fields``, sql/005_share_event_rows.sql).

Why a kernel: joining ~9 Python strings per event, then counting and splitting the joined text,
held the GIL for about 0.57 us per event in the worker's store-write thread; here each column
is joined and encoded by one C call and the kernel interleaves the columns into rows with the
GIL released (0.37-0.41 us/event left under the GIL, benchmarks/RESULTS.md "Session 7"), so the
pipeline thread can prepare the next batch meanwhile. Each column is read as one stream: an
offsets array per field (split_nul's) cost more memory traffic than the copy itself. The four id
columns are read in place from the decoder's encoding of them when the batch has one
(:func:`pack_rows_encoded`): no join and encode of those under the GIL at all.
"""
from __future__ import annotations

import numpy as np
from numba import njit

ROW_MARK = b"\x00\x01\x00"  # between two rows: no field holds \x01, so it marks rows only
_NO_BYTES = np.zeros(0, np.uint8)  # pack_rows: every field from a stream, no encoding read
_NO_OFFSETS = np.zeros(0, np.int64)


@njit(cache=True, nogil=True)
def _pack(streams, buf, starts, ends, source, codes):
    # Field f of row i is read from stream source[f] (>= 0: one column's fields joined by NUL,
    # read as one stream up to each NUL; offsets arrays per field cost more memory traffic than
    # the copy itself at 50,000 events) or, for source[f] = -1 - c, entry c * n + i of (buf,
    # starts, ends): the decoder's encoding of the batch's ids, read in place.
    n = codes.shape[0]
    nf = source.shape[0]
    size = 0
    for col in streams:
        size += col.shape[0]
    for f in range(nf):
        c = source[f]
        if c < 0:
            c = -1 - c
            for i in range(n):
                size += ends[c * n + i] - starts[c * n + i]
    out = np.empty(size + nf * n + n * 6, np.uint8)
    cursors = np.zeros(len(streams), np.int64)
    k = 0
    for i in range(n):
        if i:
            out[k] = 1
            out[k + 1] = 0
            k += 2
        for f in range(nf):
            c = source[f]
            if c >= 0:
                col = streams[c]
                p = cursors[c]
                end = col.shape[0]
                while p < end:
                    b = col[p]
                    if b == 0:
                        break
                    if b == 1:
                        return out[:0], False
                    out[k] = b
                    k += 1
                    p += 1
                cursors[c] = p + 1
            else:
                j = (-1 - c) * n + i
                for p in range(starts[j], ends[j]):
                    b = buf[p]
                    if b <= 1:  # a NUL or a \x01 inside an id: it cannot travel this way
                        return out[:0], False
                    out[k] = b
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
    for c in range(len(streams)):
        if cursors[c] != streams[c].shape[0] + 1:
            return out[:0], False
    return out[:k], True


def pack_rows_encoded(streams: tuple, encoded, source, codes: np.ndarray) -> bytes | None:
    """:func:`pack_rows` with some fields read from an encoding of id columns instead of a
    joined stream: ``encoded`` is ``(buf, starts, ends)`` (graph.ids_encode.encode_batch's
    layout: entry ``c * n + i`` is string ``i`` of column ``c``), and ``source[f]`` says where
    field ``f`` comes from: ``s >= 0`` is ``streams[s]``, ``-1 - c`` is encoded column ``c``.
    Why: the decoder already encoded the four id columns (EventBatch.encoded), so the store
    need not join and encode them again under the GIL.

    >>> from graph.ids_encode import encode_batch
    >>> enc = encode_batch(["e1", "e2"], [None, "p"])
    >>> rows = pack_rows_encoded((np.frombuffer(b"r\\x00r", np.uint8),), enc,
    ...                          np.array([-1, 0, -2]), np.array([1, 32], np.uint8))
    >>> rows.split(ROW_MARK)
    [b'e1\\x00r\\x00\\x001', b'e2\\x00r\\x00p\\x0032']
    >>> pack_rows_encoded((np.frombuffer(b"r", np.uint8),), encode_batch(["a\\x01"]), np.array([-1, 0]),
    ...                   np.zeros(1, np.uint8)) is None
    True
    """
    buf, starts, ends = encoded
    out, ok = _pack(tuple(streams), buf, np.asarray(starts, np.int64),
                    np.asarray(ends, np.int64), np.asarray(source, np.int64), codes)
    return out.tobytes() if ok else None


def pack_rows(columns: tuple, codes: np.ndarray) -> bytes | None:
    """Rows ``f1 NUL f2 ... NUL fk NUL code`` joined by :data:`ROW_MARK`, where ``columns`` are
    k uint8 arrays, each the UTF-8 bytes of one column's n fields joined by NUL (n =
    ``len(codes)``), and ``code`` is the row's code (0-255) in decimal; None when some field holds
    a NUL or a \x01 byte.

    >>> col = lambda b: np.frombuffer(b, np.uint8)
    >>> pack_rows((col(b"e1\\x00e2"), col(b"\\x00r")), np.array([105, 7], np.uint8)).split(ROW_MARK)
    [b'e1\\x00\\x00105', b'e2\\x00r\\x007']
    >>> pack_rows((col(b"a\\x00b\\x00c"),), np.zeros(2, np.uint8)) is None   # 3 fields for 2 rows
    True
    >>> pack_rows((col(b"a\\x01\\x00b"),), np.zeros(2, np.uint8)) is None
    True
    """
    out, ok = _pack(tuple(columns), _NO_BYTES, _NO_OFFSETS, _NO_OFFSETS,
                    np.arange(len(columns), dtype=np.int64), codes)
    return out.tobytes() if ok else None
