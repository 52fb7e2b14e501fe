"""The service's JSON answers and refusals, shared by the route handlers
(:mod:`streams.service.http`, :mod:`streams.service.trace_http`, :mod:`streams.service.site`,
:mod:`streams.service.governance_http`)."""
from __future__ import annotations

import orjson
from aiohttp import web

from streams.service.error_codes import check


class Refused(Exception):
    """A refusal answered with ``status`` and ``code`` (:mod:`streams.service.error_codes`); its
    audit row records ``audit_status`` (default: the same) when the caller must not learn what
    the row records (a jurisdiction refusal)."""

    def __init__(self, status: int, message: str, *, code: str, audit_status: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = check(code)
        self.audit_status = status if audit_status is None else audit_status


def _json(obj, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json",
                        headers=headers)


def _error(status: int, message: str, code: str) -> web.Response:
    """The API's one error shape: ``error`` the server's text (English), ``code`` its kind, which
    clients key their own words on (the dashboard's zh-CN and English: static/errors.js)."""
    headers = {"WWW-Authenticate": 'Bearer realm="rumour-trace"'} if status == 401 else None
    return _json({"error": message, "status": status, "code": check(code)}, status, headers)
