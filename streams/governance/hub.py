"""One object that holds the governance loop for a pipeline: the report desk, the alert
router and the debunk tracker, fed with every new batch of events.

    hub = Governance(pipeline, store=store, config=GovernanceConfig.from_settings(settings))
    hub.attach()              # every batch the pipeline accepts reaches the hub
    hub.submit_report(payload)          -> (status, body)
    hub.current_alerts("370100")        -> alerts of Jinan's units, newest first
    hub.debunk("rumour-id")             -> reach, time to debunk, coverage

``attach`` uses ``pipeline.observers`` when the pipeline has that hook (a list of callables
that receive each batch of *new* events after the store write); otherwise it wraps the
instance's ``process_batch`` and the alert router's id memory drops re-delivered events.
"""
from __future__ import annotations

import logging

from streams.governance.alert_store import AlertBuffer
from streams.governance.alerts import AlertRouter
from streams.governance.batchview import batch_view
from streams.governance.config import GovernanceConfig
from streams.governance.debunks import DebunkTracker
from streams.governance.reports import ReportDesk
from streams.store.governance import governance_store

log = logging.getLogger(__name__)

# Alerts kept in memory when a store holds them all; also the most alerts waiting for their
# INSERT (AlertBuffer), so an alert the store does not have yet is always in memory.
ALERT_HISTORY = 1024


class Governance:
    """``alert_store_seconds`` (default: the config's): alerts reach the store in one INSERT per
    that many seconds or per :data:`ALERT_HISTORY` alerts (:class:`AlertBuffer`), and at
    :meth:`flush` / :meth:`close`; 0 writes each batch's alerts at once."""

    def __init__(self, pipeline=None, store=None, config: GovernanceConfig | None = None, alert_sinks=(),
                 alert_store_seconds: float | None = None):
        self.config = config or GovernanceConfig()
        self.pipeline = pipeline
        self.store = governance_store(store)
        sinks = list(alert_sinks)
        self.alert_buffer = None
        if self.store is not None:
            # The timer thread writes beside the pipeline's thread: only through a store that
            # serialises its calls (ClickHouseStore's locked ``_call``); chDB's session is not
            # shared across threads here, so there each batch's alerts are written at once.
            if alert_store_seconds is None:
                alert_store_seconds = self.config.alert_store_seconds
            seconds = alert_store_seconds if callable(getattr(self.store, "_call", None)) else 0
            self.alert_buffer = AlertBuffer(self.store, ALERT_HISTORY, seconds)
            sinks.append(self.alert_buffer.add)
        # Beyond the cap, rumours are dropped and rebuilt from the store's events (alerts and
        # debunk figures as if never dropped); without a store nothing is dropped.
        loader = self._load_events if self.store is not None else None
        # The ids of dropped rumours are kept in fixed-size filters (streams.seen) of the
        # pipeline's size; the store's list of rumours enumerates them (flush, rumour_ids).
        lister = self._stored_ids if self.store is not None else None
        filter_mb = getattr(pipeline, "id_filter_mb", None)
        cap = self.config.governance_max_rumours
        if cap == 0:  # as many rumours as the pipeline keeps graphs of (graph_memory_mb)
            cap = self._graph_count
        elif cap < 0:
            cap = None
        # Every alert is also in the store: memory keeps the newest few (current_alerts and
        # the service read the rest from the store).
        history = ALERT_HISTORY if self.store is not None else None
        known = self._known_alert_ids if self.store is not None else None
        self.alerts = AlertRouter(self.config, pipeline, sinks=sinks, max_rumours=cap, loader=loader,
                                  history=history, lister=lister, id_filter_mb=filter_mb, known_alerts=known)
        self.desk = ReportDesk(self.config, pipeline, self.store)
        self.debunks = DebunkTracker(max_rumours=cap, loader=loader, lister=lister, id_filter_mb=filter_mb)

    def _graph_count(self) -> int | None:
        graphs = getattr(self.pipeline, "graphs", None)
        return len(graphs) if graphs is not None else 1 << 30

    def _load_events(self, rumour_ids):
        return self.store.load_events(rumour_ids=list(rumour_ids))

    def _stored_ids(self) -> list[str]:
        return self.store.rumour_ids()

    def _known_alert_ids(self, rumour_ids) -> dict[str, tuple[str, int]]:
        """alert_id -> (rumour_id, minute_ms) of the alerts of ``rumour_ids`` raised before: in
        the store or waiting for it."""
        wanted = set(rumour_ids)
        ids = self.store.alert_ids(wanted)
        if self.alert_buffer is not None:
            ids.update((a["alert_id"], (a["rumour_id"], a["minute_ms"])) for a in self.alert_buffer.pending()
                       if a.get("rumour_id") in wanted)
        return ids

    def catch_up(self, owns=None, seconds: float | None = None) -> list[dict]:
        """At a worker's start and each partition assignment: every stored rumour not in memory
        is rebuilt from the store at its first batch (not counted from zero), and those of them
        ``owns`` (rumour id -> bool; None: all) with events stored in the last ``seconds``
        (default: the config's ``alert_catchup_seconds``; 0: none) are rebuilt now, so their
        alerts are raised even if the rumour gets no new event; either rebuild raises, marked
        ``late``, the alerts the stored events give that were never raised (a worker killed
        between a batch's ack and its observation). The debunk tracker's figures of those
        rumours are completed from the store when read. Three queries whatever the number of
        rumours; returns the alerts raised now."""
        if self.store is None:
            return []
        lister = self.alerts.dropped_ids.lister
        stored = lister() if lister is not None else None  # one listing for both trackers
        self.alerts.mark_stored(stored)
        self.debunks.mark_stored(stored)
        if seconds is None:
            seconds = self.config.alert_catchup_seconds
        # 0 means none at once: the query's "now() - 0" would still catch this second's writes.
        recent = self.store.rumours_ingested_since(seconds) if seconds > 0 else []
        recent = [r for r in recent if owns is None or owns(r)]
        return self.alerts.catch_up(recent)

    # -- feed ---------------------------------------------------------------------------------
    def observe(self, batch) -> list[dict]:
        """Feed one batch of accepted events; returns the alerts it raised."""
        if not len(batch):
            return []
        view = batch_view(batch)  # rumour groups, region codes, id hashes: made once for all three
        self.desk.observe(batch, view)
        self.debunks.observe(batch, view)
        return self.alerts.observe(batch, view)

    def attach(self, pipeline=None) -> None:
        pipeline = pipeline or self.pipeline
        self.pipeline = self.alerts.pipeline = self.desk.pipeline = pipeline
        observers = getattr(pipeline, "observers", None)
        if isinstance(observers, list):
            observers.append(self.observe)
            return
        original = pipeline.process_batch

        def process_batch(batch, dead):
            stats = original(batch, dead)
            self.observe(batch)
            return stats

        pipeline.process_batch = process_batch

    def load_from_store(self) -> int:
        """After a restart: index the source texts of the ``report_link_rumours`` rumours with
        the newest events in the store (as many as the desk keeps); returns how many."""
        if self.store is None:
            return 0
        texts = self.store.source_texts(limit=self.config.report_link_rumours)
        for rid, text in texts.items():
            self.desk.add_rumour_text(rid, text)
        return len(texts)

    # -- answers ------------------------------------------------------------------------------
    def submit_report(self, payload, source: str = "http", prefer=None) -> tuple[int, dict]:
        return self.desk.submit(payload, source, prefer=prefer)

    def link_report(self, report_id, rumour_id, by, note="", at_ms=None) -> tuple[int, dict]:
        return self.desk.link_by_hand(report_id, rumour_id, by, note, at_ms)

    def set_status(self, rumour_id, status, by, note="", at_ms=None, replaces=None) -> tuple[int, dict]:
        return self.desk.set_status(rumour_id, status, by, note, at_ms, replaces)

    def status_answer(self, rumour_id, status, by, note, at_ms) -> tuple[int, dict]:
        return self.desk.status_answer(rumour_id, status, by, note, at_ms)

    def current_alerts(self, jurisdiction: str, since_ms: int | None = None, limit: int = 100) -> list[dict]:
        """Alerts of units inside ``jurisdiction``, newest first: the router keeps only its
        newest alerts in memory, so with a store the older ones are read from there."""
        memory = self.alerts.current(jurisdiction, since_ms, limit)
        if self.store is None:
            return memory
        from streams.governance.alerts import select_alerts

        try:
            stored = self.store.load_alerts(since_ms=since_ms)
        except Exception:  # the memory's alerts still answer
            log.exception("reading alerts from the store failed")
            return memory
        by_id = {a["alert_id"]: a for a in stored}
        if self.alert_buffer is not None:  # normally in memory too; not if the store failed long
            by_id.update((a["alert_id"], a) for a in self.alert_buffer.pending())
        by_id.update((a["alert_id"], a) for a in memory)
        return select_alerts(by_id.values(), jurisdiction, since_ms, limit)

    def debunk(self, rumour_id: str) -> dict | None:
        m = self.debunks.metrics(rumour_id)
        return None if m is None else m.to_dict()

    def flush(self) -> list[dict]:
        """Judge every open minute (end of a replay) and write every alert to the store."""
        raised = self.alerts.flush()
        if self.alert_buffer is not None:
            self.alert_buffer.flush()
        return raised

    def close(self) -> None:
        """Write the alerts still waiting for the store (worker shutdown); the hub still works."""
        if self.alert_buffer is not None:
            self.alert_buffer.close()
