"""One least-recently-used mapping for every count-bounded per-rumour cache: the service's query
caches and pseudonyms (a cache keyed by rumour or account that is never trimmed grows with
every one ever seen, issue 5) and the governance trackers' per-rumour state (dropped beyond the
cap and rebuilt from the store; :meth:`LRU.trim` tells them which rumours went).
``streams.rumour_graphs`` keeps its own order: it is bounded by bytes, not by count."""
from __future__ import annotations

import threading
from collections import OrderedDict


class LRU:
    """A mapping that keeps its ``size`` most recently used entries.

    ``size``: an int, a callable giving the cap now (read at every trim: the governance cap
    follows the pipeline's graph count), or None (no cap); a cap below 1 counts as 1.
    An owner that must know what went reads :meth:`trim`'s answer (a callback bound to the
    owner would make it a reference cycle, freed only by the cyclic collector: bad for owners
    made per request).

    As a cache (``manual=False``), ``get``, ``[]`` and assignment count as use and every
    assignment trims. With ``manual=True`` the order is an OrderedDict's (new keys last) moved
    only by :meth:`touch`, and only :meth:`trim` drops entries:
    the governance trackers read and add states while counting a batch and must not lose them
    (or have redelivered events count as activity) before the batch is done.

    >>> c = LRU(2)
    >>> c["a"], c["b"] = 1, 2
    >>> c.get("a")
    1
    >>> c["c"] = 3
    >>> list(c), c.get("b")
    (['a', 'c'], None)

    Manual use: assignments may overshoot the cap until :meth:`trim`, which spares ``keep``.

    >>> m = LRU(1, manual=True)
    >>> m["x"], m["y"] = 1, 2
    >>> m.trim(keep={"x"}), list(m)
    (['y'], ['x'])
    """

    def __init__(self, size=None, manual: bool = False):
        self.size = size
        self.manual = manual
        self._data: OrderedDict = OrderedDict()  # least recently used first
        # The service's request handlers (event loop) and its executor thread share its caches:
        # an unlocked "is it there, move it to the end" can meet another thread's eviction.
        # (The trackers hold their own lock as well; an uncontended one costs well under 1 us.)
        self._lock = threading.Lock()

    def cap(self) -> int | None:
        """The number of entries kept now (None: no cap)."""
        size = self.size() if callable(self.size) else self.size
        return None if size is None else max(1, size)

    # -- reads --------------------------------------------------------------------------------
    def get(self, key, default=None):
        """The value (most recently used now, unless ``manual``), or ``default``."""
        with self._lock:
            if key not in self._data:
                return default
            if not self.manual:
                self._data.move_to_end(key)
            return self._data[key]

    def __getitem__(self, key):
        with self._lock:
            value = self._data[key]
            if not self.manual:
                self._data.move_to_end(key)
            return value

    def peek(self, key, default=None):
        """The value without counting as use."""
        return self._data.get(key, default)

    def __contains__(self, key) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self):
        """Keys, least recently used first (a copy: the mapping may change meanwhile)."""
        return iter(self.keys())

    def keys(self) -> list:
        with self._lock:
            return list(self._data)

    def values(self) -> list:
        with self._lock:
            return list(self._data.values())

    def items(self) -> list:
        with self._lock:
            return list(self._data.items())

    # -- writes -------------------------------------------------------------------------------
    def __setitem__(self, key, value) -> None:
        """A new key is most recently used; an existing one too, unless ``manual``."""
        with self._lock:
            self._data[key] = value
            if self.manual:
                return
            self._data.move_to_end(key)
            self._pick(())

    def touch(self, key) -> None:
        """Mark ``key`` (if present) most recently used."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)

    def pop(self, key, default=None):
        with self._lock:
            return self._data.pop(key, default)

    def __delitem__(self, key) -> None:
        with self._lock:
            del self._data[key]

    def trim(self, keep=()) -> list:
        """Drop the least recently used entries beyond the cap, except those in ``keep``; the
        dropped keys, least recently used first."""
        with self._lock:
            return self._pick(keep)

    def _pick(self, keep) -> list:
        """Remove and return the keys beyond the cap, oldest first (lock held)."""
        cap = self.cap()
        excess = 0 if cap is None else len(self._data) - cap
        if excess <= 0:
            return []
        victims = []
        for key in self._data:  # oldest first; stop as soon as enough are found
            if key not in keep:
                victims.append(key)
                if len(victims) == excess:
                    break
        for k in victims:
            del self._data[k]
        return victims
