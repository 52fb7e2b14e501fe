"""One rumour's debunk state (:class:`_Rumour`) and how a batch's columns update it: sets grown
by whole column slices, the accounts' cities kept as column references and merged (one time
sort per rumour) when the figures are read or when a rumour's pending rows outgrow its distinct
events by ``MERGE_ROWS``. The definitions are in :mod:`streams.governance.debunks`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from streams.governance.batchview import BatchView, pick, take
from streams.governance.divisions import normalise_region, unit_of

MERGE_ROWS = 65_536  # pending city rows a rumour may hold beyond its distinct events


@dataclass
class _Rumour:
    exposed: set = field(default_factory=set)
    reached: set = field(default_factory=set)
    rumour_events: set = field(default_factory=set)
    debunk_events: set = field(default_factory=set)
    first_rumour_ms: int | None = None
    first_debunk_ms: int | None = None
    account_city: dict = field(default_factory=dict)  # account -> (ts, event_id, city), earliest
    # Share rows with a city not yet merged into account_city: (accounts, event ids, ts, city
    # index, cities) per batch. Merged when the figures are read (or when they pile up), so the
    # ingest path only keeps references; the merge is order-free, so the result is the same.
    cities_pending: list = field(default_factory=list)
    pending_rows: int = 0
    partial: bool = False  # dropped before: the store holds events missing here


class _Columns(NamedTuple):
    """The event columns the tracker reads: string columns as lists, ``ts`` (int64),
    ``debunk`` (bool) and ``city`` (int32 index into ``cities``, -1: no known city) arrays."""

    event_id: list
    account_id: list
    parent_account_id: list
    ts: np.ndarray
    debunk: np.ndarray
    city: np.ndarray
    cities: list


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
    return _Columns(events, accounts, parents, view.ts, view.debunk, codes[view.region], cities)


def _add_rows(st: _Rumour, cols: _Columns, rows: np.ndarray) -> None:
    """Add ``rows`` (events of one rumour) a column at a time. Unions and minima only (an
    account's city is that of its earliest event by (ts, event_id)): the state does not depend
    on the order of events or on how they are split into batches."""
    is_debunk = cols.debunk[rows]
    for debunk_rows, events, accounts, first_name in (
            (True, st.debunk_events, st.reached, "first_debunk_ms"),
            (False, st.rumour_events, st.exposed, "first_rumour_ms")):
        picked = rows[is_debunk] if debunk_rows else rows[~is_debunk]
        if not len(picked):
            continue
        picked_events, picked_accounts = pick(cols.event_id, picked), pick(cols.account_id, picked)
        events.update(picked_events)
        accounts.update(picked_accounts)
        accounts.update(filter(None, pick(cols.parent_account_id, picked)))
        first = int(cols.ts[picked].min())
        known = getattr(st, first_name)
        if known is None or first < known:
            setattr(st, first_name, first)
        if not debunk_rows:
            _add_cities(st, cols, picked, picked_accounts, picked_events)


def _add_cities(st: _Rumour, cols: _Columns, rows: np.ndarray, accounts: list, events: list) -> None:
    """Keep share ``rows`` (their ``accounts`` and ``events`` already picked) for
    :func:`_merge_cities`: references and two small arrays, no per-row work here; rows without
    a city are left out there."""
    city = cols.city[rows]
    if not (city >= 0).any():
        return
    st.cities_pending.append((accounts, events, cols.ts[rows], city, cols.cities))
    st.pending_rows += len(rows)
    # A rumour's pending rows stay within about its distinct events unless events are re-delivered
    # over and over: then merge (the merge drops the repeats).
    if st.pending_rows > MERGE_ROWS + len(st.rumour_events):
        _merge_cities(st)


def _merge_cities(st: _Rumour) -> None:
    """Each account's city from its earliest event by (ts, event_id), merged with what the
    rumour knew. Rows sorted by time only; equal times (few) are settled by event id after."""
    chunks, st.cities_pending, st.pending_rows = st.cities_pending, [], 0
    if not chunks:
        return
    accounts = [a for c in chunks for a in c[0]] if len(chunks) > 1 else list(chunks[0][0])
    events = [e for c in chunks for e in c[1]] if len(chunks) > 1 else list(chunks[0][1])
    ts = np.concatenate([c[2] for c in chunks])
    cities = [name for c in chunks for name in map((c[4] + [None]).__getitem__, c[3].tolist())]  # -1: None
    known = np.flatnonzero(np.concatenate([c[3] for c in chunks]) >= 0)
    order = known[np.argsort(ts[known], kind="stable")]
    ts = ts[order]
    accounts, events, cities = take(accounts, order), take(events, order), take(cities, order)
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
