"""The monthly debunk ranking: rumours by reach, debunks by coverage and speed, per city and
per county unit, for one calendar month in the report's time zone.

A rumour is in the month when at least one of its rumour events (post/share/comment) falls in
it. Figures use every event up to the month's end (a debunk published in the month may answer
a rumour that began earlier); ``shares_in_month`` counts only the month's rumour events.
Definitions of exposed / reached / coverage: :mod:`streams.governance.debunks`.

A report for one jurisdiction (a province's, city's or county's desk) holds what the API shows
that jurisdiction's tokens: the rumours that spread in it (a post, share or comment with a region
inside it by the month's end; a debunk there gives no jurisdiction), the cities and counties
inside it, the alerts of its units, and the reports linked to its rumours or, unlinked, made
from inside it. A rumour's own figures stay the whole rumour's, as on the dashboard.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from streams.events import KIND_CODE
from streams.governance.debunk_state import found_in
from streams.governance.debunks import DebunkTracker
from streams.governance.divisions import division, normalise_region, unit_of
from streams.service.access import NATIONAL, covers, prefix

DEBUNK = KIND_CODE["debunk"]
POST = KIND_CODE["post"]


def month_bounds(month: str, tz: str = "Asia/Shanghai") -> tuple[int, int]:
    """``[start, end)`` of ``YYYY-MM`` in epoch ms, midnight to midnight in ``tz``.

    >>> month_bounds("2026-10", "UTC")
    (1790812800000, 1793491200000)
    """
    try:
        year, mon = (int(x) for x in month.split("-"))
        zone = ZoneInfo(tz)
        start = datetime(year, mon, 1, tzinfo=zone)
        end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=zone)
    except (ValueError, TypeError):
        raise ValueError(f"month: expected YYYY-MM, got {month!r}") from None
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


@dataclass
class MonthlyReport:
    month: str
    timezone: str
    start_ms: int
    end_ms: int
    rumours: list = field(default_factory=list)
    debunks: list = field(default_factory=list)
    cities: list = field(default_factory=list)
    units: list = field(default_factory=list)
    totals: dict = field(default_factory=dict)
    jurisdiction: str = NATIONAL


def _place(code):
    d = division(code) if code else None
    return (d.name_zh, d.name_en) if d else ("", "")


def _spread_in(batch, rows, jurisdiction: str) -> set:
    """Rumours with a post, share or comment (of ``rows``, indexes into ``batch``) whose region
    lies inside ``jurisdiction``.

    >>> from types import SimpleNamespace as B
    >>> b = B(rumour_id=["r1", "r1", "r2"], region=["440305", "440304", "440304"], kind=[POST, DEBUNK, POST])
    >>> sorted(_spread_in(b, range(3), "440300")), sorted(_spread_in(b, range(3), "440305"))
    (['r1', 'r2'], ['r1'])
    >>> sorted(_spread_in(b, range(3), "110105"))
    []
    """
    found, seen = set(), {}
    for i in rows:
        rid, region = batch.rumour_id[i], batch.region[i]
        if rid in found or not region or int(batch.kind[i]) == DEBUNK:
            continue
        inside = seen.get(region)
        if inside is None:
            inside = seen[region] = covers(jurisdiction, region)
        if inside:
            found.add(rid)
    return found


def build_monthly(batch, month: str, tz: str = "Asia/Shanghai", reports=(), statuses=None,
                  alerts=(), jurisdiction: str = NATIONAL) -> MonthlyReport:
    """The month's tables from an :class:`~streams.events.EventBatch` (any span; filtered here),
    report rows, current statuses (rumour_id -> row) and alert dicts; for ``jurisdiction`` (a
    division code; ``000000``: the whole country), see the module's docstring."""
    start, end = month_bounds(month, tz)
    statuses = statuses or {}
    scoped = bool(prefix(jurisdiction))  # also checks the code
    ts = np.asarray(batch.ts_ms)
    kinds = np.asarray(batch.kind)
    in_month = (ts >= start) & (ts < end) & (kinds != DEBUNK)
    active = sorted({batch.rumour_id[i] for i in np.flatnonzero(in_month).tolist()})
    if scoped:
        candidates = set(active)
        rows = (i for i in np.flatnonzero(ts < end).tolist() if batch.rumour_id[i] in candidates)
        inside = _spread_in(batch, rows, jurisdiction)
        active = [rid for rid in active if rid in inside]
    keep = set(active)
    upto = np.flatnonzero(ts < end).tolist()
    sub = batch.take([i for i in upto if batch.rumour_id[i] in keep])
    tracker = DebunkTracker()
    tracker.observe(sub)
    month_shares: dict[str, int] = {}
    text: dict[str, str] = {}
    origin: dict[str, str] = {}
    county_exposed: dict[str, dict[str, set]] = {}  # county -> rumour -> accounts
    for i in range(len(sub)):
        rid = sub.rumour_id[i]
        k = int(sub.kind[i])
        if k == DEBUNK:
            continue
        if start <= int(sub.ts_ms[i]) < end:
            month_shares[rid] = month_shares.get(rid, 0) + 1
        if k == POST and sub.text[i] and rid not in text:
            text[rid] = sub.text[i]
        code = normalise_region(sub.region[i]) if sub.region[i] else None
        if code and rid not in origin:
            origin[rid] = unit_of(code, "city") or code
        county = unit_of(code, "county") if code else None
        if county:
            county_exposed.setdefault(county, {}).setdefault(rid, set()).add(sub.account_id[i])
    report_count: dict[str, int] = {}
    report_city: dict[str, int] = {}
    for r in reports:
        if not (start <= int(r["report_ms"]) < end) or r.get("duplicate_of"):
            continue
        if scoped and r.get("rumour_id") not in keep and not (
                not r.get("rumour_id") and covers(jurisdiction, r.get("region_code") or None)):
            continue  # another jurisdiction's report
        if r.get("rumour_id"):
            report_count[r["rumour_id"]] = report_count.get(r["rumour_id"], 0) + 1
        city = unit_of(r.get("region_code") or None, "city")
        if city:
            report_city[city] = report_city.get(city, 0) + 1
    alert_count: dict[str, int] = {}
    alert_unit: dict[str, int] = {}
    for a in alerts:
        if scoped and not covers(jurisdiction, a["unit"]):
            continue
        if start <= int(a["minute_ms"]) < end:
            alert_count[a["rumour_id"]] = alert_count.get(a["rumour_id"], 0) + 1
            alert_unit[a["unit"]] = alert_unit.get(a["unit"], 0) + 1

    metrics = {rid: tracker.metrics(rid) for rid in active}
    rumours = []
    for rid in active:
        m = metrics[rid]
        zh, en = _place(origin.get(rid))
        rumours.append({
            "rumour_id": rid, "text": (text.get(rid) or "")[:80], "origin_city": origin.get(rid, ""),
            "origin_zh": zh, "origin_en": en, "shares_in_month": month_shares.get(rid, 0),
            "shares": m.rumour_shares, "exposed": m.exposed, "cities": len(m.by_city),
            "status": (statuses.get(rid) or {}).get("status", ""), "reports": report_count.get(rid, 0),
            "alerts": alert_count.get(rid, 0)})
    _ranked(rumours, lambda r: (-r["exposed"], -r["shares"], r["rumour_id"]))
    debunks = []
    for rid in active:
        m = metrics[rid]
        if not m.debunk_shares:
            continue
        debunks.append({
            "rumour_id": rid, "debunk_shares": m.debunk_shares, "reached": m.reached, "exposed": m.exposed,
            "covered": m.covered, "coverage": m.coverage,
            "hours_to_debunk": None if m.time_to_debunk_ms is None else m.time_to_debunk_ms / 3_600_000})
    _ranked(debunks, lambda d: (-(d["coverage"] or 0), d["hours_to_debunk"] if d["hours_to_debunk"] is not None
                                else float("inf"), d["rumour_id"]))
    report = MonthlyReport(month, tz, start, end, rumours, debunks, jurisdiction=jurisdiction)
    report.cities = _per_city(metrics, report_city, alert_unit)
    report.units = _per_county(county_exposed, tracker, metrics, alert_unit)
    if scoped:  # the places inside it; its rumours' figures elsewhere are another desk's
        report.cities = _ranked([c for c in report.cities if covers(jurisdiction, c["code"])], _by_coverage)
        report.units = _ranked([u for u in report.units if covers(jurisdiction, u["code"])], _by_coverage)
    report.totals = {
        "rumours": len(rumours), "rumour_shares_in_month": sum(month_shares.values()),
        "debunked_rumours": len(debunks), "reports": sum(report_count.values()),
        "alerts": sum(alert_count.values()),
        "median_hours_to_debunk": _median([d["hours_to_debunk"] for d in debunks]),
        "mean_coverage": _mean([d["coverage"] for d in debunks])}
    return report


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _ranked(rows: list[dict], key) -> list[dict]:
    """``rows`` sorted by ``key``, each given its ``rank`` (1 first); the same list."""
    rows.sort(key=key)
    for rank, r in enumerate(rows, 1):
        r["rank"] = rank
    return rows


def _by_coverage(row: dict) -> tuple:
    """Places: best debunk coverage first, then most accounts exposed, then by code."""
    return -(row["coverage"] or 0), -row["exposed"], row["code"]


def _per_city(metrics, report_city, alert_unit) -> list[dict]:
    rows: dict[str, dict] = {}
    for rid, m in metrics.items():
        for city, c in m.by_city.items():
            row = rows.setdefault(city, {"code": city, "rumours": 0, "exposed": 0, "covered": 0, "ttd": []})
            row["rumours"] += 1
            row["exposed"] += c["exposed"]
            row["covered"] += c["covered"]
            if m.time_to_debunk_ms is not None:
                row["ttd"].append(m.time_to_debunk_ms / 3_600_000)
    out = []
    for city in sorted(set(rows) | set(report_city)):
        row = rows.get(city, {"code": city, "rumours": 0, "exposed": 0, "covered": 0, "ttd": []})
        zh, en = _place(city)
        out.append({"code": city, "name_zh": zh, "name_en": en, "rumours": row["rumours"],
                    "exposed": row["exposed"], "covered": row["covered"],
                    "coverage": row["covered"] / row["exposed"] if row["exposed"] else None,
                    "median_hours_to_debunk": _median(row["ttd"]), "alerts": alert_unit.get(city, 0),
                    "reports": report_city.get(city, 0)})
    return _ranked(out, _by_coverage)


def _per_county(county_exposed, tracker, metrics, alert_unit) -> list[dict]:
    out = []
    for county, per_rumour in county_exposed.items():
        exposed = covered = 0
        ttd = []
        for rid, accounts in per_rumour.items():
            reached = tracker.rumours[rid].reached
            exposed += len(accounts)
            covered += int(found_in(reached, accounts).sum())
            if metrics[rid].time_to_debunk_ms is not None:
                ttd.append(metrics[rid].time_to_debunk_ms / 3_600_000)
        zh, en = _place(county)
        city_zh, _ = _place(unit_of(county, "city"))
        out.append({"code": county, "name_zh": zh, "name_en": en, "city_zh": city_zh, "rumours": len(per_rumour),
                    "exposed": exposed, "covered": covered, "coverage": covered / exposed if exposed else None,
                    "median_hours_to_debunk": _median(ttd), "alerts": alert_unit.get(county, 0)})
    return _ranked(out, _by_coverage)
