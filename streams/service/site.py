"""The open routes: the dashboard page and its assets, /openapi.json, /healthz
(mixed into :class:`streams.service.http.Service`). /metrics needs a token: see
:meth:`streams.service.http.Service._r_metrics`."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from streams.service.openapi import spec
from streams.service.paths import PROJECT_ROOT
from streams.service.responses import _error, _json
from streams.worker_stats import health_problems

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR = {"echarts.min.js": PROJECT_ROOT / "web" / "node_modules" / "echarts" / "dist" / "echarts.min.js"}
# The files /static/ serves (no other name is read from the folder): the page's style and its
# scripts, each of which index.html loads (tests/test_service.py checks both ways).
STATIC = {"app.css": "text/css", **{name: "application/javascript" for name in (
    "i18n.js", "errors.js", "expiry.js", "series.js", "trace.js",
    "page.js", "login.js", "list.js", "charts.js", "tree.js", "desk.js", "app.js")}}


class SiteHandlers:
    """Needs ``self.stats``."""

    # -- open routes --------------------------------------------------------------------
    async def _open(self, route, params, request) -> web.Response:
        if route.name == "dashboard":
            return self._file(STATIC_DIR / "index.html", "text/html")
        if route.name == "static":
            name = params["name"]
            if name not in STATIC:
                return _error(404, "no such file", "no_such_file")
            return self._file(STATIC_DIR / name, STATIC[name])
        if route.name == "vendor":
            path = VENDOR.get(params["name"])
            if path is None:
                return _error(404, "no such file", "no_such_file")
            if not path.exists():
                return _error(503, f"{path} is missing: run `npm ci` in web/", "vendor_missing")
            return self._file(path, "application/javascript", cache=True)
        if route.name == "openapi":
            return _json(spec())
        if route.name == "health":
            # "ok" only when nothing is known to be wrong: a worker waiting minutes for an
            # unreachable store answered "ok" (and a health check reads the HTTP status).
            stats = self.stats()
            problems = health_problems(stats)
            return _json({"status": "degraded" if problems else "ok", "problems": problems, **stats},
                         status=503 if problems else 200)
        return _error(404, "no such route", "no_such_route")

    @staticmethod
    def _file(path: Path, content_type: str, cache: bool = False) -> web.Response:
        headers = {"Cache-Control": "public, max-age=3600" if cache else "no-cache"}
        charset = "utf-8" if content_type.startswith(("text/", "application/javascript")) else None
        return web.Response(body=path.read_bytes(), content_type=content_type, charset=charset,
                            headers=headers)

