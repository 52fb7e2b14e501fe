"""Jurisdiction alerts: when a rumour's spread inside a city or county crosses a threshold, an
alert goes to that unit, with the rumour's current trace attached.

Shares are counted per rumour, unit (the city and/or county of each share's ``region``,
:func:`streams.governance.divisions.unit_of`) and minute of *event* time, so a replay raises the
same alerts as the live stream did. A minute is judged once it is closed (a later event of the
same rumour has arrived, or :meth:`AlertRouter.flush`). Three rules, each with a cooldown:

* ``volume``: shares in the last ``alert_window_minutes`` >= ``alert_window_shares``;
* ``growth``: shares in the window >= ``alert_growth_ratio`` x shares in the window before
  (which must be non-zero) and >= ``alert_growth_min_shares``;
* ``burst``: the minute's count c is improbable under the unit's own history: P(X >= c) <
  ``alert_burst_p`` for X ~ Poisson(lambda), lambda = the EWMA (weight ``alert_ewma_alpha``)
  of the earlier per-minute counts (floored at :data:`~streams.governance.alert_rules.RATE_FLOOR`), after
  ``alert_burst_warmup_minutes`` of history and with c >= ``alert_burst_min_shares``.

Debunk events do not count. Re-delivered events are counted once (ids are remembered per
rumour).

Memory: a unit keeps only its open minutes and the last ``2 x alert_window_minutes`` judged
minutes (all the rules read). With ``max_rumours`` and a ``loader`` (the store), the least
recently active rumours beyond the cap are dropped; when one of them receives events again (or
at :meth:`AlertRouter.flush`) its state is rebuilt by replaying its stored events with alerts
suppressed (they were raised before). The rebuilt state equals the dropped one when the
rumour's events arrived in event-time order (a minute is judged once a later minute's event
arrived). Which rumours were dropped is remembered in fixed memory (a Bloom filter of
``id_filter_mb``, :mod:`streams.seen`): a rumour not in memory that the filter calls dropped is
rebuilt from the store; a false "dropped" (a rumour this router never held) rebuilds from the
store what it holds of that rumour apart from the batch being counted, which is nothing unless
the rumour has events stored before this process started (a restart, a rebalance): those then
count as they would have in a router that never restarted. :meth:`AlertRouter.flush` lists the
dropped rumours from the store (``lister``), not from memory. ``history`` caps the alert dicts
kept for :meth:`AlertRouter.current` (every alert also went to the sinks: store, Kafka).

Speed (issue 5; the worker calls :meth:`AlertRouter.observe` after every write): a batch is
read by columns (:class:`~streams.governance.batchview.BatchView`), its new shares summed per
(rumour, unit, minute) by one numpy group-by, and the closed minutes of all touched units
judged by one numba call (:func:`~streams.governance.alert_kernels._judge_kernel`); Python runs
per group, per flagged minute and per alert, not per event. Counting is in
:mod:`~streams.governance.alert_counting`, the rules in :mod:`~streams.governance.alert_rules`,
the numba kernels in :mod:`~streams.governance.alert_kernels`.
"""
from __future__ import annotations

import threading
from collections import deque

import numpy as np

from streams.events import KIND_CODE
from streams.governance.alert_counting import MINUTE_MS, AlertCounting, _Rumour
from streams.governance.alert_rules import AlertRules
from streams.governance.batchview import BatchView, batch_of_rows, batch_view
from streams.governance.config import GovernanceConfig
from streams.governance.divisions import contains, normalise_region
from streams.lru import LRU
from streams.seen import DroppedIds

DEBUNK = KIND_CODE["debunk"]


def select_alerts(alerts, jurisdiction: str, since_ms: int | None = None, limit: int = 100) -> list[dict]:
    """The alerts of units inside ``jurisdiction`` (a code or region text), newest first."""
    code = normalise_region(jurisdiction)
    if code is None:
        return []
    picked = [a for a in alerts if contains(code, a["unit"]) and (since_ms is None or a["minute_ms"] >= since_ms)]
    picked.sort(key=lambda a: (-a["minute_ms"], a["unit"], a["rule"]))
    return picked[:limit]


class AlertRouter(AlertCounting, AlertRules):
    """Counts shares per rumour and jurisdiction unit and raises alerts.

    ``pipeline`` (optional) supplies ``trace(rumour_id)`` for the attached trace; every
    callable in ``sinks`` receives each new alert dict (Kafka producer, store, ...).
    """

    def __init__(self, config: GovernanceConfig | None = None, pipeline=None, sinks=(), trace_k: int = 10,
                 max_rumours=None, loader=None, history: int | None = None, lister=None,
                 id_filter_mb: float | None = None, known_alerts=None):
        self.config = config or GovernanceConfig()
        self.pipeline = pipeline
        self.sinks = list(sinks)
        self.trace_k = trace_k
        self.alerts: deque = deque(maxlen=history)  # newest ``history`` alerts (all went to sinks)
        # rumour_ids -> EventBatch of their stored events; without it nothing is ever dropped.
        self.loader = loader
        # Least recently active first: a batch's rumours count as active once it is counted
        # (redelivered events do not), and it is trimmed only then (``_evict``). The cap: an
        # int, or a callable giving it now (the hub: the pipeline's graph count).
        cap = max_rumours if loader is not None and max_rumours else None
        self._rumours: LRU = LRU(cap, manual=True)
        # Ids of dropped rumours (a superset); ``lister`` (the store's rumour ids) enumerates
        # them for flush.
        self.dropped_ids = DroppedIds(id_filter_mb, lister)
        self._replaying = False
        # rumour_ids -> ids of their alerts raised before (the store's, the sinks' buffer's): a
        # rebuild raises, late, exactly the alerts its replay finds that neither these nor the
        # history hold. Without it a rebuild raises nothing (the old rule).
        self.known_alerts = known_alerts
        self._catchup: set | None = None  # while replaying: the alert ids not to raise again
        self._late_before: dict | None = None  # while replaying a batch's rumours: rumour -> minute
        self.late = 0  # alerts raised late by a rebuild (see ``_restore``)
        self.raised = 0  # alerts raised in all (``alerts`` keeps only the newest ``history``)
        self.evictions = 0
        self.restores = 0
        self._lock = threading.RLock()
        self._traces: dict | None = None  # rumour -> trace, while one batch is being counted
        self._units_of_region: dict = {}  # region field -> its unit per level (regions repeat)

    # -- input ------------------------------------------------------------------------------
    def observe(self, batch, view: BatchView | None = None) -> list[dict]:
        """Count a batch (:class:`streams.events.EventBatch`; ``view``: its
        :func:`~streams.governance.batchview.batch_view` when the hub shares one); return the
        alerts it raised."""
        if not len(batch):
            return []
        return self._ingest(batch, view or batch_view(batch))

    def observe_rows(self, rows) -> list[dict]:
        """Count event dicts (``ts`` in epoch ms)."""
        return self.observe(batch_of_rows(rows))

    def _ingest(self, batch, view: BatchView) -> list[dict]:
        raised = []
        with self._lock:
            self._traces = {}
            try:
                self._ingest_locked(batch, view, raised)
            finally:
                self._traces = None
        self._emit(raised)
        return raised

    def _ingest_locked(self, batch, view: BatchView, raised: list) -> None:
        if self.dropped_ids.holds_any:
            back = self._dropped(rid for rid, rows in view.groups if not view.debunk[rows].all())
            if back:
                raised.extend(self._restore(back, batch, view))
        else:
            back = set()
        touched = sorted(self._count(batch, view))
        raised.extend(self._evaluate_many([(r, self._rumours[r], self._rumours[r].watermark - 1) for r in touched]))
        # A restored rumour may have counted the batch in its replay: active all the same.
        active = set(touched) | back
        for rumour_id in sorted(active):
            self._rumours.touch(rumour_id)
        self._evict(active)

    @property
    def max_rumours(self):
        """The cap (an int or a callable; None: nothing is dropped)."""
        return self._rumours.size

    def _evict(self, keep) -> None:
        """Drop the least recently active rumours beyond the cap, except ``keep``."""
        self.evictions += self.dropped_ids.trim(self._rumours, keep)

    def _dropped(self, rumour_ids) -> set:
        """Those of ``rumour_ids`` not in memory that may have been dropped (a superset: the
        filter never forgets, and a restored rumour is in memory, so it is not asked about)."""
        return self.dropped_ids.which_dropped(r for r in rumour_ids if r not in self._rumours)

    def _restore(self, rumour_ids, batch=None, view: BatchView | None = None) -> list[dict]:
        """Rebuild dropped rumours from their stored events (``batch``: the one being counted,
        already stored). Returns the alerts the replay raised that were never raised before
        (not in the store, the sinks' buffer or the history; ids are
        :func:`~streams.governance.alert_rules.alert_key`): those ``batch`` raises, and, marked
        late, those of events stored but never observed (a worker killed between a batch's ack
        and its observation). One query for the events and one for the alert ids of all
        ``rumour_ids``.

        The batch's events are replayed with the stored ones (some may be re-deliveries of
        events counted long ago: left out, they would change the minutes judged before and so
        the alerts); an alert is late when its minute was closed before the batch. Without
        ``known_alerts`` (the old rule) the batch is left out of the replay and counted after
        it, and the replay raises nothing."""
        catch_up = self.known_alerts is not None
        pending = set()
        if batch is not None:
            for rumour_id, rows in view.groups:
                if rumour_id in rumour_ids:
                    pending.update((rumour_id, batch.event_id[i]) for i in rows.tolist())
        stored = self.loader(sorted(rumour_ids))
        keep = [i for i, r in enumerate(stored.rumour_id) if r in rumour_ids]
        closed: dict = {}  # rumour -> latest minute of its events stored before the batch
        if pending:
            minutes = (stored.ts_ms // MINUTE_MS).tolist()
            debunk = (np.asarray(stored.kind) == DEBUNK).tolist()  # debunks count nowhere
            for i in keep:
                key = (stored.rumour_id[i], stored.event_id[i])
                if key not in pending and not debunk[i] and minutes[i] > closed.get(key[0], -1):
                    closed[key[0]] = minutes[i]
            if not catch_up:
                keep = [i for i in keep if (stored.rumour_id[i], stored.event_id[i]) not in pending]
        # An int array: an empty list would index as floats.
        stored = stored.take(np.array(keep, dtype=np.int64))
        known = self._raised_ids(rumour_ids) if catch_up and len(stored) else None
        for rumour_id in rumour_ids:
            self._rumours[rumour_id] = _Rumour()
        self._replaying, self._catchup = True, None if known is None else set(known)
        self._late_before = closed if batch is not None else None
        try:
            if len(stored):
                self._count(stored, batch_view(stored), only=rumour_ids)
            # Raised before: not again (``_alert`` raises only ids ``known`` lacks).
            raised = self._evaluate_many([(r, self._rumours[r], self._rumours[r].watermark - 1)
                                          for r in sorted(rumour_ids)])
        finally:
            self._replaying, self._catchup, self._late_before = False, None, None
        self.restores += len(rumour_ids)
        self.late += sum(1 for a in raised if a.get("late"))
        self._attach_traces(raised)
        if known:
            # Alerts of minutes the replay left open (the last one, judged before by a flush)
            # must not be raised again when those minutes are judged.
            for alert_id, (rumour_id, minute_ms) in known.items():
                st = self._rumours.get(rumour_id)
                if st is not None and minute_ms // MINUTE_MS >= st.watermark:
                    if st.raised_ahead is None:
                        st.raised_ahead = set()
                    st.raised_ahead.add(alert_id)
        return raised

    def _attach_traces(self, raised: list) -> None:
        """The traces of a rebuild's alerts, one per rumour, their graphs loaded in one query."""
        if not raised or self.pipeline is None:
            return
        preload = getattr(self.pipeline, "preload", None)
        if preload is not None:
            preload({a["rumour_id"] for a in raised})
        traces = self._traces if self._traces is not None else {}
        for a in raised:
            rumour_id = a["rumour_id"]
            if rumour_id not in traces:
                traces[rumour_id] = self.pipeline.trace(rumour_id, self.trace_k)
            a["trace"] = traces[rumour_id]

    def _raised_ids(self, rumour_ids) -> dict:
        """alert_id -> (rumour_id, minute_ms) of the alerts of ``rumour_ids`` raised before: the
        store's and the buffer's (one query) and the history's (alerts not yet written are
        there)."""
        ids = dict(self.known_alerts(sorted(rumour_ids)))
        ids.update((a["alert_id"], (a["rumour_id"], a["minute_ms"])) for a in self.alerts
                   if a.get("rumour_id") in rumour_ids)
        return ids

    def catch_up(self, rumour_ids) -> list[dict]:
        """Rebuild the rumours of ``rumour_ids`` not in memory from the store now (a worker's
        start or partition assignment: rumours whose last batches a killed worker may have
        stored without observing) and raise, late, the alerts never raised; returns them. One
        query for the events and one for the alert ids, whatever the number of rumours."""
        with self._lock:
            todo = {r for r in rumour_ids if r not in self._rumours}
            if not todo or self.loader is None:
                return []
            self._traces = {}
            try:
                late = self._restore(todo)
            finally:
                self._traces = None
            self._evict(set())
        self._emit(late)
        return late

    def mark_stored(self) -> None:
        """Count every stored rumour not in memory as dropped (a worker's start, a partition
        assignment: rumours that moved here were counted by another worker, or by this one
        before a restart): its first batch or :meth:`flush` rebuilds it from the store, with
        the catch-up, instead of counting it from zero. One query (the store's rumour list)."""
        if self.dropped_ids.lister is None:
            return
        with self._lock:
            self.dropped_ids.add([r for r in self.dropped_ids.lister() if r not in self._rumours])

    def flush(self) -> list[dict]:
        """Judge every open minute (end of a replay)."""
        with self._lock:
            raised = []
            for rumour_id in self._known_ids():
                if rumour_id not in self._rumours:
                    raised.extend(self._restore({rumour_id}))
                st = self._rumours[rumour_id]
                raised.extend(self._evaluate(rumour_id, st, st.watermark))
                self._evict({rumour_id})
        self._emit(raised)
        return raised

    def _known_ids(self) -> list[str]:
        """Every rumour held or dropped, sorted: the dropped ones are those of the store's list
        that the filter calls dropped (a false one is rebuilt from the store: see the module)."""
        return self.dropped_ids.listing(set(self._rumours))

    def _emit(self, raised: list[dict]) -> None:
        if not raised:
            return
        with self._lock:
            self.alerts.extend(raised)
            self.raised += len(raised)
        for sink in self.sinks:
            sink(raised)

    # -- dashboard --------------------------------------------------------------------------
    def current(self, jurisdiction: str, since_ms: int | None = None, limit: int = 100) -> list[dict]:
        """Alerts for units inside ``jurisdiction`` (a code or region text), newest first."""
        with self._lock:
            alerts = list(self.alerts)
        return select_alerts(alerts, jurisdiction, since_ms, limit)

    def unit_counts(self, rumour_id: str) -> dict[str, int]:
        """Shares counted so far per unit for one rumour."""
        late = []
        with self._lock:
            if self._dropped((rumour_id,)):
                late = self._restore({rumour_id})
                self._evict({rumour_id})
            st = self._rumours.get(rumour_id)
            counts = {} if st is None else {u: st.units[u].total for u in sorted(st.units)}
        self._emit(late)
        return counts

    def sizes(self) -> dict[str, int]:
        """How much state is held (for memory tests and metrics)."""
        with self._lock:
            return {"rumours": len(self._rumours), **self.dropped_ids.sizes(), "alerts": len(self.alerts),
                    "units": sum(len(st.units) for st in self._rumours.values()),
                    "seen": sum(len(st.seen) for st in self._rumours.values()),
                    "minutes": sum(len(u.minutes) + len(u.counts) for st in self._rumours.values()
                                   for u in st.units.values())}
