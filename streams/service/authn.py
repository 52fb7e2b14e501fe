"""The token check of every protected request, and the audit of the requests it refuses
(:mod:`streams.service.probes`): a mixin of :class:`streams.service.http.Service`, which gives
``tokens``, ``probes``, ``store``, ``_run``, ``shutdown_write_seconds`` and the
``audit_rows_written`` counter."""
from __future__ import annotations

import asyncio
import logging
import time

import orjson

from streams.api import ApiError
from streams.service.probes import SUMMARY_REASON, UNREADABLE_REASON, presented_credential
from streams.service.tokens import TokensFileError
from streams.store.base import StoreError

log = logging.getLogger(__name__)


class TokenChecks:
    async def _principal(self, route, request):
        """The caller's principal, or None once its refusal is audited (then answer 401)."""
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.strip().partition(" ")
        bearer = scheme.lower() == "bearer"  # "Bearer" alone (trailing space trimmed): missing
        token = credentials.strip() if bearer else None
        # What the caller presented, for the refusal's fingerprint: the token, or a header
        # that is not a bearer token at all (read as malformed).
        presented = presented_credential(header)
        try:
            principal, reason = self.tokens.verdict(token)
        except TokensFileError as exc:
            # The file was overwritten with something else while the service ran: no token can
            # be checked until it is repaired. The operator's fault, not the caller's: 503.
            log.error("%s", exc)
            await self._refused_token(route, request, 503, UNREADABLE_REASON, presented)
            raise ApiError("tokens cannot be checked now (the server's tokens file is unreadable)",
                           503, code="tokens_unreadable") from None
        if principal is None:
            await self._refused_token(route, request, 401, "malformed" if header and not bearer else reason,
                                      presented)
        return principal

    async def on_shutdown(self, app=None) -> None:
        """Write the summary of the refusals counted but not yet written (an aiohttp
        ``on_shutdown`` hook: ``rumour serve`` and the worker's web server, on SIGTERM or SIGINT),
        waiting ``shutdown_write_seconds`` at most: an unreachable store is given up by then
        (this write and the requests still waiting for it alike, not after the store's own retry
        budget, longer than the stop's grace), and the log line of :meth:`_write_probe_rows`
        keeps the counts."""
        bound = self.shutdown_write_seconds
        if self.store is not None:  # a service over graphs alone has no store to bound
            self.store.give_up_by(time.monotonic() + bound)
        rows = self.probes.flush()
        try:
            await asyncio.wait_for(self._write_probe_rows(rows), bound)
        except asyncio.TimeoutError:
            # The store did not answer in time (a connection attempt under way keeps its own
            # timeout): the counts go to the log now, before any SIGKILL.
            for line in unwritten(rows, TimeoutError(f"no answer from the store in {bound:g}s at stop")):
                log.error("%s", line)

    async def _write_probe_rows(self, rows: list[dict]) -> None:
        # The caller had no valid token: its answer does not wait on this row (a 401 tells it
        # nothing), so a failed write is logged and the answer still leaves.
        if not rows:
            return
        try:
            await self._run(self.store.write_audit, rows)
            self.audit_rows_written += len(rows)
        except (StoreError, OSError) as exc:
            # The store is unreachable or refused the rows (a stop during an outage, too): one
            # line each, which holds what the rows would have (a summary's counts), no traceback.
            for line in unwritten(rows, exc):
                log.error("%s", line)
        except Exception:  # a bug: its traceback
            log.exception("audit write of %d refused request(s) failed", len(rows))

    async def _refused_token(self, route, request, status: int, reason: str, presented) -> None:
        log.info("%d %s from %s (%s)", status, route.name, request.remote, reason)
        await self._write_probe_rows(self.probes.note(route.name, status, reason, request.remote or "",
                                                      presented))


def unwritten(rows: list[dict], exc: Exception) -> list[str]:
    """The log lines of refusal rows the store did not take: one for the single rows, one per
    summary row with its counts (its ``params``), so that the log keeps what the audit lost.

    >>> from streams.service.probes import ProbeLog
    >>> log = ProbeLog(b"k" * 32, rows_per_minute=1)
    >>> rows = [r for i in range(3) for r in log.note("me", 401, "missing", "10.0.0.1", None, now_ms=i)]
    >>> print("\\n".join(unwritten(rows + log.flush(), OSError("down"))))  # doctest: +ELLIPSIS
    audit row of 1 refused request not written (down)
    audit summary of 2 refused request(s) of minute 1970-01-01T00:00:00.000Z not written (down): {"minute":...,"reasons":{"missing":2},...}
    """
    single = [r for r in rows if r["auth_failure"] != SUMMARY_REASON]
    lines = []
    if single:
        lines.append(f"audit row{'s' if len(single) > 1 else ''} of {len(single)} refused "
                     f"request{'s' if len(single) > 1 else ''} not written ({exc})")
    for row in rows:
        if row["auth_failure"] == SUMMARY_REASON:
            params = orjson.loads(row["params"])
            lines.append(f"audit summary of {params['suppressed']} refused request(s) of minute "
                         f"{params['minute']} not written ({exc}): {row['params']}")
    return lines
