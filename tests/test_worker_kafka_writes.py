"""The worker's alerts when Kafka acknowledges nothing (streams/worker_kafka_writes.py): the
AlertSender waits ``kafka_ack_seconds`` for the acknowledgement, then the worker stops (exit 75,
one line naming the brokers and what is pending) with the alerts kept in its data folder, and the
next start sends them first. Before, the alerts were handed to Faust's producer and forgotten:
a stop dropped them from the topic without a word. No Kafka here: a producer that never
acknowledges (the real quorum: tests/test_kafka_outage_worker.py)."""
from __future__ import annotations

import asyncio
import logging
import re

import pytest

from streams.governance.agents import AlertSender
from streams.settings import Settings
from streams.worker_kafka_writes import SPOOL_NAME, KafkaWrites
from streams.worker_stop import BoundedStop

MESSAGES = [(b"370100", b'{"alert_id":"a1","unit":"370100"}'), (b"370102", b'{"alert_id":"a2","unit":"370102"}')]


class _Batch:
    def __init__(self):
        self.messages = []

    def append(self, key, value, timestamp):
        self.messages.append((key, value))
        return True


class _Producer:
    """aiokafka's producer as AlertSender uses it; ``acks``: whether a batch is ever acknowledged."""

    def __init__(self, acks: bool):
        self.acks, self.sent = acks, []

    def create_batch(self):
        return _Batch()

    async def partitions_for(self, topic):
        return {0}

    async def send_batch(self, batch, topic, partition):
        future = asyncio.get_running_loop().create_future()
        if self.acks:
            self.sent.extend(batch.messages)
            future.set_result("metadata")
        return future


class _App:
    def __init__(self, producer):
        self.producer = type("P", (), {"_ensure_producer": staticmethod(lambda: producer)})()
        self.unstored_messages = lambda: 40


class _Exited(BaseException):
    pass


@pytest.fixture
def exits(monkeypatch):
    codes = []

    def _exit(code):
        codes.append(code)
        raise _Exited()

    monkeypatch.setattr("streams.worker_kafka_writes.os._exit", _exit)
    monkeypatch.setattr("streams.worker_stop.os._exit", _exit)
    return codes


def _settings(tmp_path):
    return Settings.load({"broker": "kafka://127.0.0.1:1;kafka://127.0.0.1:2", "kafka_ack_seconds": 1,
                          "topic_min_insync_replicas": 2, "topic_replication_factor": 3,
                          "data_dir": str(tmp_path / "data")}, environ={})


def test_alerts_kafka_never_acknowledges_stop_the_worker_and_are_kept(tmp_path, exits, caplog):
    app = _App(_Producer(acks=False))
    writes = KafkaWrites(app, _settings(tmp_path))
    sender = AlertSender(app, "alerts", fallback=None, writes=writes)
    async def two_lists():
        # The second list waits for the lock while the first waits for Kafka: kept all the same.
        await asyncio.gather(sender.send(MESSAGES[:1]), sender.send(MESSAGES[1:]))

    # A loop of its own, closed without cancelling what is left: os._exit leaves it so (the
    # other list's task, waiting for Kafka, is not to be run to its end here).
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.ERROR, logger="streams.worker_kafka_writes"):
            with pytest.raises(_Exited):
                loop.run_until_complete(asyncio.wait_for(two_lists(), 20))
    finally:
        loop.close()
    assert exits == [75]
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert re.match(r"Kafka acknowledged none of 1 alert\(s\) to topic alerts within 1 s \(setting "
                    r"kafka_ack_seconds .*\): 0 of the 2 brokers of the broker setting reachable \(none; down: "
                    r"127.0.0.1:1, 127.0.0.1:2\), fewer than the 2 in-sync replicas .*Pending: 40 message\(s\) "
                    r"taken and not acked .*; 2 alert\(s\) not acknowledged kept in .*alerts-unsent.jsonl", line), line
    assert "\n" not in line

    # The next start: the kept alerts go first, and the file goes once Kafka acknowledged them.
    producer = _Producer(acks=True)
    app = _App(producer)
    sender = AlertSender(app, "alerts", fallback=None, writes=KafkaWrites(app, _settings(tmp_path)))
    assert asyncio.run(sender.send_left()) == 2
    assert producer.sent == MESSAGES
    assert not (tmp_path / "data" / SPOOL_NAME).exists()
    assert exits == [75]


def test_kept_alerts_survive_a_second_stall_before_they_are_sent(tmp_path, exits):
    # A worker that stalls again before sending what the last one kept must keep those too.
    (tmp_path / "data").mkdir()
    app = _App(_Producer(acks=False))
    writes = KafkaWrites(app, _settings(tmp_path))
    writes.spool.add(MESSAGES[:1])
    writes.spool.write()
    writes = KafkaWrites(app, _settings(tmp_path))
    sender = AlertSender(app, "alerts", fallback=None, writes=writes)
    with pytest.raises(_Exited):
        asyncio.run(asyncio.wait_for(sender.send(MESSAGES[1:]), 20))
    assert sender.spool.load() == MESSAGES


def test_a_signalled_stop_keeps_the_alerts_not_acknowledged(tmp_path, exits):
    # SIGTERM while alerts wait for Kafka: the stop's watchdog exits; they are kept, not dropped.
    app = _App(_Producer(acks=False))
    app.kafka_writes = KafkaWrites(app, _settings(tmp_path))
    app.kafka_writes.spool.add(MESSAGES)
    with pytest.raises(_Exited):
        BoundedStop(app, 1.0)._exit(lambda n: f"stop not finished, {n} not stored")
    assert app.kafka_writes.spool.load() == MESSAGES


def test_a_kept_alerts_file_that_is_not_one_is_refused_in_one_line(tmp_path):
    from streams.worker_kafka_writes import AlertSpool

    path = tmp_path / SPOOL_NAME
    path.write_bytes(b'{"key": "370100", "value": "{}"}\n{"key": "5"}\n')
    with pytest.raises(ValueError, match=r"alerts-unsent.jsonl line 2 is not an alert kept by a stopped worker "
                                         r"\(KeyError: 'value'\); fix or move the file aside"):
        AlertSpool(path).load()
