"""Alerts reach the store in few INSERTs (streams/governance/alert_store.py) and none is lost or
written twice: by count, by time, at flush/close, across a failing store; and through the hub
against clickhouse-server, where the alerts of many batches share one INSERT."""
from __future__ import annotations

import threading
import time

import orjson
import pytest

from streams.embedded import make_pipeline
from streams.governance.alert_store import AlertBuffer
from streams.governance.config import GovernanceConfig
from streams.governance.hub import Governance
from streams.settings import Settings
from streams.synthetic import synthetic_events


class FakeStore:
    def __init__(self, fail: int = 0):
        self.calls: list[list[str]] = []
        self.fail = fail  # how many INSERTs to refuse first
        self.lock = threading.Lock()

    def insert_alerts(self, alerts):
        with self.lock:
            if self.fail:
                self.fail -= 1
                raise ConnectionError("store down")
            self.calls.append([a["alert_id"] for a in alerts])

    def ids(self) -> list[str]:
        return [i for call in self.calls for i in call]


def _alerts(start: int, n: int) -> list[dict]:
    return [{"alert_id": f"a{i}"} for i in range(start, start + n)]


def test_full_buffer_is_one_insert_in_order():
    store = FakeStore()
    buf = AlertBuffer(store, max_alerts=10, max_seconds=3600)
    for k in range(4):
        buf.add(_alerts(3 * k, 3))  # 12 alerts: the 4th add fills it (12 >= 10)
    assert store.calls == [[f"a{i}" for i in range(12)]]
    buf.add(_alerts(12, 2))
    assert len(store.calls) == 1 and [a["alert_id"] for a in buf.pending()] == ["a12", "a13"]
    buf.close()
    assert store.ids() == [f"a{i}" for i in range(14)]
    assert (buf.inserts, buf.written) == (2, 14)


def test_timer_writes_a_quiet_streams_last_alerts():
    store = FakeStore()
    buf = AlertBuffer(store, max_alerts=1000, max_seconds=0.1)
    buf.add(_alerts(0, 5))
    assert store.calls == []
    deadline = time.monotonic() + 5
    while not store.calls and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.ids() == [f"a{i}" for i in range(5)]
    assert buf.pending() == []
    buf.add(_alerts(5, 1))  # the timer keeps serving later alerts
    while len(store.calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.ids() == [f"a{i}" for i in range(6)]
    buf.close()
    assert len(store.calls) == 2  # close had nothing left to write


def test_zero_seconds_writes_each_add_at_once():
    store = FakeStore()
    buf = AlertBuffer(store, max_alerts=1000, max_seconds=0)
    buf.add(_alerts(0, 2))
    buf.add(_alerts(2, 1))
    assert store.calls == [["a0", "a1"], ["a2"]]
    assert buf._timer is None


def test_failed_insert_keeps_alerts_for_the_next_flush():
    store = FakeStore(fail=2)
    buf = AlertBuffer(store, max_alerts=2, max_seconds=3600)
    buf.add(_alerts(0, 2))  # full -> INSERT refused, kept
    buf.add(_alerts(2, 1))  # full again -> refused again, kept
    assert store.calls == [] and buf.failures == 2
    assert [a["alert_id"] for a in buf.pending()] == ["a0", "a1", "a2"]
    buf.add(_alerts(3, 1))
    assert store.ids() == ["a0", "a1", "a2", "a3"]  # once each, in order
    assert buf.pending() == [] and buf.dropped == 0


def test_a_store_down_for_long_keeps_only_the_newest(monkeypatch):
    import streams.governance.alert_store as alert_store

    monkeypatch.setattr(alert_store, "MAX_PENDING", 3)
    store = FakeStore(fail=10)
    buf = AlertBuffer(store, max_alerts=1, max_seconds=3600)
    buf.add(_alerts(0, 2))
    buf.add(_alerts(2, 3))
    assert [a["alert_id"] for a in buf.pending()] == ["a2", "a3", "a4"] and buf.dropped == 2
    store.fail = 0
    buf.flush()
    assert store.ids() == ["a2", "a3", "a4"]


def test_concurrent_adds_and_timer_write_each_alert_once():
    store = FakeStore()
    buf = AlertBuffer(store, max_alerts=50, max_seconds=0.01)

    def feed(base):
        for k in range(200):
            buf.add(_alerts(base + 3 * k, 3))

    threads = [threading.Thread(target=feed, args=(b,)) for b in (0, 10_000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    buf.close()
    ids = store.ids()
    assert len(ids) == len(set(ids)) == 1200
    # each feeder's alerts stay in the order it added them
    for base in (0, 10_000):
        mine = [int(i[1:]) for i in ids if base <= int(i[1:]) < base + 10_000]
        assert mine == sorted(mine)


# Low thresholds so a short synthetic stream raises many alerts in many batches.
CONFIG = dict(alert_window_minutes=5, alert_window_shares=8, alert_growth_min_shares=4, alert_growth_ratio=2.0,
              alert_burst_min_shares=3, alert_burst_warmup_minutes=2, alert_cooldown_minutes=10)


def _feed(store, seconds):
    """The same stream through a pipeline + hub; returns (hub, per-batch alert counts)."""
    pipeline = make_pipeline(store, Settings.load({"batch_size": 200}))
    hub = Governance(pipeline, store=store, config=GovernanceConfig(**CONFIG), alert_store_seconds=seconds)
    hub.attach()
    events = list(synthetic_events(n_rumours=6, shares_per_rumour=300, seed=7, prefix="ab"))
    raised = []
    for i in range(0, len(events), 200):
        before = hub.alerts.raised
        pipeline.process([orjson.dumps(e) for e in events[i:i + 200]])
        raised.append(hub.alerts.raised - before)
        # every alert is visible to the dashboard whether or not it reached the store yet
        for a in list(hub.alerts.alerts)[-3:]:
            assert a in hub.current_alerts(a["unit"])
    return hub, raised


@pytest.mark.clickhouse
def test_hub_writes_many_batches_alerts_in_one_insert(ch_store):
    from streams.store.governance import governance_store

    hub, raised = _feed(ch_store, seconds=3600)
    with_alerts = sum(1 for n in raised if n)
    assert with_alerts >= 3, raised  # the stream must exercise several batches with alerts
    assert hub.alert_buffer.inserts < with_alerts
    hub.flush()
    stored = governance_store(ch_store).load_alerts()
    assert sorted(a["alert_id"] for a in stored) == sorted(a["alert_id"] for a in hub.alerts.alerts)
    assert len(stored) == hub.alerts.raised == hub.alert_buffer.written
    hub.flush()  # nothing waits: no second copy
    assert governance_store(ch_store).load_alerts() == stored


@pytest.mark.clickhouse
def test_buffered_and_per_batch_store_the_same_alerts(clickhouse_server):
    from streams.store import open_store
    from streams.store.governance import governance_store
    from tests.plugins.clickhouse import database_url, fresh_database

    stored = []
    for seconds in (0, 3600):
        store = open_store(database_url(clickhouse_server, fresh_database()))
        store.migrate()
        try:
            hub, raised = _feed(store, seconds)
            hub.close()
            if seconds == 0:
                assert hub.alert_buffer.inserts == sum(1 for n in raised if n)
            stored.append(governance_store(store).load_alerts())
        finally:
            store.drop()
            store.close()
    assert stored[0] and stored[0] == stored[1]


def test_chdb_store_writes_each_batch_at_once(chdb_store):
    hub = Governance(None, store=chdb_store)
    assert hub.alert_buffer.max_seconds == 0  # no timer thread on a chDB session


@pytest.mark.clickhouse
def test_worker_shutdown_writes_the_waiting_alerts(ch_store, tmp_path):
    import asyncio

    from streams.app import create_app
    from streams.store.governance import governance_store

    settings = Settings.load({"data_dir": str(tmp_path / "worker")})
    pipeline = make_pipeline(ch_store, settings)
    app = create_app(settings, pipeline=pipeline)  # wires its own hub (streams.governance.wiring)
    hub = app.governance
    hub.alerts.config = GovernanceConfig(**CONFIG)  # low thresholds: alerts from a short stream
    hub.alert_buffer.max_seconds = 3600  # only the shutdown may write them
    events = list(synthetic_events(n_rumours=3, shares_per_rumour=300, seed=3, prefix="sd"))
    pipeline.process([orjson.dumps(e) for e in events])
    waiting = hub.alert_buffer.pending()
    assert waiting and governance_store(ch_store).load_alerts() == []
    asyncio.run(app.on_before_shutdown.send())
    stored = governance_store(ch_store).load_alerts()
    assert sorted(a["alert_id"] for a in stored) == sorted(a["alert_id"] for a in waiting)
