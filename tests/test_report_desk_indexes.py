"""The report desk's reads are indexed and its CPU work is done outside its lock: a report whose
text is slow to shingle holds up no other request; a rumour's status is read from its own rows,
not by scanning every row memory holds; a report naming a post asks one graph (the index of
event ids), not every graph the pipeline holds, and still links exactly as before when that index
has let a rumour go or was never shown its graph; the restart's source texts are the same as
those of one pass over every event."""
from __future__ import annotations

import random
import threading

import orjson
import pytest

from graph import CascadeGraph
from streams.events import KIND_CODE, EventBatch
from streams.governance import textsim
from streams.governance.config import GovernanceConfig
from streams.governance.hub import Governance
from streams.governance.reports import STATUSES, ReportDesk, status_row
from streams.pipeline import Pipeline
from streams.store.governance import governance_store
from tests.test_report_desk_locking import REPORT_A, REPORT_B, SOURCE_TEXT, T0, WAIT, _answered_meanwhile, _in_thread

SLOW = "慢慢慢"  # a text holding this is slow to shingle (the test's own shingles)
POST = KIND_CODE["post"]


def _event(event_id, rumour_id, ts, kind="share", text=None, parent=None) -> bytes:
    return orjson.dumps({"event_id": event_id, "rumour_id": rumour_id, "account_id": f"a-{event_id}", "ts": ts,
                         "kind": kind, "text": text, "parent_event_id": parent})


# -- shingling outside the lock ----------------------------------------------------------------
def test_a_report_slow_to_shingle_does_not_hold_up_other_requests(monkeypatch):
    desk = ReportDesk(GovernanceConfig())
    desk.add_rumour_text("r1", SOURCE_TEXT)
    shingling, release = threading.Event(), threading.Event()
    plain = textsim.shingles

    def shingles(text, n=3):
        if text and SLOW in text:
            shingling.set()
            release.wait(WAIT)
        return plain(text, n)

    monkeypatch.setattr(textsim, "shingles", shingles)
    slow, slow_out = _in_thread(desk.submit, {"reporter": "x", "text": SLOW + REPORT_A}, "http:t1", now_ms=T0)
    try:
        assert shingling.wait(WAIT), "the slow report was never shingled"
        status, other = _answered_meanwhile("a report waited for another report's shingling", desk.submit,
                                            {"reporter": "y", "text": REPORT_B}, "http:t1", now_ms=T0 + 1)
        assert status == 201 and other["rumour_id"] == "r1"
        batch = EventBatch.from_columns([["m2"], ["r2"], ["a"], [T0], [None], [None], [POST], ["weibo"],
                                         ["370102"], ["北京地铁今天全线停运"]])
        _answered_meanwhile("a batch waited for a report's shingling", desk.observe, batch)
        status, _ = _answered_meanwhile("a status change waited for a report's shingling", desk.set_status,
                                        "r1", "verified", "bob", at_ms=T0 + 2)
        assert status == 201
    finally:
        release.set()
    slow.join(WAIT)
    assert not slow.is_alive() and "error" not in slow_out
    status, answer = slow_out["value"]  # linked as it would be alone (0.45 with REPORT_B: not merged)
    assert (status, answer["rumour_id"], answer["link_method"], answer["duplicate_of"]) == (201, "r1", "text", "")
    assert "r2" in desk._rumour_texts


def test_texts_signed_outside_the_index_answer_as_texts_given_to_it():
    rng = random.Random(5)
    words = ["自来水", "投毒", "济南", "地震", "谣言", "转发", "小区", "停水", "辟谣", "警方"]
    texts = ["".join(rng.choice(words) for _ in range(rng.randint(1, 12))) for _ in range(200)]
    given, signed = textsim.TextIndex(seed=3), textsim.TextIndex(seed=3)
    for i, text in enumerate(texts):
        given.add(f"k{i}", text)
        signed.add(f"k{i}", None, signed.sign(text))
    assert given.grams == signed.grams and given.buckets == signed.buckets
    for text in texts[:50] + ["", "!!!", None]:
        for threshold in (0.3, 0.6):
            assert signed.query(None, threshold, signed.sign(text)) == given.query(text, threshold)


# -- status rows indexed by rumour -------------------------------------------------------------
class _CountedRow(dict):
    """A status row that counts how often it is read."""

    reads = 0

    def __getitem__(self, key):
        _CountedRow.reads += 1
        return super().__getitem__(key)


def test_a_status_read_does_not_look_at_other_rumours_rows():
    desk = ReportDesk(GovernanceConfig())
    for i in range(500):
        desk.history.append(_CountedRow(status_row(f"other{i}", "received", "system", "", T0 + i)))
    desk.set_status("r1", "received", "bob", at_ms=T0)
    desk.set_status("r1", "verified", "bob", at_ms=T0 + 5)
    _CountedRow.reads = 0
    assert desk.latest_status("r1")["status"] == "verified"
    assert [r["status"] for r in desk.status_history("r1")] == ["received", "verified"]
    assert desk.latest_status("r-unknown") is None and desk.status_history("r-unknown") == []
    assert _CountedRow.reads == 0, "reading one rumour's status read the rows of others"


def _newest(rows, rumour_id):
    """The rule, from first principles: greatest (changed_ms, workflow step, changed_by), the
    last recorded on a tie."""
    mine = [(r["changed_ms"], STATUSES.index(r["status"]), r["changed_by"], i, r)
            for i, r in enumerate(rows) if r["rumour_id"] == rumour_id]
    return max(mine, key=lambda t: t[:4])[4] if mine else None


@pytest.mark.parametrize("seed", range(4))
def test_the_indexed_history_answers_as_a_scan_of_every_row(seed):
    from streams.governance.status_history import StatusHistory

    rng = random.Random(seed)
    history, rows, cut = StatusHistory(), [], 0
    recorded = []  # every row recorded and not removed, the forgotten too (the store's view)
    rumours = [f"r{i}" for i in range(6)]
    for step in range(600):
        op = rng.random()
        if op < 0.75:  # roughly in time order, with ties and some late rows
            row = status_row(rng.choice(rumours), rng.choice(["received", "verified", "debunked"]),
                             rng.choice("ab"), "", cut + rng.randint(-3, 12) + step // 3)
            history.append(row)
            rows.append(row)
            recorded.append(row)
        elif op < 0.9:
            cut += rng.randint(0, 6)
            gone = history.forget_before(cut)
            dropped = 0
            while rows and rows[0]["changed_ms"] < cut:
                rows.pop(0)
                dropped += 1
            assert gone == dropped
        elif rows:
            row = rng.choice(rows)
            assert history.remove(row)
            rows = [r for r in rows if r is not row]
            recorded = [r for r in recorded if r is not row]
            assert not history.remove(row)
        assert len(history) == len(rows) and list(history) == rows
        for rid in rumours:
            assert history.newest_held(rid) is _newest(rows, rid)
            assert history.newest().get(rid) is _newest(rows, rid)
            # latest: the newest of every row recorded, or None when a forgotten row might be newer
            latest = history.latest(rid)
            assert latest is None or latest is _newest(recorded, rid)
            if latest is None and _newest(rows, rid) is not None:
                assert _newest(rows, rid)["changed_ms"] < cut
            assert history.of(rid) == [r for r in rows if r["rumour_id"] == rid]


# -- event ids indexed by rumour ---------------------------------------------------------------
@pytest.fixture
def graph_lookups(monkeypatch):
    """How many times any graph was asked for an event id."""
    asked = []
    plain = CascadeGraph.node

    def node(self, event_id):
        asked.append(event_id)
        return plain(self, event_id)

    monkeypatch.setattr(CascadeGraph, "node", node)
    return asked


def _hub(pipeline, capacity=10_000):
    hub = Governance(pipeline, config=GovernanceConfig(report_link_rumours=capacity))
    hub.attach()
    return hub


def test_a_report_naming_a_post_asks_one_graph_not_all(graph_lookups):
    pipeline = Pipeline(None)
    hub = _hub(pipeline)
    pipeline.process([_event(f"m{i}", f"r{i}", T0 + i, "post", f"谣言{i}") for i in range(60)]
                     + [_event(f"s{i}", f"r{i}", T0 + 100 + i, parent=f"m{i}") for i in range(60)])
    graph_lookups.clear()
    status, answer = hub.submit_report({"reporter": "x", "post_id": "s41"})
    assert (status, answer["rumour_id"], answer["link_method"]) == (201, "r41", "event_id")
    assert graph_lookups == ["s41"], f"{len(graph_lookups)} graph lookups for one post id"
    graph_lookups.clear()
    status, answer = hub.submit_report({"reporter": "x", "post_id": "nowhere"})
    assert (answer["rumour_id"], answer["link_method"]) == ("", "none") and graph_lookups == []


def test_a_rumour_the_index_let_go_still_links_while_its_graph_is_held(graph_lookups):
    pipeline = Pipeline(None)
    hub = _hub(pipeline, capacity=3)
    for i in range(8):  # r0 .. r4 leave the index (capacity 3), their graphs stay
        pipeline.process([_event(f"m{i}", f"r{i}", T0 + i, "post", f"谣言{i}"),
                          _event(f"s{i}", f"r{i}", T0 + 100 + i, parent=f"m{i}")])
    posts = hub.desk.links.posts
    assert posts.rumours() == ["r5", "r6", "r7"] and len(posts) == 6 and posts.evicted == 5
    graph_lookups.clear()
    _, answer = hub.submit_report({"reporter": "x", "post_id": "s2"})
    assert (answer["rumour_id"], answer["link_method"]) == ("r2", "event_id")
    assert set(graph_lookups) == {"s2"} and len(graph_lookups) <= 5  # only graphs the index does not cover
    graph_lookups.clear()
    _, answer = hub.submit_report({"reporter": "x", "post_id": "s6"})
    assert (answer["rumour_id"], answer["link_method"]) == ("r6", "event_id") and graph_lookups == ["s6"]
    assert posts.rumours() == ["r5", "r7", "r6"]  # a linked report counts as activity (r2: not kept)
    # r2's next event brings it back, with every event of its graph; r5 goes.
    pipeline.process([_event("t2", "r2", T0 + 500, parent="s2")])
    assert posts.rumours() == ["r7", "r6", "r2"] and posts.rumour_of("m2") == "r2"


def test_a_graph_the_pipeline_dropped_no_longer_links_and_links_again_when_rebuilt(store, graph_lookups):
    pipeline = Pipeline(store)
    pipeline.process([_event(f"m{i}", f"r{i}", T0 + i, "post", f"谣言{i}") for i in range(5)]
                     + [_event("s0", "r0", T0 + 50, parent="m0")])
    hub = _hub(pipeline)  # attached after the first batch: shown none of those graphs
    pipeline.forget(["r0"])
    _, answer = hub.submit_report({"reporter": "x", "post_id": "s0"})
    assert answer["link_method"] == "none"  # r0's graph is not held: as before the index
    # r0's next event rebuilds its graph from the store; the index takes every event of it.
    pipeline.process([_event("s1", "r0", T0 + 60, parent="s0")])
    assert "r0" in pipeline.graphs and hub.desk.links.posts.rumour_of("m0") == "r0"
    graph_lookups.clear()
    _, answer = hub.submit_report({"reporter": "y", "post_id": "m0"})
    assert (answer["rumour_id"], answer["link_method"]) == ("r0", "event_id") and graph_lookups == ["m0"]
    # A graph never shown to the desk (r3's) is asked directly, as every graph was before.
    _, answer = hub.submit_report({"reporter": "y", "post_id": "m3"})
    assert (answer["rumour_id"], answer["link_method"]) == ("r3", "event_id")
    # And once the pipeline drops it, the index answers nothing for it, and lets it go at the
    # next batch (it keeps the events of held graphs only).
    pipeline.forget(["r0"])
    _, answer = hub.submit_report({"reporter": "z", "post_id": "s1"})
    assert answer["link_method"] == "none"
    assert "r0" in hub.desk.links.posts
    pipeline.process([_event("s4", "r4", T0 + 70, parent="m4")])
    assert "r0" not in hub.desk.links.posts and hub.desk.links.posts.rumour_of("m0") is None
    assert hub.desk.links.posts.rumours() == ["r4"]


# -- the restart's source texts ----------------------------------------------------------------
def _source_texts_by_hand(events, limit):
    """rumour -> text of its earliest post with a text, for the ``limit`` rumours with a text
    whose newest event is the latest (ties: rumour id), most recent last."""
    last, source = {}, {}
    for e in events:
        rid = e["rumour_id"]
        last[rid] = max(last.get(rid, e["ts"]), e["ts"])
        if e.get("kind") == "post" and e.get("text") is not None:
            if rid not in source or e["ts"] < source[rid][0]:
                source[rid] = (e["ts"], e["text"])
    ranked = sorted((rid for rid in last if source.get(rid, (0, ""))[1]), key=lambda r: (-last[r], r))
    kept = ranked if limit is None else ranked[:limit]
    return {rid: source[rid][1] for rid in reversed(kept)}


def test_the_restart_texts_are_those_of_a_pass_over_every_event(store):
    rng = random.Random(3)
    events = []
    for i in range(40):
        rid = f"r{i:02d}"
        first = T0 + rng.randint(0, 10_000)
        has_text = i % 4 != 0  # every fourth rumour has no source text: passed over
        events.append({"event_id": f"p{i}", "rumour_id": rid, "account_id": "a", "ts": first, "kind": "post",
                       "text": f"源帖{i}" if has_text else None})
        if i % 5 == 0:  # a later post with a text: the earlier one (with or without a text) is the source
            events.append({"event_id": f"q{i}", "rumour_id": rid, "account_id": "b", "ts": first + 5, "kind": "post",
                           "text": f"后帖{i}"})
        for j in range(rng.randint(0, 4)):
            events.append({"event_id": f"s{i}_{j}", "rumour_id": rid, "account_id": f"c{j}",
                           "ts": first + rng.randint(1, 50_000), "parent_event_id": f"p{i}"})
    # The newest events belong to rumours without a text: a page of the ranking holds none.
    for i in range(0, 40, 4):
        events.append({"event_id": f"late{i}", "rumour_id": f"r{i:02d}", "account_id": "z", "ts": T0 + 90_000 + i,
                       "parent_event_id": f"p{i}"})
    pipeline = Pipeline(store)
    pipeline.process([orjson.dumps(e) for e in events])
    gov = governance_store(store)
    store.write(EventBatch.from_columns(  # a re-delivered copy of one source post
        [["p1"], ["r01"], ["a"], [next(e["ts"] for e in events if e["event_id"] == "p1")], [None], [None], [POST],
         [None], [None], ["源帖1"]]))
    for limit in (None, 1, 3, 10, 29, 30, 100):
        assert list(gov.source_texts(limit=limit).items()) == list(_source_texts_by_hand(events, limit).items()), limit
    assert gov.source_texts(limit=0) == {}
