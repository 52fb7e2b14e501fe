"""One rumour's debunk state (:class:`_Rumour`) and how a batch's columns update it: the
distinct events and accounts kept in exact id tables (:class:`graph.ids.IdIndex`, the graphs'
own), filled from the batch's id bytes (:class:`~streams.governance.batchview.IdBytes`) by numba
a rumour's rows at a time; the accounts' cities kept as index arrays and merged (one time
sort per rumour) when the figures are read or when a rumour's pending rows outgrow its distinct
events by ``MERGE_ROWS``. The definitions are in :mod:`streams.governance.debunks`.

Why id tables, not Python sets of str (session 21, issue 5): adding a batch's ids to sets read
every id's str object (hash, compare, reference), three per event, about a quarter of the
governance observers' CPU; the tables read the bytes the decoder already encoded, in order, and
compare bytes on every hash match, so two ids are never taken for one. They also hold an id in
about 20 bytes instead of a set slot plus the str object.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from graph.ids import IdIndex
from streams.governance.batchview import BatchView, IdBytes, take
from streams.governance.divisions import normalise_region, unit_of

MERGE_ROWS = 65_536  # pending city rows a rumour may hold beyond its distinct events


@dataclass
class _Rumour:
    # Made at the first id (an empty table is a few hundred bytes of numpy arrays; most
    # rumours never get a debunk): read them through count() / found_in() / common_count().
    exposed: IdIndex | None = None  # accounts
    reached: IdIndex | None = None  # accounts
    rumour_events: IdIndex | None = None  # event ids
    debunk_events: IdIndex | None = None  # event ids
    first_rumour_ms: int | None = None
    first_debunk_ms: int | None = None
    account_city: dict = field(default_factory=dict)  # account (its exposed index) -> (ts, event_id, city)
    # Share rows with a city not yet merged into account_city: (accounts, event ids (their
    # indices in exposed, rumour_events), ts, city index, cities) per batch. Merged when the
    # figures are read (or when they pile up), so the ingest path keeps arrays only; the merge
    # is order-free, so the result is the same.
    cities_pending: list = field(default_factory=list)
    pending_rows: int = 0
    partial: bool = False  # dropped before: the store holds events missing here


class _Columns(NamedTuple):
    """The event columns the tracker reads: string columns as lists, ``ts`` (int64),
    ``debunk`` (bool) and ``city`` (int32 index into ``cities``, -1: no known city) arrays, and
    the ids' bytes."""

    event_id: list
    account_id: list
    parent_account_id: list
    ts: np.ndarray
    debunk: np.ndarray
    city: np.ndarray
    cities: list
    ids: IdBytes


_CITY_OF_REGION: dict = {}  # region field -> city code or None (regions repeat: looked up once)


def _columns(events, accounts, parents, view: BatchView) -> _Columns:
    cache = _CITY_OF_REGION
    if len(cache) > 65536:  # arbitrary region texts must not grow it without bound
        cache.clear()
    codes, cities = np.full(len(view.regions) + 1, -1, np.int32), []
    for k, region in enumerate(view.regions):
        city = cache.get(region, False)
        if city is False:
            city = cache[region] = unit_of(normalise_region(region), "city") if region else None
        if city is not None:
            codes[k] = len(cities)
            cities.append(city)
    return _Columns(events, accounts, parents, view.ts, view.debunk, codes[view.region], cities, view.ids)


def _add_rows(st: _Rumour, cols: _Columns, rows: np.ndarray) -> None:
    """Add ``rows`` (events of one rumour) a column at a time. Unions and minima only (an
    account's city is that of its earliest event by (ts, event_id)): the state does not depend
    on the order of events or on how they are split into batches."""
    is_debunk = cols.debunk[rows]
    ids = cols.ids
    for debunk_rows, events, accounts, first_name in (
            (True, "debunk_events", "reached", "first_debunk_ms"),
            (False, "rumour_events", "exposed", "first_rumour_ms")):
        picked = rows[is_debunk] if debunk_rows else rows[~is_debunk]
        if not len(picked):
            continue
        event = _add_ids(st, events, ids.buf, ids.event_starts[picked], ids.event_ends[picked])
        # An account and the parents it reshared, in one call; no parent (null or ""): left out.
        account = _add_ids(st, accounts, ids.buf,
                           np.concatenate([ids.account_starts[picked], ids.parent_starts[picked]]),
                           np.concatenate([ids.account_ends[picked], ids.parent_ends[picked]]))
        first = int(cols.ts[picked].min())
        known = getattr(st, first_name)
        if known is None or first < known:
            setattr(st, first_name, first)
        if not debunk_rows:
            _add_cities(st, cols, picked, account[:len(picked)], event)


def _add_ids(st: _Rumour, name: str, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Intern the non-empty ids ``buf[starts[i]:ends[i]]`` into the rumour's table ``name``
    (a validated event's ids are never empty; an empty parent is none); each one's index in
    the table (int32, -1 for an empty one)."""
    named = ends > starts
    out = np.full(len(starts), -1, np.int32)
    if not named.any():
        return out
    index = getattr(st, name)
    if index is None:
        index = IdIndex()
        setattr(st, name, index)
    if named.all():
        return index.add_encoded(buf, starts, ends)
    out[named] = index.add_encoded(buf, starts[named], ends[named])
    return out


def count(index: IdIndex | None) -> int:
    """The ids a table holds (0 for none made)."""
    return 0 if index is None else len(index)


def found_in(index: IdIndex | None, strings) -> np.ndarray:
    """Per string, whether ``index`` holds it (bool).

    >>> ix = IdIndex(); _ = ix.add(["a", "b"])
    >>> found_in(ix, ["b", "c"]).tolist(), found_in(ix, []).tolist(), found_in(None, ["a"]).tolist()
    ([True, False], [], [False])
    """
    strings = list(strings)
    if not strings or not count(index):
        return np.zeros(len(strings), bool)
    return index.find(strings) >= 0


def common_count(a: IdIndex | None, b: IdIndex | None) -> int:
    """How many ids two tables both hold (the smaller one's ids looked up in the other).

    >>> x, y = IdIndex(), IdIndex(); _ = x.add(["a", "b", "c"]); _ = y.add(["c", "a", "d"])
    >>> common_count(x, y), common_count(y, None)
    (2, 0)
    """
    if not count(a) or not count(b):
        return 0
    if len(a) > len(b):
        a, b = b, a
    return int((b.find_encoded(*a.utf8_range(0, len(a))) >= 0).sum())


def _add_cities(st: _Rumour, cols: _Columns, rows: np.ndarray, account: np.ndarray, event: np.ndarray) -> None:
    """Keep share ``rows`` (``account``, ``event``: their indices in the rumour's tables) for
    :func:`_merge_cities`: four small arrays, no per-row Python work here; rows without a city
    are left out there."""
    city = cols.city[rows]
    if not (city >= 0).any():
        return
    st.cities_pending.append((account, event, cols.ts[rows], city, cols.cities))
    st.pending_rows += len(rows)
    # A rumour's pending rows stay within about its distinct events unless events are re-delivered
    # over and over: then merge (the merge drops the repeats).
    if st.pending_rows > MERGE_ROWS + count(st.rumour_events):
        _merge_cities(st)


def _merge_cities(st: _Rumour) -> None:
    """Each account's city from its earliest event by (ts, event_id), merged with what the
    rumour knew. Rows sorted by time only; equal times (few) are settled by event id after."""
    chunks, st.cities_pending, st.pending_rows = st.cities_pending, [], 0
    if not chunks:
        return
    # Accounts stay indices of the exposed table (the dict's keys); event ids are read back as
    # str (they settle ties, compared as str, and are kept with each account's city).
    names: dict[str, int] = {}  # city -> its index here, over every chunk's own city list
    city = np.concatenate([np.array([names.setdefault(name, len(names)) for name in c[4]] + [-1],
                                    np.int64)[c[3]] for c in chunks])
    names = list(names)
    ts = np.concatenate([c[2] for c in chunks])
    known = np.flatnonzero((city >= 0) & (np.concatenate([c[0] for c in chunks]) >= 0))
    order = known[np.argsort(ts[known], kind="stable")]
    ts = ts[order]
    accounts = np.concatenate([c[0] for c in chunks])[order].tolist()
    events = st.rumour_events.strings(np.concatenate([c[1] for c in chunks])[order])
    cities = take(names, city[order])
    ts_list = ts.tolist()
    # Reversed, so that a later (earlier in time) item overwrites: each account keeps its first.
    new = dict(zip(reversed(accounts), zip(reversed(ts_list), reversed(events), reversed(cities))))
    ties = np.flatnonzero(ts[1:] == ts[:-1])
    for j in set(ties.tolist()) | set((ties + 1).tolist()):
        cur = new[accounts[j]]
        if (ts_list[j], events[j]) < cur[:2]:
            new[accounts[j]] = (ts_list[j], events[j], cities[j])
    city_of = st.account_city
    if city_of:
        for account in new.keys() & city_of.keys():
            if city_of[account][:2] <= new[account][:2]:
                del new[account]
    city_of.update(new)
