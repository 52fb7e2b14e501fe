"""The worker looks each parent id up once: the cross-rumour check's nodes go to the graph's
update (``add_encoded(parent_nodes=...)``, streams/rumour_graphs.py). Graphs built with those
nodes must equal graphs built without them, whatever the batch holds (parents that arrive later,
duplicates, parents in another rumour, debunk graphs, a table rehash in the middle of a batch)."""
from __future__ import annotations

import random

import numpy as np
import pytest

from graph import CascadeGraph
from graph.ids import encode_batch
from streams.pipeline import Pipeline
from streams.rumour_graphs import BatchIds
from tests.test_prepare_equivalence import StubStore, graph_state, random_messages, run


def _columns(rng: random.Random, start: int, n: int, known: list):
    """``n`` rows: parents old, in the batch, not yet arrived, the row itself or none; some
    duplicates of old events; account-only links."""
    eid, aid, pe, pa = [], [], [], []
    for i in range(start, start + n):
        x = rng.random()
        e = rng.choice(known) if known and x < 0.05 else f"e{i}"  # a duplicate
        p = q = None
        if known and x < 0.6:
            p = rng.choice(known)
        elif x < 0.7 and i > start:
            p = f"e{rng.randrange(start, i)}"  # earlier in this batch
        elif x < 0.8:
            p = f"e{i + rng.randrange(1, 50)}"  # a parent that arrives later
        elif x < 0.82:
            p = e  # its own parent: a cycle
        elif x < 0.9:
            q = f"a{rng.randrange(40)}"
        if p is not None and rng.random() < 0.2:
            q = f"a{rng.randrange(40)}"
        eid.append(e)
        aid.append(f"a{rng.randrange(60)}")
        pe.append(p)
        pa.append(q)
    return eid, aid, pe, pa


def _state(g: CascadeGraph):
    return graph_state(g) + (g.subtree_sizes().tolist(), repr(g.origins()))


@pytest.mark.parametrize("seed", range(6))
def test_parent_nodes_give_the_graph_of_a_plain_update(seed):
    rng = random.Random(seed)
    plain, hinted = CascadeGraph("r", capacity=16), CascadeGraph("r", capacity=16)
    known: list = []
    pos = 0
    used = rehashed_mid_batch = 0
    for size in (10, 300, 1, 2000, 40, 700):
        eid, aid, pe, pa = _columns(rng, pos, size, known)
        ts = np.arange(pos, pos + size, dtype=np.int64)
        buf, st, en = encode_batch(eid, aid, pe, pa)
        # As the worker does: the parents looked up before the update, in this graph.
        nodes = hinted.ev.find_encoded(buf, st[2 * size:3 * size], en[2 * size:3 * size])
        used += int((nodes >= 0).sum())
        table_before = hinted.ev.table
        ra = plain.add_encoded(buf, st, en, ts)
        rb = hinted.add_encoded(buf, st, en, ts, parent_nodes=nodes)
        rehashed_mid_batch += hinted.ev.table is not table_before and bool((nodes[1:] >= 0).any())
        assert ra.status.tolist() == rb.status.tolist() and ra.reasons == rb.reasons
        assert _state(plain) == _state(hinted)
        known += [e for e, s in zip(eid, rb.status.tolist()) if s == 0]
        pos += size
    assert used > 500  # the nodes were given, and used
    assert rehashed_mid_batch  # slots found before the table grew would be stale; nodes are not


def test_parent_nodes_out_of_the_graph_are_refused():
    g = CascadeGraph("r")
    g.add_batch(["a"], ["u"], np.array([1]), [None], [None])
    buf, st, en = encode_batch(["b"], ["v"], ["a"], [None])
    for bad in ([1], [-2], [0, 0]):
        with pytest.raises(ValueError, match="parent node"):
            g.add_encoded(buf, st, en, np.array([2]), parent_nodes=np.array(bad))
    assert g.n_events == 1  # nothing was added
    assert g.add_encoded(buf, st, en, np.array([2]), parent_nodes=np.array([0])).status.tolist() == [0]


def _spy(monkeypatch, hints: list):
    real = CascadeGraph.add_encoded

    def add_encoded(self, buf, st, en, ts_ms, kinds=None, parent_nodes=None):
        if parent_nodes is not None:
            hints.append(int((np.asarray(parent_nodes) >= 0).sum()))
        return real(self, buf, st, en, ts_ms, kinds, parent_nodes)

    monkeypatch.setattr(CascadeGraph, "add_encoded", add_encoded)


@pytest.mark.parametrize("seed", range(8))
def test_worker_path_equals_the_update_without_parent_nodes(seed, monkeypatch):
    """Pipeline.prepare with the check's nodes against the same with none handed over:
    several rumours, debunk graphs, parents of other rumours, duplicates, write-behind."""
    msgs = random_messages(seed)
    with monkeypatch.context() as m:
        m.setattr(BatchIds, "parent_nodes_of", lambda self, graph, rows: None)
        old = Pipeline(StubStore())
        want = run(old, msgs, seed)
    hints: list = []
    _spy(monkeypatch, hints)
    new = Pipeline(StubStore())
    got = run(new, msgs, seed)
    assert got == want
    assert sum(hints) > 0
    for reg_new, reg_old in ((new.graphs, old.graphs), (new.debunks, old.debunks)):
        assert sorted(reg_new) == sorted(reg_old)
        for rid in reg_old:
            assert _state(reg_new[rid]) == _state(reg_old[rid])


def test_parent_nodes_serve_one_update_of_their_own_graph():
    """A graph replaced after the check (dropped, rebuilt) gets no nodes found in the old one,
    and after the update the nodes are gone."""
    from streams.rumour_graphs import RumourGraphs, batch_ids
    from streams.crossref import refuse_cross_rumour_parents
    from streams.events import EventBatch

    mem = RumourGraphs()
    old = mem.graphs["r"] = CascadeGraph("r")
    old.add_batch(["x", "p"], ["u", "v"], np.array([1, 2]), [None, None], [None, None])
    batch = EventBatch(event_id=["c"], rumour_id=["r"], account_id=["w"], ts_ms=np.array([3]),
                       parent_event_id=["p"], parent_account_id=[None],
                       kind=np.zeros(1, np.uint8), platform=[""], region=[None], text=[""])
    batch, ids = refuse_cross_rumour_parents(batch, [], mem.registries(), None, ids=batch_ids(batch))
    assert ids.parent_nodes_of(old, None).tolist() == [1]
    fresh = mem.graphs["r"] = CascadeGraph("r")  # p is no node here
    assert ids.parent_nodes_of(fresh, None) is None
    assert mem.apply(batch, [], ids).tolist() == [0]
    # p became a placeholder of the fresh graph (node 1 of the old one was "p"; here it is c)
    assert fresh.plink[fresh.node("c")] == fresh.node("p") == 1 and not fresh.has_event("p")
    assert ids.parent_nodes == {}
