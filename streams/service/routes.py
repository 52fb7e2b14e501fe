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
    produces: str = "application/json"
    query: tuple = ()  # (name, type, description)
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
          produces="text/html"),
    Route("openapi", "/openapi.json", "This OpenAPI description"),
    Route("health", "/healthz", "Liveness and ingest counters"),
    Route("metrics", "/metrics", "Prometheus metrics (text format 0.0.4)", produces="text/plain"),
    Route("static", "/static/{name}", "Dashboard script and style", produces="application/javascript"),
    Route("vendor", "/vendor/{name}", "Apache ECharts, served from web/node_modules",
          produces="application/javascript"),
    Route("me", "/api/me", "The caller's token: id, name, role, jurisdiction", action="list"),
    Route("rumours", "/api/rumours", "Rumours with shares in the caller's jurisdiction: size, "
          "growth in the last hour, status, main province", action="list"),
    Route("rumour", "/api/rumours/{rumour_id}", "Dashboard data of one rumour: shares over time "
          "(rumour vs debunk), regions, top spreaders (pseudonyms)", action="view", rumour_scoped=True),
    Route("tree", "/api/rumours/{rumour_id}/tree", "The cascade tree (largest subtrees), origins and "
          "cut-off candidates marked (pseudonyms)", action="view", rumour_scoped=True,
          query=(("limit", "integer", "most events shown (1-1000, default 200)"),)),
    Route("trace", "/api/rumours/{rumour_id}/trace", "Trace a rumour: origins with confidence, "
          "chains of evidence (each cut-off candidate back to its origin), cut-off candidates",
          action="trace", audited=True, rumour_scoped=True, query=(_K,), headers=(_CASE,)),
    Route("trace_event", "/api/rumours/{rumour_id}/events/{event_id}/trace",
          "Trace one event: its chain of evidence back to the origin", action="trace",
          audited=True, rumour_scoped=True, query=(_K,), headers=(_CASE,)),
    Route("trace_account", "/api/rumours/{rumour_id}/accounts/{account_id}/trace",
          "Trace one account (id in clear or its pseudonym): a chain per share of the account",
          action="trace", audited=True, rumour_scoped=True, query=(_K,), headers=(_CASE,)),
    Route("evidence", "/api/rumours/{rumour_id}/evidence", "The evidence package of a case (zip: "
          "JSON, CSV, printable HTML report, manifest with SHA-256 digests)", action="evidence",
          audited=True, rumour_scoped=True, produces="application/zip",
          query=(("case", "string", "case number (or the X-Case-Id header)"), _K), headers=(_CASE,)),
    Route("audit", "/api/audit", "Audit rows, newest first (admin; rows of actors inside the "
          "admin's jurisdiction)", action="audit", audited=True,
          query=(("limit", "integer", "1-10000, default 100"), ("case", "string", "only this case"),
                 ("since_ms", "integer", "only rows at or after this epoch ms"))),
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


def find(parts: list[str]):
    """``(route, params)`` for path segments, or ``(None, None)``."""
    for route in ROUTES:
        params = route.match(parts)
        if params is not None:
            return route, params
    return None, None


CASE_RE = re.compile(r"^[\w\-./:#()\[\]（）〔〕]{1,64}$", re.UNICODE)
