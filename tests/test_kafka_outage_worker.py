"""The worker's own Kafka writes when two of three brokers die while it runs (the KRaft quorum
lost with them: no leader moves, no in-sync replica set shrinks, so no acks=all write is ever
acknowledged). A malformed message taken then becomes a dead letter; an alert fires.

Before: the worker stored the dead letter, acked the batch (its offset committable) and handed
the dead letter and the alerts to Faust's producer, which retries for its request timeout (20
minutes) without a word: nothing said, and a stop in the meantime dropped them from their topics.
Now a dead letter is acknowledged by the dead-letter topic before its batch is acked, and alerts
are acknowledged one list at a time; when Kafka does not acknowledge one within
``kafka_ack_seconds`` the worker stops with exit 75 and one line naming the brokers and what is
pending, its offsets not committed and its alerts kept in its data folder, so the next start
reads the message again and forwards its dead letter, and sends the kept alerts
(streams/worker_kafka_writes.py; tests/kafka_quorum.py: a real quorum on its own ports). Which of
the two stalls first is a race (the alerts, in the runs here); both end the same way."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import time
import uuid

import orjson
import pytest

from streams.synthetic import synthetic_events
from streams.store.governance import governance_store
from tests.faults import Worker, keyed, produce, wait_until
from tests.kafka_quorum import compose_quorum, unique
from tests.plugins.clickhouse import database_url
from tests.test_kafka_quorum import _leaders, _read_all

pytestmark = [pytest.mark.clickhouse, pytest.mark.slow]

BAD = b'{"event_id": "outage-bad", not json'


@pytest.fixture(scope="module")
def quorum(tmp_path_factory):
    with compose_quorum(tmp_path_factory.mktemp("quorum"), base_port=19710) as running:
        yield running


def _exit_line(worker) -> str:
    lines = [line for line in worker.log_path.read_text(errors="replace").splitlines()
             if "not acknowledged" in line.lower() or "acknowledged none" in line.lower()]
    return lines[-1] if lines else ""


def test_dead_letter_unacknowledged_stops_the_worker_and_comes_again(quorum, clickhouse_server, ch_store,
                                                                     tmp_path):
    store = ch_store
    bootstrap = ",".join(f"127.0.0.1:{p}" for p in quorum.broker_ports.values())
    topic = unique("outage")
    settings = dict(RUMOUR_KAFKA_BROKER=quorum.bootstrap, RUMOUR_TOPIC_REPLICATION_FACTOR=3,
                    RUMOUR_TOPIC_MIN_INSYNC_REPLICAS=2, RUMOUR_KAFKA_ACK_SECONDS=5,
                    RUMOUR_ALERTS_TOPIC=topic + "-alerts", RUMOUR_REPORTS_TOPIC=topic + "-reports",
                    RUMOUR_ALERT_WINDOW_SHARES=5, RUMOUR_ALERT_WINDOW_MINUTES=60,
                    # The 60 shares one batch (its alerts sent after its ack), the malformed
                    # message the next (its dead letter sent before that batch's ack).
                    RUMOUR_BATCH_SIZE=60)
    url = database_url(clickhouse_server, store.database)
    app_id = "rt-outage-" + uuid.uuid4().hex[:6]
    worker = Worker(tmp_path, "a", "unused", url, topic, 1, app_id, **settings)
    before = list(synthetic_events(n_rumours=1, shares_per_rumour=20, seed=3, prefix="pre"))
    during = list(synthetic_events(n_rumours=1, shares_per_rumour=60, seed=4, prefix="dur"))
    try:
        worker.start().wait_ready()
        produce(bootstrap, topic, keyed(before))
        wait_until(lambda: store.count_events() == len(before) or store.count_events(), 120,
                   "events stored before the outage", [worker])
        # The worker frozen, the messages written while all three brokers are up (acks=all), then
        # the two brokers not leading the share topic's partition killed: the worker, thawed,
        # reads them from the one left and its own writes find no quorum.
        os.kill(worker.proc.pid, signal.SIGSTOP)
        try:
            produce(bootstrap, topic, keyed(during) + [(b"dur-r0", BAD)])
            leader = asyncio.run(_leaders(bootstrap, topic))[0]
            for node in [n for n in list(quorum.processes) if n != leader]:
                quorum.kill(node)
        finally:
            os.kill(worker.proc.pid, signal.SIGCONT)
        thawed = time.monotonic()
        wait_until(lambda: store.count_dead_letters() == 1 or store.count_dead_letters(), 60,
                   "the dead letter in the store")
        # Bounded: kafka_ack_seconds (5 s) after the dead letter was sent, the reachability check
        # (2 s), the store's copy of the alerts; it went on for ever, silent, before.
        try:
            code = worker.proc.wait(60)
        except Exception:
            code = None
        took = time.monotonic() - thawed
        print(f"two brokers down: worker ended {took:.1f}s after thawing, code {code}: {_exit_line(worker)}")
        assert code == 75, worker.log_tail()
        line = _exit_line(worker)
        # Whichever stalled first (both wait kafka_ack_seconds): the dead letter or the alerts.
        assert re.search(r"Kafka acknowledged none of \d+ (dead letter\(s\) of a stored batch|alert\(s\)) to topic "
                         r".* within 5 s \(setting kafka_ack_seconds .*\): 1 of the 3 brokers of the broker setting "
                         r"reachable .*Pending: \d+ message\(s\) taken and not acked", line), worker.log_tail()
        assert store.count_events() == len(before) + len(during)

        # One broker back (the quorum with it): the next start reads the message again (its offset
        # was never committed) and its dead letter reaches the topic; the store keeps it once.
        back = next(n for n in quorum.broker_ports if n not in quorum.processes)
        quorum.restart(back)
        quorum.wait_started([back])
        worker.start().wait_ready()  # the same data folder: the alerts it kept are there

        wait_until(lambda: len(asyncio.run(_read_all(bootstrap, topic + "-dead", timeout_s=20))) >= 1, 120,
                   "the dead letter in its topic", [worker])
        read = asyncio.run(_read_all(bootstrap, topic + "-dead"))
        assert {orjson.loads(r.value)["source"] for r in read} == {f"{topic}/0@{len(before) + len(during)}"}
        assert store.count_dead_letters() == 1
        # Every alert the store holds (the 60 shares raise some) reached the alerts topic: those
        # not acknowledged before the stop were kept and sent at the start, or (never raised,
        # their batch not observed) raised by the catch-up of the start.
        alerts = governance_store(store)

        def alert_ids(topic_name):
            return {orjson.loads(r.value)["alert_id"] for r in asyncio.run(_read_all(bootstrap, topic_name))}

        wait_until(lambda: {a["alert_id"] for a in alerts.load_alerts() if a["rumour_id"] == "dur-r0"} != set(),
                   120, "alerts of the rumour shared during the outage", [worker])
        wait_until(lambda: {a["alert_id"] for a in alerts.load_alerts()} <= alert_ids(topic + "-alerts") or
                   sorted({a["alert_id"] for a in alerts.load_alerts()} - alert_ids(topic + "-alerts")),
                   120, "every stored alert in the alerts topic", [worker])
    finally:
        if worker.proc is not None and worker.proc.poll() is None:
            os.kill(worker.proc.pid, signal.SIGCONT)
        worker.stop(timeout=20)
