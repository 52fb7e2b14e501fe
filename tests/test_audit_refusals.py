"""The refused-request audit's two caps (streams/service/probes.py) are settings, honoured by
``rumour serve`` and ``rumour worker`` and refused at start when bad. On chDB and on
clickhouse-server 18.16 (the ``store`` fixture)."""
from __future__ import annotations

import orjson
import pytest

from tests.service_helpers import ThreadServer, cascades, get
from tests.test_service_probes import Clock, refused_rows

BAD_TOKEN = "rt_000000000000_" + "x" * 43  # well formed, unknown


def _service(store, tmp_path, settings):
    from streams.embedded import replay_events
    from streams.service.http import Service

    pipeline, _ = replay_events(cascades(), store, settings)
    # The keyword arguments rumour serve and the worker (streams/web.py) pass.
    return Service(pipeline, store, tmp_path / "tokens.json", cutoff_k=5,
                   refusal_rows_per_minute=settings.refusal_rows_per_minute,
                   refusal_summary_peers=settings.refusal_summary_peers)


def _summaries(rows):
    return [orjson.loads(r["params"]) for r in rows if r["auth_failure"] == "suppressed"]


def test_a_lower_cap_in_the_settings_changes_what_is_written(store, tmp_path):
    from streams.settings import Settings

    written = {}
    for cap, peers in ((None, None), ("1", "0")):
        environ = {} if cap is None else {"RUMOUR_REFUSAL_ROWS_PER_MINUTE": cap,
                                          "RUMOUR_REFUSAL_SUMMARY_PEERS": peers}
        settings = Settings.load({"batch_size": 5}, environ=environ)
        store.drop()
        store.migrate()
        service = _service(store, tmp_path, settings)
        service.probes.clock = Clock(1_800_000_000_000)
        server = ThreadServer(service.application())
        try:
            for _ in range(3):
                assert get(server.url + "/api/rumours", BAD_TOKEN)[0] == 401
        finally:
            server.close()  # its on_shutdown: the pending summary
        written[cap] = refused_rows(store)
    # The default (60 a minute): three rows, nothing summarised.
    assert [r["auth_failure"] for r in written[None]] == ["unknown"] * 3
    # One a minute, no peer kept by address: one row, then a summary of the other two.
    assert sorted(r["auth_failure"] for r in written["1"]) == ["suppressed", "unknown"]
    (summary,) = _summaries(written["1"])
    assert (summary["suppressed"], summary["peers"], summary["other_peers"]) == (2, {}, 2)
    assert (summary["rows_per_minute"], summary["peers_kept"]) == (1, 0)


@pytest.mark.parametrize("env,message", [
    ({"RUMOUR_REFUSAL_ROWS_PER_MINUTE": "-1"}, "setting refusal_rows_per_minute (RUMOUR_REFUSAL_ROWS_PER_MINUTE, "
                                               "--refusal-rows-per-minute): must be at least 0, got '-1'"),
    ({"RUMOUR_REFUSAL_SUMMARY_PEERS": "20000"}, "setting refusal_summary_peers (RUMOUR_REFUSAL_SUMMARY_PEERS, "
                                                "--refusal-summary-peers): must be at most 10000, got '20000'"),
    ({"RUMOUR_REFUSAL_ROWS_PER_MINUTE": "lots"}, "setting refusal_rows_per_minute (RUMOUR_REFUSAL_ROWS_PER_MINUTE, "
                                                 "--refusal-rows-per-minute): expected int, got 'lots'"),
])
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_bad_cap_is_refused_at_start_in_one_line(command, env, message, tmp_path, monkeypatch, capsys):
    from streams.cli import main

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = [str(tmp_path / "events.jsonl")] if command == "serve" else []
    assert main([command, *args]) == 2
    assert capsys.readouterr().err == f"rumour: error: {message}\n"
