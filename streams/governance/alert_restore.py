"""Rebuilding the alert router's rumours from the store, and the catch-up: :class:`AlertRestore`
(mixed into :class:`~streams.governance.alerts.AlertRouter`) replays a rumour's stored events
through the rules and raises the alerts that were never raised (see the router's module text).
"""
from __future__ import annotations

import numpy as np

from streams.events import KIND_CODE
from streams.governance.alert_counting import MINUTE_MS, _Rumour
from streams.governance.batchview import BatchView, batch_view

DEBUNK = KIND_CODE["debunk"]


class AlertRestore:
    """The rebuild half of :class:`~streams.governance.alerts.AlertRouter` (reads its
    ``loader``, ``known_alerts``, ``alerts``, ``pipeline``, ``_rumours``, ``_lock``, ``dropped_ids``
    and the counting and judging methods)."""

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
        """The traces of a rebuild's alerts (``_restore`` leaves them out), one per rumour, their
        graphs loaded in one query. The pipeline's lock is taken here: callers that do not hold
        it already call this after releasing the router's lock (the observers take the
        pipeline's lock, then the router's; the other order could deadlock)."""
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
            late = self._restore(todo)
            self._evict(set())
        self._attach_traces(late)
        self._emit(late)
        return late

    def mark_stored(self, stored=None) -> None:
        """Count every stored rumour not in memory as dropped (a worker's start, a partition
        assignment: rumours that moved here were counted by another worker, or by this one
        before a restart): its first batch or :meth:`flush` rebuilds it from the store, with
        the catch-up, instead of counting it from zero. One query (the store's rumour list)."""
        with self._lock:
            self.dropped_ids.add_stored(self._rumours, stored)
