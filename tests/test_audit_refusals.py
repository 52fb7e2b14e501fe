"""The refused-request audit made operable (streams/service/probes.py): its two caps are settings
honoured by ``rumour serve`` and ``rumour worker``; the summary of the minute under way is written
when either stops on SIGTERM, and a store that cannot take it then costs one log line, not a hang
or a traceback; an admin reads the refusals per hour and reason, the summarised ones included
(``GET /api/audit/refusals``), and filters the rows by reason (``GET /api/audit?auth_failure=``).
On chDB and on clickhouse-server 18.16 (the ``store`` fixture)."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from streams.service.probes import ProbeLog
from tests.service_helpers import ThreadServer, cascades, get
from tests.test_service_probes import MINUTE_MS, Clock, refused_rows

ROOT = Path(__file__).resolve().parent.parent
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
    ({"RUMOUR_REFUSAL_ROWS_PER_MINUTE": "-1"}, "setting refusal_rows_per_minute (RUMOUR_REFUSAL_ROWS_PER_MINUTE): "
                                               "must be at least 0, got '-1'"),
    ({"RUMOUR_REFUSAL_SUMMARY_PEERS": "20000"}, "setting refusal_summary_peers (RUMOUR_REFUSAL_SUMMARY_PEERS): "
                                                "must be at most 10000, got '20000'"),
    ({"RUMOUR_REFUSAL_ROWS_PER_MINUTE": "lots"}, "setting refusal_rows_per_minute (RUMOUR_REFUSAL_ROWS_PER_MINUTE): "
                                                 "expected int, got 'lots'"),
])
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_bad_cap_is_refused_at_start_in_one_line(command, env, message, tmp_path, monkeypatch, capsys):
    from streams.cli import main

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = [str(tmp_path / "events.jsonl")] if command == "serve" else []
    assert main([command, *args]) == 2
    assert capsys.readouterr().err == f"rumour: error: {message}\n"


def _outside_a_minute_end():
    # The flood of the process tests must fall in one clock minute (the real clock there).
    while time.time() % 60 > 45:
        time.sleep(1)


def start_serve(tmp_path, url: str, **environ) -> tuple[subprocess.Popen, str]:
    """``rumour serve`` over the test cascades and store ``url``, with ``environ`` added to its
    environment, once it listens: (the process, its base URL)."""
    from streams.service.tokens import TokenStore

    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in cascades()), encoding="utf-8")
    tokens = tmp_path / "tokens.json"
    TokenStore(tokens).issue("admin", "000000", "admin")
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "serve", str(events), "--store", url,
                             "--port", "0", "--tokens-file", str(tokens)], cwd=ROOT, env=dict(os.environ, **environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("serving http://"):
        proc.kill()
        raise AssertionError((line, proc.communicate(timeout=30)[1]))
    return proc, line.split()[1].rstrip("/")


@pytest.mark.clickhouse
def test_serve_writes_the_pending_summary_when_sigterm_stops_it(clickhouse_server, ch_store, tmp_path):
    from tests.plugins.clickhouse import database_url

    proc, base = start_serve(tmp_path, database_url(clickhouse_server, ch_store.database),
                             RUMOUR_REFUSAL_ROWS_PER_MINUTE="2", RUMOUR_REFUSAL_SUMMARY_PEERS="5")
    try:
        _outside_a_minute_end()
        for _ in range(3):
            assert get(base + "/api/rumours/jn-1/trace", BAD_TOKEN, case="C-1")[0] == 401
        for _ in range(4):
            assert get(base + "/api/me")[0] == 401
        assert len(refused_rows(ch_store)) == 2  # the summary waits for the minute's end
        proc.send_signal(signal.SIGTERM)  # what docker and systemd send
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()
    rows = refused_rows(ch_store)
    assert sorted(r["auth_failure"] for r in rows) == ["suppressed", "unknown", "unknown"]
    (summary,) = _summaries(rows)
    assert summary["suppressed"] == 5 and summary["routes"] == {"trace": 1, "me": 4}
    assert summary["reasons"] == {"unknown": 1, "missing": 4} and summary["statuses"] == {"401": 5}
    assert summary["peers"] == {"127.0.0.1": 5} and summary["peers_kept"] == 5


@pytest.mark.kafka
@pytest.mark.clickhouse
@pytest.mark.slow
def test_the_worker_writes_the_pending_summary_when_sigterm_stops_it(kafka_bootstrap, clickhouse_server,
                                                                      ch_store, tmp_path):
    import uuid

    from tests.faults import Worker, create_topic
    from tests.plugins.clickhouse import database_url

    topic = create_topic(kafka_bootstrap, 1, prefix="audit")
    worker = Worker(tmp_path, "a", kafka_bootstrap, database_url(clickhouse_server, ch_store.database), topic, 1,
                    "rt-audit-" + uuid.uuid4().hex[:8], RUMOUR_REFUSAL_ROWS_PER_MINUTE="1")
    try:
        worker.start().wait_ready()
        _outside_a_minute_end()
        for _ in range(4):
            assert get(f"http://127.0.0.1:{worker.port}/api/rumours", BAD_TOKEN)[0] == 401
        assert len(refused_rows(ch_store)) == 1
        worker.proc.send_signal(signal.SIGTERM)
        worker.proc.wait(120)
    finally:
        worker.stop()
    rows = refused_rows(ch_store)
    assert sorted(r["auth_failure"] for r in rows) == ["suppressed", "unknown"], worker.log_tail()
    (summary,) = _summaries(rows)
    assert (summary["suppressed"], summary["routes"], summary["rows_per_minute"]) == (3, {"rumours": 3}, 1)


def test_a_store_unreachable_at_stop_costs_one_log_line_not_a_hang(chdb_store, tmp_path, caplog):
    from streams.settings import Settings
    from streams.store.clickhouse import ClickHouseStore

    service = _service(chdb_store, tmp_path, Settings.load({"batch_size": 5}))
    service.probes = ProbeLog(service.probes.key, rows_per_minute=1, clock=Clock(1_800_000_000_000))
    server = ThreadServer(service.application())
    for _ in range(4):
        assert get(server.url + "/api/rumours", BAD_TOKEN)[0] == 401
    # The store goes away before the stop: nothing listens on port 1; one second of retries.
    service.store = ClickHouseStore("clickhouse://127.0.0.1:1/gone?retry_seconds=1&connect_timeout=0.5")
    caplog.set_level(logging.ERROR)
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 20
    (record,) = [r for r in caplog.records if r.name == "streams.service.authn"]
    assert record.levelno == logging.ERROR and record.exc_info is None  # no traceback
    text = record.getMessage()
    assert text.startswith("audit summary of 3 refused request(s) of minute 2027-01-15T08:00:00.000Z "
                           "not written (clickhouse-server at 127.0.0.1:1 unreachable for 1s")
    assert orjson.loads(text.split("): ", 1)[1])["reasons"] == {"unknown": 3}  # the counts kept
    assert len(refused_rows(chdb_store)) == 1


@pytest.fixture
def flooded(store, tmp_path):
    """Six refusals in one minute under a cap of two (two missing written as rows; summarised:
    one missing, two unknown, one malformed), the summary written by the admin's next request
    a minute later."""
    from streams.service.tokens import TokenStore
    from streams.settings import Settings

    service = _service(store, tmp_path, Settings.load({"batch_size": 5}))
    clock = Clock(1_800_000_000_000)
    service.probes = ProbeLog(service.probes.key, rows_per_minute=2, clock=clock)
    tokens = TokenStore(tmp_path / "tokens.json")
    admin = tokens.issue("admin", "000000", "national")[0]
    provincial = tokens.issue("admin", "370000", "shandong")[0]
    server = ThreadServer(service.application())
    try:
        for token in (None, None, None, BAD_TOKEN, BAD_TOKEN):
            assert get(server.url + "/api/me", token)[0] == 401
        assert get(server.url + "/api/me", headers={"Authorization": "Basic dXNlcjpwdw=="})[0] == 401
        clock.ms += MINUTE_MS
        yield {"url": server.url, "store": store, "admin": admin, "provincial": provincial}
    finally:
        server.close()


def _json(url, token):
    status, _, body = get(url, token)
    return status, orjson.loads(body)


def test_an_admin_reads_refusals_per_hour_and_reason_summarised_ones_included(flooded):
    url, admin = flooded["url"], flooded["admin"]
    span = "?since_ms=0&until_ms=1900000000000"
    status, answer = _json(url + "/api/audit/refusals" + span, admin)
    assert status == 200, answer
    hour = "2027-01-15T08:00:00.000Z"
    assert [(h["hour"], h["reason"], h["rows"], h["summarised"], h["requests"]) for h in answer["hours"]] == [
        (hour, "malformed", 0, 1, 1), (hour, "missing", 2, 1, 3), (hour, "unknown", 0, 2, 2)]
    assert answer["reasons"] == {"malformed": 1, "missing": 3, "unknown": 2}
    assert (answer["requests"], answer["rows"], answer["summarised"]) == (6, 2, 4)

    # A retried insert (audit_log keeps it twice) is counted once.
    store = flooded["store"]
    store.write_audit(store.audit_rows(limit=100, auth_failure="any"))
    assert _json(url + "/api/audit/refusals" + span, admin)[1]["reasons"] == answer["reasons"]
    # A span that ends before the flood counts none; since after until is refused.
    assert _json(url + "/api/audit/refusals?since_ms=0&until_ms=1000", admin)[1]["hours"] == []
    assert get(url + "/api/audit/refusals?since_ms=5&until_ms=4", admin)[0] == 400
    # An admin below the national level sees no refusal rows in /api/audit: told so here (403),
    # not shown zero.
    status, answer = _json(url + "/api/audit/refusals" + span, flooded["provincial"])
    assert status == 403 and "national" in answer["error"]


def test_audit_rows_filter_by_reason_with_the_summaries_that_count_it(flooded):
    url, admin = flooded["url"], flooded["admin"]

    def failures(query):
        status, answer = _json(url + "/api/audit?limit=100&auth_failure=" + query, admin)
        assert status == 200, answer
        return sorted(r["auth_failure"] for r in answer["rows"])

    assert failures("missing") == ["missing", "missing", "suppressed"]
    assert failures("unknown") == failures("malformed") == failures("suppressed") == ["suppressed"]
    assert failures("any") == ["missing", "missing", "suppressed"]
    assert failures("revoked") == []
    status, answer = _json(url + "/api/audit?auth_failure=bogus", admin)
    assert status == 400 and answer["error"].startswith("auth_failure: one of any, missing,")
