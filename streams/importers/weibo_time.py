"""Weibo CED times: China time (+08:00), several spellings, some without a year.

Source posts (``original-microblog/*.json``, field ``time``) come as epoch seconds (int, float
or digit string; epoch ms is recognised by size), as Twitter-API style strings
``"Mon May 27 12:07:05 +0800 2013"``, or as ``"2013-05-27 12:07:05"`` (China time).
Reposts (``date``) are ``"2012-09-14 01:24:55"`` China time, except some spelled the way the
Weibo web page shows dates of the current year: ``"03月05日 05:11"``. Such a date gets the
earliest year that puts it at or after a lower bound (the source post, its parent and the
next older record of the file, which lists reposts newest first); see :func:`resolve_yearless`.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

CN = timezone(timedelta(hours=8))

_FULL = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")
_YEARLESS = re.compile(r"(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})(?::(\d{2}))?")
_EPOCH_MS_ABOVE = 100_000_000_000  # epoch seconds reach this only in the year 5138


_DAY_MS = 86_400_000
_CN_MS = 8 * 3_600_000


def _local_ms(y, mo, d, h, mi, s=0) -> int:
    return int(datetime(y, mo, d, h, mi, s, tzinfo=CN).timestamp()) * 1000


# A repost file holds hundreds of records from a few days: caching the day's midnight
# makes the common "YYYY-MM-DD HH:MM:SS" a slice-and-add instead of a datetime round trip.
_midnight: dict = {}
_day_text: dict = {}


def _fast_full(s: str):
    if len(s) != 19 or s[4] != "-" or s[7] != "-" or s[10] != " " or s[13] != ":" or s[16] != ":":
        return None
    day = s[:10]
    base = _midnight.get(day)
    if base is None:
        if not (day[:4].isdigit() and day[5:7].isdigit() and day[8:].isdigit()):
            return None
        base = _midnight[day] = _local_ms(int(day[:4]), int(day[5:7]), int(day[8:]), 0, 0)
    h, mi, sec = s[11:13], s[14:16], s[17:19]
    if not (h.isdigit() and mi.isdigit() and sec.isdigit()):
        return None
    h, mi, sec = int(h), int(mi), int(sec)
    if h > 23 or mi > 59 or sec > 59:
        return None
    return base + ((h * 60 + mi) * 60 + sec) * 1000


def parse_repost_date(text):
    """``(ms, None)`` for a full date, ``(None, (month, day, hour, minute, second))`` for a
    yearless one; ``ValueError`` for anything else.

    >>> parse_repost_date("2012-09-14 01:24:55")
    (1347557095000, None)
    >>> parse_repost_date("03月05日 05:11")
    (None, (3, 5, 5, 11, 0))
    """
    if not isinstance(text, str):
        raise ValueError(f"date: expected a string, got {type(text).__name__}")
    ms = _fast_full(text)
    if ms is not None:
        return ms, None
    s = text.strip()
    m = _FULL.fullmatch(s)
    if m:
        y, mo, d, h, mi, sec = (int(g) if g else 0 for g in m.groups())
        return _local_ms(y, mo, d, h, mi, sec), None
    m = _YEARLESS.fullmatch(s)
    if m:
        mo, d, h, mi, sec = (int(g) if g else 0 for g in m.groups())
        datetime(2000, mo, d, h, mi, sec)  # range check; 2000 is a leap year, so 02-29 passes
        return None, (mo, d, h, mi, sec)
    raise ValueError(f"date: unknown format {text[:40]!r}")


def resolve_yearless(parts, lower_ms: int) -> int:
    """Epoch ms of the earliest moment with these month/day/time at or after ``lower_ms``.

    Handles the year wrap (a December bound puts January into the next year) and 29 February
    (the next leap year).

    >>> bound = parse_repost_date("2014-12-15 15:04:58")[0]
    >>> format_cn(resolve_yearless((3, 5, 5, 11, 0), bound))
    '2015-03-05T05:11:00+08:00'
    >>> format_cn(resolve_yearless((12, 20, 0, 0, 0), bound))
    '2014-12-20T00:00:00+08:00'
    """
    mo, d, h, mi, sec = parts
    year = datetime.fromtimestamp(lower_ms / 1000, CN).year
    for y in range(year, year + 9):
        try:
            ms = _local_ms(y, mo, d, h, mi, sec)
        except ValueError:  # 29 February in a common year
            continue
        if ms >= lower_ms:
            return ms
    raise ValueError(f"no year puts {mo:02d}-{d:02d} after the bound")


def parse_source_time(value) -> int:
    """Epoch ms of a source post's ``time`` in any of the spellings the data uses.

    >>> parse_source_time(1347334462) == parse_source_time("Tue Sep 11 11:34:22 +0800 2012")
    True
    >>> parse_source_time("2012-09-11 11:34:22")
    1347334462000
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"time: unreadable {value!r}")
    if isinstance(value, (int, float)):
        if value != value:
            raise ValueError("time: NaN")
        return int(value) if value >= _EPOCH_MS_ABOVE else int(round(value * 1000))
    if not isinstance(value, str):
        raise ValueError(f"time: unexpected {type(value).__name__}")
    s = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return parse_source_time(float(s) if "." in s else int(s))
    for fmt in ("%a %b %d %H:%M:%S %z %Y", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z"):
        try:
            return int(datetime.strptime(s, fmt).timestamp() * 1000)
        except ValueError:
            pass
    m = _FULL.fullmatch(s)
    if m:
        y, mo, d, h, mi, sec = (int(g) if g else 0 for g in m.groups())
        return _local_ms(y, mo, d, h, mi, sec)
    raise ValueError(f"time: unknown format {value[:40]!r}")


def format_cn(ms: int) -> str:
    """RFC 3339 in China time, the zone the data was recorded in.

    >>> format_cn(1347557095000)
    '2012-09-14T01:24:55+08:00'
    """
    day, in_day = divmod(ms + _CN_MS, _DAY_MS)
    text = _day_text.get(day)
    if text is None:
        text = _day_text[day] = datetime.fromtimestamp(day * 86400, timezone.utc).strftime("%Y-%m-%dT")
    sec, milli = divmod(in_day, 1000)
    mi, sec = divmod(sec, 60)
    h, mi = divmod(mi, 60)
    if milli:
        return f"{text}{h:02d}:{mi:02d}:{sec:02d}.{milli:03d}+08:00"
    return f"{text}{h:02d}:{mi:02d}:{sec:02d}+08:00"
