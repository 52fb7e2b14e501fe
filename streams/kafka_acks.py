"""Kafka acknowledging nothing: `rumour produce`'s bounded wait for acknowledgements and the error
that says why and how much got through.

aiokafka's idempotent producer (which `rumour produce` uses, with acks=all) never expires a batch:
it retries NotEnoughReplicas, a timed-out request or a broker it cannot reach for as long as the
process lives, and its ``stop()`` waits for those batches too; its ``start()`` waits as long for
a producer id (which a broker gets from the controller in blocks). With two brokers of a three-node
cluster down (the compose deployment: every node is also a KRaft controller, so the quorum is lost
with them; or a larger cluster with fewer in-sync replicas than ``min.insync.replicas``), `rumour
produce` hung for good without a word (measured on the test quorum, tests/test_kafka_quorum.py).
Here a wait for acknowledgements ends after ``kafka_ack_seconds`` without one, with an error
naming the brokers reachable, the in-sync replicas the topic needs and Kafka's last answer.
"""
from __future__ import annotations

import asyncio
import logging

PRODUCER_LOGGER = "aiokafka.producer.sender"  # logs each produce error it retries, then retries
CONNECT_SECONDS = 2.0  # per broker, when counting those reachable


class NotAcknowledged(RuntimeError):
    """Kafka acknowledged no message within ``kafka_ack_seconds``: the messages not acknowledged
    and those not yet sent were not delivered as far as the caller can know (one line, exit 3)."""


class Stalled(Exception):
    """Internal: no acknowledgement (or no room to send, or no producer id: ``Stalled("start")``)
    within the bound."""


async def acknowledgements(futures: list, seconds: float) -> list:
    """Each future's outcome (its result or its exception), waited for as long as some future
    completes at least every ``seconds``; :class:`Stalled` once none has for that long.

    >>> async def demo():
    ...     loop = asyncio.get_running_loop()
    ...     done, never = loop.create_future(), loop.create_future()
    ...     done.set_result(7)
    ...     try:
    ...         await acknowledgements([done, never], 0.01)
    ...     except Stalled:
    ...         return "stalled"
    >>> asyncio.run(demo())
    'stalled'
    """
    pending = set(futures)
    while pending:
        done, pending = await asyncio.wait(pending, timeout=seconds)
        if not done:
            raise Stalled()
    return [f.exception() or f.result() for f in futures]


class LastAnswer(logging.Handler):
    """Keeps the last produce error aiokafka logged while retrying (NotEnoughReplicasError,
    RequestTimedOutError, NodeNotReadyError...): the cause the error names."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.answer = ""

    def emit(self, record):
        errors = [a for a in (record.args or ()) if isinstance(a, BaseException) or
                  (isinstance(a, type) and issubclass(a, BaseException))]
        if errors:
            error = errors[-1]
            self.answer = error.__name__ if isinstance(error, type) else type(error).__name__

    def __enter__(self):
        logging.getLogger(PRODUCER_LOGGER).addHandler(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger(PRODUCER_LOGGER).removeHandler(self)


async def reachable(bootstrap: str) -> tuple[list[str], list[str]]:
    """The brokers of ``bootstrap`` (``host:port,...``) that accept a TCP connection, and those
    that do not (each tried for at most CONNECT_SECONDS, all at once)."""

    async def up(address: str) -> bool:
        host, port = address.rsplit(":", 1)
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), CONNECT_SECONDS)
        except (OSError, asyncio.TimeoutError):
            return False
        writer.close()
        return True

    addresses = [a for a in bootstrap.split(",") if a]
    answers = await asyncio.gather(*(up(a) for a in addresses))
    return ([a for a, ok in zip(addresses, answers) if ok], [a for a, ok in zip(addresses, answers) if not ok])


def likely_cause(up: list[str], down: list[str], min_insync: int, answer: str = "") -> str:
    """The brokers reachable and what that means for an acks=all write (shared by `rumour produce`
    and the worker's own writes, streams/worker_kafka_writes.py).

    >>> likely_cause(["h:1", "h:2"], ["h:3"], 2)
    '2 of the 3 brokers of the broker setting reachable (h:1, h:2; down: h:3)'
    """
    from streams.settings import setting, setting_label

    brokers = len(up) + len(down)
    cause = (f"{len(up)} of the {brokers} broker{'' if brokers == 1 else 's'} of the broker setting reachable "
             f"({', '.join(up) or 'none'}{'; down: ' + ', '.join(down) if down else ''})")
    if len(up) < min_insync:
        cause += (f", fewer than the {min_insync} in-sync replicas a write needs (acks=all; "
                  f"{setting_label(setting('topic_min_insync_replicas'))}): not enough in-sync replicas")
    if answer:
        cause += f"; Kafka's last answer: {answer}"
    return cause


def not_acknowledged(topic: str, seconds: float, waiting: int, acknowledged: int, up: list[str],
                     down: list[str], min_insync: int, answer: str, starting: bool = False) -> NotAcknowledged:
    """The one-line error: what was waited for, the likely cause, what got through, what to do.

    >>> print(not_acknowledged("shares", 60.0, 40, 120, ["h:1"], ["h:2", "h:3"], 2, "NodeNotReadyError"))
    Kafka acknowledged none of 40 message(s) to topic shares within 60 s (setting kafka_ack_seconds (RUMOUR_KAFKA_ACK_SECONDS, --kafka-ack-seconds)): 1 of the 3 brokers of the broker setting reachable (h:1; down: h:2, h:3), fewer than the 2 in-sync replicas a write needs (acks=all; setting topic_min_insync_replicas (RUMOUR_TOPIC_MIN_INSYNC_REPLICAS, --topic-min-insync-replicas)): not enough in-sync replicas; Kafka's last answer: NodeNotReadyError. 120 message(s) were acknowledged; the others (those waited for and those not yet sent) may be missing: send the files again once the brokers are back (the worker stores an event_id once)
    """
    from streams.settings import setting, setting_label

    cause = likely_cause(up, down, min_insync, answer)
    # starting: the producer never started (its producer id, which the controller hands out,
    # never came).
    what = (f"gave the producer of topic {topic} no producer id (needed before any message)" if starting else
            f"acknowledged none of {waiting} message(s) to topic {topic}")
    return NotAcknowledged(
        f"Kafka {what} within {seconds:g} s "
        f"({setting_label(setting('kafka_ack_seconds'))}): {cause}. {acknowledged} message(s) were "
        "acknowledged; the others (those waited for and those not yet sent) may be missing: send the "
        "files again once the brokers are back (the worker stores an event_id once)")


async def close_within(producer, seconds: float) -> None:
    """``producer.stop()``, given up after ``seconds``: it waits for every unacknowledged batch,
    which a stalled cluster never acknowledges (the loop's end cancels what is left)."""
    try:
        await asyncio.wait_for(producer.stop(), seconds)
    except asyncio.TimeoutError:
        pass
