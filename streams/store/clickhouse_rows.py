"""The columnar form of a batch of share events for an INSERT into clickhouse-server
(:meth:`streams.store.clickhouse.ClickHouseStore.write`).

Inserts are columnar: the rows travel as the second argument of ``execute`` (never inlined in
the SQL text; against 18.16 the driver hangs on inline VALUES). Share events go to the Null
table ``share_event_rows`` (sql/005_share_event_rows.sql), whose views fill share_events and
the minute counts: per event, its seven short strings and a code (kind, null bits) travel as
one NUL-joined value beside its text and ts_ms, and nothing is Nullable or Enum, so the driver
does no Python per value (:func:`event_rows_columns`). A batch that form cannot carry takes
the direct insert into share_events (:meth:`ClickHouseStore.insert_events_direct`).
"""
from __future__ import annotations

import operator
from itertools import repeat

import numpy as np

from graph.kernels_rows import ROW_MARK, pack_rows, pack_rows_encoded
from sql import queries
from streams.events import EventBatch

# share_event_rows' columns (sql/005_share_event_rows.sql), in event_rows_columns() order.
ROW_COLUMNS = queries.EVENT_ROW_COLUMNS
_FIELDS = ("event_id", "rumour_id", "account_id", "parent_event_id", "parent_account_id",
           "platform", "region")
# Null bit of each optional field in the code field (the kind is code // 32).
NULL_BITS = {"parent_event_id": 1, "parent_account_id": 2, "platform": 4, "region": 8, "text": 16}
# Where each of _FIELDS comes from when the batch carries the decoder's encoding of its ids
# (EventBatch.encoded: event id, account, parent event, parent account as columns 0-3):
# -1 - c is that encoding's column c, s >= 0 the s-th of the joined streams
# (rumour_id, platform, region).
_FROM_ENCODED = np.array([-1, 0, -2, -3, -4, 1, 2], np.int64)
_STREAMED = ("rumour_id", "platform", "region")


def _nulls(values: list) -> tuple[list, object, bool]:
    """``(values, where, patch)`` for a column where None is null: ``where`` indexes the Nones
    (positions, a boolean mask, or a slice for all), ``patch`` says ``values`` still holds them
    (a few: the caller writes '' there); otherwise every None in ``values`` is already ''.

    >>> _nulls(["a", "b"]), _nulls([None, None]), _nulls(["a"] * 15 + [None])[1:]
    ((['a', 'b'], [], False), (['', ''], slice(None, None, None), False), ([15], True))
    >>> v, where, patch = _nulls(["a", None, ""]); v, where.tolist(), patch
    (['a', '', ''], [False, True, False], False)
    """
    # Every pass over a column touches each str object (refcount, type), and that memory access
    # is what a pass costs here, so the common shapes take as few passes as possible. filter(None)
    # tests truth in C (cheap for a str; comparing a str with None goes through two __eq__
    # dispatches), list.index finds the few Nones of a mostly-filled column in one more pass.
    n = len(values)
    filled = len(list(filter(None, values)))
    if filled == n:
        return values, [], False
    if filled == 0 and values.count(None) == n:
        return [""] * n, slice(None), False
    if (n - filled) * 16 <= n:  # few empties: find the Nones among them
        positions, i = [], -1
        try:
            while True:
                i = values.index(None, i + 1)
                positions.append(i)
        except ValueError:
            pass
        return values, positions, bool(positions)
    # bytes() over operator.is_ is one C loop; numpy's own conversion of the list is slower.
    where = np.frombuffer(bytes(map(operator.is_, values, repeat(None))), bool)
    return ["" if v is None else v for v in values], where, False  # (20-22 ns a value)


def _null_where(values: list) -> tuple[list, object]:
    """``(values with '' for None, where)``: ``where`` indexes the Nones (positions, a boolean
    mask, or a slice for all) for the code's null bit.

    >>> _null_where(["a", "b"]), _null_where([None, None]), _null_where(["a"] * 15 + [None])[1]
    ((['a', 'b'], []), (['', ''], slice(None, None, None)), [15])
    >>> v, where = _null_where(["a", None, ""]); v, where.tolist()
    (['a', '', ''], [False, True, False])
    """
    values, where, patch = _nulls(values)
    if patch:  # a few Nones left in place: a copy with '' there (the caller's list stays as is)
        values = list(values)
        for p in where:
            values[p] = ""
    return values, where


def _joined_column(batch: EventBatch, name: str, codes: np.ndarray) -> np.ndarray:
    """Column ``name`` joined by NUL and UTF-8 encoded (a null as ''), its null bit set in
    ``codes``."""
    values = getattr(batch, name)
    if name in NULL_BITS:
        values, where = _null_where(values)
        codes[where] |= np.uint8(NULL_BITS[name])
    return np.frombuffer("\0".join(values).encode("utf-8"), np.uint8)


def _encoded_parent_nulls(batch: EventBatch):
    """``(parent event is null, parent account is null)`` as two boolean rows, read from the
    decoder's encoding of the batch's ids (``batch.encoded``), or None when the batch has none
    or it cannot be read that way. In that encoding a null and '' are both empty; the decoder
    turns a blank parent into None, and the counts check that every empty one is a None here."""
    enc = batch.encoded
    n = len(batch)
    if enc is None or len(enc[1]) != 4 * n:
        return None
    starts, ends = enc[1], enc[2]
    empty = (ends[2 * n:] == starts[2 * n:]).reshape(2, n)
    counts = np.count_nonzero(empty, axis=1).tolist()
    if counts != [batch.parent_event_id.count(None), batch.parent_account_id.count(None)]:
        return None
    return empty


def event_rows_columns(batch: EventBatch) -> list[list] | None:
    """``batch`` as the columns of share_event_rows (:data:`ROW_COLUMNS` order), or None when
    it cannot travel that way: a short field holds a NUL or a \\x01, a text a NUL, or a kind
    code is out of range (such a batch goes straight into share_events instead).

    Per event, ``fields`` is its seven short fields and a code (``kind * 32`` plus the
    :data:`NULL_BITS` of its nulls, a null being sent as '') joined by NUL. Each short column is
    joined by NUL and encoded (one C call each); a numba kernel (:func:`graph.kernels_rows.pack_rows`,
    GIL released) reads the seven columns as streams and interleaves them into rows
    ``f1 NUL ... NUL code`` joined by ``NUL \\x01 NUL`` marks, checking no field holds a NUL or
    a \\x01, and one split at the marks gives the rows. The texts are joined, encoded and split at
    NUL on their own. A few C calls per batch and two bytes objects per event, where the driver's
    value-by-value encode costs a Python-level call per value.

    >>> import numpy as np
    >>> b = EventBatch(["e1", "e2"], ["r", "r"], ["a", "b"], np.array([1347557095000, 1347557096000]),
    ...                [None, "e1"], ["pa", None], np.array([3, 1], np.uint8), ["", "w"],
    ...                [None, "CN-11"], ["é", None])
    >>> cols = event_rows_columns(b)
    >>> [f.split(bytes(1)) for f in cols[0]]
    [[b'e1', b'r', b'a', b'', b'pa', b'', b'', b'105'], [b'e2', b'r', b'b', b'e1', b'', b'w', b'CN-11', b'50']]
    >>> cols[1:]
    [[b'\\xc3\\xa9', b''], [1347557095000, 1347557096000]]
    >>> event_rows_columns(EventBatch(["e" + chr(1)], ["r"], ["a"], np.array([0]), [None], [None],
    ...                               np.array([1], np.uint8), [None], [None], [None])) is None
    True
    """
    n = len(batch)
    if not n or int(batch.kind.max()) > 3:  # (an empty batch is never written this way)
        return None
    codes = batch.kind.astype(np.uint8) * np.uint8(32)
    texts, where = _null_where(batch.text)
    codes[where] |= np.uint8(NULL_BITS["text"])
    joined_texts = "\0".join(texts)
    if joined_texts.count("\0") != n - 1:
        return None
    parents_empty = _encoded_parent_nulls(batch)
    if parents_empty is not None:
        # The ids as the decoder encoded them: no join, no encode, no None scan of those four
        # columns here (0.09 us per event of the store-write thread's GIL time).
        codes[parents_empty[0]] |= np.uint8(NULL_BITS["parent_event_id"])
        codes[parents_empty[1]] |= np.uint8(NULL_BITS["parent_account_id"])
        rows = pack_rows_encoded(tuple(_joined_column(batch, name, codes) for name in _STREAMED),
                                 batch.encoded, _FROM_ENCODED, codes)
    else:
        rows = pack_rows(tuple(_joined_column(batch, name, codes) for name in _FIELDS), codes)
    if rows is None:  # some short field holds a NUL or a \x01
        return None
    return [rows.split(ROW_MARK), joined_texts.encode("utf-8").split(b"\0"), batch.ts_ms.tolist()]
