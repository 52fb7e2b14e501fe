"""The drain loop does not wait out Faust's 1 s fetch timeout while a partition it paused for
stream-buffer pressure resumes (streams/faust_path.py ``fetch_timeout``): a unit test of the
timeouts it asks for, and a real-Kafka test where the stock timeout stalls and ours does not."""
import asyncio
import collections
import time
import types
import uuid

import pytest

from streams import faust_path


class Stop(Exception):
    pass


def fake_consumer(batches, pause_after):
    """What ``drain_messages`` reads of Faust's Consumer. ``batches``: the messages of each
    getmany; the stream buffer comes "under pressure" (a paused partition) after the message
    ``pause_after`` is delivered and recovers on the second getmany after that."""
    stopped = types.SimpleNamespace(is_set=lambda: False)
    c = types.SimpleNamespace(
        _stopped=stopped, _read_offset=collections.defaultdict(lambda: None),
        diag=types.SimpleNamespace(set_flag=lambda f: None, unset_flag=lambda f: None),
        _commit_every=None, app=types.SimpleNamespace(topics=types.SimpleNamespace(
            acks_enabled_for=lambda topic: False)),
        should_stop=False, consumer_stopped_errors=(Stop,), _buffered_partitions=set(),
        timeouts=[], delivered=[], log=types.SimpleNamespace(info=lambda *a: None),
        transport=types.SimpleNamespace(app=types.SimpleNamespace(should_stop=True)))

    async def sleep(seconds):
        await asyncio.sleep(0)

    def getmany(timeout):
        c.timeouts.append(timeout)
        if len(c.timeouts) > len(batches):
            raise Stop
        if len(c.timeouts) == 3:  # the partition resumes
            c._buffered_partitions.clear()
        messages = batches[len(c.timeouts) - 1]

        async def gen():
            for m in messages:
                yield m.tp, m

        return gen()

    async def callback(message):
        c.delivered.append(message.offset)
        if message.offset == pause_after:
            c._buffered_partitions.add(message.tp)

    c.sleep, c.getmany, c.callback = sleep, getmany, callback
    return c


def test_the_drain_loop_asks_briefly_while_a_partition_is_paused():
    Msg = collections.namedtuple("Msg", "tp offset topic key value")
    tp = ("shares", 0)
    batches = [[Msg(tp, i, "shares", b"", b"") for i in range(3)], [], [],
               [Msg(tp, 3, "shares", b"", b"")]]
    c = fake_consumer(batches, pause_after=2)
    fetcher = types.SimpleNamespace(_stopped=types.SimpleNamespace(is_set=lambda: False))
    asyncio.run(faust_path.drain_messages(c, fetcher))  # ends on Stop, as on a stopped consumer
    assert c.delivered == [0, 1, 2, 3]
    # Paused after the first batch: the next fetch waits briefly; resumed: Faust's own timeout.
    assert c.timeouts[:4] == [faust_path.FETCH_TIMEOUT, faust_path.PAUSED_FETCH_TIMEOUT,
                              faust_path.PAUSED_FETCH_TIMEOUT, faust_path.FETCH_TIMEOUT]
    assert faust_path.PAUSED_FETCH_TIMEOUT < faust_path.FETCH_TIMEOUT / 10


async def _drain_times(bootstrap: str, topic: str, n: int, datadir: str) -> list[float]:
    """Arrival times (monotonic) of ``n`` pre-produced messages at a take() agent of a Faust app on
    the engine's drain loop with a 64-message stream buffer and 16 KB fetches: many fetches,
    each leaving the buffer under pressure (its partition paused) when it ends."""
    import faust

    app = faust.App(f"pace-test-{uuid.uuid4().hex[:8]}", broker=f"kafka://{bootstrap}",
                    store="memory://", web_enabled=False, datadir=datadir, topic_partitions=1,
                    topic_replication_factor=1, consumer_auto_offset_reset="earliest",
                    stream_buffer_maxsize=64, consumer_max_fetch_size=16 * 1024)
    assert faust_path.install(app)
    shares = app.topic(topic, schema=faust_path.RawBytesSchema(), partitions=1)
    times: list[float] = []
    done = asyncio.Event()

    @app.agent(shares)
    async def agent(stream):
        async for values in stream.take(50, within=0.05):
            times.extend([time.monotonic()] * len(values))
            if len(times) >= n:
                done.set()

    await app.start()
    try:
        await asyncio.wait_for(done.wait(), 300)
    finally:
        await app.stop()
    return times


@pytest.mark.kafka
def test_paused_partitions_do_not_stall_the_drain(kafka_bootstrap, kafka_topic, tmp_path, monkeypatch):
    from tests.test_kafka_service import _produce

    n = 1500

    def stalls(times):  # gaps that only a fetch waiting out its timeout explains
        return sum(1 for a, b in zip(times, times[1:]) if b - a >= 0.9)

    # The comparison is valid only when the control stalls, i.e. the set-up did pause the
    # partition between fetches; on a loaded machine one drain sometimes never pauses (a fresh
    # CI run once saw 0 stalls in the control), so the pair is run again, at most three times.
    seen = []
    for attempt in range(3):
        topics = [kafka_topic(partitions=1, prefix="pace") for _ in range(2)]
        for topic in topics:
            asyncio.run(_produce(kafka_bootstrap, topic, [(b"k", b"x" * 100)] * n))
        # Control: with Faust's timeout kept while paused, the same drain stalls.
        monkeypatch.setattr(faust_path, "PAUSED_FETCH_TIMEOUT", faust_path.FETCH_TIMEOUT)
        stock = asyncio.run(_drain_times(kafka_bootstrap, topics[0], n, str(tmp_path / f"a{attempt}")))
        monkeypatch.undo()
        ours = asyncio.run(_drain_times(kafka_bootstrap, topics[1], n, str(tmp_path / f"b{attempt}")))
        assert len(stock) >= n and len(ours) >= n
        seen.append((stalls(stock), stalls(ours)))
        if stalls(stock) >= 3:
            assert stalls(ours) <= 1, seen  # one at most: a loaded machine may starve the loop once
            return
    pytest.fail(f"the control never stalled, so the set-up never paused a partition: {seen}")


def test_the_engine_drain_loop_shortens_the_brokers_fetch_wait():
    import faust

    app = faust.App(f"pace-wait-{uuid.uuid4().hex[:8]}", broker="kafka://127.0.0.1:1")
    other = faust.App(f"pace-other-{uuid.uuid4().hex[:8]}", broker="kafka://127.0.0.1:1")
    assert faust_path.install(app)

    def fetch_wait(a):
        thread = a.consumer._thread
        return thread._create_worker_consumer(a.transport)._fetch_max_wait_ms

    async def main():  # aiokafka wants a running loop to build its consumer
        return fetch_wait(app), fetch_wait(other)

    ours, stock = asyncio.run(main())
    assert ours == faust_path.FETCH_MAX_WAIT_MS < 1500
    assert stock == 1500  # Faust's own, left alone on apps without install()
