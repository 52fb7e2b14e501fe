"""One batch through the engine: decode, update the per-rumour graphs, write the store.

The same :class:`Pipeline` runs inside the Faust agent and in the embedded commands (replay,
trace, demo), so both modes give the same answers.

Order of work for a batch: the graphs decide which events are new (duplicates and parent cycles
are found there), then the store receives every new event and every dead letter in one
``write``. The write is retried with backoff; Kafka offsets are committed only after ``process``
returns, so a crash anywhere re-delivers the batch (the store is idempotent on
``(rumour_id, event_id)``).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from graph import ADDED, DUPLICATE, REJECTED, CascadeGraph
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

    # -- ingest ---------------------------------------------------------------------------
    def process(self, messages, sources=None) -> BatchStats:
        """Take raw messages (bytes), return the batch's accounting."""
        batch, dead = self.decoder.decode(messages, sources)
        return self.process_batch(batch, dead)

    def process_batch(self, batch: EventBatch, dead: list) -> BatchStats:
        stats = BatchStats(read=len(batch) + len(dead))
        with self.lock:
            self._restore_from_store(batch)
            status = self._apply_to_graphs(batch, dead)
            new_rows = np.flatnonzero(status == ADDED)
            stats.stored = int(new_rows.size)
            stats.duplicates = int(np.count_nonzero(status == DUPLICATE))
        stats.dead_letters = len(dead)
        stats.dead = dead
        if self.store is not None and (new_rows.size or dead):
            self._write_with_retry(batch.take(new_rows) if new_rows.size < len(batch) else batch, dead)
        return stats

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
        while True:
            try:
                self.store.write(batch, dead)
                return
            except Exception as exc:  # the store raises driver-specific errors
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("store write failed (%s); retrying in %.1fs", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    # -- queries --------------------------------------------------------------------------
    def rumour_ids(self) -> list[str]:
        with self.lock:
            return sorted(self.graphs)

    def trace(self, rumour_id: str, k: int = 10) -> dict | None:
        """The trace answer of one rumour (see :func:`streams.trace.trace_answer`)."""
        from streams.trace import trace_answer

        with self.lock:
            graph = self.graphs.get(rumour_id)
            if graph is None and self.store is not None and rumour_id not in self._checked_store:
                stored = self.store.load_events(rumour_ids=[rumour_id])
                self._checked_store.add(rumour_id)
                if len(stored):
                    self._apply_to_graphs(stored, [])
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


def _row_json(batch: EventBatch, row: int) -> bytes:
    import orjson

    one = batch.take([row])
    return orjson.dumps(next(one.rows()))
