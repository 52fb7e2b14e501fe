"""Setting up the worker process around the Faust app (``streams.app.run_worker`` and the bench
worker): Faust's ``Worker`` without its spinner, the garbage collector tuned after start-up,
and a warm-up that loads everything a first batch would otherwise load while a client waits.
"""
from __future__ import annotations

import gc
import time

import faust
import orjson

from streams.pipeline import Pipeline, warm_up


# Allocations (net of frees) of container objects between two young collections (Python's default
# is 700). A batch's columns are lists of 20,000+ items that every young collection walks while
# they live, so at 700 the collector took ~1-1.5 us of the worker's ~7 us per event.
GC_YOUNG_THRESHOLD = 50_000


def tune_gc(young: int = GC_YOUNG_THRESHOLD) -> None:
    """After start-up: move everything allocated so far (modules, numba's compiled kernels,
    Faust's app) out of the collector's sight (``gc.freeze``), so an old-generation collection
    does not walk it, and collect the young generation every ``young`` container allocations.
    Cycles are still collected, less often; the objects a batch makes are mostly freed by
    reference counting when it is done."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, old)


WARM_UP_EVENTS = 6000  # enough for the graphs' growth and the alert router's judging to run


def warm_up_worker(events: int = WARM_UP_EVENTS, seed: int = 0) -> float:
    """``warm_up()`` plus one small seeded batch (a columnar message and a JSON array) through a
    memory-only pipeline with a governance hub, thrown away after: it loads from numba's cache
    the kernels of the cross-rumour check, graph growth, the alert router and the ClickHouse
    writer's row packer, and reads the divisions table, which the first real batch would
    otherwise do while a client waits (~70 ms of CPU). Returns seconds."""
    from streams.events_columnar import encode_columns
    from streams.governance.hub import Governance
    from streams.synthetic import synthetic_events

    started = time.perf_counter()
    warm_up()
    pipeline = Pipeline(store=None)
    Governance(pipeline).attach()
    shares = list(synthetic_events(2, max(2, events // 2), seed=seed, prefix="warm-up"))
    half = len(shares) // 2
    pipeline.process([encode_columns(shares[:half]), orjson.dumps(shares[half:])], partitions=[0, 1])
    # The ClickHouse writer's row packer (graph/kernels_rows.py): no store here to call it.
    from streams.store.clickhouse import event_rows_columns

    event_rows_columns(pipeline.decoder.decode([encode_columns(shares)])[0])
    return time.perf_counter() - started


def faust_worker(app: faust.App, loglevel: str):
    """Faust's ``Worker`` for ``app`` without its terminal spinner.

    With a spinner (any level from WARNING up) Faust sets the root logger to DEBUG to feed it, so
    every ``log.debug`` of aiokafka, faust, mode and clickhouse-driver builds a LogRecord (a
    stack walk each; several per Kafka request): about 1.5% of the worker's CPU in the ingest
    bench, for a spinner that only shows during start-up on a terminal.
    """
    from faust.worker import Worker

    worker = Worker(app, loglevel=loglevel)
    worker.spinner = None
    return worker
