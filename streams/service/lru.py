"""A small least-recently-used mapping for the service's per-rumour caches (issue 5): a cache
keyed by rumour id that is never trimmed grows with every rumour ever queried."""
from __future__ import annotations

import threading
from collections import OrderedDict

CACHED_RUMOURS = 1024  # rumours whose query results the service keeps (each a few KB to ~1 MB)


class LRU:
    """``get``/``__setitem__`` like a dict; beyond ``size`` entries the least recently used goes.

    >>> c = LRU(2)
    >>> c["a"], c["b"] = 1, 2
    >>> c.get("a")
    1
    >>> c["c"] = 3
    >>> sorted(c.keys()), c.get("b")
    (['a', 'c'], None)
    """

    def __init__(self, size: int = CACHED_RUMOURS):
        self.size = max(1, size)
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()  # request handlers may run in several threads

    def get(self, key, default=None):
        with self._lock:
            if key not in self._data:
                return default
            self._data.move_to_end(key)
            return self._data[key]

    def __setitem__(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def pop(self, key, default=None):
        with self._lock:
            return self._data.pop(key, default)

    def keys(self):
        return self._data.keys()

    def __len__(self) -> int:
        return len(self._data)
