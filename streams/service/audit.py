"""Audit rows: who asked what, when, for which case, and the digest of what they got.

The HTTP layer calls :func:`record` with the exact response body (or, for an evidence package,
its evidence digest) and only sends the response once the row is stored; a failed audit write
turns the answer into a 503. Rows are only ever appended (see sql/004_audit_log.sql).

Each row also records until when the caller's token was valid (``token_expires_ms``, epoch ms;
0: never; -1: not recorded, for rows older than sql/013_audit_token_expiry.sql). ``GET /api/audit``
adds the same in words (:func:`expiry_label`), as ``/api/me`` shows it, and the row's time as
RFC 3339 UTC (``ts``).

Requests refused for their token are audited too, without a "who": :mod:`streams.service.probes`
(``auth_failure`` and ``token_fingerprint``, sql/019_audit_auth_failures.sql).
"""
from __future__ import annotations

import hashlib
import time
import uuid

import orjson

from sql.queries import AUDIT_EXPIRY_NEVER, AUDIT_EXPIRY_UNRECORDED
from streams.events import format_ts
from streams.service.access import PERMISSIONS, Principal
from streams.service.routes import ROUTES
from streams.service.tokens import expiry_text


def body_digest(body: bytes) -> str:
    """SHA-256 (hex) of a response body.

    >>> body_digest(b"")[:8]
    'e3b0c442'
    """
    return hashlib.sha256(body).hexdigest()


def answer_digest(status: int, body: bytes) -> str:
    """What an audit row records of an answer: its body's SHA-256 when it succeeded (200),
    nothing for a refusal or a creation.

    >>> answer_digest(200, b"")[:8], answer_digest(201, b"{}")
    ('e3b0c442', '')
    """
    return body_digest(body) if status == 200 else ""


def row(principal: Principal, action: str, rumour_id: str, case_id: str, params: dict,
        status: int, answer_sha256: str, remote: str = "", now_ms: int | None = None) -> dict:
    """One audit row (the columns of ``audit_log``)."""
    return {
        # uuid4 is an identifier, not a random choice of the analysis (no seed needed).
        "audit_id": uuid.uuid4().hex,
        "ts_ms": int(time.time() * 1000) if now_ms is None else int(now_ms),
        "token_id": principal.token_id,
        "token_name": principal.name,
        "role": principal.role,
        "jurisdiction": principal.jurisdiction,
        "case_id": case_id or "",
        "action": action,
        "rumour_id": rumour_id or "",
        "params": orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode(),
        "status": int(status),
        "answer_sha256": answer_sha256 or "",
        "remote": remote or "",
        "token_expires_ms": AUDIT_EXPIRY_NEVER if principal.expires_ms is None else int(principal.expires_ms),
        # An authenticated request: no refusal of its token (streams/service/probes.py writes those).
        "auth_failure": "",
        "token_fingerprint": "",
    }


def expiry_label(token_expires_ms: int) -> str:
    """An audit row's token expiry in words: the text ``/api/me`` shows (ISO 8601 UTC or
    ``never``), or ``not recorded`` for a row written before the log kept it.

    >>> expiry_label(86_400_000), expiry_label(0), expiry_label(-1)
    ('1970-01-02T00:00:00Z', 'never', 'not recorded')
    """
    if token_expires_ms == AUDIT_EXPIRY_UNRECORDED:
        return "not recorded"
    return expiry_text(None if token_expires_ms == AUDIT_EXPIRY_NEVER else token_expires_ms)


def readable(rows: list[dict]) -> list[dict]:
    """Audit rows as ``GET /api/audit`` answers them: each with its time (``ts``, RFC 3339 UTC,
    as the other answers give times) and ``token_expires`` in words beside the epoch ms.

    >>> readable([{"ts_ms": 1347557095000, "token_expires_ms": 0}])
    [{'ts_ms': 1347557095000, 'token_expires_ms': 0, 'ts': '2012-09-13T17:24:55.000Z', 'token_expires': 'never'}]
    """
    return [{**r, "ts": format_ts(r["ts_ms"]), "token_expires": expiry_label(r["token_expires_ms"])}
            for r in rows]


# The permission each rumour-scoped audited route needs (a row's ``action`` is the route's name).
_ROUTE_PERMISSION = {r.name: r.action for r in ROUTES if r.audited and r.rumour_scoped}


def as_answered(rows: list[dict], reader_sees) -> list[dict]:
    """Audit rows as an admin below the national level reads them. A caller asking for a rumour
    outside its jurisdiction is answered 404, as for an unknown id, and its row records the
    decision, 403; where the reader's jurisdiction does not cover that rumour either
    (``reader_sees(rumour_id)`` false), the row shows the 404 the caller got, else the reader
    would learn from the audit which rumours exist elsewhere. A role refusal (the caller's role
    lacks the route's permission) is 403 whether or not the rumour exists, and stays so.

    >>> rows = [{"status": 403, "rumour_id": "bj-1", "role": "liaison", "action": "trace"},
    ...         {"status": 403, "rumour_id": "bj-1", "role": "analyst", "action": "evidence"},
    ...         {"status": 403, "rumour_id": "qd-1", "role": "liaison", "action": "trace"}]
    >>> [r["status"] for r in as_answered(rows, lambda rid: rid == "qd-1")]
    [404, 403, 403]
    """
    seen: dict[str, bool] = {}

    def hidden(row: dict) -> bool:
        permission = _ROUTE_PERMISSION.get(row["action"])
        if row["status"] != 403 or not row["rumour_id"] or permission is None:
            return False
        if permission not in PERMISSIONS.get(row["role"], ()):
            return False  # a role refusal
        rid = row["rumour_id"]
        if rid not in seen:
            seen[rid] = reader_sees(rid)
        return not seen[rid]

    return [{**r, "status": 404} if hidden(r) else r for r in rows]


# GET /api/audit/refusals without since_ms: the day before until_ms.
REFUSALS_SPAN_MS = 24 * 3_600_000


def refusal_counts(hours: list[dict], since_ms: int, until_ms: int) -> dict:
    """``GET /api/audit/refusals``' answer from the store's counts per hour and reason
    (:meth:`streams.store.base.Store.audit_refusal_hours`): each hour also as RFC 3339 UTC
    (``hour``), and the totals of the span per reason. ``requests`` = ``rows`` (refusals written
    one row each) + ``summarised`` (counted in a minute's summary row beyond the rate limit).

    >>> a = refusal_counts([{"hour_ms": 0, "reason": "unknown", "rows": 3, "summarised": 4, "requests": 7},
    ...                     {"hour_ms": 3_600_000, "reason": "unknown", "rows": 1, "summarised": 0, "requests": 1}], 0, 7_200_000)
    >>> a["hours"][1]["hour"], a["reasons"], a["requests"], a["summarised"]
    ('1970-01-01T01:00:00.000Z', {'unknown': 8}, 8, 4)
    """
    reasons: dict[str, int] = {}
    for h in hours:
        reasons[h["reason"]] = reasons.get(h["reason"], 0) + h["requests"]
    return {"since_ms": since_ms, "until_ms": until_ms, "since": format_ts(since_ms), "until": format_ts(until_ms),
            "requests": sum(h["requests"] for h in hours), "rows": sum(h["rows"] for h in hours),
            "summarised": sum(h["summarised"] for h in hours), "reasons": reasons,
            "hours": [{"hour": format_ts(h["hour_ms"]), **h} for h in hours]}
