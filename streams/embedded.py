"""Embedded mode: the pipeline over files or a generator, no server needed."""
from __future__ import annotations

import sys
import time

import orjson

from streams.events import Decoder
from streams.inputs import chunked, iter_messages
from streams.pipeline import BatchStats, Pipeline


def make_pipeline(store, settings) -> Pipeline:
    restore = store is not None and getattr(store, "persistent", True)
    # An evicted graph is rebuilt from the store, so the budget applies only when one can be.
    budget = settings.graph_memory_mb << 20 if settings.graph_memory_mb and restore else None
    return Pipeline(store, Decoder(settings.max_message_bytes, settings.max_event_bytes),
                    store_retry_seconds=settings.store_retry_seconds, restore_from_store=restore,
                    graph_memory_bytes=budget, id_filter_mb=settings.id_filter_mb,
                    late_parent_children=settings.late_parent_children)


def replay_messages(messages, pipeline: Pipeline, batch_size: int, progress: bool = False):
    """Feed ``(raw, source)`` pairs through ``pipeline`` in batches; return the total stats."""
    total = BatchStats()
    started = time.monotonic()
    for msgs, srcs in chunked(messages, batch_size):
        stats = pipeline.process(msgs, srcs)
        total.add(stats)
        total.dead.extend(stats.dead)
        if progress:
            rate = total.read / max(time.monotonic() - started, 1e-9)
            print(f"\rread {total.read:,} stored {total.stored:,} dup {total.duplicates:,} "
                  f"dead {total.dead_letters:,} ({rate:,.0f} events/s)", end="", file=sys.stderr)
    if progress:
        print(file=sys.stderr)
    return total


def replay_files(paths, store, settings, progress: bool = False):
    pipeline = make_pipeline(store, settings)
    messages = iter_messages(paths, max_line_bytes=settings.max_message_bytes)
    stats = replay_messages(messages, pipeline, settings.batch_size, progress)
    return pipeline, stats


def replay_events(events, store, settings):
    """Replay an iterable of event dicts (e.g. a generator) embedded."""
    pipeline = make_pipeline(store, settings)
    messages = ((orjson.dumps(e), f"generated:{i}") for i, e in enumerate(events))
    return pipeline, replay_messages(messages, pipeline, settings.batch_size)


def write_dead_letters(dead, path) -> None:
    with open(path, "wb") as fh:
        for d in dead:
            fh.write(orjson.dumps({"source": d.source, "reason": d.reason, "rumour_id": d.rumour_id,
                                   "event_id": d.event_id,
                                   "raw": d.raw.decode("utf-8", "backslashreplace")}) + b"\n")
