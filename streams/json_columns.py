"""Batched messages read into columns straight from their bytes (issue 5: ingest CPU per event).

A JSON array of events went through ``orjson.loads`` (a dict per event, ~1.1 us) and then a
``map(dict.get)`` per field (~0.4 us): ~1.7 us of the worker's CPU per event before any check.
Here one numba pass (streams/json_scan_kernels.py) finds where each value is, a second copies
each string column's bytes NUL-joined into one buffer, and one ``decode`` + ``split`` per message
gives every column's list of str (C-level, ~25 ns a value): no Python object per event.

The decoder takes :func:`array_batch_columns`: a column whose strings all repeat one (a message
of one rumour: its rumour_id, its platform) comes as that string, as the columnar form sends it,
and the id columns' UTF-8 encoding the graphs and the store read is cut from the scan's own
bytes instead of being joined and encoded again from the lists (the bench's arrays: decode
0.83 -> 0.64-0.72 us per event, session 23).

Exactness: the scanner reads only what it reads exactly as orjson does (flat objects of the v1
fields; strings, with the JSON escapes decoded as orjson decodes them, not ``\\u0000`` or lone
surrogates; integers of up to 18 digits; null) and returns ``None`` for
anything else, and the message takes orjson's path unchanged (tests/test_json_columns.py compares
the two on many messages and on random mutations of them).
"""
from __future__ import annotations

import numpy as np

from graph.ids_encode import split_nul
from streams import json_scan_kernels as k

FIELDS = ("event_id", "rumour_id", "account_id", "ts", "parent_event_id", "parent_account_id",
          "kind", "platform", "region", "text")


def _names(names) -> tuple[np.ndarray, np.ndarray]:
    raw = [n.encode() for n in names]
    offs = np.cumsum([0] + [len(r) for r in raw]).astype(np.int64)
    return np.frombuffer(b"".join(raw), np.uint8), offs


_NAMES, _OFFS = _names(FIELDS)
_NUL = np.zeros(1, np.uint8)


ID_FIELDS = (0, 2, 4, 5)  # event_id, account_id, parent_event_id, parent_account_id


def _column(out, lo: int, hi: int, size: int, ns: int, ni: int, state, ints, slot: int):
    """One column's list of ``size`` values, or None when a string is not valid UTF-8."""
    if ns:
        try:
            col = str(out[lo:hi], "utf-8").split("\0")
        except UnicodeDecodeError:  # orjson refuses it too: its path names the byte
            return None
        if ns == size:
            return col
    elif ni == size:
        return ints[slot:slot + size].tolist()
    else:
        col = [None] * size
        if not ni:
            return col
    # The slots that are not strings (a region's nulls, a post's parents; rarely an integer):
    # "" in the split stands for them, and an empty string stays "".
    st = state[slot:slot + size]
    for i in np.flatnonzero(st != k.STRING).tolist():
        col[i] = int(ints[slot + i]) if st[i] == k.INT else None
    return col


def _scan(raw: bytes):
    buf = np.frombuffer(raw, np.uint8)
    return k.scan_array(buf, _NAMES, _OFFS)


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
    n, state, ints, stride, out, lo, hi, nstr, nint, _, _ = _scan(raw)
    if n <= 0:
        return None
    out = memoryview(out)
    columns = {}
    for f, name in enumerate(FIELDS):
        col = _column(out, lo[f], hi[f], n, nstr[f], nint[f], state, ints, f * stride)
        if col is None:
            return None
        columns[name] = col
    return columns, n


def array_batch_columns(raw: bytes):
    """:func:`array_columns` in the shape :func:`streams.events_columnar.fast_batch` takes
    fastest: ``(columns, n, encoded)``, where a column (not ``event_id`` or ``ts``) whose values
    are all the same string is that one string, a column with no string or integer is ``None``,
    and ``encoded`` is the four id columns' :func:`graph.ids_encode.encode_batch` layout cut
    from the scan's bytes (``None`` when an id column holds an integer: encode_batch refuses
    it, and so must the batch). ``None`` when :func:`array_columns` would be.

    >>> cols, n, enc = array_batch_columns(b'[{"event_id": "e1", "rumour_id": "r", "parent_event_id": null},'
    ...                                    b' {"event_id": "e2", "rumour_id": "r", "parent_event_id": "e1"}]')
    >>> n, cols["event_id"], cols["rumour_id"], cols["parent_event_id"], cols["text"]
    (2, ['e1', 'e2'], 'r', [None, 'e1'], None)
    >>> buf, starts, ends = enc
    >>> [bytes(buf[a:b]) for a, b in zip(starts, ends)]
    [b'e1', b'e2', b'', b'', b'', b'e1', b'', b'']
    """
    n, state, ints, stride, out, lo, hi, nstr, nint, _, same = _scan(raw)
    if n <= 0:
        return None
    view = memoryview(out)
    columns = {}
    for f, name in enumerate(FIELDS):
        ns, ni = nstr[f], nint[f]
        if not ns and not ni:
            columns[name] = None  # absent or null everywhere: what dict.get gives
            continue
        if ns == n and same[f] >= 0 and f:  # one string repeated (not event_id: it is the count)
            try:
                columns[name] = str(view[lo[f]:lo[f] + same[f]], "utf-8")
            except UnicodeDecodeError:
                return None
            continue
        col = _column(view, lo[f], hi[f], n, ns, ni, state, ints, f * stride)
        if col is None:
            return None
        columns[name] = col
    if nint[list(ID_FIELDS)].any():
        return columns, n, None
    return columns, n, _encoded(out, lo, hi, n)


def _encoded(out, lo, hi, n: int):
    """encode_batch's ``(buf, starts, ends)`` of the four id columns: their NUL-joined regions
    (a null or absent id is empty in both) put end to end with a NUL between."""
    parts = []
    for f in ID_FIELDS:
        parts.append(out[lo[f]:hi[f]])
        parts.append(_NUL)
    buf = np.concatenate(parts[:-1])
    starts, ends, ok = split_nul(buf, 4 * n)
    return (buf, starts, ends) if ok else None

