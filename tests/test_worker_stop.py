"""``rumour worker``'s stop is bounded by ``shutdown_write_seconds`` (streams/worker_stop.py): with the
store gone and a batch waiting for it, SIGTERM ends the worker within the bound and a few seconds
(before: the write's 300 s retry budget, 310 s measured), with one error line holding the counts
of the messages not stored and one holding the refusal summary's, and nothing lost: the group's
offsets stay where the last stored batch left them, and a new worker stores every event."""
from __future__ import annotations

import signal
import time
import urllib.error
import urllib.request
import uuid

import pytest

from streams.synthetic import synthetic_events
from tests.faults import Worker, committed_and_end, create_topic, keyed, produce, wait_committed, wait_until
from tests.plugins.clickhouse import database_url
from tests.test_audit_refusals import _outside_a_minute_end
from tests.test_store_backends import FlakyProxy

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


def _refused(worker: Worker) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{worker.port}/api/rumours",
                                     headers={"Authorization": "Bearer not-a-token"})
    try:
        urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200


def test_sigterm_with_the_store_gone_exits_within_the_bound_and_loses_nothing(kafka_bootstrap, clickhouse_server,
                                                                              ch_store, tmp_path):
    database = ch_store  # a migrated store on a fresh database, dropped at teardown
    from streams.store.clickhouse import parse_url
    from streams.worker_stop import EXIT_UNSTORED, STOP_GRACE_SECONDS

    server = parse_url(clickhouse_server)
    proxy = FlakyProxy(server["port"], drops=0)
    # The store's own defaults through the relay (30 s of retries) and the pipeline's 300 s.
    url = f"clickhouse://{server['user']}:{server['password']}@127.0.0.1:{proxy.port}/{database.database}"
    topic = create_topic(kafka_bootstrap, 2, prefix="stop")
    app_id = "rt-stop-" + uuid.uuid4().hex[:8]
    bound = 3.0
    first = list(synthetic_events(n_rumours=2, shares_per_rumour=300, seed=1, prefix="st1"))
    second = list(synthetic_events(n_rumours=2, shares_per_rumour=300, seed=2, prefix="st2"))
    worker = Worker(tmp_path, "a", kafka_bootstrap, url, topic, 2, app_id,
                    RUMOUR_SHUTDOWN_WRITE_SECONDS=str(bound), RUMOUR_REFUSAL_ROWS_PER_MINUTE="1")
    try:
        worker.start().wait_ready()
        produce(kafka_bootstrap, topic, keyed(first))
        wait_until(lambda: database.count_events() == len(first) or database.count_events(), 300,
                   "the first events stored", [worker])
        wait_committed(kafka_bootstrap, app_id, topic, 2, 120, [worker])
        _, committed_before = committed_and_end(kafka_bootstrap, app_id, topic, 2)
        _outside_a_minute_end()
        assert [_refused(worker) for _ in range(4)] == [401] * 4  # one row, three in the summary
        proxy.close()  # the store is gone
        produce(kafka_bootstrap, topic, keyed(second))
        wait_until(lambda: worker.stats()["inflight_messages"] > 0 or worker.stats(), 120,
                   "a batch waiting for the store", [worker])
        started = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        code = worker.proc.wait(400)
        took = time.monotonic() - started
        _, committed_after = committed_and_end(kafka_bootstrap, app_id, topic, 2)
    finally:
        proxy.close()
        worker.stop()
    log = worker.log_path.read_text(errors="replace")
    assert code == EXIT_UNSTORED and took < bound + STOP_GRACE_SECONDS, (code, took, worker.log_tail())
    (unstored,) = [ln for ln in log.splitlines() if "taken and not stored" in ln]
    assert "[ERROR] stopping with " in unstored and int(unstored.split("stopping with ")[1].split()[0]) > 0, unstored
    (summary,) = [ln for ln in log.splitlines() if "audit summary of" in ln]
    assert "audit summary of 3 refused request(s)" in summary and "[ERROR]" in summary, summary
    # Nothing of the unstored batch was acked, so nothing past the first events was committed ...
    assert committed_after == committed_before, (committed_before, committed_after)
    assert database.count_events() == len(first)
    # ... and a new worker, the store back, stores every event of both (and stops cleanly).
    again = Worker(tmp_path, "b", kafka_bootstrap, database_url(clickhouse_server, database.database),
                   topic, 2, app_id, RUMOUR_SHUTDOWN_WRITE_SECONDS=str(bound))
    try:
        again.start().wait_ready()
        total = len(first) + len(second)
        wait_until(lambda: database.count_events() == total or database.count_events(), 300,
                   "every event stored after the restart", [again])
        wait_committed(kafka_bootstrap, app_id, topic, 2, 120, [again])
    finally:
        again.stop()
    assert again.proc.returncode == 0, again.log_tail()


WATCHDOG_SCRIPT = """
import asyncio, logging, sys, time, types
from streams.worker_stop import BoundedStop
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
given = []
app = types.SimpleNamespace(pipeline=types.SimpleNamespace(give_up_by=given.append),
                            unstored_messages=lambda: int(sys.argv[1]))
async def main():
    BoundedStop(app, 0.3, grace=0.3).begin()
    assert given, "the pipeline got no deadline"
    time.sleep(30)  # a stop stuck where no deadline reaches (the event loop blocked)
asyncio.run(main())
"""


def _stuck_stop(unstored: int):
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", WATCHDOG_SCRIPT, str(unstored)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert took < 10, took  # 0.6 s and the interpreter's start, not the 30 s sleep
    return proc


def test_the_watchdog_ends_a_stop_stuck_past_the_bound_with_the_count():
    from streams.worker_stop import EXIT_UNSTORED

    proc = _stuck_stop(7)
    assert proc.returncode == EXIT_UNSTORED, proc.stderr[-2000:]
    assert "ERROR stop not finished 0.6s after the signal, with 7 message(s) taken and not stored" \
        in proc.stderr, proc.stderr


def test_a_stop_only_slow_with_nothing_unstored_exits_clean_not_75():
    # It exited 75 ("work left, come again") with "0 message(s)" in its line: compose and systemd
    # read a slow clean stop as a failure.
    from streams.worker_stop import EXIT_CLEAN, EXIT_UNSTORED

    proc = _stuck_stop(0)
    assert proc.returncode == EXIT_CLEAN == 0 != EXIT_UNSTORED, proc.stderr[-2000:]
    assert "WARNING stop not finished 0.6s after the signal, with 0 message(s) taken and not stored: " \
        "every message taken was stored, exiting 0" in proc.stderr, proc.stderr
    assert "ERROR" not in proc.stderr, proc.stderr
