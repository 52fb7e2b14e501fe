"""The read side of :class:`streams.pipeline.Pipeline`: restoring rumours from the store (after a
restart, a rebalance or an eviction) and answering queries from the graphs in memory, borrowing
the graph of a rumour another worker owns for one query."""
from __future__ import annotations

import time

import numpy as np

from graph import CascadeGraph
from streams.events import EventBatch


class PipelineQueries:
    """Mixed into Pipeline; uses its lock, graphs, store and ownership."""

    def _restore_from_store(self, batch: EventBatch) -> None:
        """Before the first event of a rumour not in memory, load what the store has of it.

        After a restart, a rebalance that moves a rumour here, or an eviction, this rebuilds the
        graph from the store, so answers do not depend on which worker saw which event. Only
        rumours the store holds are queried (one query for all of them).
        """
        if self.store is None or not self.restore_from_store or not len(batch):
            return
        unseen = set(batch.rumour_id) - self._loaded
        if not unseen:
            return
        self._load(sorted(unseen))

    def _load(self, rumour_ids: list) -> None:
        stored = self._stored_rumours()
        # A false "held" from the filter only adds a rumour that the query finds nothing of.
        wanted = rumour_ids if stored is None else \
            [r for r, held in zip(rumour_ids, stored.contains_many(rumour_ids)) if held]
        if wanted:
            self.restore_queries += 1
            loaded = self.store.load_events(rumour_ids=wanted)
            if len(loaded):
                self._apply_to_graphs(loaded, [])
        self._loaded.update(rumour_ids)

    def _adopt_partitions(self, rumour_ids) -> None:
        """Rumours loaded from the store for a query or a preload, not from a batch that named
        their partition: each gets its key's (``partitioner``), so it is released with it."""
        if self.partitioner is not None:
            for rumour_id in rumour_ids:
                self.partition_of.setdefault(rumour_id, self.partitioner(rumour_id))

    def _stored_rumours(self):
        """A superset of the rumours the store holds (a :mod:`streams.seen` filter; None: the
        store cannot list them: query every rumour)."""
        lister = getattr(self.store, "rumour_ids", None)
        if lister is None:
            return None
        if self._refresh_stored:
            # Added to, never rebuilt: our own writes in flight may not be visible to this query
            # yet (and were added when prepared).
            self._stored.update(lister())
            self._refresh_stored = False
        return self._stored

    def rumour_ids(self) -> list[str]:
        """Rumours whose graph this process holds (borrowed ones excluded)."""
        with self.lock:
            return sorted(set(self.graphs) - self._borrowed)

    def _return_borrowed(self) -> None:
        # A borrowed graph is rebuilt from the store at every query (it gets no new events here).
        for rumour_id in self._borrowed:
            self.memory.drop(rumour_id)
        self._borrowed.clear()

    def query_graph(self, rumour_id: str):
        """The graph of one rumour for a query (None: no events of it here or in the store),
        loaded from the store if this process has not seen the rumour. Read it under
        ``self.lock``: a batch may change it, and a borrowed graph is dropped at the next query."""
        with self.lock:
            self._return_borrowed()
            graph = self.graphs.get(rumour_id)
            if graph is None and self.store is not None and rumour_id not in self._loaded:
                stored = self.store.load_events(rumour_ids=[rumour_id])
                if not self.owns(rumour_id):
                    # Another worker holds this rumour: answer from the store. The graph is
                    # borrowed until the next query or batch, so it never goes stale here.
                    if not len(stored):
                        return None
                    self._apply_to_graphs(stored, [])
                    self._borrowed.add(rumour_id)
                    return self.graphs.get(rumour_id)
                if len(stored):
                    # Only a rumour with a graph is marked: queries of ids the store lacks would
                    # otherwise grow _loaded by one id each, forever.
                    self._loaded.add(rumour_id)
                    self._apply_to_graphs(stored, [])
                    self._adopt_partitions([rumour_id])
                graph = self.graphs.get(rumour_id)
            return graph

    def trace(self, rumour_id: str, k: int = 10) -> dict | None:
        """The trace answer of one rumour (see :func:`streams.trace.trace_answer`)."""
        from streams.trace import trace_answer

        with self.lock:
            graph = self.query_graph(rumour_id)
            return None if graph is None else trace_answer(graph, k)

def warm_up() -> float:
    """Run every graph kernel once on a tiny cascade (compiles or loads numba's cache); seconds."""
    started = time.perf_counter()
    graph = CascadeGraph(rumour_id="warm-up")
    graph.add_batch(["a", "c", "b", "d"], ["u1", "u3", "u2", "u4"], np.array([1, 3, 2, 4], np.int64),
                    [None, "b", "a", None], [None, "u2", "u1", "u3"], np.array([0, 1, 1, 1], np.uint8))
    graph.trace(2)
    graph.chain("c")
    return time.perf_counter() - started
