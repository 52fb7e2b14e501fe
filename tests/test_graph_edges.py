"""Edge cases of CascadeGraph: empty, single event, all placeholders, huge star, deep chains
(no recursion limits), bad input, account-only links, hostile cycles, growth and memory."""
from __future__ import annotations

import numpy as np
import pytest

from graph import ADDED, DUPLICATE, REJECTED, CascadeGraph
from graph.ids import IdIndex, encode_batch
from tests.naive import NaiveCascade, columns, feed, random_rows


def make(rows, **kw):
    g = CascadeGraph(**kw)
    res = g.add_batch(*columns(rows))
    return g, res


def test_empty_graph():
    g = CascadeGraph("r0")
    assert g.n_events == 0
    assert g.origins() == [] and g.cutoff(10) == []
    assert g.depths().shape == (0,) and g.subtree_sizes().shape == (0,)
    assert g.trace() == {"rumour_id": "r0", "events": 0, "origins": [], "cutoff": []}
    assert g.account_chains("nobody") == []
    with pytest.raises(KeyError):
        g.chain("nope")
    assert g.add_batch([], [], np.zeros(0, np.int64), [], []).status.shape == (0,)


def test_single_event():
    g, res = make([("e", "u", 7, None, None)])
    assert res.status.tolist() == [ADDED]
    assert [tuple(o) for o in g.origins()] == [("u", "e", 7, 1, True)]
    assert g.cutoff(3) == [] and g.cutoff(3, exclude_origins=False) == []
    assert [tuple(h) for h in g.chain("e")] == [("e", "u", 7, True)]


def test_all_placeholders_without_accounts():
    """Every parent missing and unnamed: each child is its own root."""
    rows = [(f"c{i}", f"u{i}", i, f"missing{i % 3}", None) for i in range(9)]
    g, _ = make(rows)
    assert g.n_events == 9 and g.n_nodes == 12
    assert sorted(o.event_id for o in g.origins()) == sorted(f"c{i}" for i in range(9))
    assert all(o.observed and o.reach == 1 for o in g.origins())
    assert g.depths().tolist() == [0] * 12
    # The placeholders hold no present event and are no origin.
    sizes = g.subtree_sizes()
    assert all(sizes[g.node(f"missing{k}")] == 0 for k in range(3))


def test_missing_parent_with_named_account_is_an_unobserved_origin():
    rows = [("c1", "u1", 5, "p", "boss"), ("c2", "u2", 6, "p", None), ("d", "u3", 7, "c1", None)]
    g, _ = make(rows)
    (o,) = g.origins()
    assert (o.account_id, o.event_id, o.ts_ms, o.reach, o.observed) == ("boss", "p", None, 3, False)
    assert [h.event_id for h in g.chain("d")] == ["d", "c1", "p"]
    # The parent arrives later: it is filled in, observed, and now carries its real account.
    g.add_batch(["p"], ["real"], np.array([1]), [None], [None])
    (o,) = g.origins()
    assert (o.account_id, o.reach, o.observed, o.ts_ms) == ("real", 4, True, 1)


def test_huge_star():
    n = 200_000
    rows = [("hub", "h", 0, None, None)] + [(f"s{i}", f"a{i % 5000}", i + 1, "hub", None)
                                             for i in range(n)]
    g, res = make(rows)
    assert res.added == n + 1
    assert g.origins()[0].reach == n + 1
    assert int(g.depths().max()) == 1
    cut = g.cutoff(3, exclude_origins=False)
    assert cut[0].account_id == "h" and cut[0].prevented == n


@pytest.mark.parametrize("reverse", [False, True])
def test_deep_chain_no_recursion_limit(reverse):
    n = 100_000
    rows = [(f"e{i}", f"u{i % 7}", i, f"e{i - 1}" if i else None, None) for i in range(n)]
    if reverse:
        rows = rows[::-1]
    g = CascadeGraph()
    for i in range(0, n, 7_000):
        g.add_batch(*columns(rows[i:i + 7_000]))
    assert g.n_events == n
    d = g.depths()
    assert d[g.node("e99999")] == n - 1 and d[g.node("e0")] == 0
    sizes = g.subtree_sizes()
    assert sizes[g.node("e0")] == n and sizes[g.node("e50000")] == n - 50_000
    chain = g.chain(f"e{n - 1}")
    assert len(chain) == n and chain[-1].event_id == "e0"
    # u1's first event (e1) is the top one: everything below but u1's own later events.
    cut = g.cutoff(1)
    assert cut[0].account_id == "u1"
    assert cut[0].prevented == (n - 1) - len(range(1, n, 7))


def test_duplicates_first_copy_wins():
    rows = [("e", "u", 1, None, None), ("e", "other", 2, None, None), ("f", "v", 3, "e", None),
            ("f", "v", 3, "e", None)]
    g, res = make(rows)
    assert res.status.tolist() == [ADDED, DUPLICATE, ADDED, DUPLICATE]
    assert g.chain("e")[0].account_id == "u"
    res2 = g.add_batch(["e"], ["u"], np.array([1]), [None], [None])
    assert res2.status.tolist() == [DUPLICATE] and g.n_events == 2


def test_rejects_and_reasons():
    rows = [("", "u", 1, None, None), ("e", "", 1, None, None), ("s", "u", 1, "s", None),
            ("a", "u", 1, "b", None), ("b", "u", 2, "a", None), ("ok", "u", 3, "a", None)]
    g, res = make(rows)
    assert res.status.tolist() == [REJECTED, REJECTED, REJECTED, ADDED, REJECTED, ADDED]
    assert res.reasons == {0: "empty event_id", 1: "empty account_id", 2: "parent cycle",
                           4: "parent cycle"}
    assert g.node("s") == -1  # a rejected row leaves no trace


def test_long_cycle_closed_late_is_rejected():
    n = 5_000
    rows = [(f"e{i}", "u", i, f"e{i + 1}", None) for i in range(n)]
    g, _ = make(rows)
    res = g.add_batch([f"e{n}"], ["u"], np.array([n]), ["e0"], [None])
    assert res.reasons == {0: "parent cycle"}
    res = g.add_batch([f"e{n}"], ["u"], np.array([n]), [None], [None])
    assert res.status.tolist() == [ADDED] and g.origins()[0].reach == n + 1


def test_account_only_links():
    rows = [("a1", "A", 10, None, None), ("a2", "A", 20, None, None),
            ("b1", "B", 15, None, "A"),  # latest A event at or before 15: a1
            ("b2", "B", 5, None, "A"),  # none before 5: A's earliest, a1
            ("c1", "C", 30, None, "Z")]  # Z never posts: an unobserved stand-in
    g, _ = make(rows)
    assert g.chain("b1")[1].event_id == "a1" and g.chain("b2")[1].event_id == "a1"
    stand_in = g.chain("c1")[1]
    assert (stand_in.event_id, stand_in.account_id, stand_in.observed) == (None, "Z", False)
    assert ("Z", None, None, 1, False) in [tuple(o) for o in g.origins()]
    # Z's own event arrives: c1 now hangs under it and the stand-in is no origin any more.
    g.add_batch(["z1"], ["Z"], np.array([25]), [None], [None])
    assert g.chain("c1")[1].event_id == "z1"
    assert all(o.event_id is not None for o in g.origins())


def test_account_link_cycle_is_broken_deterministically():
    rows = [("x", "A", 1, None, "B"), ("y", "B", 5, None, "A")]
    for order in (rows, rows[::-1]):
        g, _ = make(order)
        assert [o.event_id for o in g.origins()] == ["x"]
        ref = NaiveCascade()
        ref.add_rows(order)
        assert [tuple(o) for o in g.origins()] == ref.answers()["origins"]


def test_non_str_ids_raise():
    g = CascadeGraph()
    with pytest.raises(TypeError):
        g.add_batch([1], ["u"], np.array([0]), [None], [None])
    with pytest.raises(ValueError):
        g.add_batch(["a", "b"], ["u"], np.array([0, 1]), [None, None], [None, None])


def test_ids_with_nul_and_unicode():
    ix = IdIndex()
    ids = ["a\x00b", "a", "b", "ä\x00", "微博", "a\x00b"]
    got = ix.add(ids).tolist()
    assert got == [0, 1, 2, 3, 4, 0]
    assert [ix.string(i) for i in range(5)] == ids[:5]
    buf, s, e = encode_batch(["x", "y\x00z"])
    assert [bytes(buf[a:b]) for a, b in zip(s, e)] == [b"x", b"y\x00z"]


def test_id_index_many_against_dict():
    rng = np.random.default_rng(3)
    ix = IdIndex(capacity=1)
    ref: dict[str, int] = {}
    for _ in range(30):
        batch = [f"k{int(x)}" for x in rng.integers(0, 5_000, 400)]
        got = ix.add(batch)
        for s, j in zip(batch, got.tolist()):
            assert ref.setdefault(s, len(ref)) == j
    assert len(ix) == len(ref)
    assert ix.find(list(ref)[:50] + ["absent"]).tolist() == list(range(50)) + [-1]


def test_growth_from_tiny_capacity_and_memory_per_share():
    n = 50_000
    rows = [(f"event-{i}", f"user-{i % 20_000}", i, f"event-{i // 2}" if i else None, None)
            for i in range(n)]
    g = CascadeGraph(capacity=1)
    for i in range(0, n, 999):
        g.add_batch(*columns(rows[i:i + 999]))
    assert g.n_events == n and g.origins()[0].reach == n
    g.cutoff(5)
    assert g.nbytes() / n < 64  # issue 5's budget per share held


def test_trace_matches_origins_and_cutoff():
    """trace() builds its origin dicts without Origin objects: same content, same order."""
    rows = random_rows(7)
    g = CascadeGraph()
    feed(g, rows, np.random.default_rng(7))
    t = g.trace(k=3, max_origins=5)
    assert t["origins"] == [{"account_id": o.account_id, "event_id": o.event_id,
                             "ts_ms": o.ts_ms, "reach": o.reach} for o in g.origins(5)]
    assert t["cutoff"] == [{"account_id": c.account_id, "prevented": c.prevented}
                           for c in g.cutoff(3)]
    assert len(g.trace(k=3)["origins"]) == len(g.origins())


def test_strings_with_nul_and_blanks():
    """IdIndex.strings splits one decoded blob on NUL; ids holding NUL take the slow path."""
    ix = IdIndex()
    ix.add(["a", "x\x00y", "é"])
    assert ix.strings([2, -1, 1, 0]) == ["é", None, "x\x00y", "a"]
    assert ix.strings(np.array([], np.int64)) == []


@pytest.mark.parametrize("exclude", [True, False])
def test_cutoff_after_many_stale_gains(exclude):
    """One pick cuts 300 accounts that each still sit in the greedy's heap with a gain above the
    next true one: the kernel drops them by one exact sweep (after 256 stale pops) instead of
    popping each; the answer must equal the oracle's, and reused accounts take the slow path."""
    rows = [("r", "root", 0, None, None), ("h", "hub", 1, "r", None),
            ("x", "ax", 2, "r", None), ("y", "ay", 3, "x", None)]
    for i in range(300):
        rows.append((f"c{i}", f"c{i}", 10 + i, "h", None))
        for j in range(2):
            # Grandchildren reuse 50 accounts, so some accounts have several nodes.
            rows.append((f"g{i}.{j}", f"u{(i * 2 + j) % 50}", 1000 + i, f"c{i}", None))
    g, _ = make(rows)
    ref = NaiveCascade()
    ref.add_rows(rows)
    ans = ref.answers()
    for k in (1, 2, 3, 10):
        assert [tuple(c) for c in g.cutoff(k, exclude_origins=exclude)] == ref.cutoff(ans, k, exclude)


def check_presence(seed) -> int:
    """nodes_present / has_event against the rows themselves: an id is present once a row with
    that event id was ADDED (a placeholder its children named is not, until it arrives).
    Returns the number of placeholders met."""
    rows = random_rows(seed, p_missing=0.3)
    g = CascadeGraph()
    seen = set()
    for i in range(0, len(rows), 7):
        part = rows[i:i + 7]
        res = g.add_batch(*columns(part))
        seen |= {r[0] for r, s in zip(part, res.status.tolist()) if s == ADDED}
        ids = g.event_ids()
        got = g.nodes_present(np.arange(g.n_nodes))
        assert got.dtype == bool and got.tolist() == [e in seen for e in ids]
        named = {e for e in ids if e is not None} | {r[0] for r in rows} | {"never-seen"}
        assert {e for e in named if g.has_event(e)} == seen
    return g.n_nodes - len(seen)


def test_present_events_are_the_rows_added_not_the_placeholders():
    placeholders = [check_presence(seed) for seed in range(12)]
    assert sum(placeholders) > 0  # else an all-True nodes_present would pass


def test_present_nodes_of_unknown_ids_are_false_and_bad_indices_refused():
    g = CascadeGraph()
    g.add_batch(["x"], ["u"], np.array([5]), ["p"], [None])
    buf, st, en = encode_batch(["p", "zz", "x"])
    assert g.nodes_present(g.ev.find_encoded(buf, st, en)).tolist() == [False, False, True]
    assert g.nodes_present(np.zeros(0, np.int32)).shape == (0,)
    with pytest.raises(ValueError):
        g.nodes_present([0, 2])  # two nodes: 0 and 1
    with pytest.raises(ValueError):
        g.nodes_present([-2])
    with pytest.raises(TypeError):
        g.nodes_present([0.0])
    with pytest.raises(TypeError):
        g.has_event(None)
    g.add_batch(["p"], ["v"], np.array([1]), [None], [None])  # the placeholder's event arrives
    assert g.has_event("p") and g.nodes_present([g.node("p")]).tolist() == [True]


def test_no_adapter_reads_the_graphs_present_flag():
    # streams/ asks CascadeGraph.nodes_present / has_event; the node flags are graph/'s own
    from pathlib import Path

    streams = Path(__file__).resolve().parent.parent / "streams"
    readers = [str(p.relative_to(streams)) for p in streams.rglob("*.py") if "FLAG_PRESENT" in p.read_text("utf-8")]
    assert readers == []
