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


def test_a_county_report_holds_only_what_spread_in_the_county():
    report = _report("440305")
    assert [r["rumour_id"] for r in report.rumours] == ["A"]
    # A's own figures stay the whole rumour's (3 shares, Futian's too), as on the dashboard
    assert report.rumours[0]["shares_in_month"] == 3 and report.rumours[0]["alerts"] == 1
    assert report.rumours[0]["reports"] == 1
    assert [u["code"] for u in report.units] == ["440305"] and report.cities == []
    assert report.units[0]["exposed"] == 2  # u1 (the 00:30 post) and u3
    assert report.totals["rumours"] == 1 and report.totals["alerts"] == 1 and report.totals["reports"] == 1
    assert report.debunks == []  # C's debunk from Nanshan does not bring C in


def test_the_next_county_city_and_province_see_their_own():
    futian = _report("440304")
    assert [r["rumour_id"] for r in futian.rumours] == ["A", "B"]
    assert [u["code"] for u in futian.units] == ["440304"] and futian.totals["alerts"] == 1
    for code in ("440300", "440000"):
        report = _report(code)
        assert sorted(r["rumour_id"] for r in report.rumours) == ["A", "B"]
        assert sorted(u["code"] for u in report.units) == ["440304", "440305"]
        assert [c["code"] for c in report.cities] == ["440300"]
        assert report.cities[0]["reports"] == 3  # r1, r2 and the unlinked r3, all from Shenzhen
        assert report.totals["alerts"] == 3 and report.totals["reports"] == 2
    beijing = _report("110000")
    assert [r["rumour_id"] for r in beijing.rumours] == ["C"] and beijing.totals["reports"] == 1


def test_the_country_report_is_unchanged():
    whole, national = _report(), _report("000000")
    assert sorted(r["rumour_id"] for r in whole.rumours) == ["A", "B", "C"]
    assert whole.totals == national.totals and whole.units == national.units
    assert whole.totals["alerts"] == 4


def test_the_command_writes_the_desk_report_under_its_code(tmp_path, capsys):
    from streams.governance.cli import report_main

    data = tmp_path / "events.jsonl"
    data.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in EVENTS))
    out = tmp_path / "out"
    assert report_main(["monthly", "--month", MONTH, str(data), "-o", str(out), "--no-xlsx",
                        "--jurisdiction", "440305"]) == 0
    printed = orjson.loads(capsys.readouterr().out)
    assert printed["jurisdiction"] == "440305" and printed["totals"]["rumours"] == 1
    with open(out / f"monthly-{MONTH}-440305-rumours.csv", encoding="utf-8-sig") as fh:
        assert [row[1] for row in list(csv.reader(fh))[1:]] == ["A"]
    # Named as the API and alerts name it (a bare 南山区 is Shenzhen's and Hegang's).
    page = (out / f"monthly-{MONTH}-440305.html").read_text("utf-8")
    assert "深圳 南山区 Nanshan District, Shenzhen (440305)" in page
    assert report_main(["monthly", "--month", MONTH, str(data), "-o", str(out), "--jurisdiction", "4403"]) == 2
    assert "--jurisdiction: expected a 6-digit division code" in capsys.readouterr().err


def test_a_store_that_is_not_there_is_an_error_not_an_empty_report(tmp_path, capsys):
    # `--store` with a mistyped path or database migrated a new, empty store and wrote a
    # report of 0 rumours, which read like a quiet month.
    from streams.governance.cli import report_main

    data = tmp_path / "events.jsonl"
    data.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in EVENTS))
    store = f"chdb://{tmp_path / 'store'}"
    from streams.store import open_store

    with open_store(store) as filled:  # the real store: a replay of the month's events
        filled.migrate()
    out = tmp_path / "out"
    typo = f"chdb://{tmp_path / 'stroe'}"
    assert report_main(["monthly", "--month", MONTH, "-o", str(out), "--no-xlsx", "--store", typo]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rumour report: error: {typo}: database 'rumour' holds no store"), err
    assert not out.exists() and not (tmp_path / "stroe" / "rumour").exists()
    # the store that is there still makes its report (empty here: nothing was written to it)
    assert report_main(["monthly", "--month", MONTH, "-o", str(out), "--no-xlsx", "--store", store]) == 0
