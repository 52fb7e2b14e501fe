"""HTTP surface of the worker (Faust's aiohttp web server): the same dashboard, origin-trace API,
/healthz and /metrics as ``rumour serve`` (see :mod:`streams.service.http`).

The service is mounted as a middleware of Faust's aiohttp application rather than as Faust
pages: it answers its own routes before Faust's router (so the dashboard, not Faust's index
page, is at ``/``) and passes every other path (Faust's /router, /table, ...) through.
The governance routes are served once a hub is attached
(:func:`streams.governance.wiring.attach_governance_to_app`, before or after this).
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def current_stats(app, pipeline) -> dict:
    """``app.stats`` with the ownership counters read now: the 2-second timer's copies may predate
    a rebalance, and a reader waiting for a split must not see the old owner's counts.

    >>> from types import SimpleNamespace
    >>> app = SimpleNamespace(stats={"batches": 3, "assigned_partitions": 6})  # 6: before a rebalance
    >>> pipeline = SimpleNamespace(assigned={0, 2}, graphs={"r1": 1, "r2": 2}, _borrowed={"r2"})
    >>> s = current_stats(app, pipeline)
    >>> s["batches"], s["assigned_partitions"], s["rumours_in_memory"]
    (3, 2, 1)
    """
    stats = dict(getattr(app, "stats", {}))
    assigned = pipeline.assigned
    # len() of a set or dict is one atomic read under the GIL; the pipeline thread may be mutating.
    stats["assigned_partitions"] = len(assigned) if assigned is not None else 0
    stats["rumours_in_memory"] = len(pipeline.graphs) - len(pipeline._borrowed)
    return stats


def register_routes(app, pipeline, settings) -> None:
    from aiohttp import web

    from streams.governance.config import GovernanceConfig
    from streams.service.errors import JsonErrorRunner, json_errors
    from streams.service.http import Service
    from streams.service.paths import tokens_file

    # The tokens_file setting (its flag too; the environment alone was read here, so
    # `rumour worker --tokens-file F` served with another file than the one it was given).
    service = Service(pipeline, pipeline.store, tokens_file(settings.tokens_file), settings.cutoff_k,
                      stats=lambda: current_stats(app, pipeline),
                      # the governance hub, when streams.governance.wiring attached one first
                      governance=getattr(app, "governance", None),
                      liaison_account_scope=settings.liaison_account_scope,
                      event_pseudonym_rumours=settings.event_pseudonym_rumours,
                      refusal_rows_per_minute=settings.refusal_rows_per_minute,
                      refusal_summary_peers=settings.refusal_summary_peers,
                      shutdown_write_seconds=settings.shutdown_write_seconds,
                      timezone=GovernanceConfig.from_settings(settings).report_timezone)
    # Not app.service: that name is Faust's decorator for registering services.
    app.rumour_service = service
    # app.web builds Faust's aiohttp Application; middlewares may be added until it starts.
    # json_errors outermost: aiohttp's own 404/405/413 (Faust's routes too) answer in JSON.
    app.web.web_app.middlewares.insert(0, json_errors)
    app.web.web_app.middlewares.append(service.middleware)
    # The summary row of refused requests not yet written (streams.service.probes).
    app.web.web_app.on_shutdown.append(service.on_shutdown)
    # Faust's driver makes its AppRunner when the app is built and sets it up at start: ours
    # answers the parser's refusals (malformed request, oversized header) in JSON too. Only an
    # AppRunner not yet set up is replaced (another Faust may make it otherwise: left as it is).
    runner = getattr(app.web, "_runner", None)
    if type(runner) is web.AppRunner and runner.server is None:
        app.web._runner = JsonErrorRunner(app.web.web_app, access_log=None)
    # The trace kernels (inferred parents, evidence) compiled once the web server starts, not at
    # the first liaison's export (a container starts with an empty numba cache: 23 s then).
    # Only the kernels: the interaction graph is not counted before a ?parents=1 asks for it,
    # as keeping it costs every ingest batch (streams/service/views.py: held_interactions).
    from streams.service.warm import warm_in_background

    async def warm(_web_app) -> None:
        warm_in_background(settings.cutoff_k)

    app.web.web_app.on_startup.append(warm)
    log.info("dashboard and origin-trace API mounted (tokens: %s)", service.tokens.path)
    no_token = service.tokens.startup_note()
    if no_token:
        log.warning("%s", no_token)
