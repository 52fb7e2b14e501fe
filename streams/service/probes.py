"""Audit rows of requests that brought no valid token (401, or 503 when the tokens file cannot
be read): who probed the API, without letting a flood of them grow the audit log unchecked.

Such a row names no one (no token id, name, role or jurisdiction: the caller is not known). It
records the route (``action``), the status, why the token was refused (``auth_failure``: one of
:data:`streams.service.tokens.REFUSAL_REASONS`, or ``tokens_unreadable``), the peer address
(``remote``) and a fingerprint of what was presented (``token_fingerprint``, :func:`fingerprint`;
never the token itself), so that repeated tries of one credential can be told apart from many.

Rate-limited, not aggregated: the first ``refusal_rows_per_minute`` (a setting, default
:data:`ROWS_PER_MINUTE`) refusals of each clock minute
(of the process, whatever their peer) get a row each, at once, so a mistyped token or a few
probes read exactly as they happened; the ones beyond that in the same minute are counted and
written as one summary row (``auth_failure`` ``suppressed``, ``action`` ``unauthenticated``,
counts per route, reason, status and peer in ``params``) when that minute is over: with the
next refused or protected request after it, or when the service stops. A cap per minute
bounds the log at about ``refusal_rows_per_minute + 1`` such rows a minute whatever the flood (many peer
addresses or random tokens included, which a limit per peer or per fingerprint would not bound),
while aggregating every row would delay and blur the few that matter most. The peers of a
summary are bounded too (``refusal_summary_peers``, default :data:`PEERS_KEPT`, then one count of
the others). A summary row records both caps it was counted under (``rows_per_minute``,
``peers_kept`` in ``params``).
"""
from __future__ import annotations

import hashlib
import hmac
import time
import uuid

import orjson

from sql.queries import AUDIT_EXPIRY_UNRECORDED
from streams.events import format_ts
from streams.service.tokens import REFUSAL_REASONS
from streams.settings import setting

# The settings' defaults (streams/settings.py documents them).
ROWS_PER_MINUTE = setting("refusal_rows_per_minute").default
PEERS_KEPT = setting("refusal_summary_peers").default
SUMMARY_ACTION = "unauthenticated"
SUMMARY_REASON = "suppressed"
UNREADABLE_REASON = "tokens_unreadable"  # 503: the tokens file cannot be read
# What auth_failure holds on a refusal's row (GET /api/audit?auth_failure= takes these and "any").
AUTH_FAILURES = REFUSAL_REASONS + (UNREADABLE_REASON, SUMMARY_REASON)
_MINUTE_MS = 60_000


def fingerprint_key(pseudonym_key: bytes) -> bytes:
    """The key of token fingerprints, derived from the pseudonym key (a domain of its own).

    >>> len(fingerprint_key(b"k" * 32)), fingerprint_key(b"k" * 32) == fingerprint_key(b"j" * 32)
    (32, False)
    """
    return hmac.new(pseudonym_key, b"token-fingerprint", hashlib.sha256).digest()


def presented_credential(header: str) -> str:
    """What an ``Authorization`` header presents, as a refusal's fingerprint covers it: the token
    of ``Bearer TOKEN``, else the whole header (a token sent without its scheme, another scheme);
    '' when nothing was. ``rumour token fingerprint`` reads each line it is given the same way,
    so a bare token and ``Bearer TOKEN`` have the fingerprint the service records for it.

    >>> presented_credential(" Bearer  rt_x "), presented_credential("rt_x"), presented_credential("Bearer")
    ('rt_x', 'rt_x', '')
    """
    scheme, _, credentials = header.strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else header.strip()


def fingerprint(key: bytes, presented: str | None) -> str:
    """16 hex digits of a keyed HMAC of the credential presented ('' when none was). Keyed, so
    that something pasted by mistake in place of a token (a password) cannot be found by hashing
    guesses; stable under one key, so repeated tries of one credential show as one fingerprint.

    >>> f = fingerprint(b"k" * 32, "rt_0123456789ab_x")
    >>> len(f), f == fingerprint(b"k" * 32, "rt_0123456789ab_x"), fingerprint(b"k" * 32, None)
    (16, True, '')
    """
    if not presented:
        return ""
    return hmac.new(key, presented.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:16]


def _row(ts_ms: int, action: str, status: int, reason: str, remote: str, fp: str, params: dict) -> dict:
    return {"audit_id": uuid.uuid4().hex, "ts_ms": int(ts_ms), "token_id": "", "token_name": "",
            "role": "", "jurisdiction": "", "case_id": "", "action": action, "rumour_id": "",
            "params": orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode(), "status": int(status),
            "answer_sha256": "", "remote": remote or "", "token_expires_ms": AUDIT_EXPIRY_UNRECORDED,
            "auth_failure": reason, "token_fingerprint": fp}


class ProbeLog:
    """The rows to write for refused requests, ``rows_per_minute`` a minute at most plus one
    summary that counts ``peers_kept`` peers one by one. Used from the event loop only (no lock).
    ``key``: :func:`fingerprint_key`.

    >>> log = ProbeLog(b"k" * 32, rows_per_minute=2)
    >>> [len(log.note("me", 401, "missing", "10.0.0.1", None, now_ms=60_000 + i)) for i in range(4)]
    [1, 1, 0, 0]
    >>> [r["auth_failure"] for r in log.note("me", 401, "unknown", "10.0.0.2", "x", now_ms=120_000)]
    ['suppressed', 'unknown']
    """

    def __init__(self, key: bytes, rows_per_minute: int = ROWS_PER_MINUTE, clock=time.time,
                 peers_kept: int = PEERS_KEPT):
        self.key, self.rows_per_minute, self.clock = key, int(rows_per_minute), clock
        self.peers_kept = int(peers_kept)
        self.minute = None  # the clock minute counted (epoch ms // 60000)
        self.written = 0  # rows given for it
        self._reset_summary()

    def _reset_summary(self) -> None:
        self.suppressed = 0
        self.last_ms = 0
        self.by = {"routes": {}, "reasons": {}, "statuses": {}, "peers": {}}
        self.other_peers = 0

    def _now(self, now_ms) -> int:
        return int(self.clock() * 1000) if now_ms is None else int(now_ms)

    def note(self, route: str, status: int, reason: str, remote: str, presented: str | None,
             now_ms: int | None = None) -> list[dict]:
        """The rows to write now for one refused request: a past minute's summary if one is
        pending, then this request's own row unless this minute's rows are used up."""
        now = self._now(now_ms)
        rows = self.due(now)
        if self.minute is None:
            self.minute = now // _MINUTE_MS
        if self.written < self.rows_per_minute:
            self.written += 1
            rows.append(_row(now, route, status, reason, remote, fingerprint(self.key, presented), {}))
            return rows
        self.suppressed += 1
        self.last_ms = max(self.last_ms, now)
        by = self.by
        for field, value in (("routes", route), ("reasons", reason), ("statuses", str(status))):
            by[field][value] = by[field].get(value, 0) + 1
        peers = by["peers"]
        if remote in peers or len(peers) < self.peers_kept:
            peers[remote] = peers.get(remote, 0) + 1
        else:
            self.other_peers += 1
        return rows

    def due(self, now_ms: int | None = None) -> list[dict]:
        """The summary row of a minute that is over (none if nothing was suppressed in it); the
        count starts again for the minute of ``now_ms``."""
        now = self._now(now_ms)
        if self.minute is None or now // _MINUTE_MS == self.minute:
            return []
        rows = self.flush()
        self.minute, self.written = now // _MINUTE_MS, 0
        return rows

    def flush(self) -> list[dict]:
        """The summary row of the current minute so far (when the service stops)."""
        if not self.suppressed:
            return []
        start = self.minute * _MINUTE_MS
        params = {**self.by, "suppressed": self.suppressed, "other_peers": self.other_peers,
                  "minute": format_ts(start), "rows_per_minute": self.rows_per_minute,
                  "peers_kept": self.peers_kept}
        status = 401 if "401" in self.by["statuses"] else int(next(iter(self.by["statuses"])))
        row = _row(self.last_ms, SUMMARY_ACTION, status, SUMMARY_REASON, "", "", params)
        self._reset_summary()
        return [row]
