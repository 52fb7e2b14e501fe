"""Handlers of the audited routes (the three traces, the evidence package, the audit log),
mixed into :class:`streams.service.http.Service`: they run after its checks (token, role,
parameters, jurisdiction, case number), and their answer leaves only once its audit row is
written (:mod:`streams.service.audit_trail`).

Events by pseudonym (``/events/{event_id}/trace``): the tree and the traces show an event by its
pseudonym (``pev_...``) wherever its account is pseudonymised, and the route takes that form
from anyone and maps it back here (:meth:`streams.service.views.Views.event_for`), so an
analyst follows an event from the tree into its trace. A post id given in clear is the
dangerous direction: it leads to its author on the platform, and an answer naming its
pseudonyms would tie them to that author. So, as for accounts, a role without clear identities
may not give an event id in clear (403, whether or not the event exists: no answer tells
anything about a guessed id), and a liaison whose account scope hides the event's account gets
exactly the unknown event's answer (404; the audit row records 403, 404 when there is no such
event). Before this, both learned from a guessed id whether the post was in the rumour and
the pseudonym of its author; now neither does. The audit row records the real id
(``event_id``) and the one given (``event_pseudonym``); likewise ``account_id`` and
``account_pseudonym`` on the account route."""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from urllib.parse import quote

from aiohttp import web

from streams.api import ApiError, parse_k
from streams.service import audit, evidence
from streams.service.access import prefix
from streams.service.probes import AUTH_FAILURES
from streams.service.responses import Refused, _json
from streams.service.routes import CASE_RE, CASE_RULE
from streams.service.trace_parents import PARENT_KEYS, read_parents
from streams.service.tokens import expiry_text


def attachment(name: str, ascii_name: str | None = None) -> str:
    """``Content-Disposition`` of a download named ``name``: an ASCII ``filename`` for clients
    that read only that (``curl -OJ``, old browsers) and the name as given (a case number is
    often Chinese) in ``filename*`` (RFC 6266), each with characters a file name must not hold
    replaced by ``_``. ``ascii_name``: the plain name to give instead of ``name`` with each
    non-ASCII character as ``_`` (see :func:`evidence_ascii_name`).

    >>> print(attachment("evidence-沪公(2026)12/3.zip"))
    attachment; filename="evidence-___2026_12_3.zip"; filename*=UTF-8''evidence-%E6%B2%AA%E5%85%AC%282026%2912_3.zip
    >>> print(attachment("evidence-沪公(2026)12/3.zip", "evidence-2026-12-3-r1-20261130.zip"))
    attachment; filename="evidence-2026-12-3-r1-20261130.zip"; filename*=UTF-8''evidence-%E6%B2%AA%E5%85%AC%282026%2912_3.zip
    """
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_"
                         for c in (name if ascii_name is None else ascii_name))
    full = "".join(c if c.isalnum() or c in "-_.()（）〔〕[]" else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(full, safe='')}"


def evidence_ascii_name(case_id: str, rumour_id: str, generated_at: str) -> str | None:
    """The plain (ASCII) file name of a package whose case number is not all ASCII, or None
    (the case number's own name serves). ``curl -OJ`` and other clients that ignore
    ``filename*`` saved ``沪公刑(2026)7号`` as ``evidence-_____2026__7_.zip``, one ``_`` per
    Chinese character: it names no case, and every 2026 case number looks alike. So the plain
    name holds what identifies the package in ASCII: the case number's ASCII letter and digit
    runs, the rumour id and the UTC day it was generated.

    >>> evidence_ascii_name("沪公刑(2026)7号", "weibo:3462/1", "2026-11-30T13:05:09Z")
    'evidence-2026-7-weibo_3462_1-20261130.zip'
    >>> evidence_ascii_name("沪公刑字第号", "r1", "2026-11-30T13:05:09Z")
    'evidence-r1-20261130.zip'
    >>> evidence_ascii_name("EV-1 (2026)", "r1", "2026-11-30T13:05:09Z") is None
    True
    """
    if case_id.isascii():
        return None
    runs = [run for run in re.split(r"[^A-Za-z0-9]+", case_id.encode("ascii", "replace").decode()) if run]
    rumour = re.sub(r"[^A-Za-z0-9._-]", "_", rumour_id)[:64]
    day = generated_at[:10].replace("-", "")
    return "-".join(["evidence", *runs, rumour, day]) + ".zip"


class TraceHandlers:
    """Needs ``self.views``, ``self.store``, ``self.pseudo``, ``self.evidence_key``,
    ``self.cutoff_k``, ``self._run``, ``self._guard`` and ``self._int_param``."""

    def _account_scope(self, principal, ctx) -> None:
        # The audit row records which identities rule the answer followed (identities.py).
        ctx["params"]["account_scope"] = self.views.identities.scope(principal)

    async def _trace(self, principal, request, ctx, **target):
        k = parse_k(request.query.get("k"), self.cutoff_k)
        # The rumour's trace only: the route table refuses ``parents`` on an event's or account's.
        target["parents"] = read_parents(request.query, ctx["params"])
        self._account_scope(principal, ctx)
        answer = await self._guard(self.views.trace, ctx["rumour_id"], principal, k, **target)
        answer["case_id"] = ctx["case_id"] or None
        return _json(answer)

    async def _r_trace(self, principal, params, request, ctx):
        return await self._trace(principal, request, ctx)

    async def _r_trace_event(self, principal, params, request, ctx):
        given = params["event_id"]
        if not principal.may("clear") and not self.pseudo.looks_like_event(given):
            # As for accounts: an id in clear in, its pseudonym out would tie a guessed post id
            # (which leads to its author on the platform) to the pseudonyms on the dashboard.
            raise Refused(403, f"role {principal.role} traces events by pseudonym (pev_...) only",
                          code="pseudonym_only")
        event = await self._guard(self.views.event_for, ctx["rumour_id"], given)
        if event != given:
            # The audit row keeps the real id (the audit is the admin's) beside the one given.
            ctx["params"].update(event_id=event, event_pseudonym=given)
        return await self._trace(principal, request, ctx, event_id=event, event_given=given)

    async def _r_trace_account(self, principal, params, request, ctx):
        if not principal.may("clear") and not self.pseudo.looks_like(params["account_id"]):
            # A clear id in, its pseudonym out: a role without clear identities could map any
            # guessed id to its pseudonym and so re-identify every pseudonym on the dashboard.
            raise Refused(403, f"role {principal.role} traces accounts by pseudonym (psn_...) only",
                          code="pseudonym_only")
        account = await self._run(self.views.account_for, ctx["rumour_id"], params["account_id"])
        if account is None:
            raise Refused(404, f"unknown account {params['account_id']!r}", code="unknown_account")
        namer = None  # passed to the trace, which then does not ask the store about it again
        if not self.pseudo.looks_like(params["account_id"]):
            # An id given in clear (roles with clear identities only, see above) that the
            # caller's account scope does not show in clear is answered as an unknown account:
            # its pseudonym out would tie the two together (as for an analyst), and a 403 would
            # tell that the account acted in this rumour elsewhere. The audit row records 403
            # when it did act in the rumour, 404 when it did not.
            self._account_scope(principal, ctx)
            namer = await self._run(self.views.identities.namer, principal, ctx["rumour_id"], [account])
            if not namer.in_clear(account):
                raise Refused(404, f"unknown account {params['account_id']!r}", code="unknown_account",
                              audit_status=403 if account in namer.acted else None)
        if account != params["account_id"]:
            # The audit row keeps the real id (the audit is the admin's) beside the one given.
            ctx["params"].update(account_id=account, account_pseudonym=params["account_id"])
        return await self._trace(principal, request, ctx, account_id=account, known=namer)

    async def _r_evidence(self, principal, params, request, ctx):
        if not ctx["case_id"]:
            raise Refused(400, "an evidence package needs a case number (?case= or X-Case-Id)",
                          code="case_required")
        k = parse_k(request.query.get("k"), self.cutoff_k)
        parents = read_parents(request.query, ctx["params"])
        self._account_scope(principal, ctx)
        trace = await self._guard(self.views.trace, ctx["rumour_id"], principal, k, parents=parents)
        # The inferred links go to a file of their own: evidence.json's trace stays observed links.
        inferred = {key: trace.pop(key) for key in PARENT_KEYS} if parents else None
        meta = {"case_id": ctx["case_id"],
                "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "generated_by": {"token_id": principal.token_id, "name": principal.name,
                                 "role": principal.role, "jurisdiction": principal.jurisdiction,
                                 # as in this request's audit row and /api/me
                                 "token_expires": expiry_text(principal.expires_ms)}}
        data, digest = await self._run(evidence.build, meta, trace, self.evidence_key, self.views.timezone,
                                       inferred)
        ctx["digest"] = digest
        return web.Response(body=data, content_type="application/zip", headers={
            "Content-Disposition": attachment(f"evidence-{ctx['case_id']}.zip",
                                              evidence_ascii_name(ctx["case_id"], ctx["rumour_id"],
                                                                  meta["generated_at"])),
            "X-Evidence-Digest": digest})

    async def _r_audit(self, principal, params, request, ctx):
        q = request.query
        limit = self._int_param(q, "limit", 100, 1, 10_000)
        since = self._int_param(q, "since_ms", -1, 0, 1 << 62) if q.get("since_ms") else None
        until = self._int_param(q, "until_ms", -1, 0, 1 << 62) if q.get("until_ms") else None
        case = q.get("case") or None
        if case is not None and not CASE_RE.match(case):
            raise ApiError(f"case: {CASE_RULE}", code="bad_case")
        failure = q.get("auth_failure") or None
        if failure is not None and failure not in AUTH_FAILURES + ("any",):
            raise ApiError(f"auth_failure: one of any, {', '.join(AUTH_FAILURES)}")
        rows = await self._run(self.store.audit_rows, limit, case, since, prefix(principal.jurisdiction), until,
                               failure)
        if prefix(principal.jurisdiction):
            rows = await self._run(audit.as_answered, rows, lambda rid: self._covers(principal, rid))
        return _json({"rows": audit.readable(rows)})

    def _covers(self, principal, rumour_id: str) -> bool:
        """Whether the caller's jurisdiction covers a rumour that exists (executor thread)."""
        regions = self.views.regions_of(rumour_id)
        return regions is not None and principal.covers_any(regions)

    async def _r_audit_refusals(self, principal, params, request, ctx):
        q = request.query
        until = self._int_param(q, "until_ms", int(time.time() * 1000), 0, 1 << 62)
        since = self._int_param(q, "since_ms", max(0, until - audit.REFUSALS_SPAN_MS), 0, 1 << 62)
        if since > until:
            raise ApiError("since_ms: after until_ms")
        if prefix(principal.jurisdiction):
            # /api/audit leaves these rows out for such an admin; a count of none would read as
            # "no refusals" here, so this says why instead.
            raise Refused(403, "requests refused for their token belong to no jurisdiction: only a "
                          "national (000000) admin sees their counts", code="national_admin_only")
        hours = await self._run(self.store.audit_refusal_hours, since, until)
        return _json(audit.refusal_counts(hours, since, until))
