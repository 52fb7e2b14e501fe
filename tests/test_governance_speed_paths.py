"""The governance observers' batch paths (issue 5: column-wise, grouped in numpy) against plain
event-by-event recomputations kept here: random seeded batches, every split point, events out
of time order, re-delivered events, and rumours dropped and rebuilt from a loader."""
from __future__ import annotations

import hashlib
import random

import orjson
import pytest

from streams.decoder import Decoder
from streams.events import EventBatch, format_ts
from streams.governance.alert_rules import poisson_tail
from streams.governance.alerts import AlertRouter
from streams.governance.config import GovernanceConfig
from streams.governance.debunks import DebunkTracker
from streams.governance.divisions import display_name, division, normalise_region, unit_of
from streams.governance.hub import Governance
from streams.governance.reports import ReportDesk
from streams.governance.textsim import shingles
from tests.test_governance_batch import plain_metrics

# Low thresholds so that every rule fires on a few hundred events.
CONFIG = GovernanceConfig(alert_window_minutes=5, alert_window_shares=6, alert_growth_min_shares=4,
                          alert_growth_ratio=2.0, alert_burst_min_shares=3, alert_burst_warmup_minutes=2,
                          alert_cooldown_minutes=7)
REGIONS = ["370102", "370200", "370211", "3717", "110105", "370000", "", None, "not a code", "济南市"]
T0 = 1_700_000_000_000


def random_rows(seed: int, n: int = 1500, rumours: int = 4, shuffle: float = 0.0) -> list[dict]:
    """Bursty rows of a few rumours (some event ids repeat: re-deliveries); ``shuffle``: the
    share of rows moved to a random place (out of time order)."""
    rng = random.Random(seed)
    rows, ts = [], T0
    for i in range(n):
        ts += rng.choice([20, 200, 1_000, 10_000]) if rng.random() < 0.99 else 600_000
        row = {"event_id": f"e{i if rng.random() > 0.03 else rng.randrange(i + 1)}",
               "rumour_id": f"r{rng.randrange(rumours)}", "account_id": f"a{rng.randrange(n // 3)}",
               "ts": ts, "kind": rng.choice(["post", "share", "share", "share", "comment", "debunk"])}
        if rng.random() < 0.7:
            row["parent_account_id"] = f"a{rng.randrange(n // 3)}"
        region = rng.choice(REGIONS)
        if region is not None:
            row["region"] = region
        if row["kind"] == "post" and rng.random() < 0.5:
            row["text"] = rng.choice(["", "the dam broke at dawn", f"rumour {rng.randrange(5)} about the dam"])
        rows.append(row)
    for _ in range(int(shuffle * n)):
        i, j = rng.randrange(n), rng.randrange(n)
        rows[i], rows[j] = rows[j], rows[i]
    return rows


def decode(rows) -> EventBatch:
    batch, dead = Decoder().decode([orjson.dumps(r) for r in rows])
    assert not dead
    return batch


def split(rows, rng: random.Random, k: int) -> list[list[dict]]:
    cuts = sorted(rng.sample(range(1, len(rows)), k))
    return [rows[a:b] for a, b in zip([0] + cuts, cuts + [len(rows)])]


class PlainAlerts:
    """The alert rules of streams/governance/alerts.py's docstring, one event at a time, with
    the whole judged history of every unit kept (window sums recomputed from it)."""

    def __init__(self, cfg: GovernanceConfig):
        self.cfg = cfg
        self.seen: dict[str, set] = {}
        self.watermark: dict[str, int] = {}
        self.units: dict[str, dict[str, dict]] = {}

    def batch(self, rows) -> list[dict]:
        touched = set()
        for r in sorted((r for r in rows if r.get("kind") != "debunk"), key=lambda r: r["ts"]):
            rid, minute = r["rumour_id"], r["ts"] // 60_000
            if r["event_id"] in self.seen.setdefault(rid, set()):
                continue
            self.seen[rid].add(r["event_id"])
            self.watermark[rid] = max(self.watermark.get(rid, -1), minute)
            touched.add(rid)
            code = normalise_region(r.get("region")) if r.get("region") else None
            for level in self.cfg.levels if code else ():
                unit = unit_of(code, level)
                if unit is None:
                    continue
                u = self.units.setdefault(rid, {}).setdefault(unit, {
                    "counts": {}, "judged": [], "evaluated_to": -1, "first": minute, "rate": 0.0,
                    "total": 0, "last": {}})
                if minute > u["evaluated_to"]:
                    u["counts"][minute] = u["counts"].get(minute, 0) + 1
                u["total"] += 1
                u["first"] = min(u["first"], minute)
        return [a for rid in sorted(touched) for a in self.judge(rid, self.watermark[rid] - 1)]

    def flush(self) -> list[dict]:
        return [a for rid in sorted(self.watermark) for a in self.judge(rid, self.watermark[rid])]

    def judge(self, rid: str, upto: int) -> list[dict]:
        cfg, out, w = self.cfg, [], self.cfg.alert_window_minutes
        for unit, u in sorted(self.units.get(rid, {}).items()):
            for minute in sorted(m for m in u["counts"] if u["evaluated_to"] < m <= upto):
                c = u["counts"].pop(minute)
                if u["evaluated_to"] >= 0:
                    u["rate"] *= (1 - cfg.alert_ewma_alpha) ** (minute - u["evaluated_to"] - 1)
                u["judged"].append((minute, c))
                window = sum(n for m, n in u["judged"] if minute - w < m)
                before = sum(n for m, n in u["judged"] if minute - 2 * w < m <= minute - w)
                fired, lam = [], max(u["rate"], 0.05)
                if window >= cfg.alert_window_shares:
                    fired.append(("volume", {}))
                if before and window >= cfg.alert_growth_min_shares and window >= cfg.alert_growth_ratio * before:
                    fired.append(("growth", {"growth": window / before}))
                if minute - u["first"] >= cfg.alert_burst_warmup_minutes and c >= cfg.alert_burst_min_shares:
                    p = poisson_tail(c, lam)
                    if p < cfg.alert_burst_p:
                        fired.append(("burst", {"p_value": p, "expected_per_minute": lam}))
                u["rate"] = cfg.alert_ewma_alpha * c + (1 - cfg.alert_ewma_alpha) * u["rate"]
                u["evaluated_to"] = minute
                for rule, extra in fired:
                    if rule in u["last"] and minute - u["last"][rule] < cfg.alert_cooldown_minutes:
                        continue
                    u["last"][rule] = minute
                    d = division(unit)
                    out.append({
                        "alert_id": hashlib.sha1(f"{rid}|{unit}|{rule}|{minute}".encode()).hexdigest()[:20],
                        "rumour_id": rid, "unit": unit, "level": d.level,
                        "unit_name_zh": display_name(unit)["zh"], "unit_name_en": display_name(unit)["en"], "rule": rule, "minute": format_ts(minute * 60_000),
                        "minute_ms": minute * 60_000, "minute_shares": c, "window_minutes": w,
                        "window_shares": window, "previous_window_shares": before,
                        "unit_shares_total": u["total"], **extra, "trace": None})
        return out


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("shuffle", [0.0, 0.2])
def test_alerts_of_random_batches_equal_the_plain_rules(seed, shuffle):
    rows = random_rows(seed, shuffle=shuffle)
    rng = random.Random(100 + seed)
    plain, router, by_rows, by_runs = PlainAlerts(CONFIG), AlertRouter(CONFIG), AlertRouter(CONFIG), AlertRouter(CONFIG)
    want, got, got_rows, got_runs = [], [], [], []
    for chunk in split(rows, rng, 6) + [rows[:300]]:  # the last one: re-delivered
        want += plain.batch(chunk)
        got += router.observe(decode(chunk))
        got_rows += by_rows.observe_rows(chunk)
        # Each rumour's rows in one run (as Kafka messages keyed by rumour bring them).
        got_runs += by_runs.observe(decode(sorted(chunk, key=lambda r: r["rumour_id"])))
    want += plain.flush()
    got += router.flush()
    got_rows += by_rows.flush()
    got_runs += by_runs.flush()
    assert got_runs == want
    rules = {a["rule"] for a in want}  # the rules compared
    assert rules == {"volume", "growth", "burst"} if not shuffle else rules >= {"volume", "growth"}
    assert got == want
    assert got_rows == want
    for rid in plain.units:
        assert router.unit_counts(rid) == {u: st["total"] for u, st in sorted(plain.units[rid].items())}


@pytest.mark.parametrize("seed", range(3))
def test_alerts_with_rumours_dropped_and_rebuilt_equal_the_plain_rules(seed):
    """Each rumour's events in time order (the case the rebuild is exact for), many rumours,
    a cap of 2: rumours are dropped and rebuilt from the 'store' (every batch stored so far)."""
    rows = sorted(random_rows(seed, n=2000, rumours=7), key=lambda r: r["ts"])
    stored: list[dict] = []

    def loader(ids):
        return decode([r for r in stored if r["rumour_id"] in set(ids)])

    plain, router = PlainAlerts(CONFIG), AlertRouter(CONFIG, max_rumours=2, loader=loader)
    want, got = [], []
    for chunk in split(rows, random.Random(seed), 9):
        stored += chunk  # observers run after the store write
        want += plain.batch(chunk)
        got += router.observe(decode(chunk))
        assert router.sizes()["rumours"] <= 2 + len({r["rumour_id"] for r in chunk})
    want += plain.flush()
    got += router.flush()
    assert router.evictions > 0 and router.restores > 0
    assert len(want) > 10
    assert got == want


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("shuffle", [0.0, 0.3])
def test_debunk_figures_of_random_batches_equal_the_plain_counts(seed, shuffle):
    rows = random_rows(seed, n=800, rumours=6, shuffle=shuffle)
    stored: list[dict] = []
    clustered = sorted(rows, key=lambda r: r["rumour_id"])  # a batch holds few rumours: some are dropped

    def loader(ids):
        return decode([r for r in stored if r["rumour_id"] in set(ids)])

    full, capped = DebunkTracker(), DebunkTracker(max_rumours=1, loader=loader)
    rng = random.Random(seed)
    for chunk in split(clustered, rng, 8) + [rows[100:200]] + split(clustered[::-1], rng, 5):
        stored += chunk
        full.observe(decode(chunk))
        capped.observe(decode(chunk))
    rumours = sorted({r["rumour_id"] for r in rows})
    assert capped.evictions > 0
    for rid in rumours:
        want = plain_metrics(rows, rid)
        assert full.metrics(rid) == want
        assert capped.metrics(rid) == want
    assert any(plain_metrics(rows, r).by_city for r in rumours)


def test_debunk_city_ties_on_time_go_to_the_smaller_event_id():
    """Same account, same time, two regions: the city is that of the smaller event id, in one
    batch or two, in either order."""
    rows = [{"event_id": "e2", "rumour_id": "r", "account_id": "a", "ts": T0, "kind": "share", "region": "370200"},
            {"event_id": "e1", "rumour_id": "r", "account_id": "a", "ts": T0, "kind": "share", "region": "370102"},
            {"event_id": "e0", "rumour_id": "r", "account_id": "a", "ts": T0 + 1, "kind": "share", "region": "370300"}]
    for order in (rows, rows[::-1]):
        for cut in range(len(order) + 1):
            t = DebunkTracker()
            for part in (order[:cut], order[cut:]):
                if part:
                    t.observe(decode(part))
            assert t.metrics("r") == plain_metrics(rows, "r")
            assert list(t.metrics("r").by_city) == ["370100"]


@pytest.mark.parametrize("seed", range(3))
def test_report_desk_indexes_the_first_post_text_of_each_rumour(seed):
    rows = random_rows(seed, n=600)
    desk = ReportDesk()
    for chunk in split(rows, random.Random(seed), 4):
        desk.observe(decode(chunk))
    want: dict[str, frozenset] = {}
    for r in rows:
        if r["kind"] == "post" and r.get("text") and shingles(r["text"]) and r["rumour_id"] not in want:
            want[r["rumour_id"]] = shingles(r["text"])
    assert len(want) >= 2
    assert desk._rumour_texts.index.grams == want


def test_hub_observe_feeds_all_three_observers():
    rows = random_rows(11, n=900)
    hub, plain = Governance(None, config=CONFIG), PlainAlerts(CONFIG)
    want = []
    for chunk in split(rows, random.Random(11), 3):
        assert hub.observe(decode(chunk)) == plain.batch(chunk)
    assert hub.flush() == plain.flush()
    for rid in sorted({r["rumour_id"] for r in rows}):
        assert hub.debunk(rid) == plain_metrics(rows, rid).to_dict()
    assert len(hub.desk._rumour_texts) > 0
    assert hub.observe(EventBatch()) == want


def test_debunk_cities_merged_while_ingesting_equal_the_plain_counts(monkeypatch):
    """Pending city rows merged at every batch (the path of re-delivered floods) or only when
    read: the same figures."""
    import streams.governance.debunk_state as debunks

    rows = random_rows(5, n=700, shuffle=0.3)
    lazy = DebunkTracker()
    for chunk in split(rows, random.Random(5), 6):
        lazy.observe(decode(chunk))
    monkeypatch.setattr(debunks, "MERGE_ROWS", -10_000)
    eager = DebunkTracker()
    for chunk in split(rows, random.Random(6), 6):
        eager.observe(decode(chunk))
        assert all(not st.cities_pending for st in eager.rumours.values())
    for rid in sorted({r["rumour_id"] for r in rows}):
        assert eager.metrics(rid) == lazy.metrics(rid) == plain_metrics(rows, rid)


def test_burst_bounds_never_skip_a_p_value_below_the_threshold():
    from streams.governance.alert_rules import may_be_below

    rng = random.Random(3)
    checked = 0
    for _ in range(3000):
        lam = rng.choice([0.05, 0.3, 1.0, 2.5, 7.0, 40.0, 300.0]) * rng.uniform(0.5, 1.5)
        c = rng.randrange(0, int(3 * lam) + 15)
        p_max = rng.choice([1e-6, 1e-4, 0.01, 0.3, 0.49, 0.6])
        if not may_be_below(c, lam, p_max):
            checked += 1
            assert poisson_tail(c, lam) >= p_max
    assert checked > 500


def test_bench_governance_feeds_the_hub_the_stream_it_built():
    """The benchmark's figure is for the real feed: every event once, and the alerts the
    plain rules raise on the same batches."""
    from benchmarks.bench_governance import run_once, run_steps, stream_batches

    batches = stream_batches(6000, 2500, seed=3, shape="messages", shares_per_rumour=1500)
    assert [len(b) for b in batches] == [2500, 2500, 1000]
    assert len({e for b in batches for e in zip(b.rumour_id, b.event_id)}) == 6000
    out = run_once(batches, CONFIG)
    plain = PlainAlerts(CONFIG)
    want = sum(len(plain.batch(list(b.rows()))) for b in batches) + len(plain.flush())
    assert out["events"] == 6000 and out["alerts"] == want > 0
    assert set(run_steps(batches, CONFIG)) == {"view_us", "desk_us", "debunks_us", "alerts_us"}
