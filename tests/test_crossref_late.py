"""streams.crossref_late: a child stored before its parent, whose parent then arrives in ANOTHER
rumour, gets its link recorded as a dead letter; a parent arriving in the child's own rumour
settles it; the two rumours' traces never join. The pipelines (``Pipeline`` with its
``late_parent_children`` memory) run on a chDB store: without a store the existing check cannot see a parent stored in another rumour's
graph (it asks the batch, the unstored batches and the store), nor can the late index."""
from __future__ import annotations

import random

import orjson
import pytest

from streams.crossref import CROSS_RUMOUR, refuse_cross_rumour_parents
from streams.crossref_late import LATE_CROSS_RUMOUR, LateParents
from streams.decoder import Decoder
from streams.pipeline import Pipeline

TS = 1_700_000_000_000


def LatePipeline(store, max_children: int = 100_000) -> Pipeline:
    """The pipeline with its late-parent memory (``late_parent_children``) as ``late``."""
    p = Pipeline(store, late_parent_children=max_children)
    p.late = p.late_parents
    return p


def ev(event_id, rumour_id, parent=None, account=None, t=0, parent_account=None):
    row = {"event_id": event_id, "rumour_id": rumour_id, "account_id": account or f"acct-{event_id}",
           "ts": TS + t * 1000}
    if parent is not None:
        row["parent_event_id"] = parent
    if parent_account is not None:
        row["parent_account_id"] = parent_account
    return row


def feed(pipeline, *rows):
    stats = pipeline.process([orjson.dumps(list(rows))])
    return stats, stats.dead


def test_parent_arriving_later_in_another_rumour_records_the_childs_link(chdb_store):
    p = LatePipeline(chdb_store)
    stats, dead = feed(p, ev("c", "A", parent="p", t=2, parent_account="acct-p"))
    assert stats.stored == 1 and not dead and len(p.late) == 1
    stats, dead = feed(p, ev("p", "B", t=1))
    assert stats.stored == 1  # the parent is fine on its own
    # The link is counted apart: it is not an event of this batch (read = stored + dup + dead).
    assert stats.late_links == 1 and stats.dead_letters == 0 and stats.read == 1
    assert stats.summary()["late_links"] == 1
    assert [(d.reason, d.rumour_id, d.event_id) for d in dead] == [(LATE_CROSS_RUMOUR, "A", "c")]
    assert orjson.loads(dead[0].raw) == {"rumour_id": "A", "event_id": "c", "parent_event_id": "p",
                                         "parent_rumour_id": "B"}
    # No joined trace: A's origin is its own unobserved placeholder (no time), B has only p.
    a, b = p.trace("A"), p.trace("B")
    assert a["events"] == 1 and [o["ts"] for o in a["origins"]] == [None]
    assert b["events"] == 1 and b["origins"][0]["reach"] == 1
    # A re-delivered parent (a duplicate, not added) reports nothing again.
    stats, dead = feed(p, ev("p", "B", t=1))
    assert stats.duplicates == 1 and not dead


def test_the_same_order_reversed_is_refused_by_the_existing_check(chdb_store):
    """The rule the late check completes: parent first, then the child is a dead letter."""
    p = LatePipeline(chdb_store)
    feed(p, ev("p", "B", t=1))
    stats, dead = feed(p, ev("c", "A", parent="p", t=2))
    assert stats.stored == 0 and [d.reason for d in dead] == [CROSS_RUMOUR] and len(p.late) == 0


def test_parent_arriving_in_the_childs_own_rumour_settles_it(chdb_store):
    p = LatePipeline(chdb_store)
    feed(p, ev("c", "A", parent="p", t=2))
    stats, dead = feed(p, ev("p", "A", t=1))
    assert not dead and len(p.late) == 0 and p.late.settled == 1
    assert p.trace("A")["events"] == 2
    stats, dead = feed(p, ev("p", "B", t=3))  # settled: an event of that id elsewhere is fine
    assert not dead


def test_children_under_the_same_placeholder_all_wait(chdb_store):
    """The second child names a placeholder of its own rumour (the existing check calls that
    known): it waits all the same, and both links are reported."""
    p = LatePipeline(chdb_store)
    feed(p, ev("c1", "A", parent="p", t=2))
    feed(p, ev("c2", "A", parent="p", t=3), ev("x", "A", parent="c1", t=4))
    assert len(p.late) == 2
    _, dead = feed(p, ev("p", "B", t=1))
    assert sorted(d.event_id for d in dead) == ["c1", "c2"]


def test_own_and_other_rumours_parent_in_one_batch_is_no_conflict(chdb_store):
    p = LatePipeline(chdb_store)
    feed(p, ev("c", "A", parent="p", t=2))
    stats, dead = feed(p, ev("p", "B", t=1), ev("p", "A", t=1))
    assert stats.stored == 2 and not dead and len(p.late) == 0


def test_a_parent_known_anywhere_is_not_noted(chdb_store):
    p = LatePipeline(chdb_store)
    feed(p, ev("p", "A", t=1))
    feed(p, ev("c", "A", parent="p", t=2), ev("d", "A", parent="c", t=3))  # in the graph, in the batch
    assert len(p.late) == 0


def test_no_memory_no_late_check(chdb_store):
    p = Pipeline(chdb_store, late_parent_children=0)
    feed(p, ev("c", "A", parent="p", t=2))
    stats, dead = feed(p, ev("p", "B", t=1))
    assert p.late_parents is None and stats.stored == 1 and not dead and stats.late_links == 0


def test_the_setting_sizes_the_memory(chdb_store, monkeypatch):
    monkeypatch.setenv("RUMOUR_LATE_PARENT_CHILDREN", "7")
    assert Pipeline(chdb_store).late_parents.max_children == 7


def test_memory_is_capped_oldest_first(chdb_store):
    p = LatePipeline(chdb_store, max_children=3)
    for i in range(5):
        feed(p, ev(f"c{i}", "A", parent=f"p{i}", t=10 + i))
    assert len(p.late) == 3 and p.late.forgotten == 2
    _, dead = feed(p, *[ev(f"p{i}", "B", t=i) for i in range(5)])
    # The two oldest were forgotten (their late parents go unnoticed, as before the index).
    assert sorted(d.event_id for d in dead) == ["c2", "c3", "c4"]


def plain_late_conflicts(batches, graph_refused=()):
    """The rules, simulated plainly, batch by batch. Refused (the existing check): the parent is
    no node (event or placeholder) of the row's own rumour and no row of its rumour in the batch,
    but an event of another rumour (stored, or in the batch). Waiting: an added child whose
    parent was then an event of no rumour, or only a placeholder of its own rumour. A later
    batch adding that id in the child's rumour settles it; else each rumour adding that id
    reports the child. ``graph_refused``: (batch, rumour, event) the graphs refused (a parent
    link closing a cycle): not added."""
    stored = set()  # (rumour, event) added
    named = set()  # (rumour, parent id) named by added events: the graph's placeholders (or events)
    where = {}  # event id -> rumours that added it
    waiting = {}  # parent id -> [(rumour, child)]
    refused, reports = set(), []
    for b, rows in enumerate(batches):
        in_batch = {(r["rumour_id"], r["event_id"]) for r in rows}
        batch_where = {}
        for r in rows:
            batch_where.setdefault(r["event_id"], set()).add(r["rumour_id"])
        added, orphan = [], set()
        for r in rows:
            key, par = (r["rumour_id"], r["event_id"]), r.get("parent_event_id")
            if par is not None and (r["rumour_id"], par) not in in_batch:
                own = (r["rumour_id"], par)
                if own in stored:
                    pass
                elif own in named:
                    orphan.add(id(r))  # a placeholder of its own rumour: known, so not refused
                elif (where.get(par, set()) | batch_where.get(par, set())) - {r["rumour_id"]}:
                    refused.add(key)
                    continue
                elif not where.get(par) and not batch_where.get(par):
                    orphan.add(id(r))
            if key in stored or any(key == (a["rumour_id"], a["event_id"]) for a in added):
                continue  # a duplicate: not added
            if (b, *key) in graph_refused:
                continue
            added.append(r)
        for r in added:  # the row the graphs took (a duplicate in the batch may name another parent)
            key = (r["rumour_id"], r["event_id"])
            if id(r) in orphan:
                kids = waiting.setdefault(r["parent_event_id"], [])
                if key not in kids:
                    kids.append(key)
        added_keys = {(r["rumour_id"], r["event_id"]) for r in added}
        for rumour, eid in added_keys:
            if eid in waiting:
                waiting[eid] = [w for w in waiting[eid] if w[0] != rumour]
        for rumour, eid in added_keys:
            reports.extend((child_rumour, child, rumour) for child_rumour, child in waiting.get(eid, ())
                           if child_rumour != rumour)
        for r in added:
            stored.add((r["rumour_id"], r["event_id"]))
            where.setdefault(r["event_id"], set()).add(r["rumour_id"])
            if r.get("parent_event_id") is not None:
                named.add((r["rumour_id"], r["parent_event_id"]))
    return refused, sorted(reports)


@pytest.mark.parametrize("seed", range(12))
def test_reports_match_the_plain_rule_on_seeded_streams(seed, chdb_store):
    rng = random.Random(seed)
    ids = [f"e{i}" for i in range(60)]  # few ids over 3 rumours: ids recur across rumours
    batches = []
    for b in range(12):
        rows = []
        for _ in range(rng.randrange(1, 8)):
            event_id = rng.choice(ids)
            parent = rng.choice(ids) if rng.random() < 0.7 else None
            # A self-parent is another contract (the check's batch lookup does not count the row
            # itself): left out here.
            rows.append(ev(event_id, f"r{rng.randrange(3)}", parent=None if parent == event_id else parent, t=b))
        batches.append(rows)
    p = LatePipeline(chdb_store)
    reports, refused, graph_refused = [], set(), set()
    for b, rows in enumerate(batches):
        _, dead = feed(p, *rows)
        for d in dead:
            if d.reason == LATE_CROSS_RUMOUR:
                link = orjson.loads(d.raw)
                reports.append((link["rumour_id"], link["event_id"], link["parent_rumour_id"]))
            elif d.reason == CROSS_RUMOUR:
                refused.add((d.rumour_id, d.event_id))
            else:  # the graphs' own refusals (cycles): an input of the rule, not under test here
                assert d.source == "graph", d
                graph_refused.add((b, d.rumour_id, d.event_id))
    want_refused, want_reports = plain_late_conflicts(batches, graph_refused)
    assert refused == want_refused
    assert sorted(reports) == want_reports
    if seed == 0:
        assert want_reports  # the case under test occurs


def test_late_parents_works_without_a_pipeline():
    """The class on plain batches (the crossref step's ``late=`` with no graphs)."""
    decode = Decoder().decode
    late = LateParents()
    batch, _ = decode([orjson.dumps([ev("c", "A", parent="p"), ev("d", "A", parent="q")])])
    dead = []
    kept = refuse_cross_rumour_parents(batch, dead, ({},), store=None, late=late)
    assert len(kept) == 2 and not dead and len(late) == 0  # staged until added
    assert late.conflicts(kept) == [] and late.sizes()["waiting_parents"] == 2
    parents, _ = decode([orjson.dumps([ev("p", "B"), ev("q", "A")])])
    out = late.conflicts(parents, now_ms=5)
    assert [(d.rumour_id, d.event_id, d.received_ms) for d in out] == [("A", "c", 5)]
    assert late.sizes() == {"waiting_children": 1, "waiting_parents": 1, "forgotten": 0, "settled": 1,
                            "reported": 1}


def test_a_given_up_batchs_notes_do_not_survive_the_next_batch():
    """note() stages; a batch given up before conflicts() (its write never happened) leaves a
    stage that the next batch replaces (its cross-rumour step, even when it notes nothing, or
    its conflicts()): the given-up child never starts waiting."""
    decode = Decoder().decode
    late = LateParents()
    orphaned, _ = decode([orjson.dumps([ev("c", "A", parent="p")])])
    refuse_cross_rumour_parents(orphaned, [], ({},), store=None, late=late)  # then given up
    plain, _ = decode([orjson.dumps([ev("z", "A")])])
    kept = refuse_cross_rumour_parents(plain, [], ({},), store=None, late=late)
    assert late.conflicts(kept) == [] and late.conflicts(orphaned) == [] and len(late) == 0
