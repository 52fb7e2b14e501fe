"""The live propagation graph of one rumour: storage and ingest (queries: graph/answers.py).

Nodes are events (shares), numbered in arrival order; accounts are interned separately. All
per-node data lives in growable numpy arrays (amortised doubling) and the id strings in the
compact :class:`graph.ids.IdIndex`, so a share costs a few dozen bytes (see :meth:`nbytes`).

Semantics (the final answers never depend on the arrival order of the same set of events):

- **Child before parent**: an unknown ``parent_event_id`` creates a placeholder node
  (observed=False), filled in when that event arrives.
- **Duplicates**: an ``event_id`` already present (also earlier in the same batch) is
  ``DUPLICATE``; the first copy wins.
- **A parent that never arrives**: the placeholder stays. If a child named its
  ``parent_account_id`` the placeholder carries that account (if children disagree, the smallest
  account id) and is an origin candidate with observed=False and ts None; otherwise it is no
  node of the forest and its children are separate roots.
- **parent_account_id without parent_event_id**: resolved at query time to that account's
  latest present event with ts <= the child's ts (ties by event id), else its earliest one, else
  an unobserved placeholder for the account (created at ingest, event id None). The child itself
  is never its own parent. If such links close a cycle, the account-linked event of the cycle
  that is first by (ts, event id) becomes a root.
- **Parent cycles through event ids** (A's parent B, B's parent A, or an event its own parent):
  the event that would close it is ``REJECTED`` with reason ``"parent cycle"`` and not added.
- Empty ``event_id`` or ``account_id``: ``REJECTED``. Empty parent ids count as null.
"""
from __future__ import annotations

import numpy as np

from graph import kernels_ingest as ki
from graph.answers import Answers
from graph.ids import IdIndex, _grown, encode_batch
from graph.types import FLAG_PRESENT, REASON_TEXT, AddResult

_NONE = np.zeros(0, np.int32)
_NO_KINDS = np.zeros(0, np.uint8)


class CascadeGraph(Answers):
    """Propagation forest of one rumour, appended in batches.

    >>> g = CascadeGraph(rumour_id="r1")
    >>> res = g.add_batch(["e2", "e1", "e1"], ["bob", "ann", "ann"], np.array([20, 10, 10]),
    ...                   ["e1", None, None], [None, None, None])
    >>> res.status.tolist(), g.n_events
    ([0, 0, 1], 2)
    >>> [(o.account_id, o.reach) for o in g.origins()]
    [('ann', 2)]
    """

    def __init__(self, rumour_id: str = "", capacity: int = 1024):
        self.rumour_id = rumour_id
        cap = max(int(capacity), 16)
        self.ev = IdIndex(cap)  # event ids; index == node
        self.ac = IdIndex(max(cap // 2, 16))  # account ids
        self.plink = np.empty(cap, np.int32)
        self.acct = np.empty(cap, np.int32)
        self.ts = np.empty(cap, np.int64)
        self.kf = np.empty(cap, np.uint8)
        self.dsu = _NONE  # built on the first filled placeholder (see kernels_ingest)
        self.npres = _NONE  # built on the first account-only link
        self.aph = _NONE
        self.n_nodes = 0
        self.n_events = 0
        self.n_account_links = 0
        self.n_blind = 0  # placeholders without an account
        self._cache = None  # the resolved forest: (parents, order, subtree sizes), graph/answers.py
        self._confidence = None  # its origin candidates' (nodes, confidence), graph/confidence.py

    @property
    def n_accounts(self) -> int:
        return self.ac.count

    def add_batch(self, event_ids, account_ids, ts_ms, parent_event_ids, parent_account_ids,
                  kinds=None) -> AddResult:
        """Append events (columns of equal length); returns the status of every row.

        >>> g = CascadeGraph("r")
        >>> r = g.add_batch(["a", "b"], ["u", "v"], np.array([1, 2]), ["b", "a"], [None, None])
        >>> r.status.tolist(), r.reasons
        ([0, 2], {1: 'parent cycle'})
        """
        n = len(event_ids)
        if not (len(account_ids) == len(parent_event_ids) == len(parent_account_ids) == n):
            raise ValueError("add_batch: columns differ in length")
        if np.size(ts_ms) != n or (kinds is not None and np.size(kinds) != n):
            raise ValueError("add_batch: ts_ms or kinds differs in length")
        if n == 0:
            return AddResult(np.zeros(0, np.int8), {})
        buf, st, en = encode_batch(event_ids, account_ids, parent_event_ids, parent_account_ids)
        return self.add_encoded(buf, st, en, ts_ms, kinds)

    def add_encoded(self, buf, st, en, ts_ms, kinds=None) -> AddResult:
        """:meth:`add_batch` of ids already encoded: the four columns (event id, account,
        parent event, parent account) of ``n`` rows as :func:`graph.ids.encode_batch` gives them
        (string ``k * n + i`` is ``buf[st[k * n + i]:en[k * n + i]]``; empty = none). Why: the
        pipeline encodes a whole batch of many rumours once and hands each graph its rows.

        >>> from graph.ids import encode_batch
        >>> g = CascadeGraph("r")
        >>> buf, st, en = encode_batch(["a", "b"], ["u", "v"], [None, "a"], [None, None])
        >>> g.add_encoded(buf, st, en, np.array([1, 2])).status.tolist(), g.n_events
        ([0, 0], 2)
        """
        ts_in, kind_in = self._rows_in(st, en, ts_ms, kinds)
        n = ts_in.shape[0]
        status = np.zeros(n, np.int8)
        reason = np.zeros(n, np.int8)
        if n == 0:
            return AddResult(status, {})
        return _result(status, reason, self._apply(buf, st, en, ts_in, kind_in, status, reason))

    # add_encoded's three stages (benchmarks/profile_update.py times them one by one).

    @staticmethod
    def _rows_in(st, en, ts_ms, kinds):
        """(ts, kinds) as the kernel takes them, checked against the ``4 * n`` encoded ids."""
        ts_in = np.ascontiguousarray(ts_ms, dtype=np.int64).reshape(-1)
        n = ts_in.shape[0]
        if st.shape[0] != 4 * n or en.shape[0] != 4 * n:
            raise ValueError("add_encoded: ids are not four columns of len(ts_ms) rows")
        if kinds is None:
            return ts_in, _NO_KINDS  # the kernel's default (one numpy call less per batch)
        kind_in = np.ascontiguousarray(kinds, dtype=np.uint8).reshape(-1)
        if kind_in.shape[0] != n:
            raise ValueError("add_batch: kinds differs in length")
        return ts_in, kind_in

    def _apply(self, buf, st, en, ts_in, kind_in, status, reason) -> int:
        """Run the ingest kernel over every row (growing arrays when it asks); rows rejected."""
        n = ts_in.shape[0]
        ev, ac = self.ev, self.ac
        row = 0
        n_rej = 0
        while True:
            row, need, self.n_nodes, ac.count, added, alinks, self.n_blind, rej = ki.add_rows(
                ev.table, ev.offs, ev.arena, ev.limit, ac.table, ac.offs, ac.arena, ac.limit,
                self.plink, self.acct, self.ts, self.kf, self.dsu, self.npres, self.aph,
                self.n_nodes, ac.count, buf, st, en, ts_in, kind_in, status, reason,
                row, self.n_blind)
            ev.count = self.n_nodes
            self.n_events += added
            self.n_account_links += alinks
            n_rej += rej
            if added:
                self._cache = self._confidence = None
            if need == ki.NEED_NOTHING:
                return n_rej
            if need == ki.NEED_ROOM:
                self._grow_for(buf, st, en, n, row)
            elif need == ki.NEED_DSU:
                self._make_dsu()
            else:
                self._make_account_arrays()

    def _grow_for(self, buf, st, en, n: int, row: int) -> None:
        """Room for the rest of the batch from ``row`` on, so the kernel resumes about once per
        array instead of once per GROWTH step (each resume re-looks-up up to WARM_ROWS rows:
        that cost 0.85 us/event on 5,000-share rumours). Events: one node per remaining row
        (plus the worst case of the current one) and their exact id bytes; accounts, whose ids
        repeat, at most double (a geometric step), with room for the current row's two."""
        rest = n - row
        e, a, p, q = (int(en[k * n + row] - st[k * n + row]) for k in range(4))
        ev_bytes = int((en[row:n] - st[row:n]).sum()) + p
        ac = self.ac
        extra_acc = max(2, min(rest, ac.count))
        mean = (int(ac.offs[ac.count]) // ac.count) if ac.count else 16
        self._grow(ev_bytes, a + q + extra_acc * mean, nodes=rest + 2, accounts=extra_acc + 2)

    def _grow(self, ev_bytes: int, ac_bytes: int, nodes: int = 3, accounts: int = 2) -> None:
        """Room for ``nodes`` more nodes and ``accounts`` more accounts (at least one row of the
        worst kind: 3 nodes, 2 accounts) with their id bytes (grows geometrically)."""
        self._cache = self._confidence = None  # they may view the arrays about to be replaced
        nodes, accounts = max(nodes, 3), max(accounts, 2)
        need = self.n_nodes + nodes
        self.ev.reserve(nodes, ev_bytes)
        self.ac.reserve(accounts, ac_bytes)
        self.plink = _grown(self.plink, need)
        self.acct = _grown(self.acct, need)
        self.ts = _grown(self.ts, need)
        self.kf = _grown(self.kf, need)
        if self.dsu.shape[0]:
            self.dsu = _grown(self.dsu, self.plink.shape[0])
        if self.npres.shape[0]:
            self.npres = _grown(self.npres, self.ac.count + accounts)
            self.aph = _grown(self.aph, self.npres.shape[0])

    def _make_dsu(self) -> None:
        # The recorded event links are themselves a valid union-find forest.
        n = self.n_nodes
        dsu = np.empty(self.plink.shape[0], np.int32)
        link = self.plink[:n]
        dsu[:n] = np.where(link >= 0, link, np.arange(n, dtype=np.int32))
        self.dsu = dsu

    def _make_account_arrays(self) -> None:
        n = self.n_nodes
        present = (self.kf[:n] & FLAG_PRESENT) != 0
        cap = max(self.ac.offs.shape[0], 16)
        self.npres = np.bincount(self.acct[:n][present], minlength=cap).astype(np.int32)
        self.aph = np.full(self.npres.shape[0], -1, np.int32)

    def node(self, event_id: str) -> int:
        """Node index of an event id (present or placeholder), -1 when unknown.

        >>> g = CascadeGraph()
        >>> _ = g.add_batch(["x"], ["u"], np.array([5]), ["p"], [None])
        >>> g.node("x"), g.node("p"), g.node("nope")
        (0, 1, -1)
        """
        return self.ev.get(event_id)

    def nodes_present(self, nodes) -> np.ndarray:
        """Whether each node is an observed event (not a placeholder of a parent never seen), as
        a bool array; -1 (what :meth:`node` and ``ev.find_encoded`` give for an unknown id) is
        False. Why: adapters ask this of many nodes at once without reading the node flags.

        >>> g = CascadeGraph()
        >>> _ = g.add_batch(["x"], ["u"], np.array([5]), ["p"], [None])  # p: placeholder
        >>> g.nodes_present([g.node("x"), g.node("p"), -1]).tolist()
        [True, False, False]
        """
        nodes = np.asarray(nodes)
        if nodes.size == 0:
            return np.zeros(nodes.shape, bool)
        if nodes.dtype.kind not in "iu":
            raise TypeError(f"nodes_present: node indices must be integers, not {nodes.dtype}")
        if nodes.min() < -1 or nodes.max() >= self.n_nodes:
            raise ValueError(f"nodes_present: a node index outside -1..{self.n_nodes - 1}")
        known = nodes >= 0
        out = np.zeros(nodes.shape, bool)
        out[known] = (self.kf[nodes[known]] & FLAG_PRESENT) != 0
        return out

    def has_event(self, event_id: str) -> bool:
        """Whether this event id was observed in the graph (False when unknown or only the
        placeholder of a parent its children named).

        >>> g = CascadeGraph()
        >>> _ = g.add_batch(["x"], ["u"], np.array([5]), ["p"], [None])
        >>> g.has_event("x"), g.has_event("p"), g.has_event("nope")
        (True, False, False)
        """
        if not isinstance(event_id, str):
            raise TypeError(f"has_event: an event id is a str, not {type(event_id).__name__}")
        node = self.node(event_id)
        return node >= 0 and bool(self.kf[node] & FLAG_PRESENT)

    def event_ids(self) -> list:
        """Event id of every node in node order (None for an account's placeholder)."""
        return self.ev.strings(np.arange(self.n_nodes))

    def nbytes(self) -> int:
        """Bytes of memory held by the graph: arrays at capacity, id arenas and tables, caches.

        >>> CascadeGraph().nbytes() > 0
        True
        """
        total = self.ev.nbytes() + self.ac.nbytes()
        for arr in (self.plink, self.acct, self.ts, self.kf, self.dsu, self.npres, self.aph):
            total += arr.nbytes
        if self._cache is not None:
            # The resolved parents are often a view of plink itself: count owned memory only.
            total += sum(a.nbytes for a in self._cache if not np.shares_memory(a, self.plink))
        if self._confidence is not None:
            total += sum(a.nbytes for a in self._confidence)
        return total


def _result(status, reason, n_rej: int) -> AddResult:
    """The AddResult of a batch: the statuses, and the reason of every rejected row."""
    if not n_rej:
        return AddResult(status, {})
    bad = np.flatnonzero(status == ki.REJ)
    return AddResult(status, {int(i): REASON_TEXT[int(reason[i])] for i in bad})
