"""Alerts that a killed worker never raised are raised, late and once, when the alert router
rebuilds the rumour from the store (start, partition assignment, restore of a dropped rumour).

A kill between a batch's store write + ack and its observation is simulated by writing the
batch with the observers deferred (``Pipeline.observers_deferred``) and then building a fresh
pipeline and hub over the same store. Every expectation is recomputed by an uninterrupted run
over a store of its own, never copied from the code under test."""
from __future__ import annotations

import numpy as np
import orjson
import pytest

from streams.governance.alert_rules import alert_key
from streams.governance.config import GovernanceConfig

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a whole minute
MIN = 60_000
REGIONS = ["370102", "370211", "110105", "440305"]
# Small thresholds so a few dozen shares raise every rule (volume, growth, burst) and the
# cooldown matters.
CONFIG = GovernanceConfig(alert_window_minutes=3, alert_window_shares=4, alert_growth_ratio=2.0,
                          alert_growth_min_shares=3, alert_burst_p=0.01, alert_burst_min_shares=3,
                          alert_ewma_alpha=0.3, alert_burst_warmup_minutes=2, alert_cooldown_minutes=4)


def event(rumour, i, minute, region, second=0):
    return {"event_id": f"{rumour}-e{i}", "rumour_id": rumour, "account_id": f"a{i}",
            "ts": T0 + minute * MIN + second * 1000, "parent_event_id": None if i == 0 else f"{rumour}-e0",
            "parent_account_id": None if i == 0 else "a0", "kind": "post" if i == 0 else "share",
            "platform": "weibo", "region": region, "text": f"{rumour} {i}"}


def stream(seed: int, rumours: int = 3, events: int = 120) -> list[dict]:
    """Random shares of a few rumours over ~25 minutes, in event-time order (the order in which a
    rebuilt state equals the live one: see streams/governance/alerts.py)."""
    rng = np.random.default_rng(seed)
    out, n = [], {}
    for k in range(rumours):
        r = f"r{seed}-{k}"
        out.append(event(r, 0, 0, REGIONS[k % len(REGIONS)]))
        n[r] = 1
    # Bursty minutes: a few minutes get most of the shares.
    weights = rng.gamma(0.4, size=25)
    minutes = np.sort(rng.choice(25, size=events, p=weights / weights.sum()))
    for m in minutes.tolist():
        r = f"r{seed}-{int(rng.integers(rumours))}"
        out.append(event(r, n[r], m, REGIONS[int(rng.integers(len(REGIONS)))], int(rng.integers(60))))
        n[r] += 1
    out.sort(key=lambda e: (e["ts"], e["event_id"]))
    return out


class World:
    """A pipeline and a governance hub over ``store``: a worker's memory (a new World over the
    same store is the restarted worker)."""

    def __init__(self, store, store_seconds: float = 0, cap: int | None = None):
        from streams.embedded import make_pipeline
        from streams.governance.hub import Governance
        from streams.settings import Settings

        self.pipeline = make_pipeline(store, Settings.load({}))
        self.topic: list[dict] = []  # what the alerts topic received
        self.hub = Governance(self.pipeline, store=store, config=CONFIG, alert_sinks=[self.topic.extend],
                              alert_store_seconds=store_seconds)
        self.hub.attach()
        if cap is not None:  # at most ``cap`` rumours' counts in memory: the rest dropped, restored
            self.hub.alerts._rumours.size = cap

    def feed(self, events, observe: bool = True):
        messages = [orjson.dumps(e) for e in events]
        if observe:
            return self.pipeline.process(messages)
        with self.pipeline.observers_deferred():  # stored (and acked), killed before observing
            return self.pipeline.process(messages)

    def kill(self):
        """SIGKILL: whatever waits in memory for the store is lost."""
        if self.hub.alert_buffer is not None:
            with self.hub.alert_buffer._lock:
                self.hub.alert_buffer._pending.clear()


def batches(events, cuts):
    bounds = [0, *cuts, len(events)]
    return [events[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def figures(alert: dict) -> tuple:
    """What an alert says (not when it was raised or the trace attached)."""
    return (alert["alert_id"], alert["rumour_id"], alert["unit"], alert["rule"], alert["minute_ms"],
            alert["minute_shares"], alert["window_shares"], alert["previous_window_shares"])


def uninterrupted(parts) -> dict:
    """The alerts of a run never killed, on an embedded store of its own: id -> figures."""
    from streams.store.embedded import ChdbStore
    from tests.plugins.clickhouse import fresh_database

    store = ChdbStore("chdb://", database=fresh_database())
    store.migrate()
    try:
        world = World(store)
        for part in parts:
            world.feed(part)
        world.hub.flush()
        return {a["alert_id"]: figures(a) for a in world.topic}
    finally:
        store.drop()
        store.close()


def killed(store, parts, at: int, unobserved: int = 2, store_seconds: float = 0, cap: int | None = None):
    """Batches before ``at`` observed; ``unobserved`` from ``at`` stored but not observed (the
    one observed and the one waiting when the worker died); then a restarted worker catches up
    and takes the rest. Returns (first worker, restarted worker, alerts raised at the catch-up)."""
    first = World(store, store_seconds, cap)
    for i, part in enumerate(parts[:at + unobserved]):
        first.feed(part, observe=i < at)
    first.kill()
    second = World(store, cap=cap)
    late = second.hub.catch_up()
    for part in parts[at + unobserved:]:
        second.feed(part)
    second.hub.flush()
    return first, second, late


def stored_alerts(store) -> list[dict]:
    from streams.store.governance import governance_store

    return governance_store(store).load_alerts()


def volume_stream() -> list[dict]:
    """One rumour, five shares in Jinan-Lixia in minute 2 (volume fires for minute 2 once minute
    3 arrives) and one in minute 3."""
    ev = [event("v", 0, 0, "370102")]
    ev += [event("v", i, 2, "370102", i) for i in range(1, 6)]
    ev += [event("v", 6, 3, "370102")]
    return ev


def test_alert_key_is_the_stored_id(store):
    world = World(store)
    world.feed(volume_stream())
    assert world.topic, "the volume rule should fire for minute 2"
    for a in world.topic:
        assert a["alert_id"] == alert_key(a["rumour_id"], a["unit"], a["rule"], a["minute_ms"] // MIN)
    assert {a["alert_id"] for a in stored_alerts(store)} == {a["alert_id"] for a in world.topic}


def test_unobserved_batch_raises_its_alert_once_after_the_rebuild(store):
    ev = volume_stream()
    # The batch holding minute 3 (which closes minute 2) is stored and acked, never observed.
    first, second, late = killed(store, [ev[:6], ev[6:]], at=1, unobserved=1)
    assert first.topic == []
    assert late and all(a["late"] is True and a["raised_ms"] > 0 for a in late)
    assert {a["rule"] for a in late} >= {"volume"}
    assert len({a["alert_id"] for a in second.topic}) == len(second.topic)  # each once
    # The late ones are those of minute 2 (closed by the unobserved batch); the flush's (minute
    # 3) are on time.
    assert {a["minute_ms"] for a in late} == {T0 + 2 * MIN}
    assert {a["alert_id"] for a in late} == {a["alert_id"] for a in second.topic if a.get("late")}
    assert all(a["minute_ms"] == T0 + 3 * MIN for a in second.topic if not a.get("late"))
    in_store = {a["alert_id"]: a for a in stored_alerts(store)}
    assert sorted(in_store) == sorted(a["alert_id"] for a in second.topic)
    assert all(in_store[a["alert_id"]].get("late") is True for a in late)  # the store's copy says so too
    # Once more: a third worker finds every alert in the store and raises nothing.
    third = World(store)
    assert third.hub.catch_up() == []
    third.hub.flush()
    assert third.topic == []


def test_late_alerts_equal_an_uninterrupted_run(store):
    ev = volume_stream()
    expected = uninterrupted([ev[:6], ev[6:]])
    _, second, _ = killed(store, [ev[:6], ev[6:]], at=1, unobserved=1)
    assert expected and {a["alert_id"]: figures(a) for a in second.topic} == expected


def test_alert_already_in_the_store_is_not_raised_again(store):
    ev = volume_stream()
    first = World(store)
    first.feed(ev)  # observed: the alert is raised and stored
    assert first.topic
    first.kill()  # store_seconds=0: already written
    second = World(store)
    assert second.hub.catch_up() == []
    second.feed([event("v", 7, 20, "370102")])  # the rumour's next batch: a rebuild, no repeat
    assert not ({a["alert_id"] for a in second.topic} & {a["alert_id"] for a in first.topic})


@pytest.mark.clickhouse
def test_buffered_alert_lost_with_the_worker_reaches_the_store(ch_store):
    """The alert went to the topic but its store copy waited in the buffer when the worker
    died: the restarted worker raises it again (same id: the topic's consumers see it twice;
    the store once), so the store is complete."""
    ev = volume_stream()
    first = World(ch_store, store_seconds=3600)
    first.feed(ev)
    assert first.topic and stored_alerts(ch_store) == []
    first.kill()
    second = World(ch_store)
    late = second.hub.catch_up()
    assert {a["alert_id"] for a in late} == {a["alert_id"] for a in first.topic}
    assert sorted(a["alert_id"] for a in stored_alerts(ch_store)) == sorted(a["alert_id"] for a in first.topic)


def test_alert_waiting_in_the_buffer_is_not_raised_again_by_a_restore(store):
    """A live router that drops and restores a rumour while its alert still waits for the store
    (history / buffer, not the table) does not raise it again."""
    from streams.governance.alerts import AlertRouter

    ev = volume_stream()
    world = World(store)
    world.feed(ev)
    raised = list(world.topic)
    assert raised
    # The same router state, but as if the store had not got the alert yet.
    topic: list[dict] = []
    router = AlertRouter(CONFIG, None, sinks=[topic.extend], max_rumours=1,
                         loader=world.hub._load_events, history=1024, lister=world.hub._stored_ids,
                         known_alerts=lambda ids: {})
    router.alerts.extend(raised)  # the history holds what the store lacks
    router.mark_stored()
    assert router.catch_up(["v"]) == [] and topic == []
    # Without the history it would be raised (late): the check is what stops it.
    bare = AlertRouter(CONFIG, None, max_rumours=1, loader=world.hub._load_events, history=1024,
                       lister=world.hub._stored_ids, known_alerts=lambda ids: {})
    assert {a["alert_id"] for a in bare.catch_up(["v"])} == {a["alert_id"] for a in raised}


def test_dropped_rumour_restore_raises_only_what_was_missing(chdb_store):
    """Normal running with a cap of one rumour: rumours are dropped and restored all the time;
    the alerts equal those of an unbounded router, none twice, none late."""
    ev = stream(7, rumours=4, events=160)
    parts = batches(ev, list(range(10, len(ev), 10)))
    capped = World(chdb_store)
    capped.hub.alerts._rumours.size = 1
    for part in parts:
        capped.feed(part)
    capped.hub.flush()
    assert capped.hub.alerts.evictions > 0 and capped.hub.alerts.restores > 0
    expected = uninterrupted(parts)
    assert expected
    assert len(capped.topic) == len({a["alert_id"] for a in capped.topic})
    assert {a["alert_id"]: figures(a) for a in capped.topic} == expected
    assert not any(a.get("late") for a in capped.topic)


@pytest.mark.parametrize("seed", range(12))
def test_kill_and_rebuild_equals_an_uninterrupted_run(store, seed):
    """Seeded property: a random stream cut into random batches, the worker killed at a random
    batch (with zero to two batches stored but not observed), its router capped at random (none,
    one or two rumours in memory: restores of dropped rumours mid-run): the alerts raised in all
    (first worker + restarted one) equal, per alert id and figures, those of an uncapped run
    never killed; none is raised twice; the store holds each once."""
    rng = np.random.default_rng(1000 + seed)
    ev = stream(seed)
    cuts = sorted(rng.choice(np.arange(1, len(ev)), size=int(rng.integers(3, 12)), replace=False).tolist())
    parts = batches(ev, cuts)
    at = int(rng.integers(0, len(parts)))
    unobserved = int(rng.integers(0, 3))
    cap = [None, 1, 2][int(rng.integers(3))]
    expected = uninterrupted(parts)
    first, second, late = killed(store, parts, at, unobserved, cap=cap)
    got = first.topic + second.topic
    assert len(got) == len({a["alert_id"] for a in got}), "an alert was raised twice"
    assert {a["alert_id"]: figures(a) for a in got} == expected
    assert sorted(a["alert_id"] for a in stored_alerts(store)) == sorted(expected)
    assert all(a.get("late") for a in late)


def test_catch_up_of_many_rumours_costs_a_few_queries(chdb_store, monkeypatch):
    """A rebalance rebuilding 30 rumours, many with late alerts: the events of all of them in
    one query (and their graphs for the traces in one more), their alert ids in one."""
    ev = []
    for k in range(30):
        ev += [dict(e, rumour_id=f"m{k}", event_id=f"m{k}-{e['event_id']}",
                    parent_event_id=None if e["parent_event_id"] is None else f"m{k}-{e['parent_event_id']}")
               for e in volume_stream()]
    first = World(chdb_store)
    first.feed(ev, observe=False)  # all stored, none observed: every rumour owes alerts
    second = World(chdb_store)
    # A worker's pipeline: rumours hashed to partitions, this one holding partitions 0 and 1.
    second.pipeline.partitioner = lambda rumour_id: int(rumour_id[1:]) % 3
    second.pipeline.assign_partitions([0, 1])
    mine = {f"m{k}" for k in range(30) if k % 3 != 2}
    calls = {"load_events": 0, "alert_ids": 0}
    for name, owner in (("load_events", chdb_store), ("alert_ids", second.hub.store)):
        real = getattr(owner, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)
    late = second.hub.catch_up(owns=second.pipeline.owns)
    assert {a["rumour_id"] for a in late} == mine  # the other worker's rumours are its own
    assert all(a["trace"] is not None and a["trace"]["events"] == 7 for a in late)
    assert calls == {"load_events": 2, "alert_ids": 1}
    # The graphs loaded for the traces belong to their partitions: a revocation drops them.
    assert {r for r in mine if r in second.pipeline.graphs} == mine
    second.pipeline.release_partitions([0])
    assert not any(r in second.pipeline.graphs for r in mine if int(r[1:]) % 3 == 0)


def test_buffer_shows_alerts_while_their_insert_is_under_way():
    """The catch-up's "already raised?" reads the buffer: an alert whose INSERT is in flight is
    in neither the table nor the waiting list, and the router's history may have dropped it."""
    import threading

    from streams.governance.alert_store import AlertBuffer

    entered, release = threading.Event(), threading.Event()

    class SlowStore:
        def insert_alerts(self, alerts):
            entered.set()
            release.wait(10)

    buf = AlertBuffer(SlowStore(), max_alerts=100, max_seconds=3600)
    buf.add([{"alert_id": "a"}, {"alert_id": "b"}])
    writer = threading.Thread(target=buf.flush)
    writer.start()
    assert entered.wait(10)
    buf.add([{"alert_id": "c"}])
    assert [a["alert_id"] for a in buf.pending()] == ["a", "b", "c"]
    release.set()
    writer.join(10)
    assert [a["alert_id"] for a in buf.pending()] == ["c"]
    buf._pending.clear()  # nothing for the exit hook to write
