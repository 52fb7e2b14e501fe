"""One page of the rumour list (``GET /api/rumours``): the search, the page, the conditional answer.

The national list of the real Weibo set is 2,364 rumours (about 560 KB); the dashboard polls it,
so it asks for one page (``limit``, ``offset``), narrows it with ``q`` and repeats its last
answer's ``ETag`` in ``If-None-Match``: an unchanged page is a 304 with no body.
"""
from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

Q_MAX = 100  # characters of a search: more is no rumour id, region or status
I18N = Path(__file__).resolve().parent / "static" / "i18n.js"  # the page's words, every language
# What the page's table shows in its status and handling columns, as keys of I18N: a status
# as itself (list.js t(r.status)), a handling status as itself but "debunked" (handlingName).
STATUS_KEYS = {s: s for s in ("spreading", "contested", "debunked", "dormant")}
HANDLING_KEYS = {"received": "received", "verified": "verified", "handled": "handled",
                 "debunked": "h_debunked"}


@functools.cache
def labels(key: str) -> tuple[str, ...]:
    """The page's words for an I18N key, one per language (read once from static/i18n.js, so a
    label changed there is searchable without a change here).

    >>> labels("contested")
    ('传播中（已辟谣）', 'spreading (debunked)')
    """
    text = I18N.read_text(encoding="utf-8")
    found = tuple(re.findall(r"\b" + re.escape(key) + r':\s*"([^"]*)"', text.split("window.RUMOUR_PROVINCES")[0]))
    if not found:
        raise KeyError(f"{key}: no such label in {I18N.name}")
    return found


def haystack(rumour: dict) -> str:
    """What a search looks in (lower case): the rumour's id, status (its word and the page's
    labels of it), main province's, city's and county's codes and their Chinese and English
    names (a list item of :meth:`streams.service.views.Views.rumour_list`).

    >>> r = {"rumour_id": "weibo-17", "status": "spreading", "region": "370000",
    ...      "region_name": {"zh": "山东省", "en": "Shandong"}, "city": "370100",
    ...      "city_name": {"zh": "济南市", "en": "Jinan"}, "county": None, "county_name": None}
    >>> haystack(r)
    'weibo-17 spreading 传播中 spreading 370000 山东省 shandong 370100 济南市 jinan   '
    >>> page([r], "山东 传播中", 0, 0)[1], page([r], "shandong dormant", 0, 0)[1], page([r], "济南", 0, 0)[1]
    (1, 0, 1)
    """
    status = rumour.get("status") or ""
    places = []
    for level in ("region", "city", "county"):
        name = rumour.get(level + "_name") or {}
        places += [rumour.get(level) or "", name.get("zh") or "", name.get("en") or ""]
    return " ".join((rumour["rumour_id"], status, *(labels(STATUS_KEYS[status]) if status in STATUS_KEYS else ()),
                     *places)).lower()


def handling_haystack(handling: str | None) -> str:
    """What a search looks in for a handling status (lower case; "" for none: the page shows
    "–").

    >>> handling_haystack("debunked"), handling_haystack(None)
    ('debunked 已辟谣 debunked', '')
    """
    if handling is None:
        return ""
    return " ".join((handling, *(labels(HANDLING_KEYS[handling]) if handling in HANDLING_KEYS else ()))).lower()


def page(rumours: list, q: str, offset: int, limit: int, haystacks: list[str] | None = None,
         more: list[str] | None = None) -> tuple[list, int]:
    """``(page, total)``: the rumours matching the search ``q`` (words separated by spaces,
    case-insensitive, all must match; empty: all), how many match, and the ``limit`` of them
    (0: all) from ``offset``. ``haystacks`` (default :func:`haystack` of each rumour) and
    ``more`` (each rumour's further text, e.g. :func:`handling_haystack`) are what is searched.

    >>> rs = [{"rumour_id": f"r{i}", "status": "dormant"} for i in range(12)]
    >>> [r["rumour_id"] for r in page(rs, "", 10, 5)[0]], page(rs, "R1", 0, 0)[1], page(rs, "平息 r11", 0, 0)[1]
    (['r10', 'r11'], 3, 1)
    """
    words = q.lower().split()
    if words:
        if haystacks is None:
            haystacks = [haystack(r) for r in rumours]
        kept = range(len(rumours))
        for w in words:  # a pass per word, no call per rumour: a search of 2,364 rumours in ~1 ms
            if more is None:
                kept = [i for i in kept if w in haystacks[i]]
            else:
                kept = [i for i in kept if w in haystacks[i] or w in more[i]]
        rumours = [rumours[i] for i in kept]
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
