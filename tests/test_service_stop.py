"""A stop is bounded by ``shutdown_write_seconds``, not by the store's retry budget: with the store
gone, ``rumour serve`` on SIGTERM exits within the bound (inside Docker's 10 s grace, where the
store's own 30 s were not) and logs the line that keeps the pending refusal summary's counts;
the store gives up retrying, calls already waiting included, at the deadline it is given."""
from __future__ import annotations

import re
import signal
import threading
import time

import orjson
import pytest

from tests.service_helpers import get
from tests.test_audit_refusals import BAD_TOKEN, _outside_a_minute_end, start_serve
from tests.test_store_backends import FlakyProxy


@pytest.mark.clickhouse
def test_serve_stops_within_the_bound_when_the_store_is_gone_and_logs_the_counts(clickhouse_server, ch_store,
                                                                                 tmp_path):
    from streams.store.clickhouse import parse_url

    server = parse_url(clickhouse_server)
    proxy = FlakyProxy(server["port"], drops=0)
    # The store's own defaults (5 s a connection attempt, 30 s of retries), through the relay.
    url = f"clickhouse://{server['user']}:{server['password']}@127.0.0.1:{proxy.port}/{ch_store.database}"
    bound = 2.0
    proc, base = start_serve(tmp_path, url, RUMOUR_REFUSAL_ROWS_PER_MINUTE="1",
                             RUMOUR_SHUTDOWN_WRITE_SECONDS=str(bound))
    try:
        _outside_a_minute_end()
        for _ in range(4):  # one row of its own, three in the summary the stop must write
            assert get(base + "/api/rumours", BAD_TOKEN)[0] == 401
        proxy.close()  # the store is gone
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        took = time.monotonic() - started
    finally:
        proxy.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        proc.stdout.close()
        stderr = proc.stderr.read()
        proc.stderr.close()
    # Within the bound (and the interpreter's exit), far below the store's 30 s and Docker's 10 s.
    assert code == 0 and took < bound + 4, (code, took, stderr[-2000:])
    (counts,) = [ln for ln in stderr.splitlines() if "audit summary of" in ln]
    assert re.search(r"audit summary of 3 refused request\(s\) of minute \S+ not written \(", counts), counts
    assert orjson.loads(counts.split("): ", 1)[1])["reasons"] == {"unknown": 3}
    assert "Traceback" not in stderr, stderr[-2000:]
    assert len([r for r in ch_store.audit_rows(limit=100) if r["auth_failure"]]) == 1  # the summary is not


def test_a_call_waiting_for_the_server_gives_up_at_the_stop_deadline():
    from streams.store.base import StoreUnavailable
    from streams.store.clickhouse import ClickHouseStore

    # Nothing listens on port 1: every attempt is refused, and 30 s of retries would follow.
    store = ClickHouseStore("clickhouse://127.0.0.1:1/gone?retry_seconds=30")
    failed = []

    def call():
        try:
            store._rows("SELECT 1")
        except StoreUnavailable as exc:
            failed.append((time.monotonic(), str(exc)))

    waiting = threading.Thread(target=call)
    waiting.start()
    time.sleep(0.3)  # retrying by now
    deadline = time.monotonic() + 0.5
    store.give_up_by(deadline)
    waiting.join(10)
    assert not waiting.is_alive()
    ((ended, message),) = failed
    assert ended < deadline + 0.5, ended - deadline
    assert "not retried: the process stops" in message
    assert all(c.connect_timeout <= 0.5 for c in [store.client.connection, *store.client.connections])
    store.close()


@pytest.mark.parametrize("value, message", [
    ("0", "must be at least 0.1, got '0'"), ("301", "must be at most 300, got '301'"),
    ("soon", "expected float, got 'soon'")])
def test_a_bad_bound_is_refused_at_start_in_one_line(value, message, tmp_path, monkeypatch, capsys):
    from streams.cli import main

    monkeypatch.setenv("RUMOUR_SHUTDOWN_WRITE_SECONDS", value)
    assert main(["serve", str(tmp_path / "events.jsonl")]) == 2
    assert capsys.readouterr().err == ("rumour: error: setting shutdown_write_seconds (RUMOUR_SHUTDOWN_WRITE_SECONDS): "
                                       f"{message}\n")
