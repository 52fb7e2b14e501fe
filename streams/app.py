"""The Faust application: an adapter between Kafka, the pipeline and the web API.

One agent per worker (concurrency 1: faust-streaming issue 606 commits offsets past in-flight
messages otherwise) takes raw messages from the share topic in batches with
``stream.take(n, within=s)``; the batch goes through :class:`streams.pipeline.Pipeline` in a
worker thread (ClickHouse writes block), and dead letters are forwarded to their own topic.
``take`` acks the batch when the next one is asked for, so a crash mid-batch re-delivers it.
"""
from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import logging
import time

import faust
import orjson

from streams.events import Decoder
from streams.pipeline import Pipeline, warm_up
from streams.settings import Settings

log = logging.getLogger(__name__)


def dead_letter_message(dead) -> bytes:
    """A dead letter as the JSON sent to the dead-letter topic (raw bytes base64-encoded)."""
    return orjson.dumps({
        "reason": dead.reason,
        "source": dead.source,
        "received_ms": dead.received_ms,
        "rumour_id": dead.rumour_id,
        "event_id": dead.event_id,
        "raw_base64": base64.b64encode(dead.raw).decode("ascii"),
    })


def create_app(settings: Settings, store=None, pipeline: Pipeline | None = None) -> faust.App:
    """Build the Faust app; ``store`` defaults to the one at ``settings.clickhouse_url``."""
    if pipeline is None:
        if store is None:
            from streams.store import open_store

            store = open_store(settings.clickhouse_url)
            store.migrate()
        pipeline = Pipeline(store, Decoder(settings.max_message_bytes, settings.max_event_bytes),
                            store_retry_seconds=settings.store_retry_seconds)
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
        # The agent never creates tables; changelog replication is not needed.
        topic_replication_factor=1,
    )
    app.pipeline = pipeline
    app.settings_ = settings
    app.stats = {"batches": 0, "events_in": 0, "stored": 0, "duplicates": 0, "dead_letters": 0,
                 "last_batch_ms": 0.0}
    shares = app.topic(settings.topic, key_type=bytes, value_type=bytes,
                       key_serializer="raw", value_serializer="raw",
                       partitions=settings.topic_partitions)
    dead_topic = app.topic(settings.dead_letter_topic, key_type=bytes, value_type=bytes,
                           key_serializer="raw", value_serializer="raw")
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="pipeline")

    @app.agent(shares, concurrency=1)
    async def ingest(stream):
        loop = asyncio.get_running_loop()
        async for values in stream.take(settings.batch_size, within=settings.batch_wait):
            started = time.perf_counter()
            stats = await loop.run_in_executor(executor, pipeline.process, values)
            for dead in stats.dead:
                await dead_topic.send(key=(dead.rumour_id or "").encode(), value=dead_letter_message(dead))
            s = app.stats
            s["batches"] += 1
            s["events_in"] += stats.read
            s["stored"] += stats.stored
            s["duplicates"] += stats.duplicates
            s["dead_letters"] += stats.dead_letters
            s["last_batch_ms"] = (time.perf_counter() - started) * 1000

    app.ingest_agent = ingest

    from streams.web import register_routes

    register_routes(app, pipeline, settings)
    return app


def run_worker(settings: Settings) -> None:
    """Run a Faust worker in the foreground until interrupted."""
    from faust.worker import Worker

    from streams.produce import kafka_bootstrap
    from streams.topics import ensure_topics

    ensure_topics(kafka_bootstrap(settings.broker), {settings.topic: settings.topic_partitions,
                                                     settings.dead_letter_topic: 1})
    # Compile the numba kernels before the first batch or query, not while a client waits.
    warm_up()
    app = create_app(settings)
    worker = Worker(app, loglevel=settings.log_level)
    worker.execute_from_commandline()
