"""HTTP routes of the worker (Faust's web server). Handlers are plain functions over the
pipeline so the embedded server can mount the same answers."""
from __future__ import annotations

import asyncio

from faust.web import Request, Response, View

from streams.api import MAX_K, ApiError, parse_k, validate_rumour_id


def register_routes(app, pipeline, settings) -> None:
    default_k = settings.cutoff_k

    @app.page("/api/rumours/{rumour_id}/trace")
    class TraceView(View):
        async def get(self, request: Request, rumour_id: str) -> Response:
            try:
                rid = validate_rumour_id(rumour_id)
                k = parse_k(request.query.get("k"), default_k)
            except ApiError as exc:
                return self.json({"error": str(exc)}, status=exc.status)
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(None, pipeline.trace, rid, k)
            if answer is None:
                return self.json({"error": f"unknown rumour {rid!r}"}, status=404)
            return self.json(answer)

    @app.page("/api/rumours")
    class RumoursView(View):
        async def get(self, request: Request) -> Response:
            return self.json({"rumours": pipeline.rumour_ids()})

    @app.page("/healthz")
    class HealthView(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok", **getattr(app, "stats", {})})
