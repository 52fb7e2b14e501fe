"""Governance observers fed a whole batch: the same state and alerts as event by event, and one trace per rumour per batch."""
from __future__ import annotations

import random

import orjson
import pytest

from streams.events import Decoder
from streams.governance.debunks import DebunkMetrics, DebunkTracker

REGIONS = ["370102", "370200", "3717", "110105", "370000", "", None, "not a code"]


def random_rows(seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(300):
        row = {"event_id": f"e{i}", "rumour_id": f"r{rng.randrange(3)}",
               "account_id": f"a{rng.randrange(40)}",  # accounts repeat, within and across kinds
               "ts": 1_700_000_000_000 + rng.randrange(10_000_000),
               "kind": rng.choice(["post", "share", "share", "comment", "debunk"])}
        if rng.random() < 0.7:
            row["parent_account_id"] = f"a{rng.randrange(40)}"
        region = rng.choice(REGIONS)
        if region is not None:
            row["region"] = region
        rows.append(row)
    return rows


def plain_metrics(rows, rumour_id):
    """The figures of one rumour counted event by event, in plain Python (the oracle)."""
    from streams.governance.divisions import normalise_region, unit_of

    mine = [r for r in rows if r["rumour_id"] == rumour_id]
    shares = [r for r in mine if r["kind"] != "debunk"]
    debunks = [r for r in mine if r["kind"] == "debunk"]

    def accounts(rs):
        return {r["account_id"] for r in rs} | {r["parent_account_id"] for r in rs
                                                if r.get("parent_account_id")}

    exposed, reached = accounts(shares), accounts(debunks)
    covered = exposed & reached
    city_of = {}  # account -> city of its earliest share (by ts, then event id) with a region
    for r in sorted(shares, key=lambda r: (r["ts"], r["event_id"])):
        city = unit_of(normalise_region(r["region"]), "city") if r.get("region") else None
        if city is not None and r["account_id"] not in city_of:
            city_of[r["account_id"]] = city
    by_city = {}
    for account, city in city_of.items():
        row = by_city.setdefault(city, {"exposed": 0, "covered": 0})
        row["exposed"] += 1
        row["covered"] += account in covered
    for row in by_city.values():
        row["coverage"] = row["covered"] / row["exposed"]
    first_share = min((r["ts"] for r in shares), default=None)
    first_debunk = min((r["ts"] for r in debunks), default=None)
    return DebunkMetrics(
        rumour_id=rumour_id, rumour_shares=len({r["event_id"] for r in shares}),
        exposed=len(exposed), debunk_shares=len({r["event_id"] for r in debunks}),
        reached=len(reached), covered=len(covered),
        coverage=len(covered) / len(exposed) if exposed else None,
        first_rumour_ms=first_share, first_debunk_ms=first_debunk,
        time_to_debunk_ms=(first_debunk - first_share
                           if first_share is not None and first_debunk is not None else None),
        by_city=dict(sorted(by_city.items())))


@pytest.mark.parametrize("seed", range(6))
def test_batches_and_event_dicts_give_the_plain_counts(seed):
    rows = random_rows(seed)
    by_batch, by_rows = DebunkTracker(), DebunkTracker()
    for start in range(0, len(rows), 70):  # several batches, a rumour spread over them
        chunk = rows[start:start + 70]
        batch, dead = Decoder().decode([orjson.dumps(r) for r in chunk])
        assert not dead
        by_batch.observe(batch)
        by_rows.observe_rows(chunk)
    rumours = sorted({r["rumour_id"] for r in rows})
    assert by_batch.rumour_ids() == by_rows.rumour_ids() == rumours
    for rumour_id in rumours:
        want = plain_metrics(rows, rumour_id)
        assert by_batch.metrics(rumour_id) == want
        assert by_rows.metrics(rumour_id) == want
    # The case under test occurs: some coverage and some city breakdown.
    assert any(plain_metrics(rows, r).covered for r in rumours)
    assert any(plain_metrics(rows, r).by_city for r in rumours)


def test_alerts_of_one_batch_share_one_trace_per_rumour():
    """A batch raising several alerts for one rumour (a city and a county unit) asks the
    pipeline for that rumour's trace once, and every alert carries it."""
    from streams.governance.alerts import AlertRouter

    class Pipeline:
        calls: list = []

        def trace(self, rumour_id, k):
            self.calls.append(rumour_id)
            return {"rumour_id": rumour_id, "call": len(self.calls)}

    pipeline = Pipeline()
    router = AlertRouter(pipeline=pipeline)
    t0 = 1_700_000_000_000
    rows = [{"event_id": f"{r}-{i}", "rumour_id": r, "account_id": f"a{i}", "ts": t0 + i,
             "region": "370102"} for r in ("r1", "r2") for i in range(60)]
    # The next minute closes the first one, which is judged: volume alerts fire.
    rows += [{"event_id": f"{r}-late", "rumour_id": r, "account_id": "z", "ts": t0 + 61_000,
              "region": "370102"} for r in ("r1", "r2")]
    raised = router.observe_rows(rows)
    per_rumour = {}
    for alert in raised:
        per_rumour.setdefault(alert["rumour_id"], []).append(alert)
    assert sorted(per_rumour) == ["r1", "r2"]
    assert all(len(alerts) >= 2 for alerts in per_rumour.values())  # city + county units
    assert sorted(pipeline.calls) == ["r1", "r2"]  # one trace each, not one per alert
    for rumour_id, alerts in per_rumour.items():
        assert all(a["trace"] == alerts[0]["trace"] and a["trace"]["rumour_id"] == rumour_id
                   for a in alerts)


@pytest.mark.parametrize("seed", range(4))
def test_alerts_of_batches_equal_alerts_of_single_events(seed):
    """Counting a batch by (rumour, minute, region) groups raises the alerts that counting the
    same time-ordered events one call each raises."""
    from streams.governance.alerts import AlertRouter

    rng = random.Random(seed)
    t0, rows = 1_700_000_000_000, []
    ts = t0
    for i in range(3000):
        # Bursty minutes so that volume, growth and burst rules all get a chance to fire.
        ts += rng.choice([20, 100, 500, 5_000]) if rng.random() < 0.995 else 900_000
        rows.append({"event_id": f"e{i % 2900}", "rumour_id": f"r{rng.randrange(2)}",  # some repeat
                     "account_id": f"a{i}", "ts": ts, "region": rng.choice(REGIONS)})
    batched, single = AlertRouter(), AlertRouter()
    got = []
    for start in range(0, len(rows), 250):
        got += batched.observe_rows(rows[start:start + 250])
    got += batched.flush()
    want = []
    for row in rows:
        want += single.observe_rows([row])
    want += single.flush()
    key = lambda a: (a["rumour_id"], a["unit"], a["rule"], a["minute_ms"])  # noqa: E731
    assert len(want) > 5  # the case under test occurs
    assert sorted(map(key, got)) == sorted(map(key, want))
    # Everything but unit_shares_total, which is the unit's count when the alert is raised:
    # a batch has counted all its events by then.
    drop = lambda a: {k: v for k, v in a.items() if k != "unit_shares_total"}  # noqa: E731
    assert [drop(a) for a in sorted(got, key=key)] == [drop(a) for a in sorted(want, key=key)]


def test_alert_unit_names_are_the_full_names_the_api_shows():
    """An alert's ``unit_name_zh`` / ``unit_name_en`` (on the alerts topic and in the stored row's
    detail) name a county with its city or municipality, as ``/api/alerts``' ``unit_name`` does:
    a bare 南山区 is Shenzhen's and Hegang's, 朝阳区 Beijing's and Changchun's."""
    from streams.governance.alerts import AlertRouter
    from streams.governance.config import GovernanceConfig
    from streams.service.regions import name

    cfg = GovernanceConfig(alert_window_shares=3)
    rows = [{"event_id": f"{region}-{i}", "rumour_id": "r", "account_id": f"a{i}", "kind": "share",
             "ts": 1_700_000_000_000 + i * 1000, "region": region}
            for region in ("440305", "230404", "110105") for i in range(4)]
    router = AlertRouter(cfg)
    raised = router.observe_rows(rows) + router.flush()
    names = {a["unit"]: (a["unit_name_zh"], a["unit_name_en"]) for a in raised}
    assert names["440305"] == ("深圳 南山区", "Nanshan District, Shenzhen")
    assert names["230404"][0] == "鹤岗 南山区" and names["110105"][0] == "北京 朝阳区"
    assert names["440300"] == ("深圳市", "Shenzhen") and names["110000"] == ("北京市", "Beijing")
    assert all(names[u] == (name(u)["zh"], name(u)["en"]) for u in names)
