"""Fixed-size memory of rumour ids: "might this rumour have history?" (issue 5, months of uptime).

A worker sees millions of rumours. Three of its questions are "has the store got events of this
rumour?" (the pipeline: restore it before its next event?) and "was this rumour's state dropped?"
(the alert router and the debunk tracker: rebuild it from the store?). Answered by a set of every
id ever seen, that memory grows ~80-90 bytes per rumour forever. All three tolerate a false
"yes" -- it costs one store query that finds nothing the tracker lacks, and the caller then
answers as if the answer had been "no" -- but never a false "no" (a rumour would lose its history).
That is the contract of a Bloom filter, so :class:`Seen` is one: a numpy bit array of a fixed
size, ``k`` bit positions per id derived from one 64-bit hash (blake2b, keyed by ``seed``) by
double hashing (Kirsch and Mitzenmacher), so memory never grows and nothing is ever forgotten.

Deriving the answers from the store instead (``SELECT ... WHERE rumour_id IN``) would ask the
store about every new rumour of every batch (the hot path); the filter asks it only on a "yes".

With ``n`` distinct ids in ``m`` bits the false-positive rate is about ``(1 - e^(-k n / m))^k``
(:func:`expected_false_positive_rate`): with the default 1 MB and k = 7, 0.1% at 550,000 ids,
1% at 875,000 (4 MB: 2.2 and 3.5 million). The default is small because every id sets 7 bits at
random, so after a few thousand ids nearly every page of the filter is resident: its whole size
is a fixed cost of each worker from the start (3 filters). It does not reset itself: a filter
past its size keeps answering correctly, only with more extra queries;
:meth:`Seen.false_positive_rate` reports the current estimate (from the fraction of bits set) so
an operator can raise ``id_filter_mb``.

:class:`ExactSeen` (a set with the same methods) is what ``id_filter_mb = 0`` gives: the old
unbounded behaviour, exact, for comparisons.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np

K_DEFAULT = 7  # optimal for ~10 bits per id (1% false positives); fixed so a size is one number


def expected_false_positive_rate(n: int, nbits: int, k: int = K_DEFAULT) -> float:
    """The textbook rate ``(1 - e^(-k n / m))^k`` of a Bloom filter of ``m`` bits holding ``n`` ids.

    >>> round(expected_false_positive_rate(1000, 10_000, 7), 4)
    0.0082
    """
    return (1.0 - math.exp(-k * n / nbits)) ** k


class Seen:
    """A Bloom filter of strings in ``nbytes`` bytes (rounded up to whole 8-byte words).

    >>> s = Seen(1024, seed=1)
    >>> s.add("r1"); s.update(["r2", "r3"])
    >>> "r1" in s, "r3" in s, "never" in s
    (True, True, False)
    >>> s.nbytes
    1024
    """

    def __init__(self, nbytes: int, k: int = K_DEFAULT, seed: int = 0):
        words = max(1, -(-int(nbytes) // 8))
        self._bits = np.zeros(words, dtype=np.uint64)
        self.nbits = words * 64
        self.k = int(k)
        # The key makes the bit positions depend on the seed (tests), not on Python's salted hash().
        self._key = int(seed).to_bytes(8, "little", signed=True)
        self._steps = np.arange(self.k, dtype=np.uint64)
        self.added = 0  # add calls (ids may repeat): for metrics only

    @property
    def nbytes(self) -> int:
        return int(self._bits.nbytes)

    def _hash(self, rumour_id) -> int:
        return int.from_bytes(hashlib.blake2b(str(rumour_id).encode(), digest_size=8, key=self._key).digest(),
                              "little")

    def _hashes(self, ids) -> np.ndarray:
        return np.fromiter(map(self._hash, ids), dtype=np.uint64)

    def _positions(self, hashes: np.ndarray) -> np.ndarray:
        """``(len(hashes), k)`` bit positions: h1 + i * h2 mod m (h2 odd, so the k differ)."""
        h1 = hashes & np.uint64(0xFFFFFFFF)
        h2 = (hashes >> np.uint64(32)) | np.uint64(1)
        return (h1[:, None] + self._steps[None, :] * h2[:, None]) % np.uint64(self.nbits)

    def update(self, ids) -> None:
        """Add every id of an iterable."""
        hashes = self._hashes(ids)
        if not hashes.size:
            return
        pos = self._positions(hashes).ravel()
        # bitwise_or.at: repeated words within one call each get their bit (a plain |= would not).
        np.bitwise_or.at(self._bits, pos >> np.uint64(6), np.uint64(1) << (pos & np.uint64(63)))
        self.added += int(hashes.size)

    def add(self, rumour_id) -> None:
        self.update((rumour_id,))

    def contains_many(self, ids) -> np.ndarray:
        """A bool per id: False means certainly never added."""
        hashes = self._hashes(ids)
        if not hashes.size:
            return np.zeros(0, dtype=bool)
        pos = self._positions(hashes)
        words = self._bits[pos >> np.uint64(6)]
        return ((words >> (pos & np.uint64(63))) & np.uint64(1)).astype(bool).all(axis=1)

    def __contains__(self, rumour_id) -> bool:
        # One id: plain ints (numpy's per-call overhead on tiny arrays is ~40 us, this ~2 us).
        h = self._hash(rumour_id)
        h1, h2, m, bits = h & 0xFFFFFFFF, (h >> 32) | 1, self.nbits, self._bits
        for i in range(self.k):
            p = (h1 + i * h2) % m
            if not (bits.item(p >> 6) >> (p & 63)) & 1:
                return False
        return True

    def fill(self) -> float:
        """The fraction of bits set."""
        return float(np.unpackbits(self._bits.view(np.uint8)).sum()) / self.nbits

    def false_positive_rate(self) -> float:
        """The chance that an id never added is reported present, now (fill ** k)."""
        return self.fill() ** self.k

    def sizes(self) -> dict:
        return {"bytes": self.nbytes, "added": self.added, "false_positive_rate": self.false_positive_rate()}


class ExactSeen(set):
    """The unbounded, exact variant (a set of the ids) behind the same methods.

    >>> s = ExactSeen(); s.update(["a"]); ("a" in s, "b" in s, s.contains_many(["b", "a"]).tolist())
    (True, False, [False, True])
    """

    @property
    def added(self) -> int:
        return len(self)

    @property
    def nbytes(self) -> int:
        import sys

        return sys.getsizeof(self) + sum(sys.getsizeof(i) for i in self)

    def contains_many(self, ids) -> np.ndarray:
        return np.fromiter((i in self for i in ids), dtype=bool)

    def false_positive_rate(self) -> float:
        return 0.0

    def sizes(self) -> dict:
        return {"bytes": self.nbytes, "added": len(self), "false_positive_rate": 0.0}


def make_seen(mb: float | None, seed: int = 0):
    """A :class:`Seen` of ``mb`` megabytes (2**20 bytes), or an :class:`ExactSeen` for 0 / None.

    >>> type(make_seen(1)).__name__, make_seen(1).nbytes, type(make_seen(0)).__name__
    ('Seen', 1048576, 'ExactSeen')
    """
    if not mb:
        return ExactSeen()
    return Seen(int(mb * (1 << 20)), seed=seed)


def configured_mb() -> float:
    """``id_filter_mb`` from the environment or its default (for objects built without it)."""
    from streams.settings import resolve, setting

    return resolve((setting("id_filter_mb"),))["id_filter_mb"]


class DroppedIds:
    """Which rumours a capped tracker dropped (the alert router's and the debunk tracker's
    per-rumour state): a :func:`make_seen` filter made at the first drop, so a tracker that never
    drops keeps nothing, and the listing of held plus dropped rumours from the store.

    ``lister`` (the store's rumour ids) enumerates dropped rumours; without it the memory is an
    exact set (``id_filter_mb`` is then ignored): nothing else could list them. With it,
    ``id_filter_mb`` (None: :func:`configured_mb`) sizes the filter. Answers are a superset of the
    dropped ids (the filter's false "yes"), never a false "no".

    >>> d = DroppedIds(lister=lambda: ["r1", "r2", "r3"], id_filter_mb=1)
    >>> d.which_dropped(["r1"]), d.holds_any
    (set(), False)
    >>> d.add(["r1", "r2"])
    >>> sorted(d.which_dropped(["r1", "r2", "never"])), "r1" in d
    (['r1', 'r2'], True)
    >>> d.listing({"r3", "held"})  # the held ones and the listed ones that were dropped
    ['held', 'r1', 'r2', 'r3']
    """

    def __init__(self, id_filter_mb: float | None = None, lister=None, seed: int = 0):
        self.id_filter_mb = id_filter_mb
        self.lister = lister
        self.seed = seed
        self.ids = None  # the Seen / ExactSeen, made at the first drop

    def filter_mb(self) -> float:
        """The filter's size; 0 (an exact set) without a lister."""
        if self.lister is None:
            return 0
        return configured_mb() if self.id_filter_mb is None else self.id_filter_mb

    @property
    def holds_any(self) -> bool:
        """Was anything dropped yet (else every answer is "no" and nothing is asked)?"""
        return self.ids is not None

    def add(self, ids) -> None:
        """Remember dropped ids (a list; an empty one makes no filter)."""
        if not ids:
            return
        if self.ids is None:
            self.ids = make_seen(self.filter_mb(), seed=self.seed)
        self.ids.update(ids)

    def add_stored(self, held, stored=None) -> None:
        """Count every stored rumour not in ``held`` (the states in memory) as dropped: a worker's
        start or a partition assignment, so that a tracker completes those rumours from the store
        instead of counting them from zero. ``stored``: the store's rumour ids when the caller
        has listed them already (else ``lister`` is asked: one query)."""
        if stored is None:
            if self.lister is None:
                return
            stored = self.lister()
        self.add([r for r in stored if r not in held])

    def trim(self, states, keep) -> int:
        """Trim ``states`` (a manual :class:`streams.lru.LRU`) to its cap sparing ``keep``,
        remember what went; the number dropped."""
        # trim's answer, not an on_evict bound to the tracker: that would make it a cycle.
        dropped = states.trim(keep)
        self.add(dropped)
        return len(dropped)

    def __contains__(self, rumour_id) -> bool:
        return self.ids is not None and rumour_id in self.ids

    def which_dropped(self, absent) -> set:
        """Those of ``absent`` (ids the tracker does not hold) that may have been dropped."""
        if self.ids is None:
            return set()
        absent = list(absent)
        return {r for r, hit in zip(absent, self.ids.contains_many(absent)) if hit}

    def listing(self, held) -> list:
        """Every rumour ``held`` (a set) or dropped, sorted: the dropped ones are the exact set's,
        or those of the store's list (``lister``) that the filter calls dropped."""
        if self.ids is None:
            return sorted(held)
        if self.lister is None:  # an exact set (filter_mb)
            return sorted(held | self.ids)
        return sorted(held | self.which_dropped(r for r in self.lister() if r not in held))

    def sizes(self) -> dict:
        """``evicted_ids`` (adds; ids may repeat) and ``evicted_id_bytes`` (the tracker's sizes)."""
        return {"evicted_ids": 0 if self.ids is None else self.ids.added,
                "evicted_id_bytes": 0 if self.ids is None else self.ids.nbytes}
