"""One page of the rumour list (``GET /api/rumours``): the search, the page, the conditional answer.

The national list of the real Weibo set is 2,364 rumours (about 560 KB); the dashboard polls it,
so it asks for one page (``limit``, ``offset``), narrows it with ``q`` and repeats its last
answer's ``ETag`` in ``If-None-Match``: an unchanged page is a 304 with no body.
"""
from __future__ import annotations

import hashlib

Q_MAX = 100  # characters of a search: more is no rumour id, region or status


def matches(rumour: dict, words: list[str]) -> bool:
    """Whether every word (lower case) is in the rumour's id, status, main region's code or its
    Chinese or English name (a list item of :meth:`streams.service.views.Views.rumour_list`).

    >>> r = {"rumour_id": "weibo-17", "status": "spreading", "region": "370000",
    ...      "region_name": {"zh": "山东省", "en": "Shandong"}}
    >>> matches(r, ["weibo"]), matches(r, ["山东", "spread"]), matches(r, ["shandong", "dormant"])
    (True, True, False)
    """
    name = rumour.get("region_name") or {}
    haystack = " ".join((rumour["rumour_id"], rumour.get("status") or "", rumour.get("region") or "",
                         name.get("zh") or "", name.get("en") or "")).lower()
    return all(w in haystack for w in words)


def page(rumours: list[dict], q: str, offset: int, limit: int) -> tuple[list[dict], int]:
    """``(page, total)``: the rumours matching the search ``q`` (words separated by spaces,
    case-insensitive, all must match; empty: all), how many match, and the ``limit`` of them
    (0: all) from ``offset``.

    >>> rs = [{"rumour_id": f"r{i}", "status": "dormant"} for i in range(12)]
    >>> [r["rumour_id"] for r in page(rs, "", 10, 5)[0]], page(rs, "R1", 0, 0)[1]
    (['r10', 'r11'], 3)
    """
    words = q.lower().split()
    if words:
        rumours = [r for r in rumours if matches(r, words)]
    end = offset + limit if limit else None
    return rumours[offset:end], len(rumours)


def etag(body: bytes) -> str:
    """A strong ETag of an answer's bytes.

    >>> etag(b"{}")
    '"44136fa355b3678a1146ad16f7e8649e"'
    """
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(if_none_match: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``tag`` (a list, ``*`` or a weak ``W/`` form).

    >>> not_modified('"a", W/"b"', '"b"'), not_modified(None, '"b"'), not_modified("*", '"b"')
    (True, False, True)
    """
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or tag in tags
