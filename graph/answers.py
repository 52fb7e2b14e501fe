"""Trace answers over a CascadeGraph: origins, chains, depths, sizes, cut-off, the trace dict.

Everything is derived from the *resolved* forest (parents after account links are resolved),
computed lazily on the first question after a batch and cached until the next batch that adds
something. Ranking rules:

- origins: roots that are observed events or unobserved placeholders with a known account
  (and at least one present event under them); reach = present events in the tree. Most likely
  first: reach desc, observed first, earliest ts, then event id and account id.
- cut-off: greedy with exact marginal gains (see graph/kernels_cutoff.py); ties by the earliest
  first event, then account id; accounts that would prevent nothing are not listed.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from graph import confidence as oc
from graph import cutoff_scratch
from graph import kernels_cutoff as kc
from graph import kernels_rank as kr
from graph import kernels_tree as kt
from graph.types import FLAG_PRESENT, Cutoff, Hop, Origin

_EMPTY = np.zeros(0, np.int32)


class Answers:
    """Mixin with the query side of :class:`graph.CascadeGraph` (state lives there)."""

    def resolved_parents(self) -> np.ndarray:
        """The resolved parent of every node (the forest's, without its order and sizes: what
        the kept interaction graph reads after each batch, streams/held_interactions.py)."""
        if self._cache is not None:
            return self._cache[0]
        n = self.n_nodes
        return kt.resolve_parents(self.plink[:n], self.acct[:n], self.ts[:n], self.kf[:n], n,
                                  self.ac.count, self.n_account_links, self.n_blind, self.aph,
                                  self.ev.offs, self.ev.arena)

    def _view(self):
        """(par, order, sz): resolved parents, a topological order (empty = index order), sizes."""
        if self._cache is None:
            n = self.n_nodes
            kf = self.kf[:n]
            par = self.resolved_parents()
            order = _EMPTY if kt.is_forward(par) else kt.topo_order(par)
            sz = kt.subtree_sizes(par, kf, order)
            self._cache = (par, order, sz)
            self._confidence = None  # it was the old forest's
        return self._cache

    @property
    def confidence_by_event(self) -> Mapping:
        """Origin confidence of every candidate of the resolved forest (graph/confidence.py), as
        a read-only ``{(account_id, event_id): confidence}``. Computed with the forest and kept
        with it: recomputed only after a batch that changes the forest (a logistic model over
        every root; 0.35 s on a 10^5-share rumour with 3*10^4 roots), not on every trace.

        >>> import numpy as np
        >>> from graph import CascadeGraph
        >>> g = CascadeGraph()
        >>> _ = g.add_batch(["o", "a", "x"], ["src", "u", "w"], np.arange(3), [None, "o", None], [None] * 3,
        ...                 np.array([0, 1, 1]))  # a post, its share, a share with no parent
        >>> conf = g.confidence_by_event
        >>> sorted(conf), conf[("src", "o")] > conf[("w", "x")], conf.get(("u", "a"), 0.0)
        ([('src', 'o'), ('w', 'x')], True, 0.0)
        """
        self._view()  # a rebuilt forest has dropped the confidence of the old one
        if self._confidence is None:
            self._confidence = oc.root_confidence(self)
        return oc.ConfidenceByEvent(self, *self._confidence)

    def _hops(self, nodes) -> list:
        present = (self.kf[nodes] & FLAG_PRESENT) != 0
        accounts = self.ac.strings(self.acct[nodes])
        events = self.ev.strings(nodes)
        ts = self.ts[nodes].tolist()
        return [Hop(e, a, t if p else None, bool(p))
                for e, a, t, p in zip(events, accounts, ts, present.tolist())]

    def origins(self, limit: int | None = None) -> list:
        """Origins, most likely first (all of them, or the first ``limit``).

        >>> import numpy as np
        >>> from graph import CascadeGraph
        >>> g = CascadeGraph()
        >>> _ = g.add_batch(["c1", "c2", "x"], ["u1", "u2", "v"], np.array([5, 6, 1]),
        ...                 ["lost", "lost", None], [None, "boss", None])
        >>> g.origins()
        [Origin(account_id='boss', event_id='lost', ts_ms=None, reach=2, observed=False), \
Origin(account_id='v', event_id='x', ts_ms=1, reach=1, observed=True)]
        """
        return [Origin(a, e, t if p else None, r, p)
                for a, e, t, r, p in zip(*self._origin_columns(limit))]

    def _origin_columns(self, limit) -> tuple:
        """(accounts, events, ts, reach, observed) lists of the ranked origins: only the
        first ``limit`` get their id strings materialised."""
        par, order, sz = self._view()
        ev, ac = self.ev, self.ac
        roots = kr.ranked_origins(par, self.kf, self.acct, self.ts, sz,
                                  ev.offs, ev.arena, ac.offs, ac.arena)
        if limit is not None:
            roots = roots[:max(int(limit), 0)]
        present = ((self.kf[roots] & FLAG_PRESENT) != 0).tolist()
        return (ac.strings(self.acct[roots]), ev.strings(roots), self.ts[roots].tolist(),
                sz[roots].tolist(), present)

    def chain(self, event_id: str, up_to: str | None = None) -> list:
        """Hops from ``event_id`` back to its origin, the event first (KeyError if unknown), or
        only up to the event ``up_to`` (included; KeyError if it is not on the way).

        >>> import numpy as np
        >>> from graph import CascadeGraph
        >>> g = CascadeGraph()
        >>> _ = g.add_batch(["b", "a", "c"], ["u2", "u1", "u3"], np.array([2, 1, 3]), ["a", None, "b"],
        ...                 [None, None, None])
        >>> [(h.event_id, h.account_id) for h in g.chain("b")]
        [('b', 'u2'), ('a', 'u1')]
        >>> [h.event_id for h in g.chain("c", up_to="b")]
        ['c', 'b']
        """
        j = self.node(event_id)
        if j < 0:
            raise KeyError(event_id)
        par = self._view()[0]
        if up_to is None:
            return self._hops(kt.path_to_root(par, j))
        # No further up than up_to: the event may sit thousands of reshares deep.
        top = self.node(up_to)
        path = kt.path_up_to(par, j, top)
        if top < 0 or path[-1] != top:
            raise KeyError(up_to)
        return self._hops(path)

    def subtree_nodes(self, event_id: str) -> np.ndarray:
        """Nodes of the subtree under ``event_id`` (itself included), in node order; KeyError if
        unknown. Index :meth:`subtree_sizes` or :meth:`depths` with them.

        >>> import numpy as np
        >>> from graph import CascadeGraph
        >>> g = CascadeGraph()
        >>> _ = g.add_batch(["a", "b", "c", "d"], ["u", "v", "w", "x"], np.arange(4), [None, "a", "b", "a"],
        ...                 [None] * 4)
        >>> [g.event_ids()[j] for j in g.subtree_nodes("b")]
        ['b', 'c']
        """
        j = self.node(event_id)
        if j < 0:
            raise KeyError(event_id)
        par, order, _ = self._view()
        return kt.subtree_nodes(par, order, j)

    def placeholder_subtree(self, account_id: str) -> tuple:
        """``(node, subtree nodes, hop)`` of the account's placeholder: the unobserved stand-in,
        with no event id, for the post its shares named by account only. It is a root, its
        subtree the shares that resolved to it; KeyError if the account has no placeholder.

        >>> import numpy as np
        >>> from graph import CascadeGraph
        >>> g = CascadeGraph()
        >>> _ = g.add_batch(["b", "c"], ["v", "w"], np.array([2, 3]), [None, "b"], ["u", None])
        >>> j, nodes, hop = g.placeholder_subtree("u")
        >>> [g.event_ids()[i] for i in nodes], (hop.event_id, hop.account_id, hop.observed)
        (['b', None, 'c'], (None, 'u', False))
        """
        a = self.ac.get(account_id)
        j = int(self.aph[a]) if 0 <= a < self.aph.shape[0] else -1
        if j < 0:
            raise KeyError(account_id)
        par, order, _ = self._view()
        return j, kt.subtree_nodes(par, order, j), self._hops(np.array([j]))[0]

    def account_chains(self, account_id: str) -> list:
        """One chain per present event of the account, by (ts, event id); [] if unknown.

        >>> import numpy as np
        >>> from graph import CascadeGraph
        >>> g = CascadeGraph()
        >>> _ = g.add_batch(["a", "b"], ["u", "v"], np.array([1, 2]), [None, None], [None, "u"])
        >>> [[h.event_id for h in c] for c in g.account_chains("v")]
        [['b', 'a']]
        """
        a = self.ac.get(account_id)
        if a < 0:
            return []
        n = self.n_nodes
        nodes = np.flatnonzero((self.acct[:n] == a) & ((self.kf[:n] & FLAG_PRESENT) != 0))
        keyed = sorted(zip(self.ts[nodes].tolist(), self.ev.strings(nodes), nodes.tolist()))
        par = self._view()[0]
        return [self._hops(kt.path_to_root(par, j)) for _, _, j in keyed]

    def depths(self) -> np.ndarray:
        """Depth of every node (roots 0), indexed by node.

        >>> import numpy as np
        >>> from graph import CascadeGraph
        >>> g = CascadeGraph()
        >>> _ = g.add_batch(["c", "b", "a"], ["w", "v", "u"], np.array([3, 2, 1]),
        ...                 ["b", "a", None], [None, None, None])
        >>> g.depths().tolist()
        [2, 1, 0]
        """
        par, order, _ = self._view()
        return kt.depths(par, order)

    def subtree_sizes(self) -> np.ndarray:
        """Present events in each node's subtree (itself included when present), by node.

        >>> import numpy as np
        >>> from graph import CascadeGraph
        >>> g = CascadeGraph()
        >>> _ = g.add_batch(["b", "c"], ["v", "w"], np.array([2, 3]), ["a", "a"], ["u", None])
        >>> g.subtree_sizes().tolist()  # nodes b, a (placeholder), c
        [1, 2, 1]
        """
        return self._view()[2].copy()

    def cutoff(self, k: int, exclude_origins: bool = True) -> list:
        """Up to ``k`` accounts whose suspension prevents the most present shares by others.

        >>> import numpy as np
        >>> from graph import CascadeGraph
        >>> g = CascadeGraph()
        >>> _ = g.add_batch(["o", "m", "x", "y"], ["src", "hub", "a", "b"], np.arange(4),
        ...                 [None, "o", "m", "m"], [None, None, None, None])
        >>> g.cutoff(2)
        [Cutoff(account_id='hub', prevented=2)]
        """
        accs, gains = self._cutoff_nodes(k, exclude_origins)
        return [Cutoff(a, g) for a, g in zip(self.ac.strings(accs), gains.tolist())]

    def _cutoff_nodes(self, k: int, exclude_origins: bool = True, band: int = 0):
        """(account numbers, prevented) of :meth:`cutoff`; ``band``: the kernel's heap band
        (0: its default; tests pass small ones to make it bring accounts in many times)."""
        par, topo, sz = self._view()
        n, n_acc = self.n_nodes, self.ac.count
        if n == 0 or k <= 0:
            return np.zeros(0, np.int32), np.zeros(0, np.int64)
        kf, acct = self.kf[:n], self.acct[:n]
        scratch = cutoff_scratch.for_thread()
        excluded = scratch.fit(n, n_acc).accounts.excluded
        if exclude_origins:
            kc.mark_origin_accounts(par, sz, acct, excluded)
        else:
            excluded[:] = 0
        return kc.greedy_cutoff(par, kf, acct, self.ts[:n], sz, topo, n_acc, excluded,
                                int(k), self.ac.offs, self.ac.arena, int(band), scratch)

    def trace(self, k: int = 10, max_origins: int | None = None) -> dict:
        """The trace answer as a JSON-ready dict (origins ranked, cut-off accounts ranked).

        >>> import numpy as np
        >>> from graph import CascadeGraph
        >>> g = CascadeGraph("r1")
        >>> _ = g.add_batch(["o", "m", "x"], ["src", "hub", "a"], np.arange(3),
        ...                 [None, "o", "m"], [None, None, None])
        >>> g.trace(k=1)["cutoff"]
        [{'account_id': 'hub', 'prevented': 1}]
        """
        return {
            "rumour_id": self.rumour_id,
            "events": int(self.n_events),
            "origins": [{"account_id": a, "event_id": e, "ts_ms": t if p else None, "reach": r}
                        for a, e, t, r, p in zip(*self._origin_columns(max_origins))],
            "cutoff": [{"account_id": c.account_id, "prevented": c.prevented}
                       for c in self.cutoff(k)],
        }
