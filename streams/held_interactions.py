"""The account interaction graph of the rumour graphs a pipeline holds, kept current batch by
batch, for ``trace?parents=1`` (streams/service/trace_parents.py).

What it counts: for every share graph held in memory (``Pipeline.graphs``; debunk cascades not),
each link of its resolved forest whose child and parent have different known accounts, as one
``(child account, parent account)`` pair: exactly :func:`streams.trace.interactions_of` of the
held graphs, at every moment. The CLI (`rumour trace --parents`) counts every rumour of its
input; a service counts what it holds: a graph evicted by the memory budget, or of a partition
revoked at a rebalance, leaves the counts when it is dropped and comes back when it is rebuilt
from the store; a rumour owned by another worker and borrowed for one query counts while held.

How: the pipeline calls :meth:`HeldInteractions.update` after a batch changed a graph and
:meth:`HeldInteractions.drop` when it drops one. Each graph's contribution is remembered per
node (its link's two account numbers, 8 bytes a node); an update compares the graph's current
links with those in one pass (graph/kernels_interactions.py) and counts only the nodes that
differ, so a batch costs the links it adds or changes (a child before its parent: when the
parent arrives its children's links change and are counted then; a duplicate changes nothing
and counts nothing) plus one pass over each graph it changed, never a rebuild. A graph
new to the tracker (its first batch, a restore from the store) is counted whole, once.
The request side (:meth:`HeldInteractions.view`) maps one rumour's accounts to the tracker's
numbers and reads the kept arrays as they are, so the pipeline's lock is held for that rumour's
size, not for the whole graph of interactions.

Memory: no Python object per account or pair. Accounts are interned in one
:class:`graph.ids.IdIndex` (their UTF-8 bytes, no str), with a count of the held graphs naming
each; the pairs are a sorted int64 key array with an int64 count array (16 bytes a pair) into
which each batch's changes are merged (numpy, O(pairs) memory moves, every
``MERGE_FRACTION`` of the pairs or before a request); accounts no held graph names any more are
dropped by a compaction once they are half the index. All of it grows only with the graphs held,
which ``graph_memory_mb`` already bounds: no setting of its own (figures measured on the Weibo
cascades: README, "What a trace's keys mean", ``parents``).
"""
from __future__ import annotations

import logging

import numpy as np

from graph import ids as gids
from graph.kernels_interactions import SHIFT as _SHIFT
from graph.kernels_interactions import account_link_changes

_NONE = np.zeros(0, np.int32)
_LOW = (1 << _SHIFT) - 1
# Pending changes are merged into the sorted pairs (moving them all) past this share of them or
# this many, whichever is more: a request reads the pending ones of its accounts (O(pending)).
MERGE_FRACTION = 1 / 64
MERGE_MIN = 1 << 14
log = logging.getLogger(__name__)


class _Held:
    """One held graph's contribution: the graph, its account numbers (local -> tracker), and
    per node the link it counts (child account, parent account; -1: none)."""

    __slots__ = ("graph", "accounts", "child", "parent")

    def __init__(self, graph):
        self.graph = graph
        self.accounts = _NONE
        self.child = _NONE
        self.parent = _NONE


class HeldInteractions:
    """Pair counts ``child account -> parent account`` and each account's influence (links naming
    it as parent) over the graphs held; see the module docstring.

    >>> from graph import CascadeGraph
    >>> g = CascadeGraph("r")
    >>> _ = g.add_batch(["o", "a"], ["src", "u"], np.array([1, 2]), [None, "o"], [None, None])
    >>> held = HeldInteractions()
    >>> held.update("r", g)
    >>> held.pair("u", "src"), held.influence_of("src")
    (1, 1)
    >>> held.drop("r")
    >>> held.pair("u", "src"), held.n_accounts
    (0, 0)
    """

    def __init__(self):
        self.accounts = gids.IdIndex()  # every account a held graph names (and dropped ones
        self._refs = np.zeros(16, np.int32)  # until a compaction): held graphs naming each
        self._influence = np.zeros(16, np.int64)
        self._keys = np.zeros(0, np.int64)  # sorted pair keys
        self._counts = np.zeros(0, np.int64)
        self._pending_keys = np.zeros(1024, np.int64)  # changes not merged yet: pair key
        self._pending_signs = np.zeros(1024, np.int64)  # and +1 or -1
        self._pending_n = 0
        self._held: dict[str, _Held] = {}
        self.n_accounts = 0  # accounts some held graph names
        self.full_counts = 0  # graphs counted whole (new to the tracker): for tests and metrics
        self.merges = 0

    # -- ingest side (under the pipeline's lock) ------------------------------------------
    def update(self, rumour_id: str, graph) -> None:
        """Count what changed in ``graph`` (held as ``rumour_id``) since it was last counted."""
        held = self._held.get(rumour_id)
        if held is not None and held.graph is not graph:  # replaced without a drop
            self.drop(rumour_id)
            held = None
        if held is None:
            held = self._held[rumour_id] = _Held(graph)
            self.full_counts += 1
        fresh = self._intern(graph, held.accounts.shape[0]) if held.accounts.shape[0] < graph.ac.count else _NONE
        n = graph.n_nodes
        # The new accounts' counts and the diff in one call (per graph a batch changes).
        held.accounts, held.child, held.parent, gone, came, named = account_link_changes(
            graph.resolved_parents()[:n], graph.acct[:n], held.accounts, fresh, self._refs,
            held.child, held.parent)
        self.n_accounts += named
        self._count(gone, -1)
        self._count(came, 1)
        if self._pending_n > max(MERGE_MIN, MERGE_FRACTION * self._keys.shape[0]):
            self._merge()

    def drop(self, rumour_id: str) -> None:
        """Uncount a graph no longer held (evicted, revoked, returned after a query)."""
        held = self._held.pop(rumour_id, None)
        if held is None:
            return
        on = held.child >= 0
        self._count((held.child[on].astype(np.int64) << _SHIFT) | held.parent[on], -1)
        named = held.accounts[held.accounts >= 0]
        self._refs[named] -= 1
        self.n_accounts -= int(np.count_nonzero(self._refs[named] == 0))
        # Renumber once half the index is of accounts no held graph names (not for a small one).
        if self.accounts.count >= MERGE_MIN and 2 * self.n_accounts < self.accounts.count:
            self._compact()

    def _intern(self, graph, start: int) -> np.ndarray:
        """Tracker numbers of the graph's accounts ``start..`` (-1: a blank entry), interned
        here once from the graph's own id bytes (no str, no copy); counted as named by
        :func:`account_link_changes`."""
        ac = graph.ac
        starts, ends = ac.offs[start:ac.count], ac.offs[start + 1:ac.count + 1]
        ix = self.accounts
        if (ends == starts).any():  # a blank entry names no account
            named = np.flatnonzero(ends > starts)
            out = np.full(starts.shape[0], -1, np.int32)
            out[named] = ix.add_encoded(ac.arena, starts[named], ends[named])
        else:
            out = ix.add_encoded(ac.arena, starts, ends)
        if ix.count > self._refs.shape[0]:
            self._refs = gids._grown(self._refs, ix.count, 0)  # by 1/8: as the index grows
            self._influence = gids._grown(self._influence, ix.count, 0)
        return out

    def _count(self, keys, sign: int) -> None:
        if not keys.size:
            return
        # Influence too is counted at the merge (a view reads the pending changes of its accounts).
        n, k = self._pending_n, keys.shape[0]
        if n + k > self._pending_keys.shape[0]:
            self._pending_keys = gids._grown(self._pending_keys, n + k, 0)
            self._pending_signs = gids._grown(self._pending_signs, n + k, 0)
        self._pending_keys[n:n + k] = keys
        self._pending_signs[n:n + k] = sign
        self._pending_n = n + k

    def _merge(self) -> None:
        """Fold the pending changes into the sorted pairs (zero counts leave)."""
        if not self._pending_n:
            return
        keys, signs = self._pending_keys[:self._pending_n], self._pending_signs[:self._pending_n]
        self._pending_n = 0
        uniq, inverse = np.unique(keys, return_inverse=True)
        delta = np.zeros(uniq.shape[0], np.int64)
        np.add.at(delta, inverse, signs)
        keep = delta != 0
        uniq, delta = uniq[keep], delta[keep]
        np.add.at(self._influence, uniq & _LOW, delta)
        pos = np.searchsorted(self._keys, uniq)
        hit = pos < self._keys.shape[0]
        hit[hit] = self._keys[pos[hit]] == uniq[hit]
        at = pos[hit]
        self._counts[at] += delta[hit]
        new = ~hit
        if (delta[new] < 0).any() or (self._counts[at] < 0).any():
            # Never seen (tests/test_held_interactions.py checks every path against the
            # oracle); if it were, the counts are wrong: count the held graphs again.
            log.error("interaction counts went negative (a link uncounted twice): recounting")
            self._recount()
            return
        emptied = at[self._counts[at] == 0]
        if emptied.size:  # pairs no held link makes any more leave (before the inserts move them)
            self._keys = np.delete(self._keys, emptied)
            self._counts = np.delete(self._counts, emptied)
            pos = np.searchsorted(self._keys, uniq)
        if new.any():
            self._keys = np.insert(self._keys, pos[new], uniq[new])
            self._counts = np.insert(self._counts, pos[new], delta[new])
        self.merges += 1

    def _recount(self) -> None:
        held = [(rumour_id, h.graph) for rumour_id, h in self._held.items()]
        full = self.full_counts
        self.__init__()
        for rumour_id, graph in held:
            self.update(rumour_id, graph)
        self.full_counts += full
        self._merge()

    def _compact(self) -> None:
        """Renumber the accounts still named (half the index was of dropped graphs' accounts)."""
        self._merge()
        count = self.accounts.count
        live = np.flatnonzero(self._refs[:count] > 0)
        renumber = np.full(count + 1, -1, np.int32)  # [-1] (no account) stays -1
        renumber[live] = np.arange(live.shape[0], dtype=np.int32)
        fresh = gids.IdIndex(max(live.shape[0], 16))
        if live.size:
            fresh.add(self.accounts.strings(live))
        self.accounts = fresh
        for held in self._held.values():
            held.accounts = renumber[held.accounts]
            held.child, held.parent = renumber[held.child], renumber[held.parent]
        keys = (renumber[self._keys >> _SHIFT].astype(np.int64) << _SHIFT) | \
            renumber[self._keys & _LOW]
        order = np.argsort(keys)
        self._keys, self._counts = keys[order], self._counts[order]
        self._refs = gids._grown(self._refs[live], live.shape[0] + 16, 0)
        self._influence = gids._grown(self._influence[live], live.shape[0] + 16, 0)

    # -- request side -----------------------------------------------------------------------
    def pair(self, child: str, parent: str) -> int:
        """Links ``child`` account -> ``parent`` account in the held graphs."""
        self._merge()
        c, p = self.accounts.get(child), self.accounts.get(parent)
        if c < 0 or p < 0:
            return 0
        i = int(np.searchsorted(self._keys, (c << _SHIFT) | p))
        return int(self._counts[i]) if i < self._keys.shape[0] and self._keys[i] == (c << _SHIFT) | p else 0

    def influence_of(self, account: str) -> int:
        """Links in the held graphs that name ``account`` as parent."""
        self._merge()
        i = self.accounts.get(account)
        return 0 if i < 0 else int(self._influence[i])

    def pairs(self) -> dict:
        """``{(child account, parent account): links}``, every pair (for tests)."""
        self._merge()
        c = self.accounts.strings(self._keys >> _SHIFT)
        p = self.accounts.strings(self._keys & _LOW)
        return dict(zip(zip(c, p), self._counts.tolist()))

    def view(self, graph) -> "InteractionsView":
        """What :func:`graph.reconstruct.reconstruct_scored` reads of the interaction graph, for
        ``graph``: the counts of the pairs among its accounts and their influence, numbered
        for it. Built in the time of its accounts, their pairs and the changes not merged yet
        (numpy; nothing is merged or copied whole). Under the pipeline's lock.

        >>> from graph import CascadeGraph
        >>> from graph.reconstruct import reconstruct_parents
        >>> g = CascadeGraph("r")
        >>> _ = g.add_batch(["o", "a", "b"], ["src", "u", "v"], np.array([0, 60_000, 600_000]),
        ...                 [None, "o", None], [None, None, None], np.array([0, 1, 1]))
        >>> held = HeldInteractions()
        >>> held.update("r", g)
        >>> v = held.view(g)
        >>> v.account("u", add=False) >= 0, v.account("nobody", add=False), v.arrays()[1].tolist()
        (True, -1, [1])
        >>> list(reconstruct_parents(g, v))
        ['b']
        """
        names = graph.ac.strings(np.arange(graph.ac.count))
        numbers = self.accounts.find(names)
        ours = np.unique(numbers[numbers >= 0]).astype(np.int64)  # sorted: local number = position
        local = np.searchsorted(ours, numbers)
        local[numbers < 0] = -1
        # The merged pairs whose child is one of ours: one key range per child.
        lo = np.searchsorted(self._keys, ours << _SHIFT)
        hi = np.searchsorted(self._keys, (ours + 1) << _SHIFT)
        width = hi - lo
        at = np.repeat(lo - np.cumsum(width) + width, width) + np.arange(int(width.sum()))
        keys, counts = self._keys[at], self._counts[at]
        influence = self._influence[ours]
        if self._pending_n:
            pending = self._pending_keys[:self._pending_n]
            signs = self._pending_signs[:self._pending_n]
            to_ours = _members(ours, pending & _LOW)
            np.add.at(influence, np.searchsorted(ours, pending[to_ours] & _LOW), signs[to_ours])
            mine = to_ours & _members(ours, pending >> _SHIFT)
            keys = np.concatenate([keys, pending[mine]])
            counts = np.concatenate([counts, signs[mine]])
        n = max(ours.shape[0], 1)
        child = np.searchsorted(ours, keys >> _SHIFT)
        parent = np.searchsorted(ours, keys & _LOW)
        inside = (child < ours.shape[0]) & (parent < ours.shape[0])
        inside[inside] &= (ours[child[inside]] == keys[inside] >> _SHIFT) & \
            (ours[parent[inside]] == keys[inside] & _LOW)
        pair_keys, where = np.unique(child[inside] * n + parent[inside], return_inverse=True)
        pair_counts = np.zeros(pair_keys.shape[0], np.int64)
        np.add.at(pair_counts, where, counts[inside])
        kept = pair_counts != 0
        return InteractionsView(dict(zip(names, local.tolist())),
                                (pair_keys[kept], pair_counts[kept], n, np.append(influence, 0)))

    def nbytes(self) -> int:
        """Memory held: per-node and per-account arrays, the pairs, the account index."""
        arrays = sum(h.child.nbytes + h.parent.nbytes + h.accounts.nbytes for h in self._held.values())
        pending = self._pending_keys.nbytes + self._pending_signs.nbytes
        return (arrays + pending + self._keys.nbytes + self._counts.nbytes + self._refs.nbytes
                + self._influence.nbytes + self.accounts.nbytes())


class InteractionsView:
    """The face of :class:`graph.reconstruct.Interactions` that the reconstruction reads
    (``account(name, add=False)``, ``arrays()``), over a :class:`HeldInteractions`."""

    def __init__(self, numbers: dict, arrays: tuple):
        self._numbers = numbers
        self._arrays = arrays

    def account(self, name: str, add: bool = False) -> int:
        if add:
            raise ValueError("a view of the held interactions is read-only")
        return self._numbers.get(name, -1)

    def arrays(self):
        return self._arrays


def _members(sorted_values, x):
    """Whether each of ``x`` is in ``sorted_values``."""
    at = np.minimum(np.searchsorted(sorted_values, x), max(sorted_values.shape[0] - 1, 0))
    return sorted_values[at] == x if sorted_values.shape[0] else np.zeros(x.shape[0], bool)
