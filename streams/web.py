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


def register_routes(app, pipeline, settings) -> None:
    from streams.service.http import Service
    from streams.service.paths import tokens_file

    service = Service(pipeline, pipeline.store, tokens_file(), settings.cutoff_k,
                      stats=lambda: dict(getattr(app, "stats", {})),
                      # the governance hub, when streams.governance.wiring attached one first
                      governance=getattr(app, "governance", None))
    # Not app.service: that name is Faust's decorator for registering services.
    app.rumour_service = service
    # app.web builds Faust's aiohttp Application; middlewares may be added until it starts.
    app.web.web_app.middlewares.append(service.middleware)
    log.info("dashboard and origin-trace API mounted (tokens: %s)", service.tokens.path)
