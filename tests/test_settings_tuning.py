"""Two worker settings that were module constants: ``gc_collect_seconds`` (the timed garbage
collection, streams/worker_setup.py) and ``alert_catchup_seconds`` (how far back a worker's
start/assignment catch-up rebuilds rumours, streams/governance/hub.py). Each is read from its
environment variable and reaches the place that uses it; 0 turns each off."""
from __future__ import annotations

import dataclasses

import faust
import pytest

from streams.governance.config import GovernanceConfig
from streams.settings import Settings


def test_env_vars_parse_and_bad_values_name_the_setting():
    assert Settings.load(environ={"RUMOUR_GC_COLLECT_SECONDS": "2.5"}).gc_collect_seconds == 2.5
    assert Settings.load({"gc_collect_seconds": "0"}, environ={}).gc_collect_seconds == 0.0
    assert GovernanceConfig.load(environ={"RUMOUR_ALERT_CATCHUP_SECONDS": "60"}).alert_catchup_seconds == 60
    with pytest.raises(ValueError, match="RUMOUR_GC_COLLECT_SECONDS"):
        Settings.load(environ={"RUMOUR_GC_COLLECT_SECONDS": "ten"})
    with pytest.raises(ValueError, match="RUMOUR_ALERT_CATCHUP_SECONDS"):
        GovernanceConfig.load(environ={"RUMOUR_ALERT_CATCHUP_SECONDS": "1.5"})


def _app(tmp_path, store, name, **overrides):
    from streams.app import create_app
    from streams.events import Decoder
    from streams.pipeline import Pipeline

    settings = Settings.load({"broker": "127.0.0.1:1", "app_id": name,
                              "data_dir": str(tmp_path / "worker"), **overrides})
    return create_app(settings, pipeline=Pipeline(store, Decoder()))


def _timer_intervals(monkeypatch) -> dict:
    """Interval of every Faust timer defined from now on, by function name."""
    intervals: dict = {}
    real = faust.App.timer

    def timer(self, interval, *args, **kwargs):
        decorate = real(self, interval, *args, **kwargs)

        def inner(fun):
            intervals[fun.__name__] = interval
            return decorate(fun)

        return inner

    monkeypatch.setattr(faust.App, "timer", timer)
    return intervals


def test_gc_collect_seconds_sets_the_worker_timer(tmp_path, chdb_store, monkeypatch):
    intervals = _timer_intervals(monkeypatch)
    monkeypatch.setenv("RUMOUR_GC_COLLECT_SECONDS", "3.5")
    app = _app(tmp_path, chdb_store, "test-gc-setting")
    assert intervals["collect_garbage_timer"] == 3.5
    assert app.gc_collector is not None


def test_gc_collect_seconds_zero_installs_no_timer(tmp_path, chdb_store, monkeypatch):
    intervals = _timer_intervals(monkeypatch)
    app = _app(tmp_path, chdb_store, "test-gc-off", gc_collect_seconds=0)
    assert "collect_garbage_timer" not in intervals
    assert not any("collect_garbage_timer" in getattr(t, "__qualname__", "") for t in app._app_tasks)
    assert app.gc_collector is None and app.collect_garbage is None
    assert "measure" in intervals  # the app's other timer is still there: the spy saw timers


def test_alert_catchup_seconds_reaches_the_worker_catch_up(tmp_path, chdb_store, monkeypatch):
    monkeypatch.setenv("RUMOUR_ALERT_CATCHUP_SECONDS", "123")
    app = _app(tmp_path, chdb_store, "test-catchup-setting")
    asked = []
    store = app.governance.store
    real = store.rumours_ingested_since
    monkeypatch.setattr(store, "rumours_ingested_since", lambda seconds: asked.append(seconds) or real(seconds))
    app.governance.catch_up()
    assert asked == [123]


def test_alert_catchup_seconds_zero_rebuilds_nothing_at_once(chdb_store):
    # The same killed worker twice over one store: with the default the restarted hub raises the
    # unobserved batch's alerts at once; with 0 it waits for the rumour's next batch.
    from tests.test_alert_catchup import CONFIG, World, volume_stream

    first = World(chdb_store)
    first.feed(volume_stream(), observe=False)  # stored, never observed (killed worker)
    first.kill()
    off = World(chdb_store)
    off.hub.config = dataclasses.replace(CONFIG, alert_catchup_seconds=0)
    assert off.hub.catch_up() == []
    on = World(chdb_store)
    assert on.hub.config.alert_catchup_seconds > 0
    late = on.hub.catch_up()
    assert late and all(a["late"] for a in late)
