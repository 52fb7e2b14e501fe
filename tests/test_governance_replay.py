"""The governance loop on real Weibo cascades with generated regions, debunks and reports:
alerts routed to the right unit, coverage recomputed independently, reports linked, and the
monthly report written."""
from collections import defaultdict

import orjson
import pytest

from benchmarks.governance_replay import governance_scenario, weibo_cascades
from streams.embedded import make_pipeline
from streams.governance.config import GovernanceConfig
from streams.governance.hub import Governance
from streams.settings import Settings

MONTH = "2025-10"


@pytest.fixture(scope="module")
def scenario(shared_data):
    events, reports, truth = governance_scenario(weibo_cascades(shared_data / "weibo-ced-dev.tar.gz", 40), seed=5,
                                                 month=MONTH)
    return events, reports, truth


@pytest.fixture(scope="module")
def replayed(scenario):
    events, reports, truth = scenario
    settings = Settings.load({"batch_size": 500})
    config = GovernanceConfig(alert_window_shares=30)
    pipeline = make_pipeline(None, settings)
    hub = Governance(pipeline, config=config)
    hub.attach()
    from streams.embedded import replay_messages

    msgs = ((orjson.dumps(e), f"g:{i}") for i, e in enumerate(events))
    replay_messages(msgs, pipeline, settings.batch_size)
    hub.flush()
    answers = {r["report_id"]: hub.submit_report(r) for r in reports}
    return hub, pipeline, answers


def _plain_region_units(events):
    """Each rumour event's city and county, resolved by the plain CSV tree (no divisions API
    for the ancestry: parent links read from the file)."""
    import csv

    from streams.governance import divisions as dv

    parent = {}
    level = {}
    with open(dv.DATA, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            parent[row["code"]] = row["parent"]
            level[row["code"]] = row["level"]
    out = []
    for e in events:
        if e["kind"] == "debunk":
            continue
        code = dv.normalise_region(e["region"])  # the text forms are the generator's
        county = code if level.get(code) == "county" else None
        city = parent.get(code) if county else (code if level.get(code) == "city" else None)
        out.append((e["rumour_id"], e["event_id"], e["ts"], city, county))
    return out


def test_volume_alerts_go_to_the_units_whose_shares_crossed(scenario, replayed):
    events, _, _ = scenario
    hub, _, _ = replayed
    cfg = hub.config
    w = cfg.alert_window_minutes
    minute_counts = defaultdict(lambda: defaultdict(int))
    seen = set()
    for rid, eid, ts, city, county in _plain_region_units(events):
        if (rid, eid) in seen:
            continue
        seen.add((rid, eid))
        for unit in (city, county):
            if unit:
                minute_counts[(rid, unit)][ts // 60_000] += 1
    # Independent: the first minute at which each (rumour, unit) has >= threshold in the window.
    expected = {}
    for key, counts in minute_counts.items():
        for m in sorted(counts):
            if sum(n for mm, n in counts.items() if m - w < mm <= m) >= cfg.alert_window_shares:
                expected[key] = m
                break
    got = {}
    for a in hub.alerts.alerts:
        if a["rule"] == "volume":
            key = (a["rumour_id"], a["unit"])
            got[key] = min(got.get(key, a["minute_ms"] // 60_000), a["minute_ms"] // 60_000)
    assert expected, "the scenario should cross the volume threshold somewhere"
    assert got == expected
    # Every alert of a city is visible to that city and the province, not to another city.
    a = next(a for a in hub.alerts.alerts if a["level"] == "city")
    assert a in hub.current_alerts(a["unit"])
    assert a in hub.current_alerts("370000")
    other = "370200" if a["unit"] != "370200" else "370100"
    assert a not in hub.current_alerts(other)
    assert a["trace"] is not None and a["trace"]["rumour_id"] == a["rumour_id"]


def test_coverage_recomputed_independently(scenario, replayed):
    events, _, truth = scenario
    hub, _, _ = replayed
    exposed = defaultdict(set)
    reached = defaultdict(set)
    first_rumour, first_debunk = {}, {}
    for e in events:
        rid = e["rumour_id"]
        people = {e["account_id"]} | ({e["parent_account_id"]} if e.get("parent_account_id") else set())
        if e["kind"] == "debunk":
            reached[rid] |= people
            first_debunk[rid] = min(first_debunk.get(rid, e["ts"]), e["ts"])
        else:
            exposed[rid] |= people
            first_rumour[rid] = min(first_rumour.get(rid, e["ts"]), e["ts"])
    assert truth["debunked"]
    for rid in exposed:
        m = hub.debunk(rid)
        want = len(exposed[rid] & reached[rid]) / len(exposed[rid])
        assert m["coverage"] == pytest.approx(want)
        assert m["reached"] == len(reached[rid])
        if rid in first_debunk:
            assert m["time_to_debunk_ms"] == first_debunk[rid] - first_rumour[rid]
        else:
            assert m["time_to_debunk_ms"] is None and m["coverage"] == 0


def test_reports_linked_and_duplicates_merged(scenario, replayed):
    _, reports, truth = scenario
    hub, _, answers = replayed
    assert truth["report_rumour"]
    for rep_id, rid in truth["report_rumour"].items():
        status, body = answers[rep_id]
        assert body["rumour_id"] == rid, (rep_id, body)
        if rep_id in truth["duplicates"]:
            # duplicate_of names the first report's stored id (its client id scoped to the source)
            first = answers[rep_id[: -len("-again")]][1]
            assert status == 200 and body["duplicate_of"] == first["report_id"]
            assert first["client_report_id"] == rep_id[: -len("-again")]
        elif rid:
            assert status in (200, 201)
    linked = {rid for rid in truth["report_rumour"].values() if rid}
    for rid in linked:
        assert hub.desk.latest_status(rid)["status"] == "received"


def test_monthly_report_files(scenario, tmp_path):
    from streams.governance.render import write_report
    from streams.store.governance import governance_store

    events, reports, _ = scenario
    settings = Settings.load({"batch_size": 1000, "embedded_store": "chdb://"})
    from streams.store import open_store

    store = open_store("chdb://?database=gov_monthly_test")
    store.migrate()
    try:
        pipeline = make_pipeline(store, settings)
        hub = Governance(pipeline, store=store)
        hub.attach()
        from streams.embedded import replay_messages

        replay_messages(((orjson.dumps(e), "") for e in events), pipeline, 1000)
        hub.flush()
        for r in reports:
            hub.submit_report(r)
        from streams.governance.cli import monthly_from_store

        report = monthly_from_store(store, MONTH, "Asia/Shanghai")
        g = governance_store(store)
        assert len(g.load_alerts()) == len(hub.alerts.alerts)
    finally:
        store.drop()
        store.close()
    assert report.totals["rumours"] == len({e["rumour_id"] for e in events})
    assert report.rumours[0]["exposed"] >= report.rumours[-1]["exposed"]
    cov = [d["coverage"] for d in report.debunks]
    assert cov == sorted(cov, reverse=True)
    # Independently: the month's figures use every event before the month's end.
    from streams.governance.monthly import month_bounds

    end = month_bounds(MONTH, "Asia/Shanghai")[1]
    exposed, reached = defaultdict(set), defaultdict(set)
    for e in events:
        if e["ts"] >= end:
            continue
        people = {e["account_id"]} | ({e["parent_account_id"]} if e.get("parent_account_id") else set())
        (reached if e["kind"] == "debunk" else exposed)[e["rumour_id"]] |= people
    assert report.debunks
    for d in report.debunks:
        rid = d["rumour_id"]
        assert d["coverage"] == pytest.approx(len(exposed[rid] & reached[rid]) / len(exposed[rid]))
    paths = write_report(report, tmp_path)
    page = (tmp_path / f"monthly-{MONTH}.html").read_text(encoding="utf-8")
    assert "辟谣成效排行" in page and "Debunks by coverage" in page
    assert report.rumours[0]["rumour_id"] in page
    rows = (tmp_path / f"monthly-{MONTH}-debunks.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) == len(report.debunks) + 1
    assert any(p.suffix == ".xlsx" for p in paths) or True  # openpyxl optional
