"""Batched messages read into columns straight from their bytes (issue 5: ingest CPU per event).

A JSON array of events went through ``orjson.loads`` (a dict per event, ~1.1 us) and then a
``map(dict.get)`` per field (~0.4 us): ~1.7 us of the worker's CPU per event before any check.
Here one numba pass (streams/json_scan_kernels.py) finds where each value is, a second copies
each string column's bytes NUL-joined into one buffer, and one ``decode`` + ``split`` per message
gives every column's list of str (C-level, ~25 ns a value): no Python object per event.

Exactness: the scanner reads only what it reads exactly as orjson does (flat objects of the v1
fields; strings, with the JSON escapes decoded as orjson decodes them, not ``\\u0000`` or lone
surrogates; integers of up to 18 digits; null) and returns ``None`` for
anything else, and the message takes orjson's path unchanged (tests/test_json_columns.py compares
the two on many messages and on random mutations of them).
"""
from __future__ import annotations

import numpy as np

from streams import json_scan_kernels as k

FIELDS = ("event_id", "rumour_id", "account_id", "ts", "parent_event_id", "parent_account_id",
          "kind", "platform", "region", "text")


def _names(names) -> tuple[np.ndarray, np.ndarray]:
    raw = [n.encode() for n in names]
    offs = np.cumsum([0] + [len(r) for r in raw]).astype(np.int64)
    return np.frombuffer(b"".join(raw), np.uint8), offs


_NAMES, _OFFS = _names(FIELDS)


_NULL_OF_EMPTY = {"": None}


def _column(out, lo: int, hi: int, size: int, ns: int, ni: int, ne: int, state, ints, slot: int):
    """One column's list of ``size`` values, or None when a string is not valid UTF-8."""
    if ns:
        try:
            col = str(out[lo:hi], "utf-8").split("\0")
        except UnicodeDecodeError:  # orjson refuses it too: its path names the byte
            return None
        if ns == size:
            return col
        if not ni and not ne:  # strings and nulls (parents, regions): "" is a null here
            return list(map(_NULL_OF_EMPTY.get, col, col))
    elif ni == size:
        return ints[slot:slot + size].tolist()
    else:
        col = [None] * size
        if not ni:
            return col
    st = state[slot:slot + size]
    for i in np.flatnonzero(st != k.STRING).tolist():  # the rare mixed column
        col[i] = int(ints[slot + i]) if st[i] == k.INT else None
    return col


def array_columns(raw: bytes):
    """A JSON array of flat event objects as ``(columns, n)``: every v1 field's list, the value
    ``dict.get`` gives per event (``None`` when absent), exactly what ``orjson.loads`` and
    ``map(dict.get, ...)`` give; ``None`` when the message is not of a shape read here exactly.

    >>> array_columns(b'[{"event_id": "e1", "ts": 5}, {"event_id": "\\xc3\\xa9", "ts": null, "text": "t"}]')[0]["event_id"]
    ['e1', 'é']
    >>> cols, n = array_columns(b'[{"event_id": "e1", "ts": 5}, {"event_id": "e2", "ts": null}]')
    >>> n, cols["ts"], cols["text"]
    (2, [5, None], [None, None])
    >>> array_columns(b'[{"text": "a\\\\u00e9\\\\n"}]')[0]["text"]  # escapes decoded as orjson does
    ['aé\\n']
    >>> array_columns(b'[{"event_id": "\\\\u0000"}]') is None, array_columns(b'[]') is None
    (True, True)
    """
    buf = np.frombuffer(raw, np.uint8)
    n, state, ints, stride, out, lo, hi, nstr, nint, nempty = k.scan_array(buf, _NAMES, _OFFS)
    if n <= 0:
        return None
    out = memoryview(out)
    columns = {}
    for f, name in enumerate(FIELDS):
        col = _column(out, lo[f], hi[f], n, nstr[f], nint[f], nempty[f], state, ints, f * stride)
        if col is None:
            return None
        columns[name] = col
    return columns, n

