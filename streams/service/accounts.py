"""Pseudonym -> account id per rumour, for tracing an account by its pseudonym (no HTTP here).

A pseudonym is a keyed hash: the only way back is to hash the rumour's accounts and look. Doing
that on every lookup costs one HMAC per account of the rumour on the service's single thread, so
the reverse map of a rumour (its pseudonyms' 64-bit values, sorted) is built once per version of
the rumour (its graph's event count in this process) and kept in an LRU of rumours.
"""
from __future__ import annotations

import time

import numpy as np

from streams.service.lru import LRU
from streams.service.pseudonym import PREFIX


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
        self._maps = LRU()  # rumour -> (graph version, (values, order, accounts), read at): bounded

    def resolve(self, rumour_id: str, pseudonym: str) -> str | None:
        """The account of the rumour whose pseudonym is ``pseudonym``, or None."""
        value = int(pseudonym[len(PREFIX):], 16)
        found = _find(self._map(rumour_id), value)
        if found is None:
            # The store may hold accounts this process's graph has not seen yet (another
            # worker's rumour, or none loaded here): read again, at most every reread_seconds
            # (a caller sending unknown pseudonyms would otherwise rehash the rumour each time).
            found = _find(self._map(rumour_id, refresh=True), value)
        return found

    def _map(self, rumour_id: str, refresh: bool = False) -> tuple:
        graph = self.pipeline.graphs.get(rumour_id)
        version = graph.n_events if graph is not None else -1
        cached = self._maps.get(rumour_id)
        stale = cached is None or cached[0] != version or (
            refresh and time.monotonic() - cached[2] >= self.reread_seconds)
        if stale:
            accounts = self.store.rumour_accounts(rumour_id)
            values = np.fromiter((self.pseudo.number(a) for a in accounts), dtype=np.uint64, count=len(accounts))
            # Sorted pseudonym values and where each account sits: 16 bytes per account beside
            # the ids, where a dict of pseudonym strings took ~107 (a 10^6-account rumour: ~100 MB).
            order = np.argsort(values, kind="stable")
            cached = (version, (values[order], order, accounts), time.monotonic())
            self._maps[rumour_id] = cached
        return cached[1]


def _find(index: tuple, value: int) -> str | None:
    values, order, accounts = index
    i = int(np.searchsorted(values, np.uint64(value)))
    if i < len(values) and int(values[i]) == value:
        return accounts[int(order[i])]
    return None
