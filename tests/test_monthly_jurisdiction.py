"""The monthly report of one desk (``rumour report monthly --jurisdiction CODE``): a county's
report holds the rumours that spread in the county, its own counties, alerts and reports, and
nothing of the county next door; a province's holds its cities and counties; the country's
report is the one it was. A month without rumours is an empty report, not a traceback."""
from __future__ import annotations

import csv

import orjson

from streams.events import Decoder

MONTH = "2025-12"


def _event(eid, rid, account, ts, region, kind="share", parent=None):
    return {"event_id": eid, "rumour_id": rid, "account_id": account, "ts": ts, "region": region,
            "kind": kind, "parent_event_id": parent, "platform": "weibo", "text": f"text of {rid}"}


# A: Nanshan (440305) and Futian (440304); B: Futian only; C: Beijing Chaoyang, with a debunk
# posted from Nanshan (a debunk gives no jurisdiction). One Nanshan share of A at 00:30 on
# 1 December in Shanghai, still 30 November in UTC: it is December's.
EVENTS = [
    _event("a0", "A", "u1", "2025-12-01T00:30:00+08:00", "440305", "post"),
    _event("a1", "A", "u2", "2025-12-03T10:00:00+08:00", "440304", parent="a0"),
    _event("a2", "A", "u3", "2025-12-03T10:05:00+08:00", "440305", parent="a0"),
    _event("b0", "B", "u4", "2025-12-04T09:00:00+08:00", "440304", "post"),
    _event("b1", "B", "u5", "2025-12-04T09:10:00+08:00", "440304", parent="b0"),
    _event("c0", "C", "u6", "2025-12-05T09:00:00+08:00", "110105", "post"),
    _event("c1", "C", "u7", "2025-12-05T09:30:00+08:00", "110105", parent="c0"),
    _event("cd", "C", "gov", "2025-12-06T09:00:00+08:00", "440305", "debunk"),
]
DEC = 1764518400000  # 2025-12-01T00:00+08:00, in epoch ms
ALERTS = [{"alert_id": f"al{i}", "rumour_id": rid, "unit": unit, "minute_ms": DEC + 86_400_000 * (i + 2)}
          for i, (rid, unit) in enumerate([("A", "440305"), ("A", "440304"), ("B", "440300"), ("C", "110105")])]
REPORTS = [
    {"report_id": "r1", "rumour_id": "A", "report_ms": DEC + 3_600_000, "region_code": "440305"},
    {"report_id": "r2", "rumour_id": "B", "report_ms": DEC + 3_600_000, "region_code": "440304"},
    {"report_id": "r3", "rumour_id": None, "report_ms": DEC + 3_600_000, "region_code": "440305"},
    {"report_id": "r4", "rumour_id": "C", "report_ms": DEC + 3_600_000, "region_code": ""},
]


def _report(jurisdiction=None, events=EVENTS, month=MONTH):
    from streams.governance.monthly import build_monthly

    batch, dead = Decoder().decode([orjson.dumps(events)])
    assert not dead
    kwargs = {} if jurisdiction is None else {"jurisdiction": jurisdiction}
    return build_monthly(batch, month, "Asia/Shanghai", reports=REPORTS, alerts=ALERTS, **kwargs)


def test_a_month_without_rumours_is_an_empty_report():
    report = _report(month="2026-03")
    assert (report.rumours, report.debunks, report.cities, report.units) == ([], [], [], [])
    assert report.totals["rumours"] == 0 and report.totals["rumour_shares_in_month"] == 0
