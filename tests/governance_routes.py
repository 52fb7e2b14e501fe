"""HTTP handlers of the governance loop, as plain functions and as aiohttp routes.

``governance_routes(hub, prefix="/api")`` returns aiohttp ``RouteDef``s to add to any
``web.Application`` (``app.add_routes(...)``; Faust's web server is aiohttp underneath:
``faust_app.web.web_app.add_routes(...)``):

=======  ==========================================  ==========================================
POST     /api/reports                                a public report (JSON) -> 201/200/400
GET      /api/rumours/{rumour_id}/reports            the reports linked to a rumour
GET      /api/rumours/{rumour_id}/status             current status and its history
POST     /api/rumours/{rumour_id}/status             {"status", "changed_by", "note"} -> 201
GET      /api/alerts?jurisdiction=CODE[&since=ms]    current alerts for a jurisdiction
GET      /api/rumours/{rumour_id}/debunk             reach, time to debunk, coverage
=======  ==========================================  ==========================================

These routes have NO access control and take ``changed_by`` from the body, so they live with
the tests, not in the package: a deployment cannot mount them by mistake. The public surface is
the service (:mod:`streams.service`), which serves the same operations behind its tokens,
roles, jurisdictions and audit (see ``streams/service/__init__.py``), with ``changed_by`` taken
from the token; ``rumour serve`` and the worker mount that. The tests use these to drive the
governance hub over HTTP without tokens.
"""
from __future__ import annotations

import asyncio

import orjson

from streams.api import ApiError, validate_rumour_id


def submit_report(hub, payload) -> tuple[int, dict]:
    """The intake as a function: ``(status, body)`` for one report payload (a dict)."""
    return hub.submit_report(payload, "http")


def _json(status: int, body):
    from aiohttp import web

    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def governance_routes(hub, prefix: str = "/api") -> list:
    from aiohttp import web

    async def post_report(request):
        try:
            payload = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _json(400, {"error": "body: invalid JSON"})
        loop = asyncio.get_running_loop()
        status, body = await loop.run_in_executor(None, submit_report, hub, payload)
        return _json(status, body)

    def _rid(request):
        return validate_rumour_id(request.match_info["rumour_id"])

    def per_rumour(answer):
        """A GET handler of one rumour: an invalid id is answered with its error, a valid one
        by ``answer(rumour_id)``."""
        async def handler(request):
            try:
                rid = _rid(request)
            except ApiError as exc:
                return _json(exc.status, {"error": str(exc)})
            return answer(rid)

        return handler

    @per_rumour
    def get_reports(rid):
        return _json(200, {"rumour_id": rid, "reports": hub.desk.reports_of(rid)})

    @per_rumour
    def get_status(rid):
        return _json(200, {"rumour_id": rid, "status": hub.desk.latest_status(rid),
                           "history": hub.desk.status_history(rid)})

    async def post_status(request):
        try:
            rid = _rid(request)
            body = orjson.loads(await request.read())
        except ApiError as exc:
            return _json(exc.status, {"error": str(exc)})
        except orjson.JSONDecodeError:
            return _json(400, {"error": "body: invalid JSON"})
        if not isinstance(body, dict):
            return _json(400, {"error": "body: expected a JSON object"})
        status, answer = hub.set_status(rid, body.get("status"), body.get("changed_by"), body.get("note") or "")
        return _json(status, answer)

    async def get_alerts(request):
        jurisdiction = request.query.get("jurisdiction", "")
        since = request.query.get("since")
        try:
            since_ms = int(since) if since else None
        except ValueError:
            return _json(400, {"error": "since: expected epoch milliseconds"})
        from streams.governance.divisions import normalise_region

        if normalise_region(jurisdiction) is None:
            return _json(400, {"error": "jurisdiction: expected a division code or name"})
        return _json(200, {"jurisdiction": normalise_region(jurisdiction),
                           "alerts": hub.current_alerts(jurisdiction, since_ms)})

    @per_rumour
    def get_debunk(rid):
        answer = hub.debunk(rid)
        if answer is None:
            return _json(404, {"error": f"unknown rumour {rid!r}"})
        return _json(200, answer)

    return [
        web.post(f"{prefix}/reports", post_report),
        web.get(f"{prefix}/rumours/{{rumour_id}}/reports", get_reports),
        web.get(f"{prefix}/rumours/{{rumour_id}}/status", get_status),
        web.post(f"{prefix}/rumours/{{rumour_id}}/status", post_status),
        web.get(f"{prefix}/alerts", get_alerts),
        web.get(f"{prefix}/rumours/{{rumour_id}}/debunk", get_debunk),
    ]
