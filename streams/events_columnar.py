"""Share-event format v1, columnar batch form: one JSON object that carries columns.

    {"v": 1, "columns": {"event_id": ["e1", "e2"], "rumour_id": ["r", "r"],
                         "account_id": ["a", "b"], "ts": [1347557095000, 1347557096000],
                         "parent_event_id": [null, "e1"], "kind": ["post", "share"]}}

- ``v`` must be ``1``. A JSON object with a ``columns`` member and no ``event_id`` member is a
  columnar batch (an event always has ``event_id``, so no single event is mistaken for one).
- ``columns`` maps a v1 field name to a JSON array; element ``i`` of every array is event ``i``.
  ``event_id`` must be an array (it fixes the event count, at least 1); every other array must
  have the same length. A column may instead be one JSON value (not an array), shared by every
  event: ``"rumour_id": "r"`` when the message carries one rumour. ``event_id``, ``rumour_id``,
  ``account_id`` and ``ts`` are required columns; any other may be omitted when all its values
  are null (``kind``: the default ``share``). Unknown columns are ignored (arrays among them must
  still have the event count).
- A message that breaks these rules is one dead letter with the reason. Inside a well-formed
  message every event is judged exactly as the same event sent as a JSON object: a bad event is
  its own dead letter (with source ``<message source>[i]``), the others go on.

Decoding checks whole columns at once (C-level ``map``/``set``/``max``, numpy on ``ts``; the four
id columns UTF-8 encoded once and judged on those bytes by numba, graph/ids_check.py, the encoding
then kept on the batch for the graphs), and the parsed lists become the
:class:`~streams.events.EventBatch` columns with no per-event objects;
only when some check fails are per-event dicts built and judged by ``validate_event``.
"""
from __future__ import annotations

import numpy as np
import orjson

from graph.ids_check import id_column_stats
from graph.ids_encode import encode_batch
from streams.events import (FUTURE_SLACK_MS, KIND_CODE, MAX_ID_CHARS, MAX_SHORT_CHARS,
                            MAX_TEXT_CHARS, MIN_TS_MS, EventBatch, EventError, parse_ts)

COLUMNAR_VERSION = 1
REQUIRED_COLUMNS = ("event_id", "rumour_id", "account_id", "ts")
_KIND = {**KIND_CODE, None: KIND_CODE["share"]}
_INT = {int}
_STR = {str}


def is_columnar(obj) -> bool:
    """Whether a parsed message is a columnar batch.

    >>> is_columnar({"v": 1, "columns": {}}), is_columnar({"event_id": "e", "columns": 3})
    (True, False)
    """
    return type(obj) is dict and "columns" in obj and "event_id" not in obj


def columns_of(obj: dict) -> tuple[dict, int]:
    """The columns and the event count of a columnar message, or :class:`EventError` naming what
    makes the whole message unusable.

    >>> columns_of({"v": 1, "columns": {"event_id": ["e"], "rumour_id": "r", "account_id": ["a"], "ts": [1]}})[1]
    1
    >>> columns_of({"v": 1, "columns": {"event_id": ["e"], "rumour_id": ["r"], "account_id": ["a"], "ts": []}})
    Traceback (most recent call last):
    ...
    streams.events.EventError: columnar batch: columns of unequal length (event_id 1, ts 0)
    """
    version = obj.get("v")
    if type(version) is not int or version != COLUMNAR_VERSION:
        raise EventError(f"columnar batch: \"v\" must be {COLUMNAR_VERSION}, got {str(version)[:40]!r}")
    columns = obj["columns"]
    if type(columns) is not dict:
        raise EventError("columnar batch: \"columns\" must be a JSON object, "
                         f"got {type(columns).__name__}")
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            raise EventError(f"columnar batch: required column {name!r} missing")
    ids = columns["event_id"]
    if type(ids) is not list:
        raise EventError(f"columnar batch: column 'event_id' must be an array (got {type(ids).__name__})")
    n = len(ids)
    for name, col in columns.items():
        if type(col) is list and len(col) != n:
            raise EventError(f"columnar batch: columns of unequal length (event_id {n}, "
                             f"{name[:64]} {len(col)})")
    if n == 0:
        raise EventError("empty batch: a columnar message with no events")
    return columns, n


def event_dicts(columns: dict, n: int):
    """Event ``i`` of each column as one dict (the slow path, for per-event dead letters)."""
    names = list(columns)
    cols = [c if type(c) is list else [c] * n for c in columns.values()]
    for i in range(n):
        yield {k: c[i] for k, c in zip(names, cols)}


def _same(col: list, n: int) -> bool:
    # One value repeated (rumour_id, platform, kind in a message of one rumour): check it once.
    return col[0] == col[-1] and col.count(col[0]) == n


def _id_ok(value) -> bool:
    # The tests of events._required_id: a string, not blank, at most MAX_ID_CHARS.
    return type(value) is str and bool(value.strip()) and len(value) <= MAX_ID_CHARS


def _ids(col, n: int):
    """The column as a list when every value is a valid required id, else None."""
    if type(col) is not list:
        return [col] * n if _id_ok(col) else None
    if _same(col, n):
        return col if _id_ok(col[0]) else None
    try:  # str.strip refuses a non-string (TypeError): one pass checks type and blankness
        ok = all(map(str.strip, col)) and max(map(len, col)) <= MAX_ID_CHARS
    except TypeError:
        return None
    return col if ok else None


def _opt_ok(value, limit: int) -> bool:
    return value is None or (type(value) is str and len(value) <= limit)


def _optional(columns: dict, name: str, n: int, limit: int, blank_is_null: bool):
    """The column as a list (all ``None`` when omitted; ``""`` -> ``None`` with
    ``blank_is_null``, as validate_event does), or ``False`` if some value is not acceptable."""
    col = columns.get(name)
    if type(col) is not list:
        if not _opt_ok(col, limit):
            return False
        return [(col or None) if blank_is_null else col] * n
    if _same(col, n):
        if not _opt_ok(col[0], limit):
            return False
        return [None] * n if blank_is_null and col[0] == "" else col
    # Judged on the distinct values (one C-level set pass; parents, regions and platforms
    # repeat a lot): a value that is unhashable (array, object) is not acceptable either.
    try:
        values = set(col)
    except TypeError:
        return False
    values.discard(None)
    if not set(map(type, values)) <= _STR:
        return False
    if max(map(len, values), default=0) > limit:
        return False
    if blank_is_null and "" in values:
        col = [x or None for x in col]
    return col


def _timestamps(col, n: int, now_ms: int):
    try:
        if type(col) is not list:
            ts = np.full(n, parse_ts(col), np.int64)
        elif set(map(type, col)) == _INT:
            ts = np.array(col, np.int64)
        else:  # RFC 3339 strings or integral floats: the exact per-event parser
            ts = np.fromiter(map(parse_ts, col), np.int64, n)
    except (EventError, OverflowError, ValueError, TypeError):
        return None
    if int(ts.min()) < MIN_TS_MS or int(ts.max()) > now_ms + FUTURE_SLACK_MS:
        return None
    return ts


def _kinds(col, n: int):
    try:
        if type(col) is not list:
            code = _KIND.get(col)
            return None if code is None else np.full(n, code, np.uint8)
        if _same(col, n):
            code = _KIND.get(col[0])
            return None if code is None else np.full(n, code, np.uint8)
        # bytes() from the codes is C-level and cheaper than np.fromiter per item.
        return np.frombuffer(bytes(map(_KIND.__getitem__, col)), np.uint8).copy()
    except (KeyError, TypeError):  # not a kind; an unhashable one (array, object)
        return None


def _listed(col, n: int) -> list:
    return col if type(col) is list else [col] * n


def _nonblank(col: list) -> bool:
    try:  # str.strip refuses a non-string (None in a required column): not acceptable either
        return all(map(str.strip, col))
    except TypeError:
        return False


def _checked_ids(columns: dict, n: int, encoded=None):
    """``(event ids, accounts, parent events, parent accounts, their encoding)`` when every
    value passes validate_event's id rules, else None. The four columns are UTF-8 encoded once
    (graph.ids.encode_batch: what the graphs take, kept on the batch) and judged on those bytes
    in one numba pass (graph/ids_check.py) instead of a Python call per value and rule."""
    eid, aid = columns["event_id"], _listed(columns["account_id"], n)
    pe, pa = _listed(columns.get("parent_event_id"), n), _listed(columns.get("parent_account_id"), n)
    if encoded is None:
        try:
            encoded = encode_batch(eid, aid, pe, pa)
        except TypeError:  # a value neither str nor (in a parent column) null
            return None
    too_long, blank, same_parent = id_column_stats(*encoded, 4, n, MAX_ID_CHARS, 0, 2)
    if too_long or same_parent:  # an event that is its own parent
        return None
    # A null required id encodes as empty, so it is counted here and refused by _nonblank.
    if (blank[0] and not _nonblank(eid)) or (blank[1] and not _nonblank(aid)):
        return None
    # A blank parent is null, as validate_event has it (both encode as empty: same bytes).
    if blank[2] and "" in pe:
        pe = [x or None for x in pe]
    if blank[3] and "" in pa:
        pa = [x or None for x in pa]
    return eid, aid, pe, pa, encoded


def fast_batch(columns: dict, n: int, now_ms: int, encoded=None) -> EventBatch | None:
    """Every event of the message as an :class:`EventBatch` when each one is valid (the batch
    ``validate_event`` would give event by event), else ``None``: the caller then judges the
    events one by one, so reasons are exactly those of the object form. ``encoded``, when the
    caller has it, is :func:`graph.ids_encode.encode_batch` of the four id columns (their
    values str or None), not computed again.

    >>> cols = {"event_id": ["e1", "e2"], "rumour_id": "r", "account_id": ["a", "b"],
    ...         "ts": [1347557095000, "2012-09-14T01:24:56+08:00"], "parent_event_id": [None, "e1"]}
    >>> b = fast_batch(cols, 2, 1_800_000_000_000)
    >>> b.rumour_id, b.ts_ms.tolist(), b.parent_event_id, b.kind.tolist()
    (['r', 'r'], [1347557095000, 1347557096000], [None, 'e1'], [1, 1])
    >>> fast_batch(dict(cols, parent_event_id=["e1", None]), 2, 1_800_000_000_000) is None
    True
    """
    rid = _ids(columns["rumour_id"], n)
    if rid is None:
        return None
    ts = _timestamps(columns["ts"], n, now_ms)
    if ts is None:
        return None
    ids = _checked_ids(columns, n, encoded)
    if ids is None:
        return None
    eid, aid, pe, pa, encoded = ids
    platform = _optional(columns, "platform", n, MAX_SHORT_CHARS, False)
    region = _optional(columns, "region", n, MAX_SHORT_CHARS, True)
    text = _optional(columns, "text", n, MAX_TEXT_CHARS, False)
    if platform is False or region is False or text is False:
        return None
    kind = _kinds(columns.get("kind"), n)
    if kind is None:
        return None
    batch = EventBatch(event_id=eid, rumour_id=rid, account_id=aid, ts_ms=ts,
                       parent_event_id=pe, parent_account_id=pa, kind=kind,
                       platform=platform, region=region, text=text)
    batch.encoded = encoded
    return batch


def encode_columns(events, omit_null: bool = True, fold_constants: bool = True) -> bytes:
    """One columnar message from v1 event dicts, columns in first-seen field order. With
    ``omit_null`` an optional column whose values are all null is left out; with
    ``fold_constants`` a column (not ``event_id``) whose values are all equal is sent as that one
    value.

    >>> encode_columns([{"event_id": "e", "rumour_id": "r", "account_id": "a", "ts": 1, "text": None}])
    b'{"v":1,"columns":{"event_id":["e"],"rumour_id":"r","account_id":"a","ts":1}}'
    """
    events = list(events)
    names = dict.fromkeys(k for ev in events for k in ev)
    names.update(dict.fromkeys(REQUIRED_COLUMNS))  # sent even when no event has it: each is refused
    columns = {}
    for name in names:
        col = [ev.get(name) for ev in events]
        if omit_null and name not in REQUIRED_COLUMNS and all(v is None for v in col):
            continue
        if fold_constants and name != "event_id" and col and _same(col, len(col)) \
                and type(col[0]) not in (list, dict):
            columns[name] = col[0]
        else:
            columns[name] = col
    return orjson.dumps({"v": COLUMNAR_VERSION, "columns": columns})
