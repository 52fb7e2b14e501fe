"""streams.faust_path.py: a message's delivery runs inline when it does not wait, and exactly as
Faust's wait_first otherwise (abandoned when the flow is suspended, errors propagated)."""
import asyncio

import faust
import pytest
from mode import Service
from mode.utils.locks import Event

from streams import faust_path
from streams.faust_path import deliver


class FakeConsumer(Service):
    """What ``deliver`` uses of Faust's Consumer: mode's ``wait_first`` and ``suspend_flow``."""

    def __init__(self):
        super().__init__()
        self.suspend_flow = Event()
        self.wait_first_calls = 0

    async def wait_first(self, *coros, **kwargs):
        self.wait_first_calls += 1
        return await super().wait_first(*coros, **kwargs)


def run(coro):
    return asyncio.run(coro)


def test_a_callback_that_does_not_wait_runs_inline_without_tasks():
    async def main():
        consumer = FakeConsumer()
        got = []

        async def callback(message):
            got.append(message)

        tasks_before = len(asyncio.all_tasks())
        for i in range(5):
            await deliver(consumer, callback, i)
        assert len(asyncio.all_tasks()) == tasks_before
        return got, consumer.wait_first_calls

    assert run(main()) == ([0, 1, 2, 3, 4], 0)


def test_a_callback_that_waits_finishes_under_wait_first():
    async def main():
        consumer = FakeConsumer()
        room = asyncio.Event()
        steps = []

        async def callback(message):
            steps.append(("in", message))
            await room.wait()  # e.g. a full stream buffer
            steps.append(("out", message))

        task = asyncio.ensure_future(deliver(consumer, callback, "m"))
        await asyncio.sleep(0.01)
        assert steps == [("in", "m")] and not task.done()
        room.set()
        await asyncio.wait_for(task, 1)
        return steps, consumer.wait_first_calls

    assert run(main()) == ([("in", "m"), ("out", "m")], 1)


def test_a_waiting_callback_is_abandoned_when_the_flow_is_suspended():
    async def main():
        consumer = FakeConsumer()
        never = asyncio.Event()
        seen = []

        async def callback(message):
            try:
                await never.wait()
            except asyncio.CancelledError:
                seen.append("cancelled")  # Faust's loop cancels it too
                raise

        task = asyncio.ensure_future(deliver(consumer, callback, "m"))
        await asyncio.sleep(0.01)
        consumer.suspend_flow.set()
        await asyncio.wait_for(task, 1)
        await asyncio.sleep(0)
        return seen

    assert run(main()) == ["cancelled"]


@pytest.mark.parametrize("wait_first", [False, True])
def test_errors_of_the_callback_propagate(wait_first):
    async def main():
        consumer = FakeConsumer()

        async def callback(message):
            if wait_first:
                await asyncio.sleep(0.001)
            raise KeyError(message)

        await deliver(consumer, callback, "boom")

    with pytest.raises(KeyError):
        run(main())


def test_results_and_values_pass_through_the_rest_of_a_coroutine():
    async def main():
        fut = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.005, fut.set_result, 41)

        async def work():
            a = await fut
            await asyncio.sleep(0)
            return a + 1

        coro = work()
        first = coro.send(None)
        return await faust_path._rest(coro, first)

    assert run(main()) == 42


def test_install_replaces_the_drain_loop_of_the_apps_consumer_only():
    app = faust.App("test-drain-install", broker="kafka://127.0.0.1:1")
    other = faust.App("test-drain-other", broker="kafka://127.0.0.1:1")
    assert faust_path.install(app) is True
    assert app.consumer._drain_messages.__func__ is faust_path.drain_messages
    assert other.consumer._drain_messages.__func__ is not faust_path.drain_messages


def test_install_leaves_other_faust_versions_alone(monkeypatch):
    monkeypatch.setattr(faust, "__version__", "0.99.0")
    app = faust.App("test-drain-version", broker="kafka://127.0.0.1:1")
    assert faust_path.install(app) is False
    assert app.consumer._drain_messages.__func__ is not faust_path.drain_messages


def test_the_engine_app_installs_it(tmp_path, chdb_store):
    from streams.app import create_app
    from streams.events import Decoder
    from streams.pipeline import Pipeline
    from streams.settings import Settings

    settings = Settings.load({"broker": "127.0.0.1:1", "app_id": "test-drain-engine",
                              "data_dir": str(tmp_path / "worker")})
    app = create_app(settings, pipeline=Pipeline(chdb_store, Decoder()))
    assert app.consumer._drain_messages.__func__ is faust_path.drain_messages
    assert isinstance(app.ingest_agent.channel.schema, faust_path.RawBytesSchema)


@pytest.mark.parametrize("key,value", [(b"r1", b'{"event_id":"e1"}'), (None, b"[]"),
                                       (b"", b""), (b"k", None)])
def test_the_raw_schema_decodes_as_faust_raw_bytes_does(key, value):
    from faust.types import Message

    app = faust.App("test-raw-schema", broker="kafka://127.0.0.1:1")
    stock = faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw")
    message = Message("t", 0, 3, 0.0, 0, {}, key, value, None)

    async def both():
        a = await stock.compile(app, default_propagate=True)(message)
        b = await faust_path.RawBytesSchema().compile(app, default_propagate=True)(message)
        return a, b

    a, b = run(both())
    assert (a.key, a.value, a.message) == (b.key, b.value, b.message)
    assert (b.key, b.value) == (key, value)


def test_the_engine_app_keeps_no_per_message_monitor_figures(tmp_path, chdb_store):
    from faust.types import TP

    from streams.app import create_app
    from streams.faust_path import QuietMonitor
    from streams.events import Decoder
    from streams.pipeline import Pipeline
    from streams.settings import Settings

    settings = Settings.load({"broker": "127.0.0.1:1", "app_id": "test-drain-monitor",
                              "data_dir": str(tmp_path / "worker")})
    app = create_app(settings, pipeline=Pipeline(chdb_store, Decoder()))
    assert isinstance(app.monitor, QuietMonitor)
    tp = TP("t", 0)
    app.monitor.on_message_in(tp, 5, None)  # Faust's Monitor would set message.time_in here
    assert app.monitor.on_stream_event_in(tp, 5, None, None) is None
    assert app.monitor.messages_received_total == 0 and app.monitor.events_total == 0
    # The default stays Faust's own wherever faust_options ask for it.
    from faust.sensors import Monitor

    plain = create_app(Settings.load({"broker": "127.0.0.1:1", "app_id": "test-drain-monitor2",
                                      "data_dir": str(tmp_path / "w2")}),
                       pipeline=Pipeline(chdb_store, Decoder()), faust_options={"Monitor": Monitor})
    assert type(plain.monitor) is Monitor
