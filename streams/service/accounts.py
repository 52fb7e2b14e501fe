"""Pseudonym -> account id per rumour, for tracing an account by its pseudonym (no HTTP here).

A pseudonym is a keyed hash: the only way back is to hash the rumour's accounts and look. Doing
that on every lookup costs one HMAC per account of the rumour on the service's single thread, so
the reverse map of a rumour is built once per version of the rumour (its graph's event count in
this process) and kept in an LRU of rumours.
"""
from __future__ import annotations

import time

from streams.service.lru import LRU


class PseudonymIndex:
    """Reverse maps of the rumours' accounts; ``reread_seconds`` bounds how often a pseudonym
    that is not found makes the rumour's accounts be read and hashed again.

    >>> from streams.service.pseudonym import Pseudonymiser
    >>> class Store:
    ...     def rumour_accounts(self, rumour_id): return ["a1", "a2"]
    >>> class Pipeline:
    ...     graphs = {}
    >>> p = Pseudonymiser(b"k" * 32)
    >>> index = PseudonymIndex(Pipeline(), Store(), p)
    >>> index.resolve("r1", p("a2")), index.resolve("r1", p("a3"))
    ('a2', None)
    """

    def __init__(self, pipeline, store, pseudonymiser, reread_seconds: float = 30.0):
        self.pipeline = pipeline
        self.store = store
        self.pseudo = pseudonymiser
        self.reread_seconds = reread_seconds
        self._maps = LRU()  # rumour -> (graph version, {pseudonym: account}, read at): bounded

    def resolve(self, rumour_id: str, pseudonym: str) -> str | None:
        """The account of the rumour whose pseudonym is ``pseudonym``, or None."""
        found = self._map(rumour_id).get(pseudonym)
        if found is None:
            # The store may hold accounts this process's graph has not seen yet (another
            # worker's rumour, or none loaded here): read again, at most every reread_seconds
            # (a caller sending unknown pseudonyms would otherwise rehash the rumour each time).
            found = self._map(rumour_id, refresh=True).get(pseudonym)
        return found

    def _map(self, rumour_id: str, refresh: bool = False) -> dict:
        graph = self.pipeline.graphs.get(rumour_id)
        version = graph.n_events if graph is not None else -1
        cached = self._maps.get(rumour_id)
        stale = cached is None or cached[0] != version or (
            refresh and time.monotonic() - cached[2] >= self.reread_seconds)
        if stale:
            accounts = self.store.rumour_accounts(rumour_id)
            cached = (version, {self.pseudo(a): a for a in accounts}, time.monotonic())
            self._maps[rumour_id] = cached
        return cached[1]
