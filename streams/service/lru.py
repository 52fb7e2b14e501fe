"""The service's per-rumour query caches (issue 5): a cache keyed by rumour id that is never
trimmed grows with every rumour ever queried. The mapping itself is :class:`streams.lru.LRU`."""
from __future__ import annotations

from streams.lru import LRU as _LRU

CACHED_RUMOURS = 1024  # rumours whose query results the service keeps (each a few KB to ~1 MB)


class LRU(_LRU):
    """:class:`streams.lru.LRU` holding :data:`CACHED_RUMOURS` rumours unless told otherwise.

    >>> c = LRU(2)
    >>> c["a"], c["b"] = 1, 2
    >>> c.get("a")
    1
    >>> c["c"] = 3
    >>> sorted(c.keys()), c.get("b")
    (['a', 'c'], None)
    """

    def __init__(self, size: int = CACHED_RUMOURS):
        super().__init__(size)
