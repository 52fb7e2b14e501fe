"""The slot layout of the id tables (:class:`graph.ids.IdIndex`) and the numba helpers that
hash, probe and fill them; the kernels of ``graph/`` call these directly.

An id table is an open-addressing table (linear probing, load <= ``graph.ids.MAX_LOAD``) of
int32 slots that finds a string of the id arena by a 64-bit hash (:func:`id_hash`: FNV-1a,
finished by a mixer); a hit is confirmed by comparing the bytes, so a hash collision can never
merge two ids. A table need not have a power-of-two size (it grows by ``graph.ids.TABLE_GROWTH``
at most, not by doubling), so an id's first slot is the hash's high half scaled to the table
(:func:`home_slot`, a multiply and a shift, no division). A slot holds the index in its low
``k`` bits (``2**k`` >= the table size, :func:`index_mask`) and a *tag* (bits ``k..30`` of the
hash's low half) above them: at 10^6 ids most slots of a probe run are rejected by their tag
alone, so a lookup touches the id's offsets and bytes only for the (almost always one) real
candidate, and an absent id costs the cache line or two of its run.

No growth, sizing or Python-side state here: that is :mod:`graph.ids`.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def id_hash(buf, s, e):
    """64-bit hash of ``buf[s:e]``: FNV-1a, then murmur3's fmix64 finaliser. Deterministic across
    processes (unlike ``hash``). Why the finaliser: FNV-1a's low bits depend only on the low bits
    of the bytes, and the table takes its tags from the low half.

    >>> b = np.frombuffer(b"ab", np.uint8)
    >>> bool(id_hash(b, 0, 2) == id_hash(b.copy(), 0, 2)), bool(id_hash(b, 0, 1) != id_hash(b, 1, 2))
    (True, True)
    """
    h = np.uint64(0xCBF29CE484222325)
    p = np.uint64(0x100000001B3)
    for i in range(s, e):
        h = (h ^ np.uint64(buf[i])) * p
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


@njit(cache=True)
def home_slot(h, size):
    """The first slot of hash ``h`` in a table of ``size`` slots (any size < 2**32): the high
    32 bits scaled to the size (Lemire's multiply-shift range reduction).

    >>> int(home_slot(np.uint64(0), 10)), int(home_slot(np.uint64(0xFFFFFFFF00000000), 10))
    (0, 9)
    """
    return np.int64(((h >> np.uint64(32)) * np.uint64(size)) >> np.uint64(32))


@njit(cache=True)
def next_slot(slot, size):
    """The slot after ``slot`` in a probe run: the next one, wrapping at the table's end.

    >>> int(next_slot(3, 10)), int(next_slot(9, 10))
    (4, 0)
    """
    slot += 1
    return 0 if slot == size else slot


@njit(cache=True)
def index_mask(size):
    """``2**k - 1`` for the least ``k`` with ``2**k >= size``: a slot's index bits.

    >>> int(index_mask(16)), int(index_mask(24)), int(index_mask(1))
    (15, 31, 0)
    """
    x = np.int64(size) - 1
    x |= x >> 1
    x |= x >> 2
    x |= x >> 4
    x |= x >> 8
    x |= x >> 16
    x |= x >> 32
    return x


@njit(cache=True)
def bytes_cmp(a, sa, ea, b, sb, eb):
    """-1, 0 or 1 comparing ``a[sa:ea]`` with ``b[sb:eb]`` bytewise (UTF-8 order = str order)."""
    la = ea - sa
    lb = eb - sb
    m = la if la < lb else lb
    for i in range(m):
        x = a[sa + i]
        y = b[sb + i]
        if x != y:
            return -1 if x < y else 1
    if la == lb:
        return 0
    return -1 if la < lb else 1


@njit(cache=True)
def tag_of(h, mask):
    """The tag a table whose index bits are ``mask`` keeps of hash ``h`` (see the module
    docstring): the bits of the low half above the index bits, below the sign bit.

    >>> hex(tag_of(np.uint64(0xFFFFFFFF), np.int64(15)))
    '0x7ffffff0'
    """
    return np.int64(h & np.uint64(0x7FFFFFFF)) & ~mask


@njit(cache=True)
def lookup(table, offs, arena, buf, s, e, h):
    """(index or -1, slot where it is or would go) for the string ``buf[s:e]`` with hash ``h``."""
    size = np.int64(table.shape[0])
    mask = index_mask(size)
    tags = np.int64(0x7FFFFFFF) & ~mask
    tag = tag_of(h, mask)
    slot = home_slot(h, size)
    n = e - s
    while True:
        v = np.int64(table[slot])
        if v == -1:
            return -1, slot
        if (v & tags) == tag:
            j = v & mask
            a0 = offs[j]
            if offs[j + 1] - a0 == n:
                same = True
                for t in range(n):
                    if arena[a0 + t] != buf[s + t]:
                        same = False
                        break
                if same:
                    return j, slot
        slot = next_slot(slot, size)


@njit(cache=True)
def append_at(table, slot, offs, arena, count, buf, s, e, h):
    """Store ``buf[s:e]`` (hash ``h``) as index ``count`` in table slot ``slot`` (from
    :func:`lookup`; -1: a blank, not in the table); returns count+1.

    The caller guarantees capacity: ``offs`` has room for ``count + 2`` entries, the arena for
    the bytes, the table for one more id under the load limit.
    """
    a0 = offs[count]
    for t in range(e - s):
        arena[a0 + t] = buf[s + t]
    offs[count + 1] = a0 + (e - s)
    if slot >= 0:
        table[slot] = count | tag_of(h, index_mask(table.shape[0]))
    return count + 1
