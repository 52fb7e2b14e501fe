"""The report desk's event-id index (:class:`PostRumours`): event id -> rumour for the events
of the most recently active rumours, as a numpy open-addressing table of the ids' 64-bit hashes
(:func:`~streams.governance.view_kernels.hashes_of`) filled and emptied by numba.

Why not a dict (session 21, issue 5): the worker shows the desk every stored event, and a dict
keyed by the ids cost its observers 0.3-0.4 us per event with str keys, about 0.3 with int keys
(each id an int object, three dict passes); the table costs a few tens of ns and 16 bytes per
slot (load <= 1/2), plus the 8-byte hash each rumour keeps of the ids it owns. Exactness: a
rumour found here is confirmed in its graph (:meth:`~streams.governance.report_links.ReportLinks.by_event`).
"""
from __future__ import annotations

from collections import OrderedDict

import numba
import numpy as np

from graph.ids_encode import encode_batch
from streams.governance.view_kernels import EMPTY_HASH, hash_slot, hashes_of


@numba.njit(cache=True)
def _insert_first(keys, vals, hashes, code):  # pragma: no cover - compiled
    """Insert each hash with value ``code`` unless present; True for those inserted (the first
    of equal hashes)."""
    new = np.zeros(len(hashes), np.bool_)
    for j in range(len(hashes)):
        i = hash_slot(keys, hashes[j])
        if keys[i] == EMPTY_HASH:
            keys[i] = hashes[j]
            vals[i] = code
            new[j] = True
    return new


@numba.njit(cache=True)
def _find(keys, vals, h):  # pragma: no cover - compiled
    mask = len(keys) - 1
    i = h & mask
    while keys[i] != EMPTY_HASH:
        if keys[i] == h:
            return vals[i]
        i = (i + 1) & mask
    return -1


@numba.njit(cache=True)
def _delete(keys, vals, hashes):  # pragma: no cover - compiled
    """Remove each hash present; the run after it shifted back (linear probing, no tombstones)."""
    mask = len(keys) - 1
    for h in hashes:
        i = h & mask
        while keys[i] != EMPTY_HASH and keys[i] != h:
            i = (i + 1) & mask
        if keys[i] == EMPTY_HASH:
            continue
        j = i
        while True:
            j = (j + 1) & mask
            k = keys[j]
            if k == EMPTY_HASH:
                break
            home = k & mask
            # keys[j] stays unless the hole at i lies on its probe path (home .. j, cyclically)
            if (i <= j and (home <= i or home > j)) or (i > j and home <= i and home > j):
                keys[i] = k
                vals[i] = vals[j]
                i = j
        keys[i] = EMPTY_HASH
        vals[i] = -1


@numba.njit(cache=True)
def _refill(keys, vals, old_keys, old_vals):  # pragma: no cover - compiled
    mask = len(keys) - 1
    for s in range(len(old_keys)):
        h = old_keys[s]
        if h == EMPTY_HASH:
            continue
        i = h & mask
        while keys[i] != EMPTY_HASH:
            i = (i + 1) & mask
        keys[i] = h
        vals[i] = old_vals[s]


def _hashes(event_ids) -> np.ndarray:
    """The ids' :func:`~streams.governance.view_kernels.hashes_of` (given: an int64 array)."""
    if isinstance(event_ids, np.ndarray):
        return event_ids
    return hashes_of(*encode_batch(list(event_ids)))


class PostRumours:
    """Event id -> rumour, for the events seen of the ``capacity`` most recently active rumours
    (None: all); an event id keeps the first rumour it was seen in. Ids are known by their
    64-bit hashes (see the module).

    >>> posts = PostRumours(capacity=2)
    >>> posts.add("r1", ["m1", "s1"]); posts.add("r2", ["m2"]); posts.touch(["r1"])
    >>> posts.add("r3", ["m3"])  # r2: least recently active
    >>> posts.rumour_of("s1"), posts.rumour_of("m2"), posts.rumours(), len(posts)
    ('r1', None, ['r1', 'r3'], 3)
    """

    def __init__(self, capacity: int | None):
        if capacity is not None and capacity < 1:
            raise ValueError("capacity: expected at least 1 (None: no limit)")
        self.capacity = capacity
        self._keys = np.full(64, EMPTY_HASH, np.int64)  # id hashes
        self._vals = np.full(64, -1, np.int32)  # their rumours' codes
        self._count = 0
        self._code: dict[str, int] = {}
        self._rumour: list = []  # code -> rumour (None: free)
        self._free: list[int] = []
        # rumour -> the hashes of the ids it owns (arrays, one per add), least recently active first
        self._events: OrderedDict[str, list] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, rumour_id: str) -> bool:
        return rumour_id in self._events

    @property
    def covered(self):
        """The rumours kept (a live view, for membership tests)."""
        return self._events.keys()

    def rumours(self) -> list[str]:
        """The rumours kept, least recently active first."""
        return list(self._events)

    def rumour_of(self, event_id: str) -> str | None:
        code = int(_find(self._keys, self._vals, _hashes([event_id])[0]))
        return None if code < 0 else self._rumour[code]

    def add(self, rumour_id: str, event_ids) -> None:
        """Index events of ``rumour_id`` (their ids, or an int64 array of the ids' hashes) and
        count it as active now."""
        hashes = _hashes(event_ids)
        events = self._events.get(rumour_id)
        if events is None:
            events = self._events[rumour_id] = []
            code = self._free.pop() if self._free else len(self._rumour)
            if code == len(self._rumour):
                self._rumour.append(None)
            self._rumour[code] = rumour_id
            self._code[rumour_id] = code
        else:
            self._events.move_to_end(rumour_id)
        if len(hashes):
            self._reserve(len(hashes))
            owned = hashes[_insert_first(self._keys, self._vals, hashes, self._code[rumour_id])]
            if len(owned):
                events.append(owned)
                self._count += len(owned)
        if self.capacity is not None:
            while len(self._events) > self.capacity:
                self._drop(next(iter(self._events)))
                self.evicted += 1

    def _reserve(self, extra: int) -> None:
        size = len(self._keys)
        if 2 * (self._count + extra) <= size:
            return
        while 2 * (self._count + extra) > size:
            size *= 2
        keys, vals = np.full(size, EMPTY_HASH, np.int64), np.full(size, -1, np.int32)
        _refill(keys, vals, self._keys, self._vals)
        self._keys, self._vals = keys, vals

    def touch(self, rumour_ids) -> None:
        """Count these rumours as active now (those kept; others are ignored)."""
        for rid in rumour_ids:
            if rid in self._events:
                self._events.move_to_end(rid)

    def discard(self, rumour_id: str) -> None:
        """Let a rumour go now (nothing when it is not kept)."""
        if rumour_id in self._events:
            self._drop(rumour_id)

    def _drop(self, rumour_id: str) -> None:
        gone = self._events.pop(rumour_id)  # only the ids this rumour owns
        if gone:
            hashes = np.concatenate(gone)
            _delete(self._keys, self._vals, hashes)
            self._count -= len(hashes)
        code = self._code.pop(rumour_id)
        self._rumour[code] = None
        self._free.append(code)
