"""The query side of :class:`streams.pipeline.Pipeline`: answers from the graphs in memory,
loading a rumour from the store when it is not there (after a restart, a rebalance or an
eviction), and borrowing the graph of a rumour another worker owns for one query."""
from __future__ import annotations

import time

import numpy as np

from graph import CascadeGraph


class PipelineQueries:
    """Mixed into Pipeline; uses its lock, graphs, store and ownership."""

    def rumour_ids(self) -> list[str]:
        """Rumours whose graph this process holds (borrowed ones excluded)."""
        with self.lock:
            return sorted(set(self.graphs) - self._borrowed)

    def _return_borrowed(self) -> None:
        # A borrowed graph is rebuilt from the store at every query (it gets no new events here).
        for rumour_id in self._borrowed:
            self.memory.drop(rumour_id)
        self._borrowed.clear()

    def trace(self, rumour_id: str, k: int = 10) -> dict | None:
        """The trace answer of one rumour (see :func:`streams.trace.trace_answer`)."""
        from streams.trace import trace_answer

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
                    graph = self.graphs.get(rumour_id)
                    return None if graph is None else trace_answer(graph, k)
                self._loaded.add(rumour_id)
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
