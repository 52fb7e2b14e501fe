"""Issue 5: the governance state a worker feeds after every write stays bounded, and dropping
rumours beyond the cap (rebuilt from the store) changes no alert and no debunk figure."""
from __future__ import annotations

import orjson
import pytest

from streams.decoder import Decoder
from streams.embedded import make_pipeline
from streams.events import EventBatch
from streams.governance.alerts import AlertRouter
from streams.governance.config import GovernanceConfig
from streams.governance.debunks import DebunkTracker
from streams.governance.hub import Governance
from streams.settings import Settings
from streams.synthetic import synthetic_events

# Low thresholds so the synthetic cascades raise alerts of every rule.
CONFIG = dict(alert_window_minutes=5, alert_window_shares=8, alert_growth_min_shares=4, alert_growth_ratio=2.0,
              alert_burst_min_shares=3, alert_burst_warmup_minutes=2, alert_cooldown_minutes=10)


def _chunk(seed: int, n_rumours: int = 4, shares: int = 150) -> list[dict]:
    return list(synthetic_events(n_rumours=n_rumours, shares_per_rumour=shares, seed=seed, prefix=f"x{seed}"))


def _halves(events: list[dict]) -> tuple[list[dict], list[dict]]:
    """Each rumour's events split at its median time (the second half arrives later)."""
    first, second = [], []
    by_rumour: dict[str, list[dict]] = {}
    for e in events:
        by_rumour.setdefault(e["rumour_id"], []).append(e)
    for evs in by_rumour.values():
        evs.sort(key=lambda e: (e["ts"], e["kind"] == "debunk"))
        cut = evs[len(evs) // 2]["ts"]
        first += [e for e in evs if e["ts"] < cut]
        second += [e for e in evs if e["ts"] >= cut]
    return first, second


def _feed_plan() -> list[list[dict]]:
    """Batches: rumours A (first halves), rumours B and C (whole), A again (second halves, so
    A is dropped in between and comes back), then a re-delivered batch."""
    a1, a2 = _halves(_chunk(1))
    plan = [a1, _chunk(2), _chunk(3, n_rumours=3), a2, a1[:200]]
    batches = []
    for events in plan:
        for i in range(0, len(events), 120):
            batches.append(events[i:i + 120])
    return batches


def _run(store, cap: int):
    settings = Settings.load({"batch_size": 120})
    pipeline = make_pipeline(store, settings)
    hub = Governance(pipeline, store=store, config=GovernanceConfig(governance_max_rumours=cap, **CONFIG))
    hub.attach()
    peak = {"alerts": 0, "debunks": 0}
    for batch in _feed_plan():
        pipeline.process([orjson.dumps(e) for e in batch])
        peak["alerts"] = max(peak["alerts"], hub.alerts.sizes()["rumours"])
        peak["debunks"] = max(peak["debunks"], hub.debunks.sizes()["rumours"])
    rumours = sorted({e["rumour_id"] for b in _feed_plan() for e in b})
    units = {rid: hub.alerts.unit_counts(rid) for rid in rumours}
    hub.flush()
    # Shandong holds every synthetic region; the older alerts come from the store when one is kept.
    alerts = sorted(hub.current_alerts("370000", limit=100_000), key=lambda a: a["alert_id"])
    debunks = {rid: hub.debunk(rid) for rid in rumours}
    return alerts, debunks, units, peak, hub


def _strip(alerts):
    return [{k: v for k, v in a.items() if k != "trace"} for a in alerts]


def test_tiny_cap_gives_the_same_alerts_and_debunk_figures_as_no_cap(store, monkeypatch):
    import streams.governance.hub as hub_module

    monkeypatch.setattr(hub_module, "ALERT_HISTORY", 5)
    ref_alerts, ref_debunks, ref_units, _, _ = _run(None, 0)  # in-process: nothing is dropped
    alerts, debunks, units, peak, hub = _run(store, 2)
    assert {a["rule"] for a in ref_alerts} >= {"volume", "burst"}  # the comparison has substance
    assert hub.alerts.evictions > 0 and hub.alerts.restores > 0
    assert hub.debunks.evictions > 0 and hub.debunks.restores > 0
    # The cap holds (a batch's own rumours are never dropped while it is counted).
    assert peak["alerts"] <= 2 + 4 and peak["debunks"] <= 2 + 4
    assert _strip(alerts) == _strip(ref_alerts)
    assert [a["trace"] is None for a in alerts] == [a["trace"] is None for a in ref_alerts]
    assert units == ref_units
    assert any(d["debunk_shares"] for d in ref_debunks.values())
    assert debunks == ref_debunks
    assert hub.alerts.raised == len(ref_alerts) and len(hub.alerts.alerts) == 5


def _batch(rows) -> EventBatch:
    batch, dead = Decoder().decode([orjson.dumps(r) for r in rows])
    assert not dead
    return batch


def test_debunk_tracker_rebuild_is_order_independent():
    """In-process loader: a dropped rumour rebuilt from 'stored' events (plus the events that
    arrived after it was dropped) equals a tracker that kept everything, whatever the order."""
    events = _chunk(7, n_rumours=6, shares=80)
    stored = _batch(events)

    def loader(ids):
        return stored.take([i for i, r in enumerate(stored.rumour_id) if r in set(ids)])

    full = DebunkTracker()
    full.observe(stored)
    # The store's list of rumours enumerates the dropped ones (memory keeps only a filter).
    capped = DebunkTracker(max_rumours=1, loader=loader, lister=lambda: sorted(set(stored.rumour_id)))
    # Reversed delivery in small batches: accounts' cities must still come from their earliest event.
    rev = list(reversed(events))
    for i in range(0, len(rev), 37):
        capped.observe(_batch(rev[i:i + 37]))
        assert capped.sizes()["rumours"] <= 1 + len({e["rumour_id"] for e in rev[i:i + 37]})
    assert capped.evictions > 0
    for rid in full.rumour_ids():
        assert capped.metrics(rid) == full.metrics(rid)
        assert capped.sizes()["rumours"] <= 1
    assert capped.rumour_ids() == full.rumour_ids()


def test_alert_state_stays_bounded_over_many_rumours():
    """No store: nothing can be dropped, yet per unit only the last 2 x window judged minutes
    (and the open ones) are kept, late events add no minutes, and the history is capped."""
    cfg = GovernanceConfig(**CONFIG)
    router = AlertRouter(cfg, history=5)
    for seed in range(6):
        events = _chunk(100 + seed, n_rumours=3, shares=200)
        router.observe(_batch(events))
        late = [dict(e, event_id=e["event_id"] + "-late", ts=e["ts"] - 3_600_000) for e in events[:50]]
        router.observe(_batch(late))  # an hour late: their minutes were judged (or never open)
        for st in router._rumours.values():
            for u in st.units.values():
                assert len(u.minutes) <= 2 * cfg.alert_window_minutes
                assert all(m > u.evaluated_to for m in u.counts)
    assert len(router.alerts) <= 5 < router.raised


def test_default_cap_follows_the_pipeline_graph_count(chdb_store):
    settings = Settings.load({"batch_size": 120})
    pipeline = make_pipeline(chdb_store, settings)
    hub = Governance(pipeline, store=chdb_store, config=GovernanceConfig(**CONFIG))  # governance_max_rumours=0
    hub.attach()
    for seed in range(3):
        pipeline.process([orjson.dumps(e) for e in _chunk(400 + seed, n_rumours=4, shares=40)])
        graphs = len(pipeline.graphs)
        assert hub.alerts.sizes()["rumours"] <= graphs and hub.debunks.sizes()["rumours"] <= graphs
        pipeline.forget(list(pipeline.graphs)[:-2])  # as if the graph budget had dropped them
    assert hub.alerts.sizes()["rumours"] == 6  # 2 graphs left + the last chunk's 4
    assert hub.alerts.evictions > 0 and hub.debunks.evictions > 0


def test_router_state_under_cap_with_loader():
    events = [_chunk(200 + s, n_rumours=2, shares=60) for s in range(10)]
    stored = _batch([e for chunk in events for e in chunk])

    def loader(ids):
        return stored.take([i for i, r in enumerate(stored.rumour_id) if r in set(ids)])

    router = AlertRouter(GovernanceConfig(**CONFIG), max_rumours=3, loader=loader)
    for chunk in events:
        router.observe(_batch(chunk))
        sizes = router.sizes()
        assert sizes["rumours"] <= 3
        assert sizes["seen"] <= 3 * 60
    assert router.evictions == 20 - 3


@pytest.mark.parametrize("cap", [0, 3])
def test_cap_zero_or_without_loader_keeps_everything(cap):
    router = AlertRouter(GovernanceConfig(**CONFIG), max_rumours=cap or None)  # no loader
    for s in range(5):
        router.observe(_batch(_chunk(300 + s, n_rumours=2, shares=30)))
    assert router.sizes()["rumours"] == 10 and router.evictions == 0
