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

A :class:`DebunkTracker` accumulates these from batches (exact sets of ids, so a re-delivered
event changes nothing); :func:`debunk_metrics` computes one rumour's figures from rows in one pass. Every
update is a set union or a minimum, so the order of events does not matter: with
``max_rumours`` and a ``loader`` (the store) the tracker drops the least recently used rumours
beyond the cap and rebuilds one from its stored events when it is asked for (events that
arrived meanwhile are kept and merged), giving the figures it would have had. Which rumours
were dropped is remembered in fixed memory (a Bloom filter of ``id_filter_mb``,
:mod:`streams.seen`); a false "dropped" costs one store query when the rumour is read: its
figures then come from what the store holds of it, the same as the tracker's own unless the
rumour has events stored before this process started (then they count, as in a tracker that
never restarted), and a rumour the store lacks is still unknown (None). :meth:`DebunkTracker.rumour_ids`
lists the dropped rumours from the store (``lister``), not from memory.

Speed (issue 5): a batch is read by columns
(:class:`~streams.governance.batchview.BatchView`, shared with the alert router and the report
desk by the hub): rows grouped per rumour by codes; the distinct events and accounts kept in
exact id tables (:class:`graph.ids.IdIndex`) filled from the ids' UTF-8 bytes by numba, a
rumour's rows at a time (no Python set of str); the accounts' cities kept as index arrays and
merged (one time sort per rumour) when the figures are read, or when a rumour's pending rows
outgrow its distinct events by ``MERGE_ROWS`` (:mod:`streams.governance.debunk_state`).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from streams.events import KINDS
from streams.governance.batchview import BatchView, batch_of_rows, batch_view
from streams.governance.debunk_state import (_add_rows, _Columns, _columns, _merge_cities, _Rumour, common_count,
                                               count, found_in)
from streams.lru import LRU
from streams.seen import DroppedIds


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

    def __init__(self, max_rumours=None, loader=None, lister=None, id_filter_mb: float | None = None):
        # rumour_ids -> EventBatch of their stored events; without it nothing is ever dropped.
        self.loader = loader
        # Least recently used first; trimmed after each batch or read (``_evict``), never while
        # a batch's states are being filled. The cap: an int, or a callable giving it now (the
        # hub: the pipeline's graph count).
        cap = max_rumours if loader is not None and max_rumours else None
        self.rumours: LRU = LRU(cap, manual=True)
        # Ids of dropped rumours (a superset); ``lister`` (the store's rumour ids) enumerates
        # them for rumour_ids().
        self.dropped_ids = DroppedIds(id_filter_mb, lister)
        self.evictions = 0
        self.restores = 0
        self._lock = threading.RLock()

    def observe(self, batch, view: "BatchView | None" = None) -> None:
        """Take an :class:`streams.events.EventBatch` (``view``: its
        :func:`~streams.governance.batchview.batch_view`, when
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
            st = self.rumours[rumour_id] = _Rumour(partial=self._was_dropped(rumour_id))
        else:
            self.rumours.touch(rumour_id)
        return st

    @property
    def max_rumours(self):
        """The cap (an int or a callable; None: nothing is dropped)."""
        return self.rumours.size

    def _evict(self, keep) -> None:
        """Drop the least recently used rumours beyond the cap, except ``keep`` (everything
        they held is in the store). DroppedIds.trim keeps no callback bound to the tracker: the
        throwaway ones (tracker_from_batch, per request) would be reference cycles."""
        self.evictions += self.dropped_ids.trim(self.rumours, keep)

    def mark_stored(self, stored=None) -> None:
        """Count every stored rumour not in memory as dropped (a worker's start, a partition
        assignment): its figures are then completed from the store when read, so a restarted
        worker, or one that took over a partition, does not count the rumour from zero. One
        query (the store's rumour list)."""
        with self._lock:
            self.dropped_ids.add_stored(self.rumours, stored)

    def _was_dropped(self, rumour_id: str) -> bool:
        """May ``rumour_id`` (not in memory) have been dropped? Never a false no."""
        return rumour_id in self.dropped_ids

    def _complete(self, rumour_id: str) -> _Rumour | None:
        """The rumour's full state: rebuilt from the store (merged with what arrived since it
        was dropped) when it was dropped."""
        st = self.rumours.get(rumour_id)
        if st is None and not self._was_dropped(rumour_id):
            return None
        if st is None or st.partial:
            batch = self.loader([rumour_id])
            if st is None:
                if not len(batch):  # a false "dropped": the store has nothing, so neither had we
                    return None
                st = self.rumours[rumour_id] = _Rumour()
            view = batch_view(batch)
            cols = _columns(batch.event_id, batch.account_id, batch.parent_account_id, view)
            for rid, rows in view.groups:
                if rid == rumour_id:
                    _add_rows(st, cols, rows)
            st.partial = False
            self.restores += 1
        _merge_cities(st)
        self.rumours.touch(rumour_id)
        self._evict({rumour_id})
        return st

    def rumour_ids(self) -> list[str]:
        """Every rumour held or dropped, sorted: the dropped ones are those of the store's list
        that the filter calls dropped (a false one has figures from the store: see the module)."""
        with self._lock:
            return self.dropped_ids.listing(set(self.rumours))

    def sizes(self) -> dict[str, int]:
        """How much state is held (for memory tests and metrics)."""
        with self._lock:
            return {"rumours": len(self.rumours), **self.dropped_ids.sizes(),
                    "items": sum(count(st.exposed) + count(st.reached) + count(st.rumour_events) + count(st.debunk_events)
                                 + len(st.account_city) + st.pending_rows for st in self.rumours.values())}

    def metrics(self, rumour_id: str) -> DebunkMetrics | None:
        with self._lock:
            st = self._complete(rumour_id)
            if st is None:
                return None
            return _metrics(rumour_id, st)

    def all_metrics(self) -> list[DebunkMetrics]:
        return [self.metrics(r) for r in self.rumour_ids()]


def _metrics(rumour_id: str, st: _Rumour) -> DebunkMetrics:
    covered = common_count(st.exposed, st.reached)
    by_city: dict[str, dict] = {}
    # An account with a city is an exposed one: covered when the debunk reached it.
    reached = found_in(st.reached, st.exposed.strings(list(st.account_city)) if st.account_city else []).tolist()
    for (_, _, city), hit in zip(st.account_city.values(), reached):
        row = by_city.setdefault(city, {"exposed": 0, "covered": 0})
        row["exposed"] += 1
        row["covered"] += hit
    for row in by_city.values():
        row["coverage"] = row["covered"] / row["exposed"] if row["exposed"] else None
    ttd = (st.first_debunk_ms - st.first_rumour_ms
           if st.first_debunk_ms is not None and st.first_rumour_ms is not None else None)
    return DebunkMetrics(
        rumour_id=rumour_id, rumour_shares=count(st.rumour_events), exposed=count(st.exposed),
        debunk_shares=count(st.debunk_events), reached=count(st.reached), covered=covered,
        coverage=covered / count(st.exposed) if count(st.exposed) else None,
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
