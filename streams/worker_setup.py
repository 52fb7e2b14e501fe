"""Setting up the worker process around the Faust app (``streams.worker_run.run_worker`` and the
bench worker): Faust's ``Worker`` without its spinner, the garbage collector tuned after start-up
and collected on a clock (:class:`TimedCollector`), and a warm-up that loads everything a first
batch would otherwise load while a client waits.
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
    reference counting when it is done. At a steady low rate the threshold takes minutes to
    reach: the worker also collects on a clock (:func:`install_timed_collection`)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, old)


# Why the worker also collects on a clock (every `gc_collect_seconds`, streams/settings.py):
# with the young threshold at 50,000 a worker at a steady 200 messages/s reached it only
# after ~8 minutes (its net container allocations grow ~4,700 a minute), so no collection ran
# at all and every cycle made meanwhile stayed -- mostly clickhouse-driver's column objects
# (column <-> serialization, ~2,500 per 13,000 events) -- pinning allocator pages the freed
# batch objects around them could not give back: the soak's RSS slope (RESULTS.md, session 7).
GC_FULL_EVERY = 30  # every how many timed collections is a full one: every 5 minutes at 10 s


class TimedCollector:
    """Collects the young generations (0 and 1) on each call and everything on every
    ``full_every``-th call; the worker calls it every ``gc_collect_seconds`` (a setting), so cycles
    live at most about that long whatever the allocation rate. Cheap: the young generations
    hold only what was allocated (and is still tracked) since the last call. The full
    collection frees cycles that were still alive at a young collection (promoted to the old
    generation), which the allocation-driven rule would reach only after 50,000 allocations.

    >>> import gc
    >>> class Node: pass
    >>> collect = TimedCollector(full_every=2)
    >>> a, b = Node(), Node(); a.other, b.other = b, a; del a, b
    >>> collect() >= 2, collect.calls, collect.full_collections
    (True, 1, 0)
    >>> _ = collect(); collect.full_collections
    1
    """

    def __init__(self, full_every: int = GC_FULL_EVERY):
        self.full_every = max(1, int(full_every))
        self.calls = 0
        self.full_collections = 0
        self.collected = 0  # unreachable objects found, in total
        self.seconds = 0.0  # time spent collecting, in total

    def __call__(self) -> int:
        self.calls += 1
        full = self.calls % self.full_every == 0
        started = time.perf_counter()
        found = gc.collect(2 if full else 1)
        self.seconds += time.perf_counter() - started
        self.full_collections += full
        self.collected += found
        return found


def install_timed_collection(app: faust.App, seconds: float) -> TimedCollector | None:
    """A Faust timer on ``app`` calling a :class:`TimedCollector` every ``seconds``; its totals go
    to ``app.stats`` (``gc_collected``, ``gc_seconds``). ``app.collect_garbage()`` is what the
    timer runs (tests call it directly); ``app.gc_collector`` the collector. ``seconds`` <= 0:
    no timer (both attributes None; only the allocation-driven collections of :func:`tune_gc`)."""
    if seconds <= 0:
        app.gc_collector = app.collect_garbage = None
        return None
    collector = TimedCollector()

    def collect_garbage() -> None:
        collector()
        stats = getattr(app, "stats", None)
        if stats is not None:
            stats["gc_collected"] = collector.collected
            stats["gc_seconds"] = round(collector.seconds, 3)

    @app.timer(interval=seconds)
    async def collect_garbage_timer():
        collect_garbage()

    app.gc_collector, app.collect_garbage = collector, collect_garbage
    return collector


WARM_UP_EVENTS = 6000  # enough for the graphs' growth and the alert router's judging to run


def warm_up_worker(events: int = WARM_UP_EVENTS, seed: int = 0) -> float:
    """``warm_up()`` plus one small seeded batch (a columnar message and a JSON array) through a
    memory-only pipeline with a governance hub, thrown away after: it loads from numba's cache
    the kernels of the cross-rumour check, graph growth, the alert router and the ClickHouse
    writer's row packer and the event pseudonyms' HMAC, and reads the divisions table, which the first real batch would
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
    from streams.store.clickhouse_rows import event_rows_columns

    event_rows_columns(pipeline.decoder.decode([encode_columns(shares)])[0])
    # A take of several messages: their encodings concatenated (a writable buffer, where one
    # message's is read-only), which numba compiles as another signature of the packer.
    event_rows_columns(pipeline.decoder.decode([encode_columns(shares[:half]),
                                                encode_columns(shares[half:])])[0])
    # The event pseudonyms' HMAC kernel: a first cold /events/pev_.../trace would otherwise load
    # it (0.6-0.75 s from numba's cache, about 12 s compiled) while the analyst waits. Here,
    # after the other kernels, it adds only 0.03-0.08 s to the warm-up (median 0.04 s of ~2.3 s,
    # 5 fresh processes): most of those 0.6-0.75 s are numba's one-time set-up, paid by the
    # first kernel loaded whichever it is. So it is not worth a thread loading it after start.
    from streams.service.pseudonym import Pseudonymiser

    Pseudonymiser(b"warm-up key, not the service's").event_numbers(["warm-up"])
    return time.perf_counter() - started


def faust_worker(app: faust.App, loglevel: str):
    """Faust's ``Worker`` for ``app`` without its terminal spinner, whose stop on SIGTERM or
    SIGINT is bounded when ``app`` has a ``bounded_stop`` (:mod:`streams.worker_stop`).

    With a spinner (any level from WARNING up) Faust sets the root logger to DEBUG to feed it, so
    every ``log.debug`` of aiokafka, faust, mode and clickhouse-driver builds a LogRecord (a
    stack walk each; several per Kafka request): about 1.5% of the worker's CPU in the ingest
    bench, for a spinner that only shows during start-up on a terminal.
    """
    from faust.worker import Worker

    class BoundedStopWorker(Worker):
        def _schedule_shutdown(self, signal) -> None:
            # SIGTERM, SIGINT: the stop is bounded from the signal on (streams/worker_stop.py).
            bounded = getattr(self.app, "bounded_stop", None)
            if bounded is not None:
                bounded.begin()
            super()._schedule_shutdown(signal)

    worker = BoundedStopWorker(app, loglevel=loglevel)
    worker.spinner = None
    return worker
