"""The dashboard's time buckets, cut at the centre's local boundaries (``report_timezone``).

A day bucket is a local calendar day, midnight to midnight in the zone (23 or 25 hours across a
daylight-saving change); an hour bucket starts at a local full hour (at :30 UTC in a +05:30
zone). A bucket's key is the epoch ms of its local start. Minute buckets need no zone.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
# Every UTC offset change of the tz database since 1970 happens on a quarter hour (UTC), so one
# offset per quarter hour holds for each of its minutes.
_QUARTER_MS = 900_000
_EPOCH = date(1970, 1, 1)


def time_zone(name: str) -> str:
    """``name`` if the tz database knows it, else ValueError (the type of ``report_timezone``).

    >>> time_zone("Asia/Shanghai")
    'Asia/Shanghai'
    >>> time_zone("Asia/Beijing")
    Traceback (most recent call last):
    ...
    ValueError: unknown time zone 'Asia/Beijing'
    """
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


def utc_hours_are_local(zone: str) -> bool:
    """Whether each hour of ``zone`` starts at a UTC full hour (its offset a whole number of hours
    on every day from 1970 to 2050): then an hour counted in UTC, as the store's hourly aggregates
    that Grafana reads are (``sql/014``, ``sql/015``), is one of the zone's hours. All of China's
    zones are; a +05:30 zone is not (its UTC hour is 10:30 to 11:30 there).

    >>> [utc_hours_are_local(z) for z in ("Asia/Shanghai", "Europe/Berlin", "Asia/Kolkata")]
    [True, True, False]
    """
    return _whole_hour_offsets(zone)


@lru_cache(maxsize=64)
def _whole_hour_offsets(zone: str) -> bool:
    tz = ZoneInfo(zone)
    day = datetime(1970, 1, 1, tzinfo=timezone.utc)
    while day.year < 2050:  # offsets change twice a year at most: a daily look sees each one
        if tz.utcoffset(day).total_seconds() % 3600:
            return False
        day += timedelta(days=1)
    return True


def bucket_size(first_ms: int, last_ms: int) -> int:
    """Minutes for a rumour of up to two days, hours up to 60 days, else days.

    >>> bucket_size(0, DAY_MS), bucket_size(0, 3 * DAY_MS), bucket_size(0, 61 * DAY_MS)
    (60000, 3600000, 86400000)
    """
    span = last_ms - first_ms
    return MINUTE_MS if span <= 2 * DAY_MS else HOUR_MS if span <= 60 * DAY_MS else DAY_MS


def bucket_starts(minutes, bucket_ms: int, zone: str) -> np.ndarray:
    """The local start (epoch ms) of the bucket of each minute (epoch ms) in ``zone``.

    Shares at 23:30 and 00:30 Beijing time of one UTC day fall in two local days:

    >>> late, early = 1339428600000, 1339432200000  # 2012-06-11T15:30Z, 16:30Z
    >>> bucket_starts([late, early], DAY_MS, "Asia/Shanghai").tolist()  # 06-11 and 06-12 00:00 +08
    [1339344000000, 1339430400000]
    >>> bucket_starts([1339428600000], HOUR_MS, "Asia/Kolkata").tolist()  # 21:00 IST = 15:30Z
    [1339428600000]
    """
    minutes = np.asarray(minutes, dtype=np.int64)
    if bucket_ms == MINUTE_MS or minutes.size == 0:
        return minutes - minutes % bucket_ms
    tz = ZoneInfo(zone)
    quarters, which = np.unique(minutes // _QUARTER_MS, return_inverse=True)
    offsets = np.array([_offset_ms(int(q) * _QUARTER_MS, tz) for q in quarters], dtype=np.int64)
    wall = minutes + offsets[which.reshape(-1)]  # the local clock read as if UTC
    if bucket_ms == HOUR_MS:
        return minutes - wall % HOUR_MS
    if bucket_ms != DAY_MS:
        raise ValueError(f"bucket_ms: expected {MINUTE_MS}, {HOUR_MS} or {DAY_MS}, got {bucket_ms}")
    days, which = np.unique(wall // DAY_MS, return_inverse=True)
    # Local midnight of each day; fold=0: where midnight is skipped (a change at 00:00) the
    # day starts at the change, where it repeats at its first occurrence.
    starts = np.array([int(datetime.combine(_EPOCH + timedelta(days=int(d)), datetime.min.time(), tz)
                           .timestamp() * 1000) for d in days], dtype=np.int64)
    return starts[which.reshape(-1)]


def _offset_ms(ms: int, tz: ZoneInfo) -> int:
    return int(datetime.fromtimestamp(ms / 1000, timezone.utc).astimezone(tz).utcoffset()
               .total_seconds() * 1000)
