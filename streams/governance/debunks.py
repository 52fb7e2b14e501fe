"""Debunk reach and coverage per rumour, computed from the events.

A rumour's events of kind ``post``/``share``/``comment`` form its cascade; its events of kind
``debunk`` form the debunk cascade (``Pipeline.debunks[rumour_id]``). Definitions:

* **exposed** accounts: every account that posted, shared or commented the rumour, plus every
  account named as the parent (``parent_account_id``) of such an event: a parent's share was
  reshared, so it was exposed even when its own event is missing from the data.
* **reached** accounts: every account that shared the debunk, plus every account named as the
  parent of a debunk share (the same rule on the debunk cascade).
* **covered** = exposed ∩ reached; **coverage** = |covered| / |exposed| (None with no exposure).
* **reach** of a cascade = its number of distinct accounts (exposed, or reached); **shares** =
  its number of distinct events.
* **time to debunk** = first debunk event's time − first rumour event's time (ms; None when
  either is missing; negative when a debunk came first, e.g. a pre-bunk).

Per city, an account belongs to the city of the first (by time, then event id) of its rumour
events that has a known region (an account seen only as a parent has none); the city's coverage
counts its exposed accounts that the debunk reached.

A :class:`DebunkTracker` accumulates these from batches (sets, so a re-delivered event changes
nothing); :func:`debunk_metrics` computes one rumour's figures from rows in one pass. Every
update is a set union or a minimum, so the order of events does not matter: with
``max_rumours`` and a ``loader`` (the store) the tracker drops the least recently used rumours
beyond the cap and rebuilds one from its stored events when it is asked for (events that
arrived meanwhile are kept and merged), giving the figures it would have had.

Speed (issue 5): a batch is read by columns (:class:`BatchView`, shared with the alert router
by the hub): rows grouped per rumour by codes, sets grown by whole column slices; the accounts'
cities are kept as column references and merged (one time sort per rumour) when the figures
are read, or when a rumour's pending rows outgrow its distinct events by ``MERGE_ROWS``.
"""
from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from itertools import count
from operator import itemgetter
from typing import NamedTuple

import numpy as np

from streams.events import KIND_CODE, KINDS, EventBatch
from streams.governance.divisions import normalise_region, unit_of

DEBUNK = KIND_CODE["debunk"]
MERGE_ROWS = 65_536  # pending city rows a rumour may hold beyond its distinct events
SHARE = KIND_CODE["share"]


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


@dataclass(frozen=True)
class DebunkMetrics:
    rumour_id: str
    rumour_shares: int
    exposed: int
    debunk_shares: int
    reached: int
    covered: int
    coverage: float | None
    first_rumour_ms: int | None
    first_debunk_ms: int | None
    time_to_debunk_ms: int | None
    by_city: dict  # city code -> {"exposed": n, "covered": n, "coverage": x or None}

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class DebunkTracker:
    """Per-rumour account sets, updated batch by batch.

    >>> t = DebunkTracker()
    >>> t.observe_rows([
    ...     {"rumour_id": "r", "event_id": "1", "account_id": "a", "ts": 0, "kind": "post", "region": "370100"},
    ...     {"rumour_id": "r", "event_id": "2", "account_id": "b", "ts": 60_000, "kind": "share",
    ...      "parent_account_id": "a", "region": "370200"},
    ...     {"rumour_id": "r", "event_id": "d1", "account_id": "b", "ts": 120_000, "kind": "debunk"}])
    >>> m = t.metrics("r")
    >>> m.exposed, m.reached, m.coverage, m.time_to_debunk_ms
    (2, 1, 0.5, 120000)
    """

    def __init__(self, max_rumours=None, loader=None):
        self.rumours: OrderedDict[str, _Rumour] = OrderedDict()  # least recently used first
        # rumour_ids -> EventBatch of their stored events; without it nothing is ever dropped.
        self.loader = loader
        # An int, or a callable giving the cap now (the hub: the pipeline's graph count).
        self.max_rumours = max_rumours if loader is not None and max_rumours else None
        self._evicted: set[str] = set()
        self.evictions = 0
        self.restores = 0
        self._lock = threading.RLock()

    def observe(self, batch, view: "BatchView | None" = None) -> None:
        """Take an :class:`streams.events.EventBatch` (``view``: its :func:`batch_view`, when
        the hub has made one for every observer)."""
        if len(batch):
            view = view or batch_view(batch)
            self._observe(view.groups, _columns(batch.event_id, batch.account_id, batch.parent_account_id, view))

    def observe_rows(self, rows) -> None:
        """Take event dicts (v1 field names; ``ts`` in epoch ms)."""
        batch = batch_of_rows(rows, ("account_id", "parent_account_id"))
        if len(batch):
            self.observe(batch)

    def _observe(self, groups, cols: "_Columns") -> None:
        # Grouped by rumour (first appearance order: the LRU order), each group's sets grow
        # by whole columns (set.update runs in C): the worker calls this for every stored batch.
        with self._lock:
            for rumour_id, rows in groups:
                _add_rows(self._live(rumour_id), cols, rows)
            self._evict({g[0] for g in groups})

    def _live(self, rumour_id: str) -> _Rumour:
        """The rumour's state to add events to, most recently used (partial when it was dropped:
        completed from the store when read)."""
        st = self.rumours.get(rumour_id)
        if st is None:
            st = self.rumours[rumour_id] = _Rumour(partial=rumour_id in self._evicted)
            self._evicted.discard(rumour_id)
        else:
            self.rumours.move_to_end(rumour_id)
        return st

    def _evict(self, keep) -> None:
        if self.max_rumours is None:
            return
        cap = max(1, self.max_rumours() if callable(self.max_rumours) else self.max_rumours)
        if len(self.rumours) <= cap:
            return
        for rumour_id in list(self.rumours):
            if len(self.rumours) <= cap:
                break
            if rumour_id in keep:
                continue
            del self.rumours[rumour_id]
            self._evicted.add(rumour_id)  # everything it held is in the store
            self.evictions += 1

    def _complete(self, rumour_id: str) -> _Rumour | None:
        """The rumour's full state: rebuilt from the store (merged with what arrived since it
        was dropped) when it was dropped."""
        st = self.rumours.get(rumour_id)
        if st is None and rumour_id not in self._evicted:
            return None
        if st is None or st.partial:
            if st is None:
                st = self.rumours[rumour_id] = _Rumour()
                self._evicted.discard(rumour_id)
            batch = self.loader([rumour_id])
            view = batch_view(batch)
            cols = _columns(batch.event_id, batch.account_id, batch.parent_account_id, view)
            for rid, rows in view.groups:
                if rid == rumour_id:
                    _add_rows(st, cols, rows)
            st.partial = False
            self.restores += 1
        _merge_cities(st)
        self.rumours.move_to_end(rumour_id)
        self._evict({rumour_id})
        return st

    def rumour_ids(self) -> list[str]:
        with self._lock:
            return sorted(set(self.rumours) | self._evicted)

    def sizes(self) -> dict[str, int]:
        """How much state is held (for memory tests and metrics)."""
        with self._lock:
            return {"rumours": len(self.rumours), "evicted_ids": len(self._evicted),
                    "items": sum(len(st.exposed) + len(st.reached) + len(st.rumour_events) + len(st.debunk_events)
                                 + len(st.account_city) + st.pending_rows for st in self.rumours.values())}

    def metrics(self, rumour_id: str) -> DebunkMetrics | None:
        with self._lock:
            st = self._complete(rumour_id)
            if st is None:
                return None
            return _metrics(rumour_id, st)

    def all_metrics(self) -> list[DebunkMetrics]:
        return [self.metrics(r) for r in self.rumour_ids()]


class BatchView(NamedTuple):
    """What every governance observer reads of a batch, computed once per batch."""

    groups: list  # (rumour_id, ascending row positions), rumours in order of first appearance
    regions: list  # the distinct values of the region column, in order of first appearance
    region: np.ndarray  # int32 per row: its index in ``regions``
    debunk: np.ndarray  # bool per row
    ts: np.ndarray  # int64 per row


def batch_view(batch) -> BatchView:
    """The :class:`BatchView` of an :class:`~streams.events.EventBatch`.

    >>> from streams.events import EventBatch
    >>> v = batch_view(EventBatch(rumour_id=["r", "s", "r"], region=["370102", None, "370102"],
    ...                           ts_ms=np.array([3, 1, 2]), kind=np.array([1, 3, 1], np.uint8)))
    >>> [(r, rows.tolist()) for r, rows in v.groups], v.regions, v.region.tolist(), v.debunk.tolist()
    ([('r', [0, 2]), ('s', [1])], ['370102', None], [0, 1, 0], [False, True, False])
    """
    regions, region = codes_of(batch.region)
    return BatchView(group_rows(batch.rumour_id), regions, region,
                     np.asarray(batch.kind) == DEBUNK, np.asarray(batch.ts_ms, np.int64))


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


def group_rows(keys) -> list[tuple]:
    """``(key, rows)`` per distinct key of a column, in order of first appearance; ``rows``
    (int64, ascending) are the positions holding it. Codes in one dict pass, then numpy: runs
    of one key (a rumour's Kafka messages) are cut at their bounds, scattered keys grouped by a
    stable argsort.

    >>> [(k, r.tolist()) for k, r in group_rows(["b", "a", "b"])]
    [('b', [0, 2]), ('a', [1])]
    >>> [(k, r.tolist()) for k, r in group_rows(["x"] * 40 + ["y"] * 30 + ["x"] * 2)][0][1][-3:]
    [39, 70, 71]
    """
    n = len(keys)
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
    among them (int32), in one pass: a missing key gets the next code.

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


def _metrics(rumour_id: str, st: _Rumour) -> DebunkMetrics:
    covered = st.exposed & st.reached
    by_city: dict[str, dict] = {}
    for account, (_, _, city) in st.account_city.items():
        row = by_city.setdefault(city, {"exposed": 0, "covered": 0})
        row["exposed"] += 1
        row["covered"] += account in covered
    for row in by_city.values():
        row["coverage"] = row["covered"] / row["exposed"] if row["exposed"] else None
    ttd = (st.first_debunk_ms - st.first_rumour_ms
           if st.first_debunk_ms is not None and st.first_rumour_ms is not None else None)
    return DebunkMetrics(
        rumour_id=rumour_id, rumour_shares=len(st.rumour_events), exposed=len(st.exposed),
        debunk_shares=len(st.debunk_events), reached=len(st.reached), covered=len(covered),
        coverage=len(covered) / len(st.exposed) if st.exposed else None,
        first_rumour_ms=st.first_rumour_ms, first_debunk_ms=st.first_debunk_ms,
        time_to_debunk_ms=ttd, by_city=dict(sorted(by_city.items())))


def debunk_metrics(rows, rumour_id: str) -> DebunkMetrics | None:
    """One rumour's metrics from event dicts (other rumours' rows are ignored)."""
    tracker = DebunkTracker()
    tracker.observe_rows(r for r in rows if r["rumour_id"] == rumour_id)
    return tracker.metrics(rumour_id)


def tracker_from_batch(batch) -> DebunkTracker:
    """A tracker fed one batch (the service's figures of a stored rumour)."""
    tracker = DebunkTracker()
    tracker.observe(batch)
    return tracker


__all__ = ["DebunkMetrics", "DebunkTracker", "debunk_metrics", "tracker_from_batch", "KINDS"]
