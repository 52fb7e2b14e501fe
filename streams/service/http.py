"""HTTP handling: routing, authentication, authorisation, audit-before-answer, static assets.

:class:`Service` answers aiohttp requests. It is mounted two ways: ``rumour serve`` runs an
aiohttp application whose middlewares are :func:`streams.service.errors.json_errors` and
:meth:`Service.middleware`, and the Faust worker (``streams/web.py``) adds the same two to
Faust's own aiohttp application, so both serve the same dashboard and API (the middleware
answers before Faust's router, which also means Faust's default index page at ``/`` gives way
to the dashboard). Both run the application with :class:`streams.service.errors.JsonErrorRunner`,
so every error answer, down to a malformed request, is JSON.

Order of checks on a protected route: token (401) -> role (403) -> parameters (400) -> rumour
known and inside the jurisdiction (404 for either: a rumour outside the caller's jurisdiction is
answered exactly like an unknown one, so that its existence does not leak; the audit row records
403 for it; "inside" means posted, shared or commented there, a debunk there does not count:
:meth:`streams.service.views.Views.regions_of`) -> case number (400) -> answer. Every authenticated request to
an audited route writes exactly one audit row, whatever its outcome (the status is recorded);
a request refused for its token (401, or 503 when the tokens file cannot be read) writes a row
that names no one: the route, status, reason, peer and a fingerprint of what it presented, at most
``refusal_rows_per_minute`` (a setting) a minute plus one summary of the rest
(:mod:`streams.service.probes`); the 401 is answered even when that row cannot be written. A route
that changes state (a status change) writes its row *before* the change, so a change whose row
cannot be written is not made (503); if the change then fails, a second row records that.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from urllib.parse import unquote

from aiohttp import web

from streams.api import ApiError, validate_path_id, validate_rumour_id
from streams.service import audit, metrics, regions, rumour_page
from streams.service.audit_trail import AuditTrail
from streams.service.authn import TokenChecks
from streams.service.errors import json_errors
from streams.service.responses import Refused, _error, _json
from streams.service.trace_http import TraceHandlers
from streams.service.governance import GovernanceViews
from streams.service.governance_http import GovernanceHandlers
from streams.service.paths import EVIDENCE_KEY, PSEUDONYM_KEY, key_file, load_or_create_key
from streams.service.probes import PEERS_KEPT, ROWS_PER_MINUTE, ProbeLog, fingerprint_key
from streams.service.pseudonym import Pseudonymiser
from streams.service.routes import CASE_RE, CASE_RULE, find, query_problem, split_path
from streams.service.site import SiteHandlers
from streams.service.tokens import TokenStore, expiry_text
from streams.service.views import HiddenEvent, NotFound, Views
from streams.settings import setting
from streams.store.base import StoreError

log = logging.getLogger(__name__)

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
}


def int_param(query, name: str, default: int, lo: int, hi: int) -> int:
    """A query parameter as an integer in ``lo..hi`` (``default`` when absent or empty); ASCII
    digits only (``int`` would also read "５" or "٥").

    >>> int_param({"limit": "7"}, "limit", 100, 1, 1000), int_param({}, "limit", 100, 1, 1000)
    (7, 100)
    >>> int_param({"since_ms": "-1"}, "since_ms", 0, 0, 1 << 62)
    Traceback (most recent call last):
    ...
    streams.api.ApiError: since_ms: expected an integer >= 0
    """
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        if not raw.isascii():
            raise ValueError(raw)
        value = int(raw)
    except ValueError:
        raise ApiError(f"{name}: expected an integer") from None
    if not lo <= value <= hi:
        # An epoch-ms bound has no useful upper end to show (4611686018427387904).
        raise ApiError(f"{name}: expected {lo}..{hi}" if hi < 1 << 62 else f"{name}: expected an integer >= {lo}")
    return value


def failure_code(exc: BaseException) -> str:
    """The error code of a 500: a store that failed (unreachable, or refusing the query) is told
    apart from a bug, so the dashboard can say "try again" (the text stays "internal error": no
    detail of the store leaves).

    >>> failure_code(StoreError("down")), failure_code(KeyError("x"))
    ('store_unavailable', 'internal_error')
    """
    return "store_unavailable" if isinstance(exc, StoreError) else "internal_error"


class Service(TokenChecks, SiteHandlers, GovernanceHandlers, TraceHandlers):
    """The dashboard and origin-trace API over one pipeline and store; with a governance hub
    (``governance=`` or :meth:`attach_governance`) also the report, status, alert and debunk
    routes (503 without one). ``liaison_account_scope``: the setting of that name
    (:mod:`streams.service.identities`); ``timezone``: the centre's zone (``report_timezone``),
    whose local hours and days cut the dashboard's series; ``event_pseudonym_rumours``: the
    setting of that name (:mod:`streams.service.event_ids`); ``refusal_rows_per_minute``,
    ``refusal_summary_peers``: the settings of those names (:mod:`streams.service.probes`);
    ``shutdown_write_seconds``: the setting, the bound of :meth:`on_shutdown`."""

    def __init__(self, pipeline, store, tokens_path, cutoff_k: int = 10, stats=None, governance=None,
                 liaison_account_scope: str = "cascade", timezone: str = "Asia/Shanghai",
                 event_pseudonym_rumours: int = 32, refusal_rows_per_minute: int = ROWS_PER_MINUTE,
                 refusal_summary_peers: int = PEERS_KEPT,
                 shutdown_write_seconds: float = setting("shutdown_write_seconds").default):
        self.pipeline = pipeline
        self.shutdown_write_seconds = float(shutdown_write_seconds)
        self.store = store
        self.tokens = TokenStore(tokens_path)
        pseudonym_key = load_or_create_key(key_file(tokens_path, PSEUDONYM_KEY))
        self.pseudo = Pseudonymiser(pseudonym_key)
        # Requests refused for their token: audited, rate-limited (streams.service.probes).
        self.probes = ProbeLog(fingerprint_key(pseudonym_key), rows_per_minute=refusal_rows_per_minute,
                               peers_kept=refusal_summary_peers)
        self.evidence_key = load_or_create_key(key_file(tokens_path, EVIDENCE_KEY))
        self.views = Views(pipeline, store, self.pseudo, cutoff_k, liaison_scope=liaison_account_scope,
                           timezone=timezone, event_pseudonym_rumours=event_pseudonym_rumours)
        self.cutoff_k = cutoff_k
        self.stats = stats or (lambda: {})
        # One thread for store and graph work: chDB sessions are not shared across threads.
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="service")
        self.requests: dict[tuple[str, int], int] = {}
        self.audit_rows_written = 0
        self.started = time.time()
        self.gov = None
        if governance is not None:
            self.attach_governance(governance)

    def attach_governance(self, hub) -> None:
        """Serve the governance routes over ``hub`` (:class:`streams.governance.hub.Governance`)."""
        self.governance = hub
        self.gov = GovernanceViews(hub, self.pseudo, self.views.regions_of, self.views.summary,
                                   desks=self._token_jurisdictions)

    def _token_jurisdictions(self) -> dict[str, str]:
        """token id -> its jurisdiction, of every token in the file (revoked and expired ones
        too: the desk a report was taken in by)."""
        return {r.id: r.jurisdiction for r in self.tokens.list()}

    _int_param = staticmethod(int_param)

    async def _run(self, fn, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))

    # -- entry points -------------------------------------------------------------------
    @web.middleware
    async def middleware(self, request: web.Request, handler):
        response = await self.dispatch(request)
        if response is None:
            return await handler(request)
        return response

    def application(self) -> web.Application:
        """A standalone aiohttp application (``rumour serve``)."""
        # json_errors outermost: aiohttp's own 404/405/413 answer in the API's JSON shape.
        app = web.Application(middlewares=[json_errors, self.middleware])
        app.on_shutdown.append(self.on_shutdown)

        async def not_found(request):
            return _error(404, "no such route", "no_such_route")

        app.router.add_route("*", "/{tail:.*}", not_found)
        return app

    async def dispatch(self, request: web.Request) -> web.Response | None:
        try:
            parts = split_path(request.rel_url.raw_path)
        except UnicodeDecodeError:
            parts = None
        if parts is None:
            return self._count("invalid", _error(400, "invalid path", "bad_path"))
        route, params, allowed = find(parts, request.method)
        if route is None:
            if not allowed:
                return None
            response = _error(405, f"allowed: {', '.join(allowed)}", "method_not_allowed")
            response.headers["Allow"] = ", ".join(sorted(set(allowed)))
            return self._count("method", response)
        try:
            response = await self._handle(route, params, request)
        except ApiError as exc:
            response = _error(exc.status, str(exc), exc.code)
        except Exception as exc:  # a bug or a store failure: log it, answer 500 without details
            log.exception("%s failed", route.name)
            response = _error(500, "internal error", failure_code(exc))
        if route.action is not None:
            # Token-protected answers (clear ids, evidence packages) must not be kept in a
            # browser's or proxy's cache, where they outlive the token and the audit trail.
            response.headers["Cache-Control"] = "no-store"
        return self._count(route.name, response)

    def _count(self, name: str, response: web.Response) -> web.Response:
        # Every answer of the service, a refused path or method too, with the security headers.
        for k, v in _SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        key = (name, response.status)
        self.requests[key] = self.requests.get(key, 0) + 1
        return response

    # -- the checks ---------------------------------------------------------------------
    @staticmethod
    def _check_query(route, request) -> None:
        # The one check of every route's query string against the route table (400).
        problem = query_problem(route, request.query)
        if problem:
            raise ApiError(problem)

    async def _handle(self, route, params, request) -> web.Response:
        if route.action is None:
            self._check_query(route, request)
            return await self._open(route, params, request)
        # A minute of refused requests that is over: its summary row, if any, is written now.
        await self._write_probe_rows(self.probes.due())
        principal = await self._principal(route, request)
        if principal is None:
            return _error(401, "a valid bearer token is required", "token_required")
        ctx = {"principal": principal, "rumour_id": "", "case_id": "", "params": {}}
        trail = AuditTrail(self, principal, route, request.remote or "", ctx)
        ctx["audit_ahead"] = trail.ahead
        audit_status = None
        try:
            response = await self._authorised(route, params, request, ctx)
            digest = ctx.get("digest") or audit.answer_digest(response.status, response.body)
        except Refused as exc:
            response, digest = _error(exc.status, str(exc), exc.code), ""
            audit_status = exc.audit_status
        except ApiError as exc:
            response, digest = _error(exc.status, str(exc), exc.code), ""
        except Exception as exc:  # a bug or a store failure: still one audit row (status 500)
            log.exception("%s failed", route.name)
            response, digest = _error(500, "internal error", failure_code(exc)), ""
        return await trail.finish(response, digest, audit_status,
                                  lambda: _error(503, "the audit log is unavailable; no answer is given",
                                                 "audit_unavailable"))

    async def _authorised(self, route, params, request, ctx) -> web.Response:
        principal = ctx["principal"]
        query = request.query
        # The audit row records the parameters the answer used: each declared one in full and
        # at its first occurrence (what query.get reads), then up to 10 others for context.
        declared = {n: query.get(n) for n, _, _ in route.query if n in query}
        extra = [(k, v[:200]) for k, v in query.items() if k not in declared]
        ctx["params"] = dict(extra[:10]) | declared
        if route.audited:
            # The audit row of a request refused below (role, jurisdiction, unknown rumour) still
            # names the rumour and the case it asked for; an invalid one is refused at its turn.
            with contextlib.suppress(ApiError):
                ctx["rumour_id"] = validate_rumour_id(params.get("rumour_id", ""))
        case_error = None
        if route.audited and route.case:
            # Parsed once, here: a bad case number is refused (400) at its turn below.
            try:
                ctx["case_id"] = self._case(request, route.name == "evidence")
            except ApiError as exc:
                case_error = exc
        if not principal.may(route.action):
            # Named as the caller asked (method and path), not by the route table's internal name.
            raise Refused(403, f"role {principal.role} may not use {route.method} {route.path}",
                          code="role_forbidden")
        if route.governance and self.gov is None:
            raise Refused(503, "the governance loop does not run in this process", code="governance_off")
        self._check_query(route, request)  # parameters (400) after the role, as the order above says
        if route.rumour_scoped:
            ctx["rumour_id"] = rid = validate_rumour_id(params["rumour_id"])
            ctx["params"].update({k: v for k, v in params.items() if k != "rumour_id"})
            for key, what in (("event_id", "event id"), ("account_id", "account id")):
                if key in params:
                    # Named as what it is (the refusal said "rumour id"), and any id the event
                    # format stores is accepted, not only the rumour ids' alphabet.
                    validate_path_id(params[key], what)
            regions = await self._run(self.views.regions_of, rid)
            if regions is None or not principal.covers_any(regions):
                # One answer for both: a 403 here would tell the caller that the rumour exists
                # elsewhere (and a 404 that it does not). The audit row keeps the refusal (403).
                raise Refused(404, f"unknown rumour {rid!r}", code="unknown_rumour",
                              audit_status=None if regions is None else 403)
        if route.audited and route.case:
            # Only a route a case applies to reads X-Case-Id: a client that sends it on every
            # request (the dashboard's case box) must not be refused where no case is used.
            if case_error is not None:
                raise case_error
            if not ctx["case_id"] and principal.may("case_required"):
                where = "?case= or X-Case-Id header" if route.name == "evidence" else "X-Case-Id header"
                raise Refused(400, f"a case number is required ({where})", code="case_required")
        handler = getattr(self, "_r_" + route.name)
        return await handler(principal, params, request, ctx)

    @staticmethod
    def _case(request, from_query: bool) -> str:
        header = request.headers.get("X-Case-Id", "")
        case = unquote(header).strip()
        if from_query:
            q = (request.query.get("case") or "").strip()
            if q and case and q != case:
                raise ApiError("case: the query parameter and X-Case-Id differ", code="bad_case")
            case = q or case
        if case and not CASE_RE.match(case):
            raise ApiError(f"case number: {CASE_RULE}", code="bad_case")
        return case

    # -- protected routes ---------------------------------------------------------------
    async def _r_me(self, principal, params, request, ctx):
        return _json({"token_id": principal.token_id, "name": principal.name, "role": principal.role,
                      "jurisdiction": principal.jurisdiction,
                      "expires_at": expiry_text(principal.expires_ms),
                      "clear_identities": principal.may("clear"),
                      # which accounts a trace names in clear (streams.service.identities)
                      "account_scope": self.views.identities.scope(principal),
                      "case_required": principal.may("case_required"), "may_trace": principal.may("trace"),
                      "may_export": principal.may("evidence"), "may_audit": principal.may("audit"),
                      "may_set_status": principal.may("status"), "may_report": principal.may("report"),
                      "governance": self.gov is not None,
                      "jurisdiction_name": regions.jurisdiction_name(principal.jurisdiction)})

    async def _r_rumours(self, principal, params, request, ctx):
        q = request.query
        limit = self._int_param(q, "limit", 0, 1, 100_000)
        offset = self._int_param(q, "offset", 0, 0, 10_000_000)
        search = q.get("q") or ""
        if len(search) > rumour_page.Q_MAX:
            raise ApiError(f"q: at most {rumour_page.Q_MAX} characters")
        # Handling statuses first: the search looks at their labels too.
        statuses = await self._run(self.gov.statuses) if self.gov is not None else None
        answer = await self._run(self.views.rumour_page, principal, search, offset, limit, statuses)
        response = _json(answer)
        # The dashboard polls this every few seconds: an unchanged page costs it 304, no body.
        tag = rumour_page.etag(response.body)
        if rumour_page.not_modified(request.headers.get("If-None-Match"), tag):
            return web.Response(status=304, headers={"ETag": tag})
        response.headers["ETag"] = tag
        return response

    async def _r_rumour(self, principal, params, request, ctx):
        return _json(await self._guard(self.views.detail, ctx["rumour_id"]))

    async def _r_tree(self, principal, params, request, ctx):
        limit = self._int_param(request.query, "limit", 200, 1, 1000)
        given = request.query.get("under")
        under = None if given is None else await self._guard(
            self.views.tree_event, ctx["rumour_id"], validate_path_id(given, "under"))
        return _json(await self._guard(self.views.tree, ctx["rumour_id"], limit, under, given))

    async def _guard(self, fn, *args, **kwargs):
        try:
            out = await self._run(fn, *args, **kwargs)
            if isinstance(out, concurrent.futures.Future):
                # Work handed to a thread of its own (Views.event_for hashing a rumour's
                # events), awaited here: the service's thread serves other requests meanwhile.
                out = await asyncio.wrap_future(out)
            return out
        except NotFound as exc:
            # A hidden event (views.HiddenEvent) is answered as unknown, recorded as refused.
            raise Refused(404, exc.answer(), code=exc.code,
                          audit_status=403 if isinstance(exc, HiddenEvent) else None) from None

    # -- metrics ------------------------------------------------------------------------
    async def _r_metrics(self, principal, params, request, ctx):
        # Behind a token (monitor or admin role): the request counters show how many evidence
        # packages and traces were asked for and refused, which is not for anonymous callers.
        return web.Response(text=self.metrics_text(), content_type="text/plain",
                            charset="utf-8", headers={"X-Prometheus-Format": "0.0.4"})

    def metrics_text(self) -> str:
        return metrics.render(self.stats(), self.requests, self.audit_rows_written,
                              len(self.pipeline.graphs), self.started)
