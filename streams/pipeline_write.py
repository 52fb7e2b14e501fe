"""The write side of :class:`streams.pipeline.Pipeline`: a prepared batch goes to the store (one
``store.write``, retried with backoff for up to ``store_retry_seconds``), then to the observers
(governance, possibly deferred until the worker acked the batch's messages), and the bookkeeping
of the batches whose write is pending; with the two records of a batch, :class:`BatchStats` and
:class:`Prepared`.

A batch whose store write still fails after ``store_retry_seconds`` leaves no trace in memory:
:meth:`PipelineWrites.store_prepared` drops the graphs of its rumours (rebuilt from the store on
next touch) and raises, so the caller can retry the same batch without the graphs calling its
events duplicates.
"""
from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field

from streams.events import EventBatch

# The pipeline's logger, as before this module was split from streams/pipeline.py: logging
# configuration that names it keeps seeing the retried store writes.
log = logging.getLogger("streams.pipeline")


@dataclass
class BatchStats:
    """Accounting for one batch: ``read == stored + duplicates + dead_letters``.

    ``late_links``: links of children stored earlier whose parent arrived in this batch in
    another rumour; their dead letters are in ``dead`` too, but they are not events of this batch."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    dead: list = field(default_factory=list)
    late_links: int = 0

    def add(self, other: "BatchStats") -> None:
        self.read += other.read
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.dead_letters += other.dead_letters
        self.late_links += other.late_links

    def summary(self) -> dict:
        return {"read": self.read, "stored": self.stored, "duplicates": self.duplicates,
                "dead_letters": self.dead_letters, "late_links": self.late_links}


@dataclass
class Prepared:
    """A batch applied to the graphs, waiting for its store write."""

    stats: BatchStats
    batch: EventBatch  # the new events (to store)
    rumours: set  # every rumour the batch touched (forgotten if the write fails)
    decoded: EventBatch  # every decoded event, for the observers once the batch is stored

class PipelineWrites:
    """Mixed into Pipeline; uses its lock, store, observers and pending-write bookkeeping."""

    _stop_deadline = float("inf")  # give_up_by: no write retried past it (the process stops)

    def give_up_by(self, deadline: float) -> None:
        """Retry no store write past ``deadline`` (``time.monotonic()``), the write already
        retrying included, and tell the store the same: a worker that stops must not outlast its
        stop's grace in retries (``store_retry_seconds`` is minutes). The failed write raises as
        when its budget runs out; its events stay unacked, so Kafka delivers them again."""
        self._stop_deadline = min(self._stop_deadline, deadline)
        if self.store is not None:
            self.store.give_up_by(deadline)

    def store_prepared(self, prepared: Prepared) -> BatchStats:
        """Write a prepared batch (retried up to ``store_retry_seconds``); on failure its rumours
        are forgotten and the error raised, so the same messages can be processed again."""
        try:
            return self.write_prepared(prepared)
        except Exception:
            # The graphs hold events the store lacks: forget those rumours, so a retry of
            # this batch (or its re-delivery) stores them instead of calling them duplicates.
            self.discard(prepared)
            raise

    def write_prepared(self, prepared: Prepared) -> BatchStats:
        """Write a prepared batch, keeping its events in the graphs if the write fails (the
        worker then retries this same write until it succeeds; a crash re-delivers the batch)."""
        batch, dead = prepared.batch, prepared.stats.dead
        t0 = time.perf_counter()
        if self.store is not None and (len(batch) or dead):
            self._write_with_retry(batch, dead)
            self._written(batch)
        t1 = time.perf_counter()
        if not getattr(self._deferring, "on", False):
            self.observe_prepared(prepared)
        # Read by the worker's batch trace (RUMOUR_BATCH_TRACE): where a batch's time goes.
        self.last_write_timing = (t1 - t0, time.perf_counter() - t1)
        return prepared.stats

    @contextlib.contextmanager
    def observers_deferred(self):
        """In this thread, ``write_prepared`` only writes; the caller runs ``observe_prepared``."""
        before = getattr(self._deferring, "on", False)
        self._deferring.on = True
        try:
            yield
        finally:
            self._deferring.on = before

    def observe_prepared(self, prepared: Prepared) -> float:
        """Show a stored batch to the observers (governance), in batch order; returns seconds."""
        t0 = time.perf_counter()
        if self.observers:
            with self.lock:  # observers may read the graphs; a batch may be being prepared
                for observe in self.observers:
                    observe(prepared.decoded)
        return time.perf_counter() - t0

    def discard(self, prepared: Prepared) -> None:
        """Give up a prepared batch that will not be stored (an earlier write failed): forget
        its rumours so that processing its messages again gives the same result."""
        self._written(prepared.batch)
        self.forget(prepared.rumours)

    def _written(self, batch: EventBatch) -> None:
        with self.lock:
            self._unstored.pop(id(batch), None)
            written = self._unstored_rumours.pop(id(batch), None)
            for rumour_id in (set(batch.rumour_id) if written is None else written):
                left = self._unwritten.pop(rumour_id, 1) - 1
                if left > 0:
                    self._unwritten[rumour_id] = left

    def _write_with_retry(self, batch: EventBatch, dead: list) -> None:
        deadline = time.monotonic() + self.store_retry_seconds
        delay = 0.1
        self.retrying = True  # read by the worker's metrics while this thread waits
        try:
            while True:
                try:
                    self.store.write(batch, dead)
                    return
                except Exception as exc:  # the store raises driver-specific errors
                    self.write_retries += 1
                    # Read on every attempt: a stop that begins while this write retries ends it.
                    if time.monotonic() + delay > min(deadline, self._stop_deadline):
                        raise
                    log.warning("store write failed (%s); retrying in %.1fs", exc, delay)
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
        finally:
            self.retrying = False
