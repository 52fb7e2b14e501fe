"""`rumour trace --parents --rumour ID` holds ID's graph and, of the other rumours, only the
interaction counts the reconstruction reads, one rumour's graph at a time
(streams/trace_focus_parents.py), with the answer the whole `--parents` trace gives, byte for byte."""
from __future__ import annotations

import gc
import random
import tracemalloc
import weakref

import orjson
import pytest

import streams.rumour_graphs as rumour_graphs
from streams.trace_focus_parents import FocusedInteractions
from tests.test_mask_stream import held_whole
from tests.test_trace_focus import T0, answers_of, tangled_dump


def shared_accounts_dump(rumours: int, events: int, seed: int, accounts: int = 25) -> list:
    """Rumours interleaved, drawn from few accounts (so the interaction counts of other rumours
    decide candidates), their parents masked by rumour mask's transform (30%, origin posts
    dropped: placeholders known by account), with repeated and malformed lines."""
    rng = random.Random(seed)
    plain = []
    for r in range(rumours):
        rid = f"m{r}"
        evs = [{"event_id": f"{rid}-0", "rumour_id": rid, "account_id": f"a{rng.randrange(accounts)}",
                "ts": T0 + rng.randrange(60_000), "kind": "post", "text": f"post {r}"}]
        for i in range(1, events):
            p = evs[rng.randrange(max(i - 5, 0), i)]  # recent parents: chains of shares
            evs.append({"event_id": f"{rid}-{i}", "rumour_id": rid, "account_id": f"a{rng.randrange(accounts)}",
                        "ts": T0 + 30_000 * i + rng.randrange(90_000), "parent_event_id": p["event_id"],
                        "parent_account_id": p["account_id"], "kind": "share",
                        "text": f"wow @{p['account_id']}: {p['text']}" if rng.random() < 0.3 else None})
        plain.extend(orjson.dumps(e) for e in evs)
    masked = held_whole(plain, 0.3, seed, True, "event").splitlines()
    rng.shuffle(masked)  # interleaved (each rumour's own order no longer by time)
    lines = []
    for ln in masked:
        lines.append(ln)
        roll = rng.random()
        if roll < 0.02:
            lines.append(ln)
        elif roll < 0.04:
            lines.append(b'{"event_id": "cut", "rumour_id": "m1", ')
    return lines


def assert_same_as_whole(lines, rumour_ids, **options) -> int:
    """Each of ``rumour_ids`` answers as the whole --parents run; returns the inferred parents."""
    dead_all, whole = answers_of(lines, parents=True, **options)
    inferred = 0
    for rid in rumour_ids:
        dead, one = answers_of(lines, parents=True, rumour=rid, **options)
        assert one == {rid: whole[rid]}, rid
        inferred += sum(p is not None for p in orjson.loads(one[rid])["parents"].values())
        # Dead letters as the focused trace's: the malformed lines that may be the rumour's
        # (they name it or hold an escape) and the rumour's own refusals, in order.
        named = f'"{rid}"'.encode()

        def reported(d) -> bool:
            if d.source.startswith("dump:"):  # a line the decoder refused
                return named in d.raw or b"\\" in d.raw
            return d.rumour_id == rid

        assert sorted((d.source, d.reason) for d in dead) == \
            sorted((d.source, d.reason) for d in dead_all if reported(d))
    return inferred


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("observe", [None, 3600.0])
def test_tangled_dumps_answer_as_the_whole_parents_trace(seed, observe):
    """Parents in another rumour (refused: the whole run is one batch), never seen, account-only,
    duplicates, debunks, malformed lines, an escaped rumour id."""
    lines = tangled_dump(seed=seed)
    assert assert_same_as_whole(lines, [f"r{i}" for i in range(6)], observe=observe)


@pytest.mark.parametrize("seed", [3, 4])
def test_masked_dumps_with_shared_accounts_answer_as_the_whole_parents_trace(seed):
    lines = shared_accounts_dump(8, 40, seed)
    assert assert_same_as_whole(lines, [f"m{i}" for i in range(8)]) > 20


def test_counts_from_other_rumours_change_the_answer():
    """Not a vacuous check: without the other rumours' links the answer differs."""
    lines = shared_accounts_dump(8, 40, 3)
    differs = 0
    for rid in ("m0", "m1", "m2"):
        _, one = answers_of(lines, parents=True, rumour=rid)
        _, alone = answers_of([ln for ln in lines if f'"{rid}"'.encode() in ln], parents=True)
        differs += alone[rid] != one[rid]
    assert differs


def test_no_events_for_the_rumour():
    dead, one = answers_of(tangled_dump(seed=0), parents=True, rumour="nope")
    assert one == {"nope": b"null"} and not [d for d in dead if d.rumour_id]


def test_one_other_rumours_graph_at_a_time(monkeypatch):
    """The resource: the whole run holds every rumour's graph until it answers; focused, ID's
    share graph and debunk cascade and one other rumour's two are alive at once, at most."""
    alive, built = weakref.WeakSet(), []
    peak = [0]

    class Counted(rumour_graphs.CascadeGraph):
        def __init__(self, rumour_id="", *args, **kwargs):
            super().__init__(rumour_id, *args, **kwargs)
            built.append(rumour_id)
            alive.add(self)
            peak[0] = max(peak[0], len(alive))

    monkeypatch.setattr(rumour_graphs, "CascadeGraph", Counted)
    lines = tangled_dump(rumours=10, seed=5)
    for observe in (None, 3600.0):
        built.clear()
        peak[0] = 0
        gc.collect()
        _, one = answers_of(lines, parents=True, rumour="r2", observe=observe)
        assert list(one) == ["r2"]
        assert set(built) == {f"r{i}" for i in range(10)}  # each counted once
        assert peak[0] <= 4, peak[0]


def test_peak_memory_of_a_large_dump_is_a_fraction_of_the_whole_run():
    lines = shared_accounts_dump(60, 400, 7, accounts=3000)
    msgs = [(ln, f"dump:{i}") for i, ln in enumerate(lines, 1)]
    from streams.settings import Settings
    from streams.trace import run_trace

    def peak(**options) -> int:
        gc.collect()
        tracemalloc.start()
        try:
            _, answers = run_trace(iter(msgs), Settings.load({"batch_size": 2000}), 5, parents=True, **options)
            for _ in answers:
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    whole, one = peak(), peak(rumour="m5")
    assert one < whole / 3, (one, whole)


def test_focused_interactions_read_as_the_whole_interaction_graph():
    """The counts the kernels read for one graph's accounts equal the whole graph's."""
    import numpy as np

    from streams.trace import interactions_of
    from streams.rumour_graphs import RumourGraphs
    from streams.events import EventBatch

    rng = random.Random(2)
    rows = [(f"e{i}", f"s{rng.randrange(4)}", f"a{rng.randrange(12)}", i,
             f"e{rng.randrange(i)}" if i and rng.random() < 0.8 else None) for i in range(300)]
    batch = EventBatch.from_columns([[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                                     [r[3] for r in rows], [r[4] for r in rows], [None] * 300,
                                     [1] * 300, [None] * 300, [None] * 300, [None] * 300])
    graphs = RumourGraphs()
    graphs.apply(batch, [])
    whole = interactions_of(graphs.graphs.values())
    mine = FocusedInteractions(graphs.graphs["s0"])
    for g in graphs.graphs.values():
        mine.add(g)
    keys, counts, n, influence = mine.arrays()
    names = graphs.graphs["s0"].ac.strings(np.arange(graphs.graphs["s0"].ac.count))
    for a in names:
        assert influence[mine.account(a)] == whole.influence_of(a)
        for b in names:
            key = mine.account(a) * n + mine.account(b)
            i = np.searchsorted(keys, key)
            got = int(counts[i]) if i < len(keys) and keys[i] == key else 0
            assert got == whole.pair(a, b)


@pytest.mark.shared_data
@pytest.mark.slow
def test_real_cascades_masked_answer_as_the_whole_parents_trace(shared_data):
    """The first 120 Weibo cascades as the importer writes them, 30% of parents masked (origin
    posts dropped) as rumour mask does, interleaved: 6 rumours answer as in the whole run."""
    from streams.importers import iter_events

    events, _ = iter_events("weibo-ced", shared_data / "weibo-ced-dev.tar.gz")
    lines, seen = [], []
    for e in events:
        if e["rumour_id"] not in seen:
            if len(seen) == 120:
                break
            seen.append(e["rumour_id"])
        lines.append(orjson.dumps(e))
    masked = held_whole(lines, 0.3, 0, True, "event").splitlines()
    random.Random(0).shuffle(masked)
    assert assert_same_as_whole(masked, random.Random(1).sample(seen, 6), batch_size=5000) > 50


def test_the_decoders_dead_letters_are_the_focused_traces():
    """The lines reported as malformed are those the plain `--rumour` trace reports: the ones
    that may hold the rumour, as they are (a line too long whose first bytes do not name it, an
    array with a bad item), not a line of another rumour."""
    from streams.settings import Settings
    from streams.trace import run_trace

    lines = tangled_dump(seed=6)
    long_r1 = b'{"text": "' + b"x" * 3000 + b'", "rumour_id": "r1", "event_id": "big"}'
    array_r1 = orjson.dumps([{"event_id": "ok", "rumour_id": "r1", "account_id": "u", "ts": T0},
                             {"event_id": "no-account", "rumour_id": "r1", "ts": T0}])
    lines[10:10] = [long_r1, array_r1, b'{"rumour_id": "r3", "event_id": '] * 2
    settings = Settings.load({"batch_size": 9, "max_message_bytes": 2000, "max_event_bytes": 2000})

    def decoder_dead(**options) -> list:
        dead, answers = run_trace([(ln, f"dump:{i}") for i, ln in enumerate(lines, 1)], settings, 5,
                                  rumour="r1", **options)
        list(answers)
        return [(d.source, d.reason) for d in dead if d.source.startswith("dump:")]

    plain = decoder_dead()
    assert any("too large" in r for _, r in plain) and any(s.endswith("[1]") for s, _ in plain)
    assert decoder_dead(parents=True) == plain
