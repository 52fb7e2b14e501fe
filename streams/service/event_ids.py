"""Event pseudonym -> event id per rumour, for tracing an event by the pseudonym a caller was
shown (no HTTP here).

An event pseudonym (``pev_...``, :meth:`streams.service.pseudonym.Pseudonymiser.event`) is a
keyed hash: the way back is to hash the rumour's events and look. Most lookups never get there:
an event whose pseudonym this process gave out lately (the tree, a trace) is mapped back from
the pseudonymiser's memo (:meth:`streams.service.pseudonym.Pseudonymiser.shown_event`), at once.

Otherwise the rumour's events are hashed, which is slow the first time (about 1 us an event on
this loaded 2-core box: 0.23 s for 200,000 events, 0.84 s for 10^6, medians of benchmarks/
bench_event_pseudonyms.py, against 0.50 and 2.1 s in the same hour with hashlib; 0.70 and 4.8 s
before event_numbers). The HMAC itself runs without the interpreter lock
(streams/service/sha256_kernel.py), straight from the graph's UTF-8 id bytes
(:meth:`graph.ids.IdIndex.utf8_range`: a chunk's bytes copied under the pipeline's lock, no str
decoded and encoded again; that took 0.27 of 1.41 s at 10^6 events, all of it under the lock,
now 0.016 of 1.10 s). Still, it runs on a thread of the index's own
(:meth:`EventPseudonymIndex.lookup` gives a future), never on the service's one thread, which every other request needs (a cold lookup used to hold it, and
every request waited). That thread does one lookup at a time: a second lookup of the same rumour
waits for the first, then hashes only the events added since. The rumour's graph numbers its
events in arrival order and only appends (:class:`graph.CascadeGraph`), so the 64-bit values are
kept in node order; they are hashed in chunks, each read under the pipeline's lock and hashed
outside it, so ingest goes on. A lookup scans the values with numpy (no sorted copy to rebuild
as the rumour grows) and checks the found event's hash again, so a graph replaced by a reload
(another object, perhaps another order) is never answered from the old one's values.

Memory: 8 bytes an event (the uint64 values) for each of the ``event_pseudonym_rumours`` rumours
most recently looked up (a 10^6-event rumour: 8 MB); while a chunk is hashed, at most about
50 bytes more for each of its :data:`CHUNK` events (their ids' bytes, offsets and values;
tracemalloc peak: 3 MB a chunk, 14 MB when the ids were read as str), and a copy of the rumour's values while the chunks are joined.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import weakref

import numpy as np

from streams.service.lru import LRU
from streams.service.pseudonym import EVENT_PREFIX

CHUNK = 65_536  # events read under the lock, then hashed outside it, at a time


class EventPseudonymIndex:
    """Hashed event ids of the graphs of the ``rumours`` rumours most recently looked up, in
    node order.

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
    >>> index.lookup(g, shown.event("e3")).result()
    'e3'
    """

    def __init__(self, pseudonymiser, rumours: int = 32):
        self.pseudo = pseudonymiser
        self._values = LRU(rumours)  # rumour -> (weak ref to its graph, uint64 values of nodes 0..n-1)
        # The hashing thread: one lookup at a time, so one computation per rumour (a second
        # lookup finds the first one's values), and the service's thread stays free.
        self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-pseudonyms")

    def lookup(self, graph, pseudonym: str, lock=None) -> concurrent.futures.Future:
        """A future of the event of ``graph`` whose pseudonym is ``pseudonym`` (None if none):
        done at once for an event this process named lately, else computed on the index's
        thread. ``lock``: the pipeline's (the graph grows under it), held to read the graph,
        not while hashing."""
        lock = lock if lock is not None else contextlib.nullcontext()
        with lock:
            # An event this process named lately (the tree, a trace): no hashing at all.
            shown = self.pseudo.shown_event(pseudonym)
            known = shown is not None and graph.node(shown) >= 0
        if known:
            done = concurrent.futures.Future()
            done.set_result(shown)
            return done
        return self._thread.submit(self._find, graph, pseudonym, lock)

    def resolve(self, graph, pseudonym: str, lock=None) -> str | None:
        """:meth:`lookup`, waited for (blocks the calling thread while the rumour is hashed)."""
        return self.lookup(graph, pseudonym, lock).result()

    def _find(self, graph, pseudonym: str, lock) -> str | None:
        # On the index's thread.
        values = self._hashed(graph, lock)
        value = int(pseudonym[len(EVENT_PREFIX):], 16)
        with lock:
            for node in np.flatnonzero(values == np.uint64(value)).tolist():
                event_id = graph.ev.strings(np.array([node]))[0]
                # Checked again: two events sharing 64 bits, or values of a replaced graph.
                if event_id is not None and self.pseudo.event_number(event_id) == value:
                    return event_id
        return None

    def _hashed(self, graph, lock) -> np.ndarray:
        """The values of every node of ``graph`` (as of now): those hashed before, and the
        nodes added since, hashed a chunk at a time."""
        cached = self._values.get(graph.rumour_id)
        parts = []
        if cached is not None and cached[0]() is graph:
            parts.append(cached[1])
        start = len(parts[0]) if parts else 0
        while True:
            with lock:
                if start > graph.n_nodes:  # not this graph's values after all: start over
                    parts, start = [], 0
                # A node's id never changes (an account's placeholder has none: value 0). The
                # ids' UTF-8 bytes as the graph holds them, copied: no str made under the lock.
                buf, starts, ends = graph.ev.utf8_range(start, min(start + CHUNK, graph.n_nodes))
            if not len(starts):
                break
            parts.append(self.pseudo.encoded_event_numbers(buf, starts, ends))
            start += len(starts)
        values = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
        self._values[graph.rumour_id] = (weakref.ref(graph), values)
        return values
