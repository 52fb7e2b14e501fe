"""The columns every governance observer reads of an :class:`~streams.events.EventBatch`,
computed once per batch (:class:`BatchView`, shared by the hub), and the column helpers the
observers use: rows grouped per key by codes, items of a list column picked at row positions.

String columns are factorized and event ids hashed from their UTF-8 bytes in numba
(:mod:`streams.governance.view_kernels`; the bytes the decoder encoded, when the batch has
them), not by a Python call per row.
"""
from __future__ import annotations

from collections import defaultdict
from itertools import count
from operator import itemgetter
from typing import NamedTuple

import numpy as np

from streams.events import KIND_CODE, EventBatch
from graph.ids_encode import encode_batch
from streams.governance.view_kernels import column_codes, hashes_of

DEBUNK = KIND_CODE["debunk"]
SHARE = KIND_CODE["share"]


class BatchView(NamedTuple):
    """What every governance observer reads of a batch, computed once per batch."""

    groups: list  # (rumour_id, ascending row positions), rumours in order of first appearance
    regions: list  # the distinct values of the region column, in order of first appearance
    region: np.ndarray  # int32 per row: its index in ``regions``
    debunk: np.ndarray  # bool per row
    ts: np.ndarray  # int64 per row
    ids: "IdBytes"  # the UTF-8 bytes of the event, account and parent account ids
    event_hash: np.ndarray  # int64 per row: view_kernels.hashes_of its event id


class IdBytes(NamedTuple):
    """The UTF-8 bytes of a batch's id columns (:func:`graph.ids_encode.encode_batch`): row
    ``i``'s event id is ``buf[event_starts[i]:event_ends[i]]``, and so on; a null is empty."""

    buf: np.ndarray
    event_starts: np.ndarray
    event_ends: np.ndarray
    account_starts: np.ndarray
    account_ends: np.ndarray
    parent_starts: np.ndarray  # of parent_account_id
    parent_ends: np.ndarray


def id_bytes(batch) -> IdBytes:
    """The :class:`IdBytes` of a batch: slices of the encoding the decoder left on it (a
    columnar message's ids: event, account, parent event, parent account), else encoded now.

    >>> b = EventBatch(event_id=["e1", "e2"], account_id=["a", "b"], parent_account_id=[None, "a"])
    >>> ids = id_bytes(b)
    >>> [bytes(ids.buf[s:e]) for s, e in zip(ids.parent_starts, ids.parent_ends)]
    [b'', b'a']
    """
    n = len(batch.event_id)
    encoded = getattr(batch, "encoded", None)
    if encoded is not None and len(encoded[1]) == 4 * n:
        buf, st, en = encoded
        cols = (0, 1, 3)
    else:
        parents = batch.parent_account_id if len(batch.parent_account_id) == n else [None] * n
        buf, st, en = encode_batch(batch.event_id, batch.account_id, parents)
        cols = (0, 1, 2)
    out = [buf]
    for c in cols:
        out += [st[c * n:(c + 1) * n], en[c * n:(c + 1) * n]]
    return IdBytes(*out)


def batch_view(batch) -> BatchView:
    """The :class:`BatchView` of an :class:`~streams.events.EventBatch`.

    >>> from streams.events import EventBatch
    >>> v = batch_view(EventBatch(rumour_id=["r", "s", "r"], region=["370102", None, "370102"],
    ...                           ts_ms=np.array([3, 1, 2]), kind=np.array([1, 3, 1], np.uint8)))
    >>> [(r, rows.tolist()) for r, rows in v.groups], v.regions, v.region.tolist(), v.debunk.tolist()
    ([('r', [0, 2]), ('s', [1])], ['370102', None], [0, 1, 0], [False, True, False])
    """
    regions, region = codes_of(batch.region)
    ids = id_bytes(batch)
    return BatchView(group_rows(batch.rumour_id), regions, region,
                     np.asarray(batch.kind) == DEBUNK, np.asarray(batch.ts_ms, np.int64), ids,
                     hashes_of(ids.buf, ids.event_starts, ids.event_ends))


def batch_of_rows(rows, extra: tuple = ()) -> EventBatch:
    """An :class:`~streams.events.EventBatch` of event dicts (``ts`` in epoch ms), with the
    columns the observers read: ids, ``ts``, ``kind`` (debunk or not), ``region`` and ``extra``."""
    rows = list(rows)
    batch = EventBatch(
        event_id=[r["event_id"] for r in rows], rumour_id=[r["rumour_id"] for r in rows],
        ts_ms=np.array([int(r["ts"]) for r in rows], np.int64), region=[r.get("region") for r in rows],
        kind=np.array([DEBUNK if r.get("kind") == "debunk" else SHARE for r in rows], np.uint8))
    for name in extra:
        setattr(batch, name, [r.get(name) for r in rows])
    return batch


def group_rows(keys) -> list[tuple]:
    """``(key, rows)`` per distinct key of a column, in order of first appearance; ``rows``
    (int64, ascending) are the positions holding it. Codes from the column's bytes (numba), then numpy: runs
    of one key (a rumour's Kafka messages) are cut at their bounds, scattered keys grouped by a
    stable argsort.

    >>> [(k, r.tolist()) for k, r in group_rows(["b", "a", "b"])]
    [('b', [0, 2]), ('a', [1])]
    >>> [(k, r.tolist()) for k, r in group_rows(["x"] * 40 + ["y"] * 30 + ["x"] * 2)][0][1][-3:]
    [39, 70, 71]
    """
    n = len(keys)
    try:  # a column of str (the rumour ids): codes from its bytes, in numba
        distinct, codes = column_codes(keys)
    except TypeError:
        distinct, codes = codes_of(keys)
    if len(distinct) <= 1:
        return [(distinct[0], np.arange(n))] if n else []
    starts = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    if len(starts) * 8 < n:
        runs: list[list] = [[] for _ in distinct]
        bounds = [0] + starts.tolist() + [n]
        for a, b in zip(bounds[:-1], bounds[1:]):
            runs[codes[a]].append(np.arange(a, b))
        return [(key, parts[0] if len(parts) == 1 else np.concatenate(parts)) for key, parts in zip(distinct, runs)]
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(distinct)))[:-1]
    return list(zip(distinct, np.split(order, bounds)))


def codes_of(column) -> tuple[list, np.ndarray]:
    """The distinct values of a column in order of first appearance, and each row's index
    among them (int32), in one pass: a missing key gets the next code. (For the region
    column this is cheaper than :func:`~streams.governance.view_kernels.column_codes`: its
    nulls would have to be replaced before the column is encoded.)

    >>> distinct, codes = codes_of(["b", None, "b", "a"])
    >>> distinct, codes.tolist()
    (['b', None, 'a'], [0, 1, 0, 2])
    """
    index = defaultdict(count().__next__)
    codes = np.fromiter(map(index.__getitem__, column), np.int32, len(column))
    return list(index), codes


def pick(column: list, rows: np.ndarray) -> list:
    """``column``'s items at ``rows`` (ascending positions): a slice when they are contiguous.

    >>> pick(["a", "b", "c", "d"], np.array([1, 2])), pick(["a", "b", "c"], np.array([0, 2]))
    (['b', 'c'], ['a', 'c'])
    >>> pick(list(range(40)), np.r_[0:16, 20:40]) == list(range(16)) + list(range(20, 40))
    True
    """
    if not len(rows):
        return []
    lo, hi = int(rows[0]), int(rows[-1]) + 1
    if hi - lo == len(rows):
        return column[lo:hi]
    breaks = np.flatnonzero(np.diff(rows) != 1)
    if len(breaks) * 16 < len(rows):  # a few runs (a rumour's Kafka messages): slices
        out = []
        for a, b in zip([lo] + rows[breaks + 1].tolist(), (rows[breaks] + 1).tolist() + [hi]):
            out += column[a:b]
        return out
    return take(column, rows)


def take(column: list, rows: np.ndarray) -> list:
    """``column``'s items at ``rows`` (any order), by one ``itemgetter`` call.

    >>> take(["a", "b", "c"], np.array([2, 0]))
    ['c', 'a']
    """
    if len(rows) == 1:
        return [column[int(rows[0])]]
    return list(itemgetter(*rows.tolist())(column)) if len(rows) else []
