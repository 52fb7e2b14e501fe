"""Working memory of the cut-off kernel (graph/kernels_cutoff.py), kept between calls.

Why: the cut-off of a 10^6-share cascade works in about 50-80 MB of per-node and per-account
arrays. Allocated fresh on every call, each came from the kernel as new pages, and every first
touch of a page was a minor fault: about 12,000 faults, some 30 ms, of an independent-cascade
cut-off of 90 ms. Kept here, a call touches pages it already owns; the arrays are only ever
overwritten, so no call sees another's data.

One scratch per thread (:func:`for_thread`), shared by every graph the thread asks, rather than
one per graph: a worker holds thousands of rumour graphs, and a copy on each would more than
double their memory. It grows to the largest graph asked (by 1/8 more than needed, so a graph
that keeps growing reallocates only now and then) and never shrinks.
"""
from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np

from graph.ids import GROWTH  # headroom of a regrown scratch: the graph's own arrays' step

_local = threading.local()


class NodeBuffers(NamedTuple):
    """Per-node buffers of one call (a tuple to the kernels: numba takes it as one argument)."""

    slot: np.ndarray  # int32 (n + 1): the preorder slots, later the greedy's rebuild prefix sums
    nxt: np.ndarray  # int32
    cnt: np.ndarray  # int32
    packed: np.ndarray  # int64
    cum: np.ndarray  # int32 (n + 1)
    nxt_top: np.ndarray  # int32
    flags: np.ndarray  # uint8
    fen: np.ndarray  # int32 (n + 1)


class AccountBuffers(NamedTuple):
    """Per-account buffers of one call."""

    row: np.ndarray  # int32 (n_acc, 4)
    first_ts: np.ndarray  # int64
    bits: np.ndarray  # uint8
    order: np.ndarray  # int32
    hg: np.ndarray  # int64
    ha: np.ndarray  # int32
    rpc: np.ndarray  # int32
    excluded: np.ndarray  # uint8: accounts never to pick (the origins', by default)


class Fitted(NamedTuple):
    """What :meth:`CutoffScratch.fit` returns."""

    nodes: NodeBuffers
    accounts: AccountBuffers


class CutoffScratch:
    """Buffers for up to ``nodes`` nodes and ``accounts`` accounts, grown by :meth:`fit`.

    >>> s = CutoffScratch()
    >>> nodes, accounts = s.fit(100, 10)
    >>> len(nodes.slot), nodes.slot.dtype.name, accounts.row.shape, s.nodes >= 101
    (101, 'int32', (10, 4), True)
    >>> s.fit(50, 5).nodes.slot.base is nodes.slot.base  # a smaller graph reuses the same memory
    True
    """

    def __init__(self):
        self.nodes = 0  # node capacity (each node buffer holds nodes + 1 entries at most)
        self.accounts = 0
        self._node_bufs = ()
        self._account_bufs = ()

    def fit(self, n: int, n_acc: int) -> Fitted:
        """``(nodes, accounts)``: the :class:`NodeBuffers` and :class:`AccountBuffers` as views
        of exactly ``n`` / ``n_acc`` rows (``n + 1`` for ``slot``, ``cum`` and ``fen``).

        Contents are whatever an earlier call left: every user overwrites before reading.
        """
        if n + 1 > self.nodes:
            cap = int((n + 1) * GROWTH)
            self._node_bufs = tuple(np.empty(cap, t) for t in
                                    (np.int32, np.int32, np.int32, np.int64, np.int32, np.int32,
                                     np.uint8, np.int32))
            self.nodes = cap
        if n_acc > self.accounts or not self._account_bufs:  # made on first use, even for none
            cap = int(n_acc * GROWTH) + 1
            self._account_bufs = (np.empty((cap, 4), np.int32),) + tuple(
                np.empty(cap, t) for t in
                (np.int64, np.uint8, np.int32, np.int64, np.int32, np.int32, np.uint8))
            self.accounts = cap
        slot, nxt, cnt, packed, cum, nxt_top, flags, fen = self._node_bufs
        nodes = NodeBuffers(slot[:n + 1], nxt[:n], cnt[:n], packed[:n], cum[:n + 1], nxt_top[:n],
                            flags[:n], fen[:n + 1])
        return Fitted(nodes, AccountBuffers(*(b[:n_acc] for b in self._account_bufs)))

    def nbytes(self) -> int:
        """Bytes held.

        >>> s = CutoffScratch(); _ = s.fit(1000, 0); s.nbytes() > 1000 * 29
        True
        """
        return sum(b.nbytes for b in self._node_bufs + self._account_bufs)


def for_thread() -> CutoffScratch:
    """This thread's scratch (made on first use).

    >>> for_thread() is for_thread()
    True
    """
    s = getattr(_local, "scratch", None)
    if s is None:
        s = _local.scratch = CutoffScratch()
    return s
