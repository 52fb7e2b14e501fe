"""The audit rows of one authenticated request (the rule: ``streams/service/__init__.py``).

:class:`AuditTrail` is made by :meth:`streams.service.http.Service._handle` once the token is
known. An audited route gets exactly one row whatever its outcome, written before the answer
leaves (:meth:`AuditTrail.finish`: if the row cannot be written the answer is withheld, 503). A
handler that changes state writes its row before the change (:meth:`AuditTrail.ahead`, called
from the executor thread); :meth:`finish` then writes a second row only when the outcome
differs (a change that failed after its row). A 401 has no trail: there is nobody to record;
its row, which names no one, is :mod:`streams.service.probes`'.
"""
from __future__ import annotations

import logging

import orjson
from aiohttp import web

from streams.service import audit

log = logging.getLogger(__name__)


class AuditTrail:
    """``service`` gives ``store``, ``_run`` and the ``audit_rows_written`` counter; ``ctx``
    is the request's context (``rumour_id``, ``case_id``, ``params``), filled in by the checks
    after the trail is made: a row records them as they are when it is written."""

    def __init__(self, service, principal, route, remote: str, ctx: dict):
        self.service, self.principal, self.route, self.remote, self.ctx = service, principal, route, remote, ctx
        self.written = None  # (status, digest) of the row written ahead, if any

    def row(self, status: int, digest: str) -> dict:
        ctx = self.ctx
        return audit.row(self.principal, self.route.name, ctx["rumour_id"], ctx["case_id"], ctx["params"],
                         status, digest, self.remote)

    def ahead(self, status: int, answer) -> None:
        """Write the row of an answer before the change it reports is made (raises if the row
        cannot be written: the change is then not made)."""
        digest = audit.answer_digest(status, orjson.dumps(answer))
        self.service.store.write_audit([self.row(status, digest)])
        self.service.audit_rows_written += 1
        self.written = (status, digest)

    async def finish(self, response: web.Response, digest: str, audit_status: int | None,
                     withheld) -> web.Response:
        """The response to send: ``response`` once its row is written (audited routes), or
        ``withheld()`` when the row cannot be. ``audit_status`` overrides the recorded status
        (a jurisdiction refusal answered 404 is recorded as 403)."""
        if not self.route.audited or self.written == (response.status, digest):
            return response
        row = self.row(audit_status or response.status, digest)
        try:
            await self.service._run(self.service.store.write_audit, [row])
            self.service.audit_rows_written += 1
        except Exception:
            log.exception("audit write failed: answer withheld")
            return withheld()
        return response
