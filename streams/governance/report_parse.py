"""A public report as received: its fields, their validation, and its stored id.

A report (JSON object): ``reporter`` (required), ``post_id`` and/or ``link`` and/or ``text``
(at least one), ``time`` (RFC 3339 or epoch ms; default: when received), ``region`` (code or
text), optional ``report_id`` (a client's own id; repeated submissions with it are idempotent).

Idempotency keys belong to the desk that sends them: the stored ``report_id`` is derived from
the report's ``source`` (``http:<token id>``, ``kafka``, ``file``) and the client's id (or, without
one, the report's content), see :func:`scoped_report_id`. Two desks that number their reports
the same way therefore never collide, and no desk can reach another desk's report by sending its
id: a re-send finds only the sender's own report. (A 409 for an id another desk used would
itself tell that the id exists, and refuse a desk for what another desk did.) The answer gives
the client's id back as ``client_report_id``.
"""
from __future__ import annotations

import hashlib
import re
import time

from streams.events import EventError, parse_ts
from streams.governance.divisions import match_region

MAX_TEXT = 10_000
MAX_FIELD = 256
_POST_IN_LINK = re.compile(r"(\d{8,})")


class ReportError(ValueError):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _str(payload: dict, name: str, limit: int, required: bool = False) -> str | None:
    value = payload.get(name)
    if value is None or value == "":
        if required:
            raise ReportError(f"{name}: required")
        return None
    if not isinstance(value, str):
        raise ReportError(f"{name}: expected a string")
    value = value.strip()
    if len(value) > limit:
        raise ReportError(f"{name}: longer than {limit} characters")
    return value or None


def link_candidates(link: str | None) -> list[str]:
    """Post ids a link may carry, most likely first: the last path segment (weibo.com/<uid>/<mid>),
    then every run of 8+ digits from the end.

    >>> link_candidates("https://weibo.com/1234567890/AlyppFr6Z?type=comment")
    ['AlyppFr6Z', '1234567890']
    """
    if not link:
        return []
    path = link.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    out = []
    tail = path.rsplit("/", 1)[-1]
    if tail and "." not in tail:
        out.append(tail)
    for digits in reversed(_POST_IN_LINK.findall(path)):
        if digits not in out:
            out.append(digits)
    return out


def post_id_from_link(link: str | None) -> str | None:
    """The most likely post id in a link (see :func:`link_candidates`).

    >>> post_id_from_link("https://weibo.com/1234567/3472612345678901")
    '3472612345678901'
    """
    found = link_candidates(link)
    return found[0] if found else None


def scoped_report_id(source: str, client_id: str | None, basis: str) -> str:
    """The stored id of a report: the client's id (or, without one, the report's content
    ``basis``) within its ``source``, so each desk's ids are its own.

    >>> a, b = scoped_report_id("http:aaa", "7", "x"), scoped_report_id("http:bbb", "7", "x")
    >>> len(a), a != b, a == scoped_report_id("http:aaa", "7", "other content")
    (20, True, True)
    """
    key = f"id\n{client_id}" if client_id else f"content\n{basis}"
    return hashlib.sha1(f"{source}\n{key}".encode("utf-8")).hexdigest()[:20]


def could_repeat(rep: dict) -> bool:
    """Whether a parsed report's id may be that of an earlier report: it has the client's own id,
    or a time of its own. Without either, the id is derived from the time it was received (the
    millisecond is in the ``basis`` that :func:`scoped_report_id` hashes: ``time`` defaults to
    when received), so no earlier report has it and the desk need not ask the store.

    >>> could_repeat({"client_report_id": "c-1", "report_ms": 5, "received_ms": 5})
    True
    >>> could_repeat({"client_report_id": None, "report_ms": 4, "received_ms": 5})
    True
    >>> could_repeat({"client_report_id": None, "report_ms": 5, "received_ms": 5})
    False
    """
    return rep["client_report_id"] is not None or rep["report_ms"] != rep["received_ms"]


def parse_report(payload, now_ms: int | None = None, source: str = "http") -> dict:
    """Validate one report; return its normalised fields or raise :class:`ReportError`.
    ``client_report_id`` is the client's own id (None without one)."""
    if not isinstance(payload, dict):
        raise ReportError("report: expected a JSON object")
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    reporter = _str(payload, "reporter", MAX_FIELD, required=True)
    post_id = _str(payload, "post_id", MAX_FIELD)
    link = _str(payload, "link", 2048)
    text = _str(payload, "text", MAX_TEXT)
    if not (post_id or link or text):
        raise ReportError("report: give post_id, link or text")
    if payload.get("time") is None:
        ts = now_ms
    else:
        try:
            ts = parse_ts(payload["time"])
        except EventError as exc:
            # parse_ts names the event field ("ts: not RFC 3339 ..."); here the field is "time".
            reason = str(exc).removeprefix("ts: ")
            raise ReportError(f"time: {reason}") from None
    region = _str(payload, "region", 64)
    match = match_region(region)
    client_id = _str(payload, "report_id", MAX_FIELD)
    post_key = post_id or post_id_from_link(link)
    basis = f"{reporter}|{post_key or ''}|{text or ''}|{ts}"
    return {
        "report_id": scoped_report_id(source, client_id, basis), "client_report_id": client_id,
        "reporter": reporter, "post_id": post_key or "", "link": link or "", "text": text or "",
        "report_ms": ts, "received_ms": now_ms, "region": region or "", "region_code": match.code or "",
    }
