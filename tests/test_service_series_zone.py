"""The dashboard's series buckets are the centre's local hours and days (``report_timezone``),
not UTC ones: a UTC day bucket ran 08:00 to 08:00 in Beijing."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from streams.service.buckets import DAY_MS, HOUR_MS, MINUTE_MS
from streams.service.views import Views

MIN = 60_000


def ms(text: str, zone: str) -> int:
    """Epoch ms of a local wall time in ``zone``."""
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp() * 1000)


class Store:
    """The two store reads of a rumour's detail; ``minutes``: (epoch ms, kind, shares)."""

    def __init__(self, minutes):
        self.minutes = minutes

    def minute_counts(self, rumour_id):
        return [(m, "110105", kind, n) for m, kind, n in self.minutes] if rumour_id == "r1" else []

    def top_spreaders(self, rumour_id, limit):
        return []

    def rumour_region_counts(self, since_ms=None, rumour_ids=None):
        return []

    def rumours_changed_since(self, since_s):
        return 0, 0, set()


def detail(minutes, zone):
    """The detail answer as the client reads it (JSON: points are lists)."""
    d = Views(None, Store(minutes), lambda a: a, timezone=zone).detail("r1")
    return d | {"series": {k: [list(p) for p in v] for k, v in d["series"].items()}}


def test_shares_either_side_of_beijing_midnight_on_one_utc_day_fall_in_two_day_buckets():
    late, early = ms("2012-06-11T23:30", "Asia/Shanghai"), ms("2012-06-12T00:30", "Asia/Shanghai")
    assert late // DAY_MS == early // DAY_MS  # one UTC day: the old buckets put them together
    start = ms("2012-04-01T12:00", "Asia/Shanghai")  # > 60 days before: day buckets
    d = detail([(start, "share", 1), (late, "share", 2), (early, "share", 3)], "Asia/Shanghai")
    assert d["bucket_ms"] == DAY_MS and d["timezone"] == "Asia/Shanghai"
    assert d["series"]["rumour"] == [[ms("2012-04-01T00:00", "Asia/Shanghai"), 1],
                                     [ms("2012-06-11T00:00", "Asia/Shanghai"), 2],
                                     [ms("2012-06-12T00:00", "Asia/Shanghai"), 3]]
    # The same shares for a UTC centre: one day, starting at 00:00Z.
    d = detail([(start, "share", 1), (late, "share", 2), (early, "share", 3)], "UTC")
    assert d["timezone"] == "UTC" and d["series"]["rumour"][1:] == [[late - late % DAY_MS, 5]]


def test_a_local_day_across_the_spring_dst_change_lasts_23_hours():
    zone = "Europe/Berlin"  # 2021-03-28: 02:00 CET -> 03:00 CEST
    shares = [(ms("2021-01-10T12:00", zone), "share", 1),
              (ms("2021-03-28T00:10", zone), "share", 1), (ms("2021-03-28T23:50", zone), "share", 1),
              (ms("2021-03-29T00:10", zone), "share", 1),
              (ms("2021-10-31T23:50", zone), "debunk", 1)]  # 2021-10-31 had 25 hours
    d = detail(shares, zone)
    keys = [t for t, _ in d["series"]["rumour"]]
    assert d["series"]["rumour"][1:] == [[ms("2021-03-28T00:00", zone), 2], [ms("2021-03-29T00:00", zone), 1]]
    assert keys[2] - keys[1] == 23 * HOUR_MS
    assert d["series"]["debunk"] == [[ms("2021-10-31T00:00", zone), 1]]
    assert ms("2021-11-01T00:00", zone) - d["series"]["debunk"][0][0] == 25 * HOUR_MS


def test_hour_buckets_start_at_local_full_hours_in_a_half_hour_zone():
    zone = "Asia/Kolkata"  # +05:30: a local hour starts at :30 UTC
    first, share = ms("2012-06-01T09:00", zone), ms("2012-06-11T21:10", zone)
    d = detail([(first, "share", 1), (share, "share", 1), (share + 40 * MIN, "share", 1)], zone)
    assert d["bucket_ms"] == HOUR_MS and d["timezone"] == zone
    # 21:10 and 21:50 local are 15:40Z and 16:20Z: two UTC hours, one local hour
    assert d["series"]["rumour"] == [[first, 1], [ms("2012-06-11T21:00", zone), 2]]
    assert d["series"]["rumour"][1][0] % HOUR_MS == 30 * MIN


def test_minute_buckets_need_no_zone():
    t = ms("2012-06-11T23:30", "Asia/Shanghai")
    d = detail([(t, "share", 1), (t + MIN, "share", 2)], "Asia/Kolkata")
    assert d["bucket_ms"] == MIN and d["series"]["rumour"] == [[t, 1], [t + MIN, 2]]


def test_the_service_passes_the_centres_zone_to_its_views(tmp_path):
    from streams.service.http import Service

    service = Service(None, Store([]), tmp_path / "tokens.json", timezone="Europe/Berlin")
    assert service.views.timezone == "Europe/Berlin"
    service.executor.shutdown()


def test_an_unknown_zone_is_refused_with_the_settings_name():
    from streams.governance.config import GovernanceConfig

    assert GovernanceConfig.load(environ={"RUMOUR_REPORT_TIMEZONE": "Asia/Kolkata"}).report_timezone == "Asia/Kolkata"
    with pytest.raises(ValueError, match=r"setting report_timezone \(RUMOUR_REPORT_TIMEZONE\)"):
        GovernanceConfig.load(environ={"RUMOUR_REPORT_TIMEZONE": "Asia/Beijing"})


def test_the_readme_row_says_the_zone_cuts_the_dashboards_buckets():
    from tests.test_docs import README

    row = next(line for line in README.splitlines() if line.startswith("| `report_timezone` |"))
    assert "dashboard's series buckets" in row and "monthly report" in row


def test_report_monthly_refuses_an_unknown_zone_in_one_line(tmp_path):
    # A mistyped --timezone ended in a ZoneInfoNotFoundError traceback.
    from tests.test_cli import rumour

    proc = rumour("report", "monthly", "--month", "2026-10", "--timezone", "Asia/Beijing",
                  "--store", "chdb://", "-o", tmp_path / "out", check=False)
    assert proc.returncode == 2 and proc.stderr.decode() == "rumour report: error: unknown time zone 'Asia/Beijing'\n"


def test_the_rumour_list_names_the_zone_the_dashboard_shows_times_in():
    class Everyone:
        jurisdiction = "000000"

        def covers_any(self, regions):
            return True

    views = Views(None, Store([]), lambda a: a, timezone="Asia/Kolkata")
    assert views.rumour_list(Everyone()) == {"as_of": None, "timezone": "Asia/Kolkata", "rumours": []}


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Asia/Urumqi", "Europe/Berlin", "Asia/Kolkata",
                                  "Asia/Kathmandu", "Australia/Lord_Howe"])
def test_grafanas_utc_hours_are_the_centres_hours_exactly_where_the_note_says_so(zone):
    # Grafana's hourly aggregates (sql/014, sql/015) cut hours in UTC; README says why that is
    # the centre's hours in a whole-hour zone, and `rumour serve` notes a zone where it is not.
    import numpy as np

    from streams.service.buckets import bucket_starts, utc_hours_are_local
    from streams.service.cli import grafana_hours_note
    from tests.test_docs import README

    for name in ("014_dead_letter_hour_counts.sql", "015_audit_hour_counts.sql"):
        assert "toStartOfHour(toDateTime(intDiv(" in (Path(__file__).resolve().parents[1] / "sql" / name).read_text()
    # every minute of 2012 and 2026 (both DST seasons of Berlin and Lord Howe)
    minutes = np.concatenate([np.arange(ms(f"{y}-01-01T00:00", "UTC"), ms(f"{y}-12-31T00:00", "UTC"), MINUTE_MS)
                              for y in (2012, 2026)])
    same = bool((bucket_starts(minutes, HOUR_MS, zone) == minutes - minutes % HOUR_MS).all())
    assert utc_hours_are_local(zone) == same == (zone in ("Asia/Shanghai", "Asia/Urumqi", "Europe/Berlin"))
    note = grafana_hours_note(zone)
    assert (note is None) == same and (same or zone in note)
    assert "Grafana's hourly panels count UTC hours" in README
