"""``rumour trace --parents --rumour ID``: the graph of rumour ID, and of every other rumour only
what the reconstruction reads, one rumour at a time.

What the reconstruction reads of the other rumours (graph/reconstruct.py,
graph/reconstruct_kernels.py ``pair_features``): the account interaction graph, and of it only
``influence[a]`` (links of any rumour naming account ``a`` as parent) for ``a`` an account of
ID's graph, and the pair counts ``child -> parent`` where both are accounts of ID's graph. An
account of ID no link names reads 0, as one the whole interaction graph does not hold (-1): the
features are ``log1p`` of counts, so the numbering of the accounts and the accounts outside ID
change nothing. :class:`FocusedInteractions` counts exactly those.

Those links are the *resolved* links of each rumour's graph (``interactions_of``): a parent
event that never arrived stays a placeholder carrying the smallest account its children named,
an account-only link resolves to that account's latest event by time, cycles of such links are
cut, duplicates keep the first copy, and a share whose parent is an event of another rumour is
refused. Rather than write that ingest a second time (and risk a count that differs), each
other rumour's graph is built by the same code from its own rows, counted, and dropped before
the next: at most one other rumour's graph is held at a time, beside ID's.

How, in one read of the input and three of a spill:

1. The input is decoded in ``batch_size`` chunks (the decoder has no state across messages, so
   the rows are those of the whole-input decode, in order); each chunk's rows are written to a
   temporary file grouped by rumour (other rumours without their texts, which only ID's answer
   reads), with each rumour's record offsets kept in memory (8 bytes a record).
2. The whole-input trace with ``--parents`` is one batch, so "parent in another rumour"
   (streams/crossref.py) is global: a row is refused when its parent id is no event of its own
   rumour and is an event of another. The spill is read twice for that: the parent ids each
   rumour names outside itself, then which of them are events of some rumour (every row counts,
   refused or not, as in the batch the whole run checks).
3. ID's rows, so refused, go through the pipeline (its graph, dead letters and texts as the
   whole run's); then every other rumour's, so refused, into a graph of its own, whose links
   with a parent account of ID are counted, and which is dropped.

With ``--observe`` each rumour's rows are cut to ``observe`` seconds after its own first event
first, as the whole run cuts the batch (a rumour's cut depends only on its own rows).

Memory: one decoded chunk, then one rumour's rows and graph (ID's kept), the parent ids named
outside their own rumour (parents never read: one per masked origin post on the Weibo dump), and
the counts; on disk the spill (58 MB for the 226 MB Weibo dump, README).

The dead letters are the focused trace's (streams/trace_focus.py): malformed lines that may
hold ID, and ID's own refusals; not other rumours'.
"""
from __future__ import annotations

import pickle
import tempfile
from array import array

import numpy as np

from streams.events import EventBatch
from streams.inputs import chunked
from streams.message_sources import picked_sources
from streams.trace_focus import may_hold


class Spill:
    """Decoded rows grouped by rumour in a temporary file: :meth:`put` a rumour's rows of a
    chunk, :meth:`rows` all of a rumour's rows in input order."""

    def __init__(self):
        self._file = tempfile.TemporaryFile(prefix="rumour-trace-")  # unlinked at once
        self._at: dict[str, array] = {}
        self.records = 0

    def put(self, rumour: str, batch: EventBatch) -> None:
        self._file.seek(0, 2)
        self._at.setdefault(rumour, array("q")).append(self._file.tell())
        pickle.dump(batch, self._file, pickle.HIGHEST_PROTOCOL)
        self.records += 1

    def rumours(self) -> list:
        return list(self._at)

    def rows(self, rumour: str) -> EventBatch:
        parts = []
        for offset in self._at.get(rumour, ()):
            self._file.seek(offset)
            parts.append(pickle.load(self._file))
        return EventBatch.concat(parts) if len(parts) != 1 else parts[0]

    def close(self) -> None:
        self._file.close()


def spill_rows(messages, decoder, batch_size: int, rumour: str):
    """Read ``(raw, source)`` pairs once: ``(spill, dead)`` with every decoded row in a
    :class:`Spill` and the decoder's dead letters of the lines that may hold ``rumour``."""
    spill, dead = Spill(), []
    maybe = may_hold(rumour)
    for msgs, srcs in chunked(messages, batch_size):
        batch, bad = decoder.decode(msgs, srcs)
        if bad:
            # The dead letters of the lines that may hold the rumour, as the focused trace makes
            # them (streams/trace_focus.py): those lines decoded again, only in a chunk with one.
            picked = [i for i, raw in enumerate(msgs) if maybe(raw)]
            if picked:
                dead.extend(decoder.decode([msgs[i] for i in picked], picked_sources(srcs, picked))[1])
        if not len(batch):
            continue
        names = list(dict.fromkeys(batch.rumour_id))
        if len(names) == 1:
            groups = [(names[0], None)]
        else:
            index = dict(zip(names, range(len(names))))
            codes = np.fromiter(map(index.__getitem__, batch.rumour_id), np.int64, len(batch))
            order = np.argsort(codes, kind="stable")  # each rumour's rows in input order
            cuts = np.flatnonzero(np.diff(codes[order])) + 1
            groups = [(names[int(codes[part[0]])], part) for part in np.split(order, cuts)]
        for rid, rows in groups:
            part = batch.take(np.arange(len(batch)) if rows is None else rows)
            if rid != rumour:  # only ID's texts are read (its answer's text feature)
                part.text = part.platform = part.region = [None] * len(part)
            spill.put(rid, part)
    return spill, dead


class FocusedInteractions:
    """The part of the account interaction graph (graph.reconstruct.Interactions) that
    reconstructing the parents of one graph reads: the influence of its accounts and the pair
    counts among them, counted from the resolved links of any graphs given to :meth:`add`.
    Reads as ``Interactions`` does (``account(name, add=False)``, ``arrays()``).

    >>> from graph import CascadeGraph
    >>> g = CascadeGraph("r")
    >>> _ = g.add_batch(["o", "a"], ["src", "u"], np.array([1, 2]), [None, "o"], [None, None])
    >>> h = CascadeGraph("s")
    >>> _ = h.add_batch(["p", "b", "c"], ["src", "u", "x"], np.array([1, 2, 3]), [None, "p", "p"],
    ...                 [None, None, None])
    >>> it = FocusedInteractions(g)
    >>> it.add(g); it.add(h)
    >>> it.account("u", add=False), it.account("x", add=False)
    (1, -1)
    >>> keys, counts, n, influence = it.arrays()
    >>> keys.tolist(), counts.tolist(), n, influence.tolist()
    ([2], [2], 2, [3, 0, 0])
    """

    def __init__(self, graph):
        names = graph.ac.strings(np.arange(graph.ac.count))
        self._numbers = dict(zip(names, range(len(names))))
        self._n = max(len(self._numbers), 1)
        self._influence = np.zeros(self._n + 1, np.int64)
        self._keys: list = []
        self._frozen = None

    def account(self, name: str, add: bool = False) -> int:
        if add:
            raise ValueError("the focused interactions are read-only")
        return self._numbers.get(name, -1)

    def add(self, graph) -> None:
        """Count the links of ``graph``'s resolved forest whose parent account is one of ours."""
        from streams.trace import account_links

        child, parent = account_links(graph)
        if not child.size:
            return
        names = graph.ac.strings(np.arange(graph.ac.count))
        ours = np.fromiter((self._numbers.get(a, -1) for a in names), np.int64, len(names))
        p, c = ours[parent], ours[child]
        mine = p >= 0
        np.add.at(self._influence, p[mine], 1)
        both = mine & (c >= 0)
        self._keys.append(c[both] * self._n + p[both])
        self._frozen = None

    def arrays(self):
        """``(pair keys sorted, pair counts, n accounts, influence)`` as ``Interactions.arrays``."""
        if self._frozen is None:
            keys = np.concatenate(self._keys) if self._keys else np.zeros(0, np.int64)
            keys, counts = np.unique(keys, return_counts=True)
            self._frozen = (keys.astype(np.int64), counts.astype(np.int64), self._n, self._influence)
        return self._frozen


def _cut(batch: EventBatch, observe):
    from streams.trace import observe_first

    return batch if observe is None or not len(batch) else observe_first(batch, observe)


def _outside(batch: EventBatch) -> set:
    """Parent ids ``batch`` (one rumour's rows) names that are no event of it."""
    own = set(batch.event_id)
    return {p for p in batch.parent_event_id if p and p not in own}


class _Held:
    """Events of other rumours (``event_id``, ``rumour_id``), as the cross-rumour check reads
    a batch: where a parent in another rumour is found."""

    def __init__(self, event_ids, rumour: str):
        self.event_id = sorted(event_ids)
        self.rumour_id = [rumour + "\x00another"] * len(self.event_id)  # never ``rumour``


def _refused_removed(batch: EventBatch, rumour: str, held: set, dead: list) -> EventBatch:
    """``batch`` (``rumour``'s rows) without the rows whose parent is an event of another
    rumour and none of its own (dead letters appended to ``dead``), by the pipeline's check."""
    from streams.crossref import refuse_cross_rumour_parents

    elsewhere = _outside(batch) & held
    if not elsewhere:
        return batch
    return refuse_cross_rumour_parents(batch, dead, ({}, {}), None, unstored=[_Held(elsewhere, rumour)])


def focused_parents(messages, pipeline, batch_size: int, rumour: str, observe=None):
    """``(dead, texts, interactions)`` for ``rumour``, with its graph in ``pipeline`` as the
    whole ``--parents`` run builds it; ``interactions`` is a :class:`FocusedInteractions`
    (None when the rumour has no share graph)."""
    spill, dead = spill_rows(messages, pipeline.decoder, batch_size, rumour)
    try:
        rumours = spill.rumours()
        # Parent ids named outside their own rumour, then those that are events of some rumour.
        wanted: set = set()
        for rid in rumours:
            wanted |= _outside(_cut(spill.rows(rid), observe))
        held: set = set()
        if wanted:
            for rid in rumours:
                held |= wanted.intersection(_cut(spill.rows(rid), observe).event_id)
        del wanted
        from streams.trace import batch_texts

        mine = _cut(spill.rows(rumour), observe)
        texts = batch_texts(mine)
        if len(mine):
            dead = pipeline.process_batch(_refused_removed(mine, rumour, held, dead), dead).dead
        graph = pipeline.graphs.get(rumour)
        if graph is None:
            return dead, texts, None
        inter = FocusedInteractions(graph)
        inter.add(graph)
        from streams.rumour_graphs import RumourGraphs

        for rid in rumours:
            if rid == rumour:
                continue
            rows = _cut(spill.rows(rid), observe)
            graphs = RumourGraphs()  # its share graph and debunk cascade, dropped after counting
            graphs.apply(_refused_removed(rows, rid, held, []), [])
            other = graphs.graphs.get(rid)
            if other is not None:
                inter.add(other)
            del graphs, other, rows
        return dead, texts, inter
    finally:
        spill.close()
