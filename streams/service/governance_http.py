"""Handlers of the governance routes (``governance=True`` in :data:`streams.service.routes.ROUTES`),
mixed into :class:`streams.service.http.Service`: they pass the same checks as every route
(token 401, role 403, parameters 400, rumour unknown or outside the jurisdiction 404, audit) before they run.

POST bodies: JSON (``Content-Type: application/json``, else 415), at most :data:`BODY_MAX`
bytes (else 413), read in chunks so an oversized body is refused before it is held in memory.
"""
from __future__ import annotations

import orjson

from streams.api import ApiError, validate_path_id
from streams.service.access import check_code
from streams.service.error_codes import check
from streams.service.responses import Refused, _error, _json

BODY_MAX = 64 * 1024


async def read_json(request, limit: int = BODY_MAX):
    ctype = (request.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if ctype != "application/json":
        raise ApiError("body: Content-Type must be application/json", 415, code="body_not_json")
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(f"body: larger than {limit} bytes", 413, code="body_too_large")
    chunks, size = [], 0
    while True:
        chunk = await request.content.read(16384)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise ApiError(f"body: larger than {limit} bytes", 413, code="body_too_large")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise ApiError("body: invalid JSON", code="bad_body") from None


class GovernanceHandlers:
    """Needs ``self.gov`` (:class:`streams.service.governance.GovernanceViews`), ``self._run``
    and ``self._int_param``."""

    async def _r_report_submit(self, principal, params, request, ctx):
        payload = await read_json(request)
        status, answer = await self._run(self.gov.submit, payload, principal)
        return _answer(status, answer)

    async def _r_reports(self, principal, params, request, ctx):
        return _json(await self._run(self.gov.reports, ctx["rumour_id"], principal))

    async def _r_reports_unlinked(self, principal, params, request, ctx):
        limit = self._int_param(request.query, "limit", 100, 1, 1000)
        offset = self._int_param(request.query, "offset", 0, 0, 1 << 31)
        return _json(await self._run(self.gov.unlinked, principal, limit, offset))

    async def _r_report_link(self, principal, params, request, ctx):
        report_id = validate_path_id(params["report_id"], "report id")
        ctx["params"]["report_id"] = report_id
        body = await read_json(request)
        if isinstance(body, dict):
            if isinstance(body.get("rumour_id"), str):
                ctx["rumour_id"] = body["rumour_id"][:200]
            ctx["params"].update({k: str(v)[:200] for k, v in body.items() if k == "note"})
        # Audited before it is applied: a link whose audit row cannot be written is not made.
        status, answer = await self._run(self.gov.link_report, report_id, body, principal, ctx["audit_ahead"])
        # A 409 names the report's link (null: one the caller may not see): _answer keeps it.
        return _answer(status, answer)

    async def _r_status(self, principal, params, request, ctx):
        return _json(await self._run(self.gov.status, ctx["rumour_id"]))

    async def _r_status_set(self, principal, params, request, ctx):
        body = await read_json(request)
        if isinstance(body, dict):
            ctx["params"].update({k: str(v)[:200] for k, v in body.items() if k in ("status", "note")})
        # Audited before it is applied: a change whose audit row cannot be written is not made.
        status, answer = await self._run(self.gov.set_status, ctx["rumour_id"], body, principal,
                                         ctx["audit_ahead"])
        # A 409 from a change through another worker at the same time names it (``competitor``).
        return _answer(status, answer)

    async def _r_alerts(self, principal, params, request, ctx):
        q = request.query
        within = q.get("jurisdiction") or None
        if within is not None:
            try:
                check_code(within)
            except ValueError:
                raise ApiError("jurisdiction: expected a 6-digit division code") from None
            from streams.service.access import covers

            # Narrowing only: a code outside the caller's own jurisdiction is refused.
            if not covers(principal.jurisdiction, within):
                raise Refused(403, f"jurisdiction {within} is outside {principal.jurisdiction}",
                              code="outside_jurisdiction")
        limit = self._int_param(q, "limit", 100, 1, 1000)
        since = self._int_param(q, "since_ms", 0, 0, 1 << 62) if q.get("since_ms") else None
        return _json(await self._run(self.gov.alerts, principal, within, since, limit))

    async def _r_debunk(self, principal, params, request, ctx):
        answer = await self._run(self.gov.debunk, ctx["rumour_id"])
        if answer is None:
            raise Refused(404, f"no debunk figures for {ctx['rumour_id']!r}", code="no_debunk_figures")
        return _json(answer)


def _answer(status: int, answer: dict):
    """The desk's answer; a refusal in the API's one error shape (``{"error", "status", "code"}``),
    with whatever else the refusal names (a 409's ``link`` of a report linked already, or the
    ``competitor`` of a status change): the desk's other refusals carry only ``error`` and
    ``code`` (a refusal that names no code: ``bad_request``)."""
    if status >= 400:
        code = check(answer.get("code") or "bad_request")
        named = {k: v for k, v in answer.items() if k not in ("error", "code")}
        if named:
            return _json({"error": str(answer.get("error", "refused")), "status": status, "code": code, **named},
                         status)
        return _error(status, str(answer.get("error", "refused")), code)
    return _json(answer, status)
