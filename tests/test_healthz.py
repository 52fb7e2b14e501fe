"""/healthz says what is wrong: 503 and ``"status": "degraded"`` with one line per problem while
the worker cannot reach its store or its counters stop being refreshed, 200 ``"ok"`` otherwise
(it answered "ok" through a whole ClickHouse outage; a health check reads the HTTP status)."""
from __future__ import annotations

import time

import orjson

from streams.pipeline import Pipeline
from streams.worker_stats import new_stats
from tests.service_helpers import ThreadServer, get


def test_healthz_is_503_with_the_problem_while_the_store_is_unreachable(tmp_path):
    from streams.service.http import Service

    stats = new_stats()
    service = Service(Pipeline(store=None), None, tmp_path / "tokens.json", cutoff_k=5,
                      stats=lambda: dict(stats))
    server = ThreadServer(service.application())
    try:
        stats["stats_at_ms"] = int(time.time() * 1000)
        status, _, body = get(server.url + "/healthz")
        health = orjson.loads(body)
        assert (status, health["status"], health["problems"]) == (200, "ok", [])

        stats.update(store_retrying=1, inflight_messages=500, batch_age_seconds=42.0, store_failures=4)
        status, _, body = get(server.url + "/healthz")
        health = orjson.loads(body)
        assert status == 503 and health["status"] == "degraded", health
        assert health["problems"] == ["store unreachable: a batch of 500 messages waits for it "
                                      "(42 s; 4 failed attempts so far)"]
        assert health["store_failures"] == 4  # the counters still come with it

        stats.update(store_retrying=0, stats_at_ms=int(time.time() * 1000) - 120_000)
        status, _, body = get(server.url + "/healthz")
        health = orjson.loads(body)
        assert status == 503 and len(health["problems"]) == 1
        assert health["problems"][0].startswith("counters not refreshed for 12")
    finally:
        server.close()


def test_a_worker_waiting_for_its_store_answers_healthz_503_without_the_password():
    # It answered nothing (connection refused) until ClickHouse came back.
    import threading

    from streams.settings import Settings
    from streams.worker_run import migrate_when_reachable, open_startup_health
    from tests.service_helpers import free_port

    port = free_port()
    # retry_seconds: one attempt gives up after 0.5 s (30 s by default)
    settings = Settings.load({"clickhouse_url": "clickhouse://rumour:s3cret@127.0.0.1:9/x?retry_seconds=0.5",
                              "web_host": "127.0.0.1", "web_port": port}, environ={})
    outcome = []

    def wait():
        health = open_startup_health(settings)
        try:
            migrate_when_reachable(settings, max_attempts=2, health=health)  # pauses 1 s between
        except Exception as exc:
            outcome.append(exc)
        finally:
            health.close()

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    seen = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and thread.is_alive():
        try:
            answer = get(f"http://127.0.0.1:{port}/healthz")
        except OSError:  # not bound yet, or closed already
            answer = None
        if answer is not None and b"unreachable" in answer[2]:
            seen = answer
            break
        time.sleep(0.05)
    thread.join(30)
    assert seen is not None, "no /healthz while waiting for the store"
    status, _, body = seen
    health = orjson.loads(body)
    assert status == 503 and health["status"] == "starting", health
    assert health["problems"][0].startswith("store clickhouse://rumour:***@127.0.0.1:9/x?retry_seconds=0.5 "
                                            "unreachable (attempt 1)"), health
    assert b"s3cret" not in body
    assert outcome, "max_attempts=2 gives up"
    import socket

    with socket.socket() as s:  # closed again: Faust's web server (aiohttp: SO_REUSEADDR) binds it next
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()


def test_a_web_port_in_use_is_refused_at_start_naming_the_setting():
    # It was Faust's OSError traceback (exit 1) after the topics and the warm-up.
    import socket

    from tests.test_settings_worker_start import worker

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = worker({"RUMOUR_WEB_PORT": str(port), "RUMOUR_WEB_HOST": "127.0.0.1"})
    err = proc.stderr.decode()
    assert proc.returncode == 2, err[-2000:]
    assert err == (f"rumour: error: setting web_port (RUMOUR_WEB_PORT, --web-port): cannot listen on "
                   f"127.0.0.1:{port}: Address already in use\n"), err[-2000:]
