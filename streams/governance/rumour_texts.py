"""The source-post texts the report desk links reports to by text similarity, bounded: only
the ``capacity`` rumours most recently active (an event of the rumour in a batch, or a report
linked to it) are kept, since those are the rumours people still report.

A rumour's text costs about 17 kB here (its 3-gram set and LSH buckets, for an 80-character
post), so keeping every rumour's text would grow without bound over a long run. A rumour
pushed out is no longer found by text: a report about it links by its post id or link while
the pipeline holds that rumour's graph, and is otherwise stored unlinked (``link_method``
``none``). Its text comes back only with a post of it that carries a text (a re-delivered
source post) or at a restart, when the texts of the most recently active rumours are read from
the store (:meth:`streams.store.governance.GovernanceStoreMixin.source_texts`).
"""
from __future__ import annotations

from collections import OrderedDict

from streams.governance.textsim import Signed, TextIndex


class RumourTexts:
    """Texts by rumour id, least recently active first; ``capacity`` None keeps them all.

    >>> texts = RumourTexts(capacity=2)
    >>> texts.add("r1", "tap water poisoned"); texts.add("r2", "bridge collapsed downtown")
    >>> texts.touch(["r1"]); texts.add("r3", "schools closed by a flood")  # r2: least recently active
    >>> sorted(texts.rumours()), texts.evicted
    (['r1', 'r3'], 1)
    >>> texts.query("the bridge collapsed downtown", 0.5), texts.query("tap water poisoned!", 0.5)
    ([], [('r1', 1.0)])
    """

    def __init__(self, capacity: int | None, seed: int = 2):
        if capacity is not None and capacity < 1:
            raise ValueError("capacity: expected at least 1 (None: no limit)")
        self.capacity = capacity
        self.index = TextIndex(seed=seed)
        self._order: OrderedDict[str, None] = OrderedDict()  # least recently active first
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, rumour_id: str) -> bool:
        return rumour_id in self._order

    def rumours(self) -> list[str]:
        """The rumours kept, least recently active first."""
        return list(self._order)

    def add(self, rumour_id: str, text: str | None, signed: Signed | None = None) -> None:
        """Keep a rumour's source text (the first one given wins) and count it as active now;
        ``signed``: ``self.index.sign(text)``, when made already."""
        if rumour_id in self._order:
            self._order.move_to_end(rumour_id)
            return
        self.index.add(rumour_id, text, signed)
        if rumour_id not in self.index.grams:  # no letters or digits: nothing to compare
            return
        self._order[rumour_id] = None
        if self.capacity is not None:
            while len(self._order) > self.capacity:
                oldest, _ = self._order.popitem(last=False)
                self.index.remove(oldest)
                self.evicted += 1

    def touch(self, rumour_ids) -> None:
        """Count these rumours as active now (those whose text is kept; others are ignored)."""
        order = self._order
        for rid in rumour_ids:
            if rid in order:
                order.move_to_end(rid)

    def query(self, text: str | None, threshold: float, signed: Signed | None = None) -> list[tuple[str, float]]:
        """``(rumour_id, Jaccard)`` of the kept texts at or above ``threshold``, best first."""
        return self.index.query(text, threshold, signed)
