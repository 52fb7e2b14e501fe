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
at :meth:`AlertRouter.flush`) its state is rebuilt by replaying its stored events. The rebuilt
state equals the dropped one when the rumour's events arrived in event-time order (a minute is
judged once a later minute's event arrived). Which rumours were dropped is remembered in fixed
memory (a Bloom filter of ``id_filter_mb``, :mod:`streams.seen`): a rumour not in memory that
the filter calls dropped is rebuilt from the store; a false "dropped" rebuilds what the store
holds of it, which counts as it would have in a router that never restarted.

Catch-up (``known_alerts``: the hub's store + buffer): a replay raises every alert the rules give
that was never raised: its id (:func:`~streams.governance.alert_rules.alert_key`, a hash of
rumour, unit, rule and minute) is in none of the store, the buffer and ``history``. In normal
running that is the alerts of the batch being counted; after a worker was killed between a
batch's ack and its observation, also those of the unobserved batches, marked ``late``.
:meth:`AlertRouter.mark_stored` (a worker's start and every partition assignment) makes every
stored rumour not in memory count as dropped, so its first batch rebuilds it. :meth:`catch_up`
rebuilds given rumours at once (the recently written ones; ``Governance.catch_up``). Without
``known_alerts`` a replay raises nothing (the old rule). :meth:`AlertRouter.flush` lists the
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

from streams.events import KIND_CODE
from streams.governance.alert_counting import AlertCounting
from streams.governance.alert_restore import AlertRestore
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


class AlertRouter(AlertCounting, AlertRules, AlertRestore):
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
                restored = self._restore(back, batch, view)
                self._attach_traces(restored)  # the observers hold the pipeline's lock already
                raised.extend(restored)
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

    def flush(self) -> list[dict]:
        """Judge every open minute (end of a replay)."""
        with self._lock:
            raised, restored = [], []
            for rumour_id in self._known_ids():
                if rumour_id not in self._rumours:
                    restored.extend(self._restore({rumour_id}))
                st = self._rumours[rumour_id]
                raised.extend(self._evaluate(rumour_id, st, st.watermark))
                self._evict({rumour_id})
        self._attach_traces(restored)
        raised = restored + raised
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
        self._attach_traces(late)
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
