"""Event pseudonym -> event id per rumour, for tracing an event by the pseudonym a caller was
shown (no HTTP here).

An event pseudonym (``pev_...``, :meth:`streams.service.pseudonym.Pseudonymiser.event`) is a
keyed hash: the way back is to hash the rumour's events and look. The rumour's graph numbers its
events in arrival order and only appends (:class:`graph.CascadeGraph`), so the 64-bit values are
kept in node order and only the nodes added since the last lookup are hashed, outside the
pipeline's lock (8-20 us an event on this loaded 2-core box: a first lookup in a 200,000-event
rumour took 1.6 s, 4.5 s with tests running beside it; later ones under a millisecond). Most lookups never get there: an event whose
pseudonym this process gave out lately (the tree, a trace) is mapped back from the
pseudonymiser's memo (:meth:`streams.service.pseudonym.Pseudonymiser.shown_event`). A lookup scans the values with numpy (8 bytes per event, no sorted copy to
rebuild as the rumour grows) and checks the found event's hash again, so a graph replaced by
a reload (another object, perhaps another order) is never answered from the old one's values.
"""
from __future__ import annotations

import contextlib
import weakref

import numpy as np

from streams.service.lru import LRU
from streams.service.pseudonym import EVENT_PREFIX


class EventPseudonymIndex:
    """Hashed event ids of the rumours' graphs, in node order.

    >>> import numpy as np
    >>> from graph import CascadeGraph
    >>> from streams.service.pseudonym import Pseudonymiser
    >>> p, shown = Pseudonymiser(b"k" * 32), Pseudonymiser(b"k" * 32)
    >>> g = CascadeGraph("r1")
    >>> _ = g.add_batch(["e1", "e2"], ["a1", "a2"], np.array([1, 2]), [None, "e1"], [None, None])
    >>> index = EventPseudonymIndex(p)
    >>> index.resolve(g, shown.event("e2")), index.resolve(g, shown.event("e3"))
    ('e2', None)
    >>> _ = g.add_batch(["e3"], ["a3"], np.array([3]), ["e2"], [None])
    >>> index.resolve(g, shown.event("e3"))
    'e3'
    """

    def __init__(self, pseudonymiser):
        self.pseudo = pseudonymiser
        self._values = LRU()  # rumour -> (weak ref to its graph, uint64 values of nodes 0..n-1)

    def resolve(self, graph, pseudonym: str, lock=None) -> str | None:
        """The event of ``graph`` whose pseudonym is ``pseudonym``, or None. ``lock``: the
        pipeline's (the graph grows under it); held to read the graph, not while hashing. One
        caller at a time (the service's single thread)."""
        lock = lock if lock is not None else contextlib.nullcontext()
        with lock:
            # An event this process named lately (the tree, a trace): no hashing at all.
            shown = self.pseudo.shown_event(pseudonym)
            if shown is not None and graph.node(shown) >= 0:
                return shown
            values, start = self._cached(graph)
            ids = graph.ev.strings(np.arange(start, graph.n_nodes))
        # A node's id never changes (an account's placeholder has none: value 0), so only the
        # nodes added since the last lookup are hashed, outside the lock: ingest goes on.
        fresh = np.fromiter((0 if e is None else self.pseudo.event_number(e) for e in ids),
                            dtype=np.uint64, count=len(ids))
        values = np.concatenate([values, fresh])
        self._values[graph.rumour_id] = (weakref.ref(graph), values)
        value = int(pseudonym[len(EVENT_PREFIX):], 16)
        with lock:
            for node in np.flatnonzero(values == np.uint64(value)).tolist():
                event_id = graph.ev.strings(np.array([node]))[0]
                # Checked again: two events sharing 64 bits, or values of a replaced graph.
                if event_id is not None and self.pseudo.event_number(event_id) == value:
                    return event_id
        return None

    def _cached(self, graph) -> tuple:
        """The values hashed so far for this graph object and the first node not hashed."""
        cached = self._values.get(graph.rumour_id)
        if cached is None or cached[0]() is not graph or len(cached[1]) > graph.n_nodes:
            return np.zeros(0, np.uint64), 0
        return cached[1], len(cached[1])
