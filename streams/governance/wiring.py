"""Joining the governance loop to a pipeline, a Faust app and the HTTP service.

Worker (``streams.app.create_app``, after the pipeline exists)::

    hub = build_governance(pipeline, pipeline.store, settings)
    attach_governance_to_app(app, hub)

Embedded (``rumour serve``): ``build_governance`` before the replay, then ``hub.flush()`` once
the files are read; alerts go to the store and the dashboard (no Kafka).
"""
from __future__ import annotations

import asyncio
import logging

from streams.governance.config import GovernanceConfig
from streams.governance.hub import Governance

log = logging.getLogger(__name__)


def build_governance(pipeline, store, settings, config: GovernanceConfig | None = None) -> Governance:
    """A hub over ``pipeline`` and ``store``: attached (it sees every batch the pipeline
    accepts) and loaded from the store (source texts, for linking reports after a restart; the
    reports received within ``report_dedup_hours``, for merging and re-sends). A store that
    cannot be read does not stop the start: each load that failed is logged and the hub starts
    without it (reports then merge only with those received from now on; a re-send of an
    earlier report is still found in the store by its id once the store answers)."""
    hub = Governance(pipeline, store=store, config=config or GovernanceConfig.from_settings(settings))
    hub.attach()
    if store is not None:
        try:
            n = hub.load_from_store()
            log.info("governance: %d rumour source texts indexed from the store", n)
        except Exception:  # an empty or old store: reports link by event id until texts arrive
            log.exception("governance: loading source texts from the store failed")
        try:
            n = hub.desk.restore()
            log.info("governance: %d reports of the last %g h restored from the store", n,
                     hub.config.report_dedup_hours)
        except Exception:
            log.exception("governance: restoring recent reports from the store failed; the report "
                          "desk starts with an empty memory")
    return hub


def attach_governance_to_app(app, hub: Governance) -> None:
    """The Kafka side (report intake agent, alerts topic sink) and the HTTP routes of the
    worker's service. Works before or after ``streams.web.register_routes``."""
    from streams.governance.agents import register_governance_agents

    register_governance_agents(app, hub)
    app.governance = hub
    shutdown = getattr(app, "on_before_shutdown", None)
    if shutdown is not None:
        async def write_waiting_alerts(*args, **kwargs):
            # The worker observes stored batches after their ack (streams/app.py): those batches
            # are not delivered again, so their alerts are made before the hub closes.
            finish = getattr(app, "finish_observing", None)
            if finish is not None:
                try:
                    await asyncio.wait_for(finish(), timeout=60)
                except Exception:
                    log.exception("governance: stored batches not all observed before shutdown")
            # Alerts wait up to a second for their INSERT (streams/governance/alert_store.py);
            # a stopping worker writes them before it goes.
            hub.close()

        shutdown.connect(write_waiting_alerts)
    service = getattr(app, "rumour_service", None)
    if service is not None:
        service.attach_governance(hub)


def governance_topics(settings) -> dict[str, int]:
    """The topics the worker should create beside its own (``streams.topics.ensure_topics``)."""
    config = GovernanceConfig.from_settings(settings)
    return {config.reports_topic: 1, config.alerts_topic: 1}
