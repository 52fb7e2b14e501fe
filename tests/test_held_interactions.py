"""streams/held_interactions.py: the interaction graph a pipeline keeps batch by batch equals
:func:`streams.trace.interactions_of` of the graphs it holds, after any interleaving of batches
with duplicates, children before their parents, account-only links, parents in other rumours,
debunks, drops and restores; and a request reads it without rebuilding anything."""
from __future__ import annotations

import random

import numpy as np
import orjson
import pytest

from streams.embedded import make_pipeline
from streams.settings import Settings
from streams.trace import interactions_of

ACCOUNTS = [f"u{i}" for i in range(9)]
T0 = 1_764_547_200_000


def random_events(rng: random.Random, rumours: int = 4, per_rumour: int = 40) -> list[dict]:
    """Events of a few rumours over a small account pool (pairs repeat, an account reposts
    itself), with every kind of link the graphs resolve: to an event of the rumour sent earlier
    or later, to one that never comes (with or without its account), by account only, to an
    event of another rumour; plus debunk shares and duplicates (some with another account)."""
    events = []
    for r in range(rumours):
        rid = f"r{r}"
        ids = [f"{rid}-e{i}" for i in range(per_rumour)]
        for i, eid in enumerate(ids):
            e = {"event_id": eid, "rumour_id": rid, "account_id": rng.choice(ACCOUNTS),
                 "ts": T0 + rng.randrange(0, 3_600_000), "parent_event_id": None,
                 "parent_account_id": None, "kind": "post" if i == 0 else "share"}
            how = rng.random()
            if i and how < 0.45:
                e["parent_event_id"] = rng.choice(ids)  # earlier or later in the sending order
                if rng.random() < 0.3:
                    e["parent_account_id"] = rng.choice(ACCOUNTS)
            elif how < 0.55:
                e["parent_event_id"] = f"{rid}-ghost{rng.randrange(3)}"
                if rng.random() < 0.5:
                    e["parent_account_id"] = rng.choice(ACCOUNTS)
            elif how < 0.7:
                e["parent_account_id"] = rng.choice(ACCOUNTS)
            elif how < 0.75:
                e["parent_event_id"] = f"r{(r + 1) % rumours}-e{rng.randrange(per_rumour)}"
            elif how < 0.8:
                e["kind"] = "debunk"
            events.append(e)
    for e in rng.sample(events, len(events) // 8):
        events.append({**e, "account_id": rng.choice(ACCOUNTS)} if rng.random() < 0.5 else dict(e))
    rng.shuffle(events)
    return events


def send(pipeline, events) -> None:
    pipeline.process([orjson.dumps(e) for e in events], ["test"] * len(events))


def assert_counts_equal_the_oracle(pipeline) -> None:
    held = pipeline.memory.interactions
    oracle = interactions_of(pipeline.graphs.values())
    names = {i: a for a, i in oracle.index.items()}
    want = {(names[k >> 31], names[k & ((1 << 31) - 1)]): c for k, c in oracle._pairs.items()}
    assert held.pairs() == want
    for account in ACCOUNTS:
        assert held.influence_of(account) == oracle.influence_of(account), account
    # Only accounts of held graphs count as named.
    named = {a for g in pipeline.graphs.values() for a in g.ac.strings(np.arange(g.ac.count))}
    assert held.n_accounts == len(named) and (held.accounts.find(sorted(named)) >= 0).all()


@pytest.fixture(params=["merge often", "merge rarely"])
def merges(request, monkeypatch):
    """Pending changes merged (and dropped accounts compacted) at every step, or only when
    read: both must count the same."""
    import streams.held_interactions as hi

    monkeypatch.setattr(hi, "MERGE_MIN", 4 if request.param == "merge often" else 1 << 16)
    return request.param


@pytest.mark.parametrize("seed", range(6))
def test_the_kept_counts_equal_interactions_of_the_held_graphs_after_every_batch(seed, merges):
    rng = random.Random(seed)
    events = random_events(rng)
    pipeline = make_pipeline(None, Settings.load({}))
    pipeline.track_interactions()
    at = 0
    while at < len(events):
        size = rng.randrange(1, 25)
        send(pipeline, events[at:at + size])
        at += size
        assert_counts_equal_the_oracle(pipeline)
    # Every link is there (the counts are not trivially empty), and resending changes nothing.
    assert sum(pipeline.memory.interactions.pairs().values()) > 20
    before = pipeline.memory.interactions.pairs()
    send(pipeline, rng.sample(events, 30))
    assert pipeline.memory.interactions.pairs() == before


@pytest.mark.parametrize("seed", range(3))
def test_drops_and_rebuilds_keep_the_counts_those_of_the_held_graphs(seed, merges):
    rng = random.Random(100 + seed)
    events = random_events(rng)
    pipeline = make_pipeline(None, Settings.load({}))
    half = len(events) // 2
    send(pipeline, events[:half])
    held = pipeline.track_interactions()  # graphs held before: counted once here
    assert held.full_counts == len(pipeline.graphs)
    assert_counts_equal_the_oracle(pipeline)
    for step in range(6):
        if step % 2 == 0:
            # An eviction or a revoked partition drops graphs: their links leave the counts.
            pipeline.forget(rng.sample(sorted(pipeline.graphs), 2))
        else:
            # The rumour comes back (here from its events again, as a restore from the store).
            send(pipeline, rng.sample(events, 40))
        assert_counts_equal_the_oracle(pipeline)
    send(pipeline, events[half:])
    assert_counts_equal_the_oracle(pipeline)
    pipeline.forget(sorted(pipeline.graphs))
    assert held.pairs() == {} and held.n_accounts == 0 and not held._influence.any()
    if merges == "merge often":
        assert held.accounts.count == 0  # compacted: no dropped account kept


def test_a_graph_replaced_without_a_drop_is_counted_once():
    from graph import CascadeGraph
    from streams.held_interactions import HeldInteractions

    def graph(parent_account):
        g = CascadeGraph("r")
        g.add_batch(["o", "a"], [parent_account, "u"], np.array([1, 2]), [None, "o"], [None, None])
        return g

    held = HeldInteractions()
    held.update("r", graph("src"))
    held.update("r", graph("other"))
    assert held.pairs() == {("u", "other"): 1} and held.n_accounts == 2


@pytest.mark.parametrize("seed", range(3))
def test_the_view_of_one_rumour_gives_the_parents_of_the_whole_interaction_graph(seed, merges):
    from graph.reconstruct import reconstruct_scored

    rng = random.Random(200 + seed)
    events = random_events(rng, rumours=5, per_rumour=60)
    pipeline = make_pipeline(None, Settings.load({}))
    pipeline.track_interactions()
    at = 0
    while at < len(events):  # changed links and dropped graphs leave negative changes pending
        size = rng.randrange(1, 25)
        send(pipeline, events[at:at + size])
        at += size
        if rng.random() < 0.05:
            pipeline.forget([rng.choice(sorted(pipeline.graphs))])
    whole = interactions_of(pipeline.graphs.values())
    held = pipeline.memory.interactions
    # The view reads the merged pairs and the pending changes.
    assert held._pending_n > 0 if merges == "merge rarely" else held.merges > 0
    inferred = 0
    oracle_pairs = {(a, b): whole.pair(a, b) for a in ACCOUNTS for b in ACCOUNTS if whole.pair(a, b)}
    for graph in pipeline.graphs.values():
        view = held.view(graph)
        ours = set(graph.ac.strings(np.arange(graph.ac.count)))
        name = {view.account(a): a for a in ours}
        keys, counts, n, influence = view.arrays()
        assert {(name[k // n], name[k % n]): c for k, c in zip(keys.tolist(), counts.tolist())} == \
            {(a, b): c for (a, b), c in oracle_pairs.items() if a in ours and b in ours}
        assert all(influence[view.account(a)] == whole.influence_of(a) for a in ours)
        got = reconstruct_scored(graph, view)
        assert got == reconstruct_scored(graph, whole)
        inferred += len(got)
    assert inferred > 0


def test_a_batch_counts_only_its_own_rumours_and_a_request_counts_nothing(monkeypatch):
    """The mechanism that keeps a parents request from pausing ingest: after the start, a batch
    updates the counts of the graphs it changed only, and a request neither updates nor
    rebuilds anything (no interactions_of), so the lock is held for its rumour alone."""
    import streams.trace
    from streams.held_interactions import HeldInteractions
    from streams.service.trace_parents import inferred_links

    rng = random.Random(7)
    events = random_events(rng, rumours=6)
    pipeline = make_pipeline(None, Settings.load({}))
    held = pipeline.track_interactions()
    send(pipeline, [e for e in events if e["rumour_id"] != "r5"])
    updated = []
    real_update = HeldInteractions.update
    monkeypatch.setattr(HeldInteractions, "update",
                        lambda self, rid, g: (updated.append(rid), real_update(self, rid, g))[1])
    monkeypatch.setattr(streams.trace, "interactions_of", lambda graphs: pytest.fail("rebuilt"))
    full = held.full_counts
    links = [inferred_links(held.view(g), g, {}) for g in pipeline.graphs.values()]
    assert any(links) and updated == [] and held.full_counts == full
    send(pipeline, [e for e in events if e["rumour_id"] in ("r1", "r5") and e["kind"] != "debunk"][:20])
    assert set(updated) <= {"r1", "r5"} and updated
    assert held.full_counts == full + ("r5" in updated)  # a new rumour: counted whole, once
    monkeypatch.setattr(streams.trace, "interactions_of", real_interactions_of)
    assert_counts_equal_the_oracle(pipeline)


real_interactions_of = interactions_of


def test_counts_that_went_wrong_are_counted_again(caplog):
    from graph import CascadeGraph
    from streams.held_interactions import HeldInteractions

    g = CascadeGraph("r")
    g.add_batch(["o", "a"], ["src", "u"], np.array([1, 2]), [None, "o"], [None, None])
    held = HeldInteractions()
    held.update("r", g)
    held._count(np.array([(5 << 31) | 6]), -1)  # uncount a pair never counted
    assert held.pairs() == {("u", "src"): 1}
    assert "recounting" in caplog.text


def test_a_service_starts_keeping_the_counts_at_its_first_parents_request_not_before():
    """Keeping the counts costs ingest per changed graph: a service whose users never ask for
    inferred parents must not pay it; the first request counts the held graphs once."""
    from streams.service.pseudonym import Pseudonymiser
    from streams.service.views import Views

    pipeline = make_pipeline(None, Settings.load({}))
    views = Views(pipeline, None, Pseudonymiser(b"k" * 32))
    send(pipeline, random_events(random.Random(7)))
    assert pipeline.memory.interactions is None  # ingest kept nothing so far
    held = views.held_interactions()
    assert held is pipeline.memory.interactions and held is views.held_interactions()
    assert held.full_counts == len(pipeline.graphs)
    send(pipeline, random_events(random.Random(8)))  # from now on, ingest keeps them
    assert_counts_equal_the_oracle(pipeline)
