"""One batch through the engine: decode, update the per-rumour graphs, write the store.

The same :class:`Pipeline` runs inside the Faust agent and in the embedded commands (replay,
trace, demo), so both modes give the same answers.

A batch is two steps. :meth:`Pipeline.prepare` decodes it, restores from the store the rumours
it brings that are not in memory, refuses parents of another rumour and updates the graphs (which
decide what is new: duplicates and parent cycles are found there); it returns a
:class:`Prepared` holding the rows to store. :meth:`Pipeline.store_prepared` writes them (one
``store.write``, retried with backoff). :meth:`Pipeline.process` does both. The worker overlaps
the write of batch N with the preparation of batch N+1 and acks batch N's Kafka messages only
after its write succeeded (streams/app.py), so a crash anywhere re-delivers every batch not yet
stored (the store is idempotent on ``(rumour_id, event_id)``).

This module is the ingest side (decode, graphs, pending-write marks, memory and partition
ownership); the write side (store write, observers, ``BatchStats`` and ``Prepared``) is
streams/pipeline_write.py and the read side (restore, queries) streams/pipeline_queries.py.

Reliability (see RELIABILITY.md):

- A batch whose store write still fails after ``store_retry_seconds`` leaves no trace in memory:
  the graphs of its rumours are dropped (rebuilt from the store on next touch) and the error is
  raised, so the caller can retry the same batch without the graph calling its events duplicates.
- Restore: the pipeline learns once which rumours the store holds (one ``SELECT DISTINCT``, again
  after each partition assignment) and adds the rumours it writes itself; a batch's rumour that
  is not in memory is loaded only if the store holds it (one query for all such rumours). That
  memory of every rumour ever stored is a fixed-size Bloom filter (``id_filter_mb``,
  :mod:`streams.seen`): a false "held" costs a query that returns nothing, never a lost restore.
- Memory: with ``graph_memory_bytes`` the least recently touched graphs beyond that budget are
  dropped after each batch (never those of a batch whose write is pending); such a rumour is
  rebuilt from the store on its next event or query, so answers do not change.
- A ``parent_event_id`` that is not an event of its own rumour (in the graph, in the batch) but
  is one of another rumour (in the batch, or already in the store) is refused with the reason
  ``parent in another rumour`` (streams/crossref.py). When the child came first, its link is
  recorded once the parent arrives in another rumour (streams/crossref_late.py, at most
  ``late_parent_children`` waiting children): a dead letter written with the parent's batch,
  counted as ``late_links``, not in ``dead_letters`` (the child itself was stored).
- Ownership: with ``partitions`` given to :meth:`process`, each rumour remembers the Kafka
  partition it came from; :meth:`release_partitions` drops the graphs of revoked partitions,
  and :meth:`trace` answers a rumour this worker does not own from the store without keeping it.
"""
from __future__ import annotations

import threading

import numpy as np

from graph import ADDED, DUPLICATE, CascadeGraph
from streams.crossref import CROSS_RUMOUR, refuse_cross_rumour_parents  # noqa: F401 (re-exported)
from streams.crossref_late import LateParents
from streams.events import Decoder, EventBatch
from streams.message_sources import picked_sources
from streams.pipeline_queries import PipelineQueries, warm_up  # noqa: F401 (re-exported)
from streams.pipeline_write import BatchStats, PipelineWrites, Prepared
from streams.rumour_graphs import DEBUNK, RumourGraphs, batch_ids  # noqa: F401 (DEBUNK re-exported)
from streams.seen import configured_mb, make_seen

# The public API; it names what other modules define and callers import from here
# (CROSS_RUMOUR, warm_up, DEBUNK, BatchStats, Prepared) as re-exported.
__all__ = ["Pipeline", "BatchStats", "Prepared", "configured_late_children", "CROSS_RUMOUR",
           "refuse_cross_rumour_parents", "warm_up", "DEBUNK"]


def configured_late_children() -> int:
    """``late_parent_children`` from the environment or its default."""
    from streams.settings import resolve, setting

    return resolve((setting("late_parent_children"),))["late_parent_children"]


class Pipeline(PipelineWrites, PipelineQueries):
    """Decoder + graphs + store. Thread-safe: one batch or one query at a time (the store write
    of a prepared batch runs outside the lock, so the next batch can be prepared meanwhile)."""

    def __init__(self, store=None, decoder: Decoder | None = None,
                 store_retry_seconds: float = 300.0, restore_from_store: bool = True,
                 graph_memory_bytes: int | None = None, id_filter_mb: float | None = None,
                 late_parent_children: int | None = None):
        self.store = store
        self.restore_from_store = restore_from_store
        self.decoder = decoder or Decoder()
        self.store_retry_seconds = store_retry_seconds
        self.memory = RumourGraphs(graph_memory_bytes)
        self.graphs: dict[str, CascadeGraph] = self.memory.graphs
        self.debunks: dict[str, CascadeGraph] = self.memory.debunks
        self.lock = threading.RLock()
        self._loaded: set[str] = set()  # rumours whose graphs hold everything the store has
        # Rumours the store holds (a superset: never shrinks), in fixed memory (streams.seen);
        # the store is asked for its list at the first restore and after each assignment.
        self.id_filter_mb = configured_mb() if id_filter_mb is None else id_filter_mb
        self._stored = make_seen(self.id_filter_mb)
        self._refresh_stored = True
        # Children stored before their parent, waiting for it (streams/crossref_late.py).
        late_n = configured_late_children() if late_parent_children is None else late_parent_children
        self.late_parents = LateParents(late_n) if late_n > 0 else None
        self._unwritten: dict[str, int] = {}  # rumour -> prepared batches not yet stored
        self._unstored: dict[int, EventBatch] = {}  # id -> prepared batch whose write is pending
        self._unstored_rumours: dict[int, set] = {}  # id -> the rumours of that batch
        # Ownership (worker mode): rumour -> Kafka partition its events came from, and the
        # partitions this worker holds (None = embedded mode: every rumour is ours).
        self.partition_of: dict[str, int] = {}
        self.assigned: set[int] | None = None
        self.partitioner = None  # rumour_id -> partition, for rumours known only from queries
        self.invalidations = 0
        self.restore_queries = 0
        self.write_retries = 0  # failed store writes that were tried again
        self.retrying = False
        self._borrowed: set[str] = set()  # graphs of rumours owned elsewhere, kept for one query
        # Called with each batch's decoded events once the batch is stored (governance hub).
        self.observers: list = []
        # Per thread (observers_deferred): the worker's store-write thread leaves the observers
        # to observe_prepared, run once the batch's messages are acked (streams/app.py); other
        # callers of the same pipeline (an embedded replay) still observe in write_prepared.
        self._deferring = threading.local()
        self._batch_ids = None  # (batch, its BatchIds) while a batch is being prepared

    # -- ingest ---------------------------------------------------------------------------
    def process(self, messages, sources=None, partitions=None) -> BatchStats:
        """Take raw messages (bytes), store what is new, return the batch's accounting.

        ``partitions`` (optional, one per message) names the Kafka partition of each message;
        the rumours of those events then belong to that partition (see release_partitions).
        """
        return self.store_prepared(self.prepare(messages, sources, partitions))

    def prepare(self, messages, sources=None, partitions=None) -> Prepared:
        """Decode and apply to the graphs; the result must go to :meth:`store_prepared` next."""
        if partitions is None:
            batch, dead = self.decoder.decode(messages, sources)
            return self.prepare_batch(batch, dead)
        partitions = list(partitions)
        batches, dead = [], []
        # Decode per partition so each event's partition is known (a message may hold many).
        for part in sorted(set(partitions)):
            picked = [i for i, p in enumerate(partitions) if p == part]
            msgs = [messages[i] for i in picked]
            srcs = picked_sources(sources, picked)
            b, d = self.decoder.decode(msgs, srcs)
            batches.append((part, b))
            dead.extend(d)
        with self.lock:
            for part, b in batches:
                self.partition_of.update(dict.fromkeys(b.rumour_id, part))
        # One partition (the usual batch): its decoded batch as is, not a copy of every column.
        whole = batches[0][1] if len(batches) == 1 else EventBatch.concat([b for _, b in batches])
        return self.prepare_batch(whole, dead)

    def process_batch(self, batch: EventBatch, dead: list) -> BatchStats:
        return self.store_prepared(self.prepare_batch(batch, dead))

    def prepare_batch(self, batch: EventBatch, dead: list) -> Prepared:
        stats = BatchStats(read=len(batch) + len(dead))
        decoded = batch
        with self.lock:
            self._return_borrowed()
            # Both may raise (store down): nothing has changed in memory yet.
            self._restore_from_store(batch)
            batch = self._refuse_cross_rumour_parents(batch, dead)
            ids = self._ids_of(batch)
            rumours = set(ids.present()) if ids is not None else set(batch.rumour_id)
            status = self._apply_to_graphs(batch, dead)
            self._batch_ids = None
            new_rows = np.flatnonzero(status == ADDED)
            stats.stored = int(new_rows.size)
            stats.duplicates = int(np.count_nonzero(status == DUPLICATE))
            if new_rows.size < len(batch):
                batch = batch.take(new_rows)
            if self.late_parents is not None:
                late = self.late_parents.conflicts(batch)
                stats.late_links = len(late)
                dead.extend(late)
            if self.store is not None and len(batch):
                # The rumours of the rows to store: those of the batch unless rows were dropped.
                written = rumours if ids is not None and len(batch) == len(ids) \
                    else set(batch.rumour_id)
                for rumour_id in written:
                    self._unwritten[rumour_id] = self._unwritten.get(rumour_id, 0) + 1
                self._unstored[id(batch)] = batch
                self._unstored_rumours[id(batch)] = written
                # Counted as stored from now on: a later restore must ask the store.
                self._stored.update(written)
            self._evict(rumours)
        stats.dead_letters = len(dead) - stats.late_links
        stats.dead = dead
        return Prepared(stats, batch, rumours, decoded)

    def _evict(self, keep) -> None:
        # Never a rumour of this batch or of one whose write is pending: a restore would miss
        # events the store does not have yet.
        doomed = self.memory.over_budget(keep=set(keep) | set(self._unwritten) | self._borrowed)
        self._drop(doomed)
        self.memory.evictions += len(doomed)

    def track_interactions(self):
        """The account interaction graph of the share graphs held, kept current by every batch,
        restore and drop from now on (streams/held_interactions.py; for ``trace?parents=1``)."""
        with self.lock:
            return self.memory.track_interactions()

    def forget(self, rumour_ids) -> None:
        """Drop the graphs of ``rumour_ids``; the next batch or query rebuilds them from the store."""
        with self.lock:
            self._drop(rumour_ids)
            self.invalidations += 1

    def _drop(self, rumour_ids) -> None:
        for rumour_id in rumour_ids:
            self.memory.drop(rumour_id)
            self._loaded.discard(rumour_id)
            # A dropped rumour's partition is its key's (self.partitioner) when it comes back:
            # keeping it here grew this dict by one entry per rumour ever seen.
            self.partition_of.pop(rumour_id, None)

    def preload(self, rumour_ids) -> None:
        """Load the graphs of those owned ``rumour_ids`` not in memory in one query (the alert
        catch-up attaches traces of many rumours at a rebalance: not one query each)."""
        with self.lock:
            wanted = sorted(r for r in set(rumour_ids) if r not in self._loaded and self.owns(r))
            if wanted and self.store is not None and self.restore_from_store:
                self._load(wanted)
                self._adopt_partitions([r for r in wanted if r in self.graphs])

    def assign_partitions(self, partitions) -> None:
        """Record the partitions this worker now holds (a rebalance's assignment)."""
        with self.lock:
            self.assigned = set(partitions)
            # Rumours that moved here were written by another worker: ask the store again.
            self._refresh_stored = True
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
        # The batch's ids are encoded here once; the graphs reuse them (_apply_to_graphs).
        batch, ids = refuse_cross_rumour_parents(
            batch, dead, (self.graphs, self.debunks), self.store, list(self._unstored.values()),
            ids=batch_ids(batch), late=self.late_parents)
        self._batch_ids = (batch, ids)
        return batch

    def _ids_of(self, batch: EventBatch):
        """The encoded ids made for exactly this batch object by the cross-rumour step, if any."""
        held = self._batch_ids
        return held[1] if held is not None and held[0] is batch else None

    def _apply_to_graphs(self, batch: EventBatch, dead: list) -> np.ndarray:
        return self.memory.apply(batch, dead, self._ids_of(batch))
