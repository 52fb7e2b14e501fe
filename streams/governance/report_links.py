"""Linking a public report to a known rumour: by the post it names (an event of the rumour's
cascade, while the pipeline holds that graph), else by its text (the rumour's source-post text,
3-gram Jaccard >= ``report_link_similarity``), else as a quote of part of a source post: a
report of at least :data:`QUOTE_MIN_GRAMS` 3-grams (14 letters or digits) of which
:data:`QUOTE_SHARE` or more are in that post (``link_method`` ``quote``, ``similarity`` that
share). Members of the public who report a rumour mostly copy the sentence that alarmed them,
not the whole post, and the Jaccard of such a quote with the post is its length over the post's
(0.42 for half a Weibo post), so it never reached the threshold and the report stayed unlinked.

Both indexes keep the ``report_link_rumours`` most recently active rumours (an event of the
rumour in a batch, or a report linked to it): :class:`~streams.governance.rumour_texts.RumourTexts`
their source texts, :class:`~streams.governance.post_index.PostRumours` the ids of their events
(event id -> rumour: one table lookup per id a report names, where the desk once asked every graph the pipeline holds). A
rumour enters the event index with every event its graph holds then (rebuilt from the store
after a restart or an eviction, it holds more than the batch), and each later batch adds its
events, so the index covers those graphs whole. An id found there links only while the pipeline
still holds it in that rumour's graph (a graph the pipeline dropped no longer links, as before),
and the index lets a rumour go at the first batch after the pipeline dropped its graph: it holds
the events of held graphs only (30-50 bytes per event: a hash table slot and the owner's copy
of the hash, beside the graph's own id table).
The graphs the index does not cover (held beyond its bound, or never shown to the desk, such as
one a query rebuilt) are still asked one by one, so a report links by event id exactly as when
every graph was asked; with at most ``report_link_rumours`` graphs held that is none of them.
An event applied to a covered graph is found once the batch is shown to the desk (right after
it is stored), not in between.

Locks: the indexes have their own lock, taken after the pipeline's (the pipeline shows its
batches to :meth:`ReportLinks.observe` holding its lock); the desk's lock is never held while
waiting for either. Texts are shingled and signed before that lock is taken
(:meth:`~streams.governance.textsim.TextIndex.sign`): a long text holds up no other report or
batch.
"""
from __future__ import annotations

import threading

import numpy as np

from streams.events import KIND_CODE
from streams.governance.post_index import PostRumours
from streams.governance.report_parse import link_candidates
from streams.governance.rumour_texts import RumourTexts
from streams.governance.textsim import quoted_in
from streams.governance.view_kernels import hashes_of

__all__ = ["PostRumours", "ReportLinks", "QUOTE_SHARE", "QUOTE_MIN_GRAMS"]

POST = KIND_CODE["post"]
QUOTE_SHARE = 0.9  # of a quote's 3-grams found in the post: a copied sentence, a typo or two
QUOTE_MIN_GRAMS = 12  # fewer: a phrase many posts hold ("转发微博", a place name)


def _present_events(graph) -> np.ndarray:
    """The hashes of the ids of the events a graph holds (not the placeholders of parents never
    seen), from the graph's own id bytes (no str made)."""
    n = graph.n_nodes
    if not n:
        return np.zeros(0, np.int64)
    present = graph.nodes_present(np.arange(n))
    return hashes_of(*graph.ev.utf8_range(0, n))[present]


class ReportLinks:
    """The rumour a first report links to: ``(rumour_id, link_method, similarity)``.

    ``pipeline`` (set later by the hub, or None: no links by event id) gives the graphs;
    :meth:`observe` feeds each batch the pipeline accepted."""

    def __init__(self, capacity: int | None, link_similarity: float, pipeline=None):
        self.pipeline = pipeline
        self.link_similarity = link_similarity
        self.texts = RumourTexts(capacity)
        self.posts = PostRumours(capacity)
        self._lock = threading.Lock()
        self._drops_seen = None  # the pipeline's count of dropped graphs when last looked at

    def sign(self, text: str | None = None, grams: frozenset | None = None):
        """What :meth:`link` needs of a report's text (or of its ``grams``), made without any lock."""
        return self.texts.index.sign(text, grams)

    def add_text(self, rumour_id: str, text: str | None) -> None:
        signed = None if rumour_id in self.texts else self.texts.index.sign(text)
        with self._lock:
            self.texts.add(rumour_id, text, signed)

    def observe(self, batch, view=None) -> None:
        """Index the source-post texts (events of kind ``post`` with text) and the event ids of a
        batch, and count every rumour of the batch as active (the least recently active go
        first). ``view``: the batch's :func:`~streams.governance.batchview.batch_view` when the
        hub made one (its rumour groups: no pass over the rumour column here)."""
        texts, rumours = batch.text, batch.rumour_id
        # Only source posts can carry a rumour's text: the other rows are never looked at.
        posts = [(rumours[i], texts[i]) for i in np.flatnonzero(np.asarray(batch.kind) == POST).tolist()
                 if texts[i]]
        signed = self._sign_posts(posts)
        # Each rumour once, in batch order (the view's groups are in order of first appearance).
        active = dict.fromkeys(rumours) if view is None else dict.fromkeys(g[0] for g in view.groups)
        pipeline = self.pipeline
        if pipeline is None:
            with self._lock:
                self._add_texts(posts, signed, active)
            return
        if view is None:
            events = _events_by_rumour(batch.event_id, rumours, active)
        else:
            events = {rid: view.event_hash[rows] for rid, rows in view.groups}
        with pipeline.lock:  # the graphs are read; the pipeline's lock comes before the index's
            # A rumour enters the index with every event its graph holds (rebuilt from the
            # store, it holds more than this batch), so the index covers that graph whole;
            # read before the index's lock is taken. No graph (dropped since the batch was
            # applied): not indexed, its graph is asked directly if it comes back.
            graphs = pipeline.graphs
            drops = getattr(getattr(pipeline, "memory", None), "drops", None)
            if drops is None or drops != self._drops_seen:
                with self._lock:
                    self._forget_dropped(graphs)
                self._drops_seen = drops
            whole = {rid: _present_events(graphs[rid]) for rid in events
                     if rid not in self.posts and rid in graphs}
            with self._lock:
                self._add_texts(posts, signed, active)
                for rid, ids in events.items():
                    if rid in self.posts:
                        self.posts.add(rid, ids)
                    elif rid in whole:
                        self.posts.add(rid, whole[rid])

    def forget_dropped(self) -> int:
        """Let go the rumours whose graph the pipeline no longer holds (their ids link nothing;
        a rumour whose graph comes back enters again with all of it); returns how many.
        :meth:`observe` does this whenever the pipeline has dropped a graph since the last batch,
        so the index holds events of held graphs only."""
        if self.pipeline is None:
            return 0
        with self.pipeline.lock, self._lock:
            return self._forget_dropped(self.pipeline.graphs)

    def _forget_dropped(self, graphs) -> int:
        gone = [rid for rid in self.posts.covered if rid not in graphs]
        for rid in gone:
            self.posts.discard(rid)
        return len(gone)

    def _sign_posts(self, posts) -> list:
        """Per post, its signed text when it may become its rumour's (None otherwise): made
        here, not under the lock. A rumour whose text is kept needs none (read without the
        lock: at worst one is signed under it); nor do its posts after the first whose text
        has letters or digits (the first such text is the rumour's)."""
        out, settled = [], set()
        for rid, text in posts:
            if rid in settled or rid in self.texts:
                out.append(None)
                continue
            signed = self.texts.index.sign(text)
            if signed.grams:
                settled.add(rid)
            out.append(signed)
        return out

    def _add_texts(self, posts, signed, active) -> None:
        for (rid, text), sig in zip(posts, signed):
            self.texts.add(rid, text, sig)
        self.texts.touch(active)

    def by_event(self, rep) -> str | None:
        """The rumour whose cascade holds the post the report names (id, else its link), as
        the pipeline's graphs say: the index answers for the rumours it covers, and only the
        graphs of the others (held beyond the index's bound, or never shown to the desk) are
        asked one by one."""
        pipeline = self.pipeline
        if pipeline is None:
            return None
        ids = [rep["post_id"]] if rep["post_id"] else []
        ids += [c for c in link_candidates(rep["link"]) if c not in ids]
        if not ids:
            return None
        with pipeline.lock, self._lock:  # the desk's own lock is not held here
            graphs = pipeline.graphs
            uncovered = None
            for event_id in ids:
                rid = self.posts.rumour_of(event_id)
                graph = graphs.get(rid) if rid is not None else None
                if graph is not None and graph.has_event(event_id):
                    return rid
                if graph is not None:  # another id of that graph has this id's hash (2**-64 a pair)
                    for r, g in graphs.items():
                        if g.has_event(event_id):
                            return r
                if uncovered is None:  # once per report; usually none (a subset test in C)
                    covered = self.posts.covered
                    uncovered = [] if graphs.keys() <= covered else \
                        [(r, g) for r, g in graphs.items() if r not in covered]
                for rid, graph in uncovered:
                    if graph.has_event(event_id):
                        return rid
        return None

    def link(self, by_event: str | None, signed, prefer=None) -> tuple[str, str, float]:
        """``(rumour_id, link_method, similarity)`` of a first report; ``by_event`` from
        :meth:`by_event`, ``signed`` from :meth:`sign` of its text (None: no text).

        ``prefer(rumour_id) -> bool`` (the service: the reporting desk's jurisdiction covers the
        rumour), asked outside the lock only when several rumours match the text equally well:
        the same post is often posted again as a rumour of its own elsewhere, and the rumour id
        alone would send a county's report to another province's copy, hidden from the county."""
        with self._lock:
            if by_event is not None:
                self._touch(by_event)  # a reported rumour is an active one
                return by_event, "event_id", 1.0
            if signed is None:
                return "", "none", 0.0
            best, method = self.texts.query(None, self.link_similarity, signed), "text"
            if not best:
                if len(signed.grams) < QUOTE_MIN_GRAMS:
                    return "", "none", 0.0
                texts = list(self.texts.index.grams.items())
        if not best:
            # Every text scanned outside the lock, which the pipeline's batches take too (observe).
            best, method = quoted_in(texts, signed.grams, QUOTE_SHARE, QUOTE_MIN_GRAMS), "quote"
            if not best:
                return "", "none", 0.0
        rumour, score = _preferred(best, prefer)
        with self._lock:
            self._touch(rumour)
        return rumour, method, round(score, 4)

    def _touch(self, rumour_id: str) -> None:
        self.texts.touch((rumour_id,))
        self.posts.touch((rumour_id,))


def _preferred(best: list, prefer) -> tuple[str, float]:
    """Of ``(rumour_id, score)`` pairs, best first, the first of those tied at the top score that
    ``prefer`` accepts, else the first.

    >>> _preferred([("r1", 1.0), ("r2", 1.0), ("r3", 0.9)], lambda r: r != "r1")
    ('r2', 1.0)
    >>> _preferred([("r1", 1.0), ("r3", 0.9)], lambda r: r == "r3"), _preferred([("r1", 1.0)], None)
    (('r1', 1.0), ('r1', 1.0))
    """
    top = best[0][1]
    tied = [rid for rid, score in best if score == top]
    if prefer is not None and len(tied) > 1:
        for rid in tied:
            if prefer(rid):
                return rid, top
    return best[0]


def _events_by_rumour(event_ids, rumours, active) -> dict[str, list]:
    """rumour -> its event ids in the batch, in batch order."""
    if len(active) == 1:
        return {next(iter(active)): list(event_ids)}
    out: dict[str, list] = {rid: [] for rid in active}
    for rid, event_id in zip(rumours, event_ids):
        out[rid].append(event_id)
    return out
