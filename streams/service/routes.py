"""The route table: one list shared by the dispatcher and the OpenAPI description."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote


@dataclass(frozen=True)
class Route:
    name: str
    path: str  # OpenAPI-style template: /api/rumours/{rumour_id}/trace
    summary: str
    action: str | None = None  # permission needed (access.PERMISSIONS); None = open
    audited: bool = False
    rumour_scoped: bool = False
    method: str = "GET"
    case: bool = False  # a case number applies (mandatory for roles with "case_required")
    body: str | None = None  # POST: the JSON body (a description for OpenAPI)
    governance: bool = False  # needs the governance hub (503 where it does not run)
    produces: str = "application/json"
    query: tuple = ()  # (name, type, description): the only query parameters it takes
    any_query: bool = False  # a page or file for a browser: a query string (a cache-buster) is ignored
    headers: tuple = ()  # (name, description)
    segments: tuple = field(init=False, default=())

    def __post_init__(self):
        object.__setattr__(self, "segments", tuple(self.path.strip("/").split("/")) if self.path != "/" else ())

    def match(self, parts: list[str]) -> dict | None:
        if len(parts) != len(self.segments):
            return None
        params = {}
        for seg, part in zip(self.segments, parts):
            if seg.startswith("{"):
                if not part:
                    return None
                params[seg[1:-1]] = part
            elif seg != part:
                return None
        return params


_CASE = ("X-Case-Id", "Case number (mandatory for liaison and admin; percent-encode non-ASCII)")
_K = ("k", "integer", "number of cut-off candidates (0-1000)")

ROUTES = (
    Route("dashboard", "/", "The live dashboard (HTML; its data routes need a token)",
          produces="text/html", any_query=True),
    Route("openapi", "/openapi.json", "This OpenAPI description"),
    Route("health", "/healthz", "Health and ingest counters: 200 status ok, or 503 status degraded "
          "with its problems (store unreachable, counters not refreshed)"),
    Route("metrics", "/metrics", "Prometheus metrics (text format 0.0.4; a monitor or admin token)",
          action="metrics", produces="text/plain"),
    Route("static", "/static/{name}", "Dashboard script and style", produces="application/javascript",
          any_query=True),
    Route("vendor", "/vendor/{name}", "Apache ECharts, served from web/node_modules",
          produces="application/javascript", any_query=True),
    Route("me", "/api/me", "The caller's token: id, name, role, jurisdiction, expiry", action="list"),
    Route("rumours", "/api/rumours", "Rumours posted, shared or commented in the caller's "
          "jurisdiction (a debunk there does not list one): size, growth in the last hour, status, "
          "main province; total: how many match (all of them without q), offset: as asked; an ETag "
          "for polling with If-None-Match", action="list",
          query=(("limit", "integer", "the first this many, fastest growing first (1-100000; "
                  "default: all)"),
                 ("offset", "integer", "skip this many first (default 0): the next page is "
                  "offset + limit"),
                 ("q", "string", "only rumours whose id, status (spreading, contested, debunked, "
                  "dormant, or its label on the dashboard in either language: 传播中, 平息, ...), "
                  "handling status (received, verified, debunked, handled, or its label: 已受理, "
                  "...), main province's, city's or county's code or name hold every word of this (case-insensitive, "
                  "at most 100 characters); total counts them")),
          headers=(("If-None-Match", "the ETag of an earlier answer: 304 with no body if the "
                    "page has not changed"),)),
    Route("rumour", "/api/rumours/{rumour_id}", "Dashboard data of one rumour: shares over time "
          "(rumour vs debunk; minute, hour or day buckets, hours and days local to the centre's "
          "zone, named in timezone), regions, top spreaders (pseudonyms)", action="view", rumour_scoped=True),
    Route("tree", "/api/rumours/{rumour_id}/tree", "The cascade tree (largest subtrees, each path "
          "cut 100 events deep, the rest counted in more; depth: the whole cascade's), origins and "
          "cut-off candidates marked (pseudonyms); with under, the subtree under one event in the "
          "same shape (depth: that subtree's), plus under and path (the events from the origin "
          "down to it; past 100, the origin and the last 99, the others counted in "
          "path_omitted)", action="view", rumour_scoped=True,
          query=(("limit", "integer", "most events shown (1-1000, default 200)"),
                 ("under", "string", "an event's pseudonym (pev_..., as the tree shows it): the "
                  "subtree under that event; for a node without event_id (the placeholder of a missing "
                  "post whose shares name only its account), its name, the account's pseudonym (psn_...); "
                  "404 for an event the rumour does not hold"))),
    Route("trace", "/api/rumours/{rumour_id}/trace", "Trace a rumour: origins with confidence, "
          "chains of evidence (each cut-off candidate back to its origin), cut-off candidates; "
          "with parents=1, the inferred parent of each share whose parent is missing (never a hop "
          "of a chain)",
          action="trace", audited=True, rumour_scoped=True, case=True,
          query=(_K, ("parents", "integer", "1: add parents, parent_probability and parents_method "
                      "(the links `rumour trace --json --parents` infers; 0 or absent: not)")),
          headers=(_CASE,)),
    Route("trace_event", "/api/rumours/{rumour_id}/events/{event_id}/trace",
          "Trace one event (its id, or its pseudonym pev_... as the tree shows it; roles without "
          "clear identities give the pseudonym only): its chain of evidence back to the origin", action="trace",
          audited=True, rumour_scoped=True, case=True, query=(_K,), headers=(_CASE,)),
    Route("trace_account", "/api/rumours/{rumour_id}/accounts/{account_id}/trace",
          "Trace one account (its pseudonym; roles that see identities in clear may give the id "
          "in clear): a chain per share of the account",
          action="trace", audited=True, rumour_scoped=True, case=True, query=(_K,), headers=(_CASE,)),
    Route("evidence", "/api/rumours/{rumour_id}/evidence", "The evidence package of a case (zip: "
          "JSON, CSV, printable HTML report, manifest with SHA-256 digests; with parents=1, "
          "inferred_parents.json too)", action="evidence",
          audited=True, rumour_scoped=True, case=True, produces="application/zip",
          query=(("case", "string", "case number (or the X-Case-Id header)"), _K,
                 ("parents", "integer", "1: add inferred_parents.json and the report's section "
                  "'Inferred links (leads, not evidence)': the trace's parents, parent_probability "
                  "and parents_method, never in the chains (0 or absent: the package without them)")),
          headers=(_CASE,)),
    Route("audit", "/api/audit", "Audit rows, newest first (admin; rows of actors inside the "
          "admin's jurisdiction)", action="audit", audited=True,
          query=(("limit", "integer", "1-10000, default 100"), ("case", "string", "only this case"),
                 ("since_ms", "integer", "only rows at or after this epoch ms"),
                 ("until_ms", "integer", "only rows at or before this epoch ms: the next page is "
                  "until_ms = the last row's ts_ms (rows of that millisecond come again)"),
                 ("auth_failure", "string", "only requests refused for their token: any (all), a "
                  "reason (missing, malformed, unknown, wrong_secret, revoked, expired, "
                  "tokens_unreadable: its rows and the summary rows that count it), or suppressed "
                  "(the summary rows)"))),
    Route("audit_refusals", "/api/audit/refusals", "Requests refused for their token (401, 503) per "
          "UTC hour and reason, those counted in a minute's summary row included (a national "
          "admin: they belong to no jurisdiction)", action="audit", audited=True,
          query=(("since_ms", "integer", "from this epoch ms (default: 24 hours before until_ms)"),
                 ("until_ms", "integer", "up to this epoch ms, inclusive (default: now)"))),
    # -- the governance loop (streams.governance; see streams/service/__init__.py for the rules)
    Route("report_submit", "/api/reports", "Take in a public report of a rumour (the intake desk or "
          "debunking platform submits on the public's behalf); duplicates merged, linked to its "
          "rumour by event id or text", action="report", method="POST", governance=True,
          body="{reporter, post_id?, link?, text?, time?, region?, report_id?} (one of post_id, "
               "link, text required; at most 64 KiB)"),
    Route("reports_unlinked", "/api/reports/unlinked", "Public reports linked to no rumour that the "
          "caller may read (those its token took in, and those of the desks inside its jurisdiction), "
          "newest received first; reporters pseudonymised except to the desk that took the report in; "
          "total: how many", action="view", audited=True, governance=True,
          query=(("limit", "integer", "1-1000, default 100"),
                 ("offset", "integer", "skip this many first (default 0)"))),
    Route("report_link", "/api/reports/{report_id}/link", "Link an unlinked report to a rumour by hand "
          "(link_method manual; linked_by is the caller's token, never taken from the body). The caller "
          "must be able to read the report (GET /api/reports/unlinked) and cover the rumour (else 404); "
          "a report linked already: 409 with its link (null when outside the caller's jurisdiction). "
          "The rumour gets the status received if it has none", action="status", method="POST",
          audited=True, governance=True,
          body="{rumour_id: string, note?: string (<= 2000 characters)}"),
    Route("reports", "/api/rumours/{rumour_id}/reports", "Public reports linked to a rumour "
          "(reporters pseudonymised, except to the desk whose token submitted the report)", action="view",
          rumour_scoped=True, governance=True),
    Route("status", "/api/rumours/{rumour_id}/status", "Handling status of a rumour (received, "
          "verified, debunked, handled) and its history: who changed it, when", action="view",
          rumour_scoped=True, governance=True),
    Route("status_set", "/api/rumours/{rumour_id}/status", "Change the handling status; changed_by "
          "is the caller's token (name and id), never taken from the body", action="status",
          method="POST", audited=True, rumour_scoped=True, governance=True,
          body="{status: received|verified|debunked|handled, note?: string (<= 2000 characters), "
               "expected_status?: the status the caller saw (null: none yet), expected_changed_at?: "
               "its changed_at; either given and no longer current: 409, nothing changed; of such changes "
               "made at the same time through several workers one is made, the others get 409 with "
               "competitor: the change met {rumour_id, status, changed_by, changed_at, note}}"),
    Route("alerts", "/api/alerts", "Spread alerts of the units inside the caller's jurisdiction "
          "(its own code and every division below it), newest first; traces pseudonymised",
          action="list", governance=True,
          query=(("jurisdiction", "string", "narrow to a division inside the caller's (code)"),
                 ("since_ms", "integer", "only alerts of minutes at or after this epoch ms"),
                 ("limit", "integer", "1-1000, default 100"))),
    Route("debunk", "/api/rumours/{rumour_id}/debunk", "Debunk reach and coverage: accounts "
          "exposed to the rumour, reached by its debunk, covered share, time to first debunk, "
          "per city (with names)", action="view", rumour_scoped=True, governance=True),
)

_SEGMENT_MAX = 1024


def split_path(raw_path: str) -> list[str] | None:
    """Path segments, each percent-decoded (so ids may hold an encoded ``/``); None if absurd.

    >>> split_path("/api/rumours/weibo%3A1%2F2/trace")
    ['api', 'rumours', 'weibo:1/2', 'trace']
    """
    path = raw_path.split("?", 1)[0]
    if path == "/":
        return []
    parts = path.strip("/").split("/")
    if any(len(p) > _SEGMENT_MAX for p in parts) or len(parts) > 8:
        return None
    return [unquote(p, errors="strict") if "%" in p else p for p in parts]


def query_problem(route: Route, query) -> str | None:
    """Why a request's query parameters are refused (400), or None: a parameter the route does
    not take (a typo such as ``limt`` was silently ignored) or one given twice (which one counts
    would be a guess). ``query``: a multidict (aiohttp's ``request.query``).

    >>> from multidict import MultiDict
    >>> alerts = next(r for r in ROUTES if r.name == "alerts")
    >>> query_problem(alerts, MultiDict(limit="5")) is None
    True
    >>> query_problem(alerts, MultiDict(limt="5"))
    "unknown query parameter 'limt' (this route takes: jurisdiction, since_ms, limit)"
    >>> query_problem(alerts, MultiDict([("limit", "5"), ("limit", "900")]))
    'limit: given more than once'
    """
    if route.any_query:
        return None
    taken = [name for name, _, _ in route.query]
    for name in dict.fromkeys(query.keys()):
        if name not in taken:
            takes = f"this route takes: {', '.join(taken)}" if taken else "this route takes none"
            return f"unknown query parameter {name[:64]!r} ({takes})"
        if len(query.getall(name)) > 1:
            return f"{name}: given more than once"
    return None


def methods(route: Route) -> tuple[str, ...]:
    """The methods a route answers: HEAD with GET, except on audited routes, where a HEAD
    would be recorded as an answer (an evidence export, a trace) that never left.

    >>> methods(ROUTES[0]), methods(next(r for r in ROUTES if r.name == "evidence"))
    (('GET', 'HEAD'), ('GET',))
    """
    if route.method == "GET" and not route.audited:
        return "GET", "HEAD"
    return (route.method,)


def find(parts: list[str], method: str = "GET"):
    """``(route, params, allowed)``: the route for path segments and method (see
    :func:`methods`), its parameters and the methods the path allows; ``(None, None, ())`` for
    no such path and ``(None, None, allowed)`` for a known path asked with another method.

    >>> find(["api", "rumours", "r1", "evidence"], "HEAD")
    (None, None, ('GET',))
    >>> find(["api", "rumours", "r1"], "HEAD")[0].name
    'rumour'
    """
    allowed = []
    for route in ROUTES:
        params = route.match(parts)
        if params is not None:
            if method in methods(route):
                return route, params, methods(route)
            allowed.extend(methods(route))
    return None, None, tuple(allowed)


# A case number: 1-64 letters, digits, - . / : # ( ) [ ] （ ） 〔 〕, with spaces (ASCII or the
# ideographic U+3000) allowed inside but not at either end ("沪公刑 (2026) 12号"); no control
# characters. The characters an evidence file name must not hold become "_" there
# (trace_http.attachment).
_CASE_CHARS = r"\w\-./:#()\[\]（）〔〕"
CASE_RE = re.compile(rf"^[{_CASE_CHARS}](?:[{_CASE_CHARS} \u3000]{{0,62}}[{_CASE_CHARS}])?\Z", re.UNICODE)
CASE_RULE = "1-64 letters, digits, spaces (not first or last) or - . / : # ( ) [ ] （ ） 〔 〕"
