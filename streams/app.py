"""The Faust application: an adapter between Kafka, the pipeline and the web API.

One agent per worker (concurrency 1: faust-streaming issue 606 commits offsets past in-flight
messages otherwise) takes raw messages from the share topic in batches with
``stream.noack_take(n, within=s)`` (no automatic acks). Each batch is prepared (decode, restore,
graphs: :meth:`Pipeline.prepare`) in the pipeline thread; its store write then runs in a second
thread while the next batch is prepared (write-behind: the driver waits on the socket with the
GIL released). Only when the write has succeeded and Kafka has acknowledged the batch's dead
letters on their own topic are its messages acked (their offsets become committable); at most one
write is in flight, so a crash re-delivers every batch not yet stored, and a dead letter Kafka
does not acknowledge within ``kafka_ack_seconds`` stops the worker with its batch unacked
(streams/worker_kafka_writes.py).

Reliability (RELIABILITY.md): a batch is never skipped. A write that still fails past the
pipeline's retry budget is tried again after a pause, for as long as it takes (the graphs keep its
events); meanwhile faust's stream buffer fills and flow control stops fetching, so memory stays
bounded and the lag shows in ``app.stats`` (served by /healthz). Rebalances release the graphs of
revoked partitions (each rumour's graph lives on the worker that holds its partition).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import time

import faust
import orjson

from streams import faust_path
from streams.events import Decoder
from streams.message_sources import MessageSources
from streams.pipeline import Pipeline
from streams.settings import Settings
from streams.topics import dead_letter_message
# ``_partitioner``: the old name, imported by tests/faults.py and benchmarks/memory_growth.py.
from streams.topics import partitioner as _partitioner
from streams.worker_kafka_writes import KafkaWrites
from streams.worker_setup import install_timed_collection
from streams.worker_stats import KafkaWatch, new_stats, refresh_stats
from streams.worker_stop import BoundedStop

log = logging.getLogger(__name__)


def create_app(settings: Settings, store=None, pipeline: Pipeline | None = None,
               faust_options: dict | None = None) -> faust.App:
    """Build the Faust app; ``store`` defaults to the one at ``settings.clickhouse_url``;
    ``faust_options`` override Faust settings (benchmarks try variants with it)."""
    if pipeline is None:
        if store is None:
            from streams.store import open_store

            store = open_store(settings.clickhouse_url, cluster=settings.clickhouse_cluster)
            store.migrate(allow_changed=settings.migrate_allow_changed, ddl_timeout=settings.clickhouse_ddl_timeout)
        pipeline = Pipeline(store, Decoder(settings.max_message_bytes, settings.max_event_bytes),
                            store_retry_seconds=settings.store_retry_seconds,
                            graph_memory_bytes=(settings.graph_memory_mb << 20) or None,
                            id_filter_mb=settings.id_filter_mb,
                            late_parent_children=settings.late_parent_children)
    broker = settings.broker if "://" in settings.broker else "kafka://" + settings.broker
    app = faust.App(
        settings.app_id,
        broker=broker,
        store="memory://",
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        topic_partitions=settings.topic_partitions,
        datadir=settings.data_dir,
        # The topics Faust creates itself (its assignor's leader topic; the agent keeps no
        # tables, so no changelog) get the replication of the engine's own; the worker creates
        # them first (streams.topics.faust_topics), so Faust finds them there.
        topic_replication_factor=settings.topic_replication_factor,
        # A batch may wait for the store for minutes: these only log, but should not cry wolf.
        stream_processing_timeout=max(300.0, settings.store_retry_seconds + 60.0),
        broker_commit_livelock_soft_timeout=max(300.0, settings.store_retry_seconds + 60.0),
        # Faust's Monitor keeps counters and clocks per message and event (four sensor calls on
        # every message's path) that nothing here reads.
        **{"Monitor": faust_path.QuietMonitor, **(faust_options or {})},
    )
    # Faust's drain loop made four tasks per message; ours runs the usual non-blocking delivery
    # inline (same semantics: streams/faust_path.py).
    faust_path.install(app)
    app.pipeline = pipeline
    app.settings_ = settings
    app.stats = new_stats()
    shares = app.topic(settings.topic, schema=faust_path.RawBytesSchema(),
                       partitions=settings.topic_partitions)
    dead_topic = app.topic(settings.dead_letter_topic, key_type=bytes, value_type=bytes,
                           key_serializer="raw", value_serializer="raw")
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="pipeline")
    # Store writes of prepared batches: one at a time, beside the pipeline thread.
    writer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-write")
    # Governance observers of stored batches: after the ack, beside the next batch's write (they
    # are not part of queryable: graph + store). One thread keeps them in batch order.
    observer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="observe")
    observing: list = [None]  # the future observing the last stored batch
    pending: list = [None]  # the task writing (then acking) the last prepared batch
    preparing: list = [None]  # the task preparing the last taken batch (then handing it on)
    done_offsets: dict = {}  # TP -> next offset after the last processed message
    batch_started = [0.0]
    unstored = [0]  # messages taken and not yet acked (stored): what a stop now gives back
    app.unstored_messages = lambda: unstored[0]
    # SIGTERM/SIGINT begin it (streams.worker_setup.faust_worker): writes give up by the bound.
    stop = app.bounded_stop = BoundedStop(app, settings.shutdown_write_seconds)
    # The worker's own Kafka writes (dead letters here, alerts in streams/governance/agents.py):
    # acknowledged within kafka_ack_seconds, or the worker stops and loses none of them.
    kafka_writes = app.kafka_writes = KafkaWrites(app, settings)
    # A diagnostic: one JSON line per batch (when taken, prepared, written, acked) for the
    # latency analysis (benchmarks/latency_trace.py); off unless the setting `batch_trace` names a file.
    trace_path = settings.batch_trace
    trace = open(trace_path, "ab", buffering=0) if trace_path else None
    pipeline.partitioner = _partitioner(settings.topic_partitions)

    async def until_done(attempt, n_messages):
        """Await ``attempt()`` (a new future each call) until it succeeds: a failure is counted
        and logged, then tried again after a pause (1 s, doubling up to 30 s)."""
        pause = 1.0
        while True:
            try:
                return await attempt()
            except Exception as exc:
                await _failed(exc, n_messages, pause)
                pause = min(pause * 2, 30.0)

    async def prepare_until_done(values, partitions, sources):
        """Decode + restore + graphs for one batch, retried while the store cannot be read."""
        loop = asyncio.get_running_loop()
        return await until_done(
            lambda: loop.run_in_executor(executor, pipeline.prepare, values, sources, partitions), len(values))

    async def _failed(exc, n_messages, pause):
        if app.should_stop or stop.begun:
            # Nothing of this batch is acked: exit now (within the stop's bound), it is
            # delivered again.
            await stop.exit_unstored(exc)
        app.stats["store_failures"] += 1
        app.stats["store_retrying"] = 1
        log.warning("batch of %d messages not stored (%s: %s); trying again in %.0fs",
                    n_messages, type(exc).__name__, exc, pause)
        await stop.pause(pause)

    async def write_and_settle(stream, events, prepared, started, marks=None):
        """Write-behind: one batch's store write in its own thread (the graphs keep its events
        meanwhile; retried for as long as it takes), then ack its messages, so their offsets
        become committable only now, count it and forward its dead letters."""
        loop = asyncio.get_running_loop()

        def write():
            if marks is not None:
                marks["write_start"] = time.time()
            return loop.run_in_executor(writer, _write, prepared)

        await until_done(write, len(events))
        stats = prepared.stats
        if stats.dead:
            # Before the ack: an offset never becomes committable past a message whose dead
            # letter Kafka has not acknowledged (a stall stops the worker: streams/worker_kafka_writes.py).
            await forward_dead_letters(stats.dead)
        ack = stream.ack
        last: dict = {}  # TP -> last offset of the batch (offsets grow within a partition)
        for e in events:
            await ack(e)
            last[e.message.tp] = e.message.offset
        unstored[0] -= len(events)
        for tp, offset in last.items():  # once per partition, not per message
            done_offsets[tp] = max(done_offsets.get(tp, 0), offset + 1)
        s = app.stats
        # batch_started may already be 0.0: the write of the previous batch settled while this
        # one was prepared (write-behind), and monotonic() - 0 would add the host's uptime.
        if s["store_retrying"] and batch_started[0]:
            s["store_wait_seconds"] += time.monotonic() - batch_started[0]
        s["store_retrying"] = 0
        s["inflight_messages"] = 0
        batch_started[0] = 0.0
        s["batches"] += 1
        s["events_in"] += stats.read
        s["stored"] += stats.stored
        s["duplicates"] += stats.duplicates
        s["dead_letters"] += stats.dead_letters
        s["late_links"] += stats.late_links
        s["last_batch_ms"] = (time.perf_counter() - started) * 1000
        # At most one batch waits for the observers behind the one they are on (memory stays
        # bounded; slow observers slow the writes, as when they ran before the ack).
        previous = observing[0]
        observing[0] = loop.run_in_executor(observer, _observe, prepared)
        if marks is not None:
            marks["acked"] = time.time()
            marks["store_s"] = getattr(pipeline, "last_write_timing", (0, 0))[0]

            def traced(future, marks=marks):  # not awaited: the trace must not add a wait
                marks["observe_s"] = future.result() if not future.cancelled() else None
                trace.write(orjson.dumps(marks) + b"\n")

            observing[0].add_done_callback(traced)
        if previous is not None:
            await previous

    async def forward_dead_letters(dead_letters):
        """A stored batch's dead letters to their topic, each acknowledged by Kafka (acks=all)
        within ``kafka_ack_seconds`` or the worker stops. An error answer is counted and logged
        (the store holds every dead letter; the topic is a copy) and the batch goes on."""
        sends = [dead_topic.send(key=(dead.rumour_id or "").encode(), value=dead_letter_message(dead))
                 for dead in dead_letters]
        outcomes = await kafka_writes.acknowledged(sends, "dead letter(s) of a stored batch",
                                                   settings.dead_letter_topic)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                app.stats["dead_letter_send_failures"] += 1
                log.warning("dead letter not forwarded to %s: %s: %s", settings.dead_letter_topic,
                            type(outcome).__name__, outcome)

    def _write(prepared):
        with pipeline.observers_deferred():  # run by _observe once the batch is acked
            return pipeline.write_prepared(prepared)

    def _catch_up(hub, mine) -> float:
        try:
            hub.catch_up(owns=lambda rumour_id: pipeline.partitioner(rumour_id) in mine)
        except Exception:  # the store may be down: those rumours rebuild at their next batch
            log.exception("governance catch-up after an assignment failed")
        return 0.0

    # Tests only (tests/test_alert_catchup_worker.py): the observers wait this long before each
    # batch, so a SIGKILL lands between a batch's ack and its observation.
    observe_delay = float(os.environ.get("RUMOUR_TEST_OBSERVE_DELAY", "0") or 0)

    def _observe(prepared) -> float:
        if observe_delay:
            time.sleep(observe_delay)
        try:
            return pipeline.observe_prepared(prepared)
        except Exception:  # governance must not stop ingest (stored and acked already)
            log.exception("governance observers failed on a stored batch")
            return 0.0

    async def settle(slot: list) -> None:
        """Wait for the task in ``slot`` (if any), then clear the slot unless a newer task took it."""
        task = slot[0]
        if task is not None:
            await asyncio.shield(task)
            if slot[0] is task:
                slot[0] = None

    async def finish_pending():
        """Wait until the batch being written is stored and acked (at most one is in flight)."""
        await settle(pending)

    async def finish_observing():
        """Wait until every taken batch is stored and acked and the observers have seen it (one
        thread: the last one's future settles after all before it)."""
        await finish_taken()
        future = observing[0]
        if future is not None:
            await asyncio.shield(future)

    async def prepare_and_write(stream, events, marks):
        """Prepare one batch (pipeline thread), then hand it to the writer once the previous
        write has settled (at most one write in flight, batches written in take order)."""
        started = time.perf_counter()
        batch_started[0] = batch_started[0] or time.monotonic()
        values = [e.value for e in events]
        app.stats["inflight_messages"] = len(values)
        # Each message's source (topic/partition@offset, as sql/003_dead_letters.sql says): a
        # dead letter names the message it came from, and its key (source, reason, raw) keeps
        # two refused messages with the same bytes apart while a re-delivery still collapses.
        # Formatted only for the messages that become dead letters (streams/message_sources.py).
        partitions = [e.message.partition for e in events]
        sources = MessageSources(settings.topic, partitions, [e.message.offset for e in events])
        prepared = await prepare_until_done(values, partitions, sources)
        if marks is not None:
            marks["prepared"] = time.time()
            marks["events"] = prepared.stats.read
        await finish_pending()
        if marks is not None:
            marks["previous_done"] = time.time()
        pending[0] = asyncio.ensure_future(write_and_settle(stream, events, prepared, started, marks))

    async def finish_preparing():
        """Wait until the batch being prepared has been handed to the writer."""
        await settle(preparing)

    @app.agent(shares, concurrency=1)
    async def ingest(stream):
        # Manual acks: a batch's messages are acked only once its write succeeded. The loop body
        # only hands a batch on, so take() gathers batch N+2 while N+1 is prepared and N written
        # (a message waits for its batch's within=, not also for the previous prepare); at most
        # one batch is being prepared and one written. A crash re-delivers every batch not yet
        # acked.
        async for events in stream.noack_take(settings.batch_size, within=settings.batch_wait):
            marks = {"taken": time.time(), "messages": len(events)} if trace else None
            unstored[0] += len(events)
            await finish_preparing()  # batches are prepared one after another, in take order
            preparing[0] = asyncio.ensure_future(prepare_and_write(stream, events, marks))
            if not settings.write_behind:
                await finish_preparing()
                await finish_pending()

    app.ingest_agent = ingest

    async def finish_taken():
        """Wait until every batch taken so far is stored and acked."""
        await finish_preparing()
        await finish_pending()

    app.finish_pending_write = finish_taken
    app.finish_observing = finish_observing

    @app.on_partitions_revoked.connect
    async def on_revoked(sender, revoked, **kwargs):
        mine = [tp.partition for tp in revoked if tp.topic == settings.topic]
        # The batch being written is stored and acked before its partitions go (its graphs
        # must not be dropped while a write for them is pending), and observed (observers read
        # the graphs).
        await finish_observing()
        for tp in revoked:
            done_offsets.pop(tp, None)
        # The executor runs one thing at a time: this waits for a batch being prepared.
        released = await asyncio.get_running_loop().run_in_executor(
            executor, pipeline.release_partitions, mine)
        app.stats["released_rumours"] += released
        app.stats["rebalances"] += 1

    @app.on_partitions_assigned.connect
    async def on_assigned(sender, assigned, **kwargs):
        mine = [tp.partition for tp in assigned if tp.topic == settings.topic]
        await asyncio.get_running_loop().run_in_executor(executor, pipeline.assign_partitions, mine)
        hub = getattr(app, "governance", None)
        if hub is not None:
            # The observers' thread, before any batch taken from now: rumours of these partitions
            # are rebuilt from the store with the alerts a killed worker never raised (late).
            observing[0] = asyncio.get_running_loop().run_in_executor(observer, _catch_up, hub, set(mine))

    kafka_watch = KafkaWatch(settings.kafka_lost_seconds)

    @app.timer(interval=2.0)
    async def measure():
        refresh_stats(app, pipeline, settings.topic, done_offsets, batch_started[0], kafka_watch)

    # Cycles (clickhouse-driver's columns, ...) freed every few seconds: streams/worker_setup.py.
    install_timed_collection(app, settings.gc_collect_seconds)

    from streams.governance.wiring import attach_governance_to_app, build_governance
    from streams.web import register_routes

    # The governance loop (reports, status, alerts, debunk reach) sees every accepted batch.
    attach_governance_to_app(app, build_governance(pipeline, pipeline.store, settings))
    register_routes(app, pipeline, settings)
    return app
