"""One batch through the engine: decode, update the per-rumour graphs, write the store.

The same :class:`Pipeline` runs inside the Faust agent and in the embedded commands (replay,
trace, demo), so both modes give the same answers.

Order of work for a batch: the graphs decide which events are new (duplicates and parent cycles
are found there), then the store receives every new event and every dead letter in one
``write``. The write is retried with backoff; Kafka offsets are committed only after ``process``
returns, so a crash anywhere re-delivers the batch (the store is idempotent on
``(rumour_id, event_id)``).

Reliability (see RELIABILITY.md):

- A batch whose store write still fails after ``store_retry_seconds`` leaves no trace in memory:
  the graphs of its rumours are dropped (rebuilt from the store on next touch) and the error is
  raised, so the caller can retry the same batch without the graph calling its events duplicates.
- A ``parent_event_id`` that is not an event of its own rumour (in the graph, in the batch) but
  is one of another rumour (in the batch, or already in the store) is refused with the reason
  ``parent in another rumour``. A parent that reaches the store only after its child is not
  detected: the child keeps an unobserved placeholder parent in its own rumour.
- Ownership: with ``partitions`` given to :meth:`process`, each rumour remembers the Kafka
  partition it came from; :meth:`release_partitions` drops the graphs of revoked partitions,
  and :meth:`trace` answers a rumour this worker does not own from the store without keeping it.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from graph import ADDED, DUPLICATE, REJECTED, CascadeGraph
from streams.crossref import CROSS_RUMOUR, refuse_cross_rumour_parents  # noqa: F401 (re-exported)
from streams.crossref import row_json as _row_json
from streams.events import KIND_CODE, DeadLetter, Decoder, EventBatch

log = logging.getLogger(__name__)

DEBUNK = KIND_CODE["debunk"]


@dataclass
class BatchStats:
    """Accounting for one batch: ``read == stored + duplicates + dead_letters``."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    dead: list = field(default_factory=list)

    def add(self, other: "BatchStats") -> None:
        self.read += other.read
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.dead_letters += other.dead_letters

    def summary(self) -> dict:
        return {"read": self.read, "stored": self.stored, "duplicates": self.duplicates,
                "dead_letters": self.dead_letters}


class Pipeline:
    """Decoder + graphs + store. Thread-safe: one batch or one query at a time."""

    def __init__(self, store=None, decoder: Decoder | None = None,
                 store_retry_seconds: float = 300.0, restore_from_store: bool = True):
        self.store = store
        self.restore_from_store = restore_from_store
        self.decoder = decoder or Decoder()
        self.store_retry_seconds = store_retry_seconds
        self.graphs: dict[str, CascadeGraph] = {}
        self.debunks: dict[str, CascadeGraph] = {}
        self.lock = threading.RLock()
        self._checked_store: set[str] = set()
        # Ownership (worker mode): rumour -> Kafka partition its events came from, and the
        # partitions this worker holds (None = embedded mode: every rumour is ours).
        self.partition_of: dict[str, int] = {}
        self.assigned: set[int] | None = None
        self.partitioner = None  # rumour_id -> partition, for rumours known only from queries
        self.invalidations = 0
        self.write_retries = 0  # failed store writes that were tried again
        self.retrying = False
        self._borrowed: set[str] = set()  # graphs of rumours owned elsewhere, kept for one query

    # -- ingest ---------------------------------------------------------------------------
    def process(self, messages, sources=None, partitions=None) -> BatchStats:
        """Take raw messages (bytes), return the batch's accounting.

        ``partitions`` (optional, one per message) names the Kafka partition of each message;
        the rumours of those events then belong to that partition (see release_partitions).
        """
        if partitions is None:
            batch, dead = self.decoder.decode(messages, sources)
            return self.process_batch(batch, dead)
        partitions = list(partitions)
        batches, dead = [], []
        # Decode per partition so each event's partition is known (a message may hold many).
        for part in sorted(set(partitions)):
            picked = [i for i, p in enumerate(partitions) if p == part]
            msgs = [messages[i] for i in picked]
            srcs = None if sources is None else [sources[i] for i in picked]
            b, d = self.decoder.decode(msgs, srcs)
            batches.append((part, b))
            dead.extend(d)
        with self.lock:
            for part, b in batches:
                for rumour_id in b.rumour_id:
                    self.partition_of[rumour_id] = part
        return self.process_batch(EventBatch.concat([b for _, b in batches]), dead)

    def process_batch(self, batch: EventBatch, dead: list) -> BatchStats:
        stats = BatchStats(read=len(batch) + len(dead))
        with self.lock:
            self._return_borrowed()
            # Both may raise (store down): nothing has changed in memory yet.
            self._restore_from_store(batch)
            batch = self._refuse_cross_rumour_parents(batch, dead)
            status = self._apply_to_graphs(batch, dead)
            new_rows = np.flatnonzero(status == ADDED)
            stats.stored = int(new_rows.size)
            stats.duplicates = int(np.count_nonzero(status == DUPLICATE))
        stats.dead_letters = len(dead)
        stats.dead = dead
        if self.store is not None and (new_rows.size or dead):
            try:
                self._write_with_retry(batch.take(new_rows) if new_rows.size < len(batch) else batch,
                                       dead)
            except Exception:
                # The graphs hold events the store lacks: forget those rumours, so a retry of
                # this batch (or its re-delivery) stores them instead of calling them duplicates.
                self.forget(set(batch.rumour_id))
                raise
        return stats

    def forget(self, rumour_ids) -> None:
        """Drop the graphs of ``rumour_ids``; the next batch or query rebuilds them from the store."""
        with self.lock:
            for rumour_id in rumour_ids:
                self.graphs.pop(rumour_id, None)
                self.debunks.pop(rumour_id, None)
                self._checked_store.discard(rumour_id)
                self.partition_of.pop(rumour_id, None)
            self.invalidations += 1

    def assign_partitions(self, partitions) -> None:
        """Record the partitions this worker now holds (a rebalance's assignment)."""
        with self.lock:
            self.assigned = set(partitions)
            # Rumours of partitions no longer held (revocation may have been skipped).
            stale = [r for r, p in self.partition_of.items() if p not in self.assigned]
        if stale:
            self.forget(stale)

    def release_partitions(self, partitions) -> int:
        """Drop the graphs of rumours that came from ``partitions``; returns how many."""
        revoked = set(partitions)
        with self.lock:
            doomed = [r for r, p in self.partition_of.items() if p in revoked]
            if self.assigned is not None:
                self.assigned -= revoked
        if doomed:
            self.forget(doomed)
        return len(doomed)

    def owns(self, rumour_id: str) -> bool:
        """Whether this worker keeps the graph of ``rumour_id`` (always, in embedded mode)."""
        if self.assigned is None:
            return True
        part = self.partition_of.get(rumour_id)
        if part is None and self.partitioner is not None:
            part = self.partitioner(rumour_id)
        return part is not None and part in self.assigned

    def _refuse_cross_rumour_parents(self, batch: EventBatch, dead: list) -> EventBatch:
        return refuse_cross_rumour_parents(batch, dead, (self.graphs, self.debunks), self.store)

    def _apply_to_graphs(self, batch: EventBatch, dead: list) -> np.ndarray:
        status = np.full(len(batch), ADDED, np.int8)
        if not len(batch):
            return status
        groups: dict[tuple[str, bool], list[int]] = {}
        kinds = batch.kind
        for i, rumour_id in enumerate(batch.rumour_id):
            groups.setdefault((rumour_id, bool(kinds[i] == DEBUNK)), []).append(i)
        for (rumour_id, is_debunk), rows in groups.items():
            # A debunk article's shares form a cascade of their own, linked to the rumour.
            registry = self.debunks if is_debunk else self.graphs
            graph = registry.get(rumour_id)
            if graph is None:
                graph = registry[rumour_id] = CascadeGraph(rumour_id=rumour_id)
            idx = np.asarray(rows, np.int64)
            result = graph.add_batch(
                [batch.event_id[i] for i in rows],
                [batch.account_id[i] for i in rows],
                batch.ts_ms[idx],
                [batch.parent_event_id[i] for i in rows],
                [batch.parent_account_id[i] for i in rows],
                kinds[idx],
            )
            status[idx] = result.status
            for local, reason in result.reasons.items():
                row = rows[local]
                dead.append(DeadLetter(
                    raw=_row_json(batch, row), reason=reason, source="graph",
                    received_ms=int(time.time() * 1000), rumour_id=rumour_id,
                    event_id=batch.event_id[row]))
        return status

    def _restore_from_store(self, batch: EventBatch) -> None:
        """Before the first event of a rumour this process has not seen, load what the store has.

        After a restart (or a rebalance that moves a rumour here) this rebuilds the graph from
        the store, so answers do not depend on which worker saw which event.
        """
        if self.store is None or not self.restore_from_store or not len(batch):
            return
        unseen = sorted({r for r in batch.rumour_id if r not in self._checked_store})
        if not unseen:
            return
        loader = getattr(self.store, "load_events", None)
        if loader is not None:
            stored = loader(rumour_ids=unseen)
            if len(stored):
                self._apply_to_graphs(stored, [])
        self._checked_store.update(unseen)

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
                    if time.monotonic() + delay > deadline:
                        raise
                    log.warning("store write failed (%s); retrying in %.1fs", exc, delay)
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
        finally:
            self.retrying = False

    # -- queries --------------------------------------------------------------------------
    def rumour_ids(self) -> list[str]:
        """Rumours whose graph this process holds (borrowed ones excluded)."""
        with self.lock:
            return sorted(set(self.graphs) - self._borrowed)

    def _return_borrowed(self) -> None:
        # A borrowed graph is rebuilt from the store at every query (it gets no new events here).
        for rumour_id in self._borrowed:
            self.graphs.pop(rumour_id, None)
            self.debunks.pop(rumour_id, None)
        self._borrowed.clear()

    def trace(self, rumour_id: str, k: int = 10) -> dict | None:
        """The trace answer of one rumour (see :func:`streams.trace.trace_answer`)."""
        from streams.trace import trace_answer

        with self.lock:
            self._return_borrowed()
            graph = self.graphs.get(rumour_id)
            if graph is None and self.store is not None and rumour_id not in self._checked_store:
                stored = self.store.load_events(rumour_ids=[rumour_id])
                if not self.owns(rumour_id):
                    # Another worker holds this rumour: answer from the store. The graph is
                    # borrowed until the next query or batch, so it never goes stale here.
                    if not len(stored):
                        return None
                    self._apply_to_graphs(stored, [])
                    self._borrowed.add(rumour_id)
                    graph = self.graphs.get(rumour_id)
                    return None if graph is None else trace_answer(graph, k)
                self._checked_store.add(rumour_id)
                if len(stored):
                    self._apply_to_graphs(stored, [])
                    if self.partitioner is not None:
                        self.partition_of.setdefault(rumour_id, self.partitioner(rumour_id))
                graph = self.graphs.get(rumour_id)
            if graph is None:
                return None
            return trace_answer(graph, k)


def warm_up() -> float:
    """Run every graph kernel once on a tiny cascade (compiles or loads numba's cache); seconds."""
    started = time.perf_counter()
    graph = CascadeGraph(rumour_id="warm-up")
    graph.add_batch(["a", "c", "b", "d"], ["u1", "u3", "u2", "u4"], np.array([1, 3, 2, 4], np.int64),
                    [None, "b", "a", None], [None, "u2", "u1", "u3"], np.array([0, 1, 1, 1], np.uint8))
    graph.trace(2)
    graph.chain("c")
    return time.perf_counter() - started
