"""The prepare path (ids encoded once per batch, the cross-rumour check in numba, graphs fed from
that encoding) must give what the former path gave (tests/prepare_reference.py): the same
accounting, dead letters, stored rows and graphs, batch after batch, with write-behind."""
from __future__ import annotations

import random
import re

import numpy as np
import orjson
import pytest

from graph import CascadeGraph
from graph.ids import encode_batch
from streams.events import EventBatch
from streams.events_columnar import encode_columns
from streams.pipeline import Pipeline
from streams.rumour_graphs import batch_ids
from tests import prepare_reference as ref

TS = 1_700_000_000_000


class StubStore:
    """Keeps every written row; answers the cross-rumour query (event ids in an IN list)."""

    database = "stub"

    def __init__(self):
        self.batches, self.dead = [], []
        self.pairs = []

    def write(self, batch, dead):
        self.batches.append(batch)
        self.dead.extend(dead)
        self.pairs.extend(zip(batch.event_id, batch.rumour_id))

    def rumour_ids(self):
        return sorted({r for _, r in self.pairs})

    def load_events(self, rumour_ids=None):
        return EventBatch()

    def _rows(self, query):
        wanted = set(re.findall(r"'([^']*)'", query.split(" IN ", 1)[1]))
        return sorted({p for p in self.pairs if p[0] in wanted})


class ReferencePipeline(Pipeline):
    def _refuse_cross_rumour_parents(self, batch, dead):
        return ref.refuse_cross_rumour_parents(batch, dead, (self.graphs, self.debunks),
                                               self.store, list(self._unstored.values()))

    def _apply_to_graphs(self, batch, dead):
        return ref.apply(self.memory, batch, dead)


def random_messages(seed: int, n_events: int = 3000):
    """Events of several rumours, shuffled a little (children before parents), with duplicates,
    parent cycles, debunks, account-only links and parents from other rumours (in the same
    batch, in a stored batch, in the batch whose write is pending)."""
    rng = random.Random(seed)
    rumours = [f"r{k}" for k in range(rng.choice([1, 3, 8, 40]))]
    events, by_rumour = [], {r: [] for r in rumours}
    for i in range(n_events):
        rid = rng.choice(rumours)
        own = by_rumour[rid]
        x = rng.random()
        parent = parent_acct = None
        kind = rng.choice(["share"] * 8 + ["post", "comment", "debunk"])
        if own and x < 0.7:
            parent = rng.choice(own)
        elif x < 0.75:
            parent = f"e{i + rng.randrange(1, 40)}"  # a child before its parent
        elif x < 0.8 and events:
            parent = rng.choice(events)["event_id"]  # maybe of another rumour
        elif x < 0.85:
            parent_acct = f"a{rng.randrange(200)}"
        elif x < 0.87 and own:
            parent = rng.choice(own)
            parent_acct = f"a{rng.randrange(200)}"
        eid = f"e{i}"
        ev = {"event_id": eid, "rumour_id": rid, "account_id": f"a{rng.randrange(300)}",
              "ts": TS + i * 1000 + rng.randrange(5000), "parent_event_id": parent,
              "parent_account_id": parent_acct, "kind": kind}
        events.append(ev)
        own.append(eid)
    # cycles: a pair pointing at each other; duplicates: some events again
    events.append({"event_id": "c1", "rumour_id": rumours[0], "account_id": "u", "ts": TS,
                   "parent_event_id": "c2"})
    events.append({"event_id": "c2", "rumour_id": rumours[0], "account_id": "v", "ts": TS,
                   "parent_event_id": "c1"})
    events += rng.sample(events, len(events) // 20)
    for _ in range(len(events) // 10):  # local disorder
        i = rng.randrange(len(events) - 1)
        events[i], events[i + 1] = events[i + 1], events[i]
    msgs, i = [], 0
    while i < len(events):
        size = rng.choice([1, 7, 60, 250])
        group = events[i:i + size]
        msgs.append(encode_columns(group) if rng.random() < 0.6 else orjson.dumps(group))
        i += size
    return msgs


def graph_state(g: CascadeGraph):
    n = g.n_nodes
    return (g.event_ids(), g.ac.strings(np.arange(g.ac.count)), g.plink[:n].tolist(),
            g.acct[:n].tolist(), g.ts[:n].tolist(), g.kf[:n].tolist(), g.n_events,
            g.n_account_links, g.n_blind)


def dead_view(dead):
    return [(d.raw, d.reason, d.source, d.rumour_id, d.event_id) for d in dead]


def batch_view(b):
    return (b.event_id, b.rumour_id, b.account_id, b.ts_ms.tolist(), b.parent_event_id,
            b.parent_account_id, b.kind.tolist(), b.platform, b.region, b.text)


def run(pipeline, msgs, seed):
    """Prepare batch N+1 before batch N is written (write-behind), as the worker does."""
    rng = random.Random(seed)
    out, pending, i = [], None, 0
    while i < len(msgs):
        k = rng.choice([1, 3, 10, 30])
        parts = [rng.randrange(3) for _ in msgs[i:i + k]]
        prepared = pipeline.prepare(msgs[i:i + k], None, parts if rng.random() < 0.5 else None)
        i += k
        if pending is not None:
            pipeline.write_prepared(pending)
        out.append((prepared.stats.summary(), dead_view(prepared.stats.dead),
                    batch_view(prepared.batch), sorted(prepared.rumours)))
        pending = prepared
    pipeline.write_prepared(pending)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_prepare_equals_the_former_path(seed):
    msgs = random_messages(seed)
    # The late-parent check (streams/crossref_late.py, tested in test_crossref_late.py) came
    # after the former path: off here, so the two paths do the same work.
    new, old = Pipeline(StubStore(), late_parent_children=0), ReferencePipeline(StubStore())
    got, want = run(new, msgs, seed), run(old, msgs, seed)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a == b
    reasons = {d[1] for batch in want for d in batch[1]}
    assert "parent in another rumour" in reasons or len(new.graphs) == 1
    assert "parent cycle" in reasons
    assert sum(s["duplicates"] for s, *_ in want) > 0
    for reg_new, reg_old in ((new.graphs, old.graphs), (new.debunks, old.debunks)):
        assert sorted(reg_new) == sorted(reg_old)
        for rid in reg_old:
            assert graph_state(reg_new[rid]) == graph_state(reg_old[rid])
    for rid in new.rumour_ids():
        assert new.trace(rid, 3) == old.trace(rid, 3)


@pytest.mark.parametrize("seed", range(6))
def test_cross_rumour_check_equals_the_former_set_check(seed):
    """Straight against the former function, with graphs that know some parents and ids that
    are blank, repeated or non-ASCII."""
    from streams.crossref import refuse_cross_rumour_parents

    rng = random.Random(seed)
    rows = []
    for i in range(400):
        rid = f"r{rng.randrange(4)}é" if rng.random() < 0.5 else f"r{rng.randrange(4)}"
        parent = rng.choice([None, f"e{rng.randrange(500)}", f"g{rng.randrange(30)}"])
        rows.append({"event_id": f"e{rng.randrange(450)}", "rumour_id": rid,
                     "account_id": "a", "ts": TS, "parent_event_id": parent})
    from streams.decoder import Decoder

    batch, dead = Decoder().decode([orjson.dumps(r) for r in rows if r["parent_event_id"] != r["event_id"]])
    assert not dead
    graphs = {}
    for k in range(4):
        g = graphs[f"r{k}"] = CascadeGraph(f"r{k}")
        g.add_batch([f"g{j}" for j in range(k, 30, 4)], ["u"] * len(range(k, 30, 4)),
                    np.full(len(range(k, 30, 4)), TS), [None] * len(range(k, 30, 4)),
                    [None] * len(range(k, 30, 4)))
    d_new, d_old = [], []
    kept_new = refuse_cross_rumour_parents(batch, d_new, (graphs,), None)
    kept_old = ref.refuse_cross_rumour_parents(batch, d_old, (graphs,), None)
    assert batch_view(kept_new) == batch_view(kept_old)
    assert dead_view(d_new) == dead_view(d_old) and d_old


def test_batch_ids_take_matches_encoding_the_taken_batch():
    rng = np.random.default_rng(5)
    n = 50
    b = EventBatch(event_id=[f"e{i}" for i in range(n)], rumour_id=[f"r{i % 3}" for i in range(n)],
                   account_id=[f"a{i % 7}" for i in range(n)], ts_ms=np.arange(n),
                   parent_event_id=[None if i % 4 else f"p{i}" for i in range(n)],
                   parent_account_id=[None] * n, kind=np.ones(n, np.uint8),
                   platform=[""] * n, region=[None] * n, text=[""] * n)
    ids = batch_ids(b)
    rows = np.sort(rng.choice(n, 20, replace=False))
    taken = ids.take(rows)
    sub = b.take(rows)
    buf, st, en = encode_batch(sub.event_id, sub.account_id, sub.parent_event_id,
                               sub.parent_account_id)
    strings = lambda buf, st, en: [bytes(buf[a:z]) for a, z in zip(st, en)]  # noqa: E731
    assert strings(taken.buf, taken.st, taken.en) == strings(buf, st, en)
    assert [taken.names[r] for r in taken.rumour] == sub.rumour_id
    assert sorted(taken.present()) == sorted(set(sub.rumour_id))
