"""The report desk's index of rumour source texts is bounded by ``report_link_rumours``: it keeps
the most recently active rumours (an event, a linked report), a report about one of them links
by text, and a report about a rumour pushed out links by event id while the pipeline holds its
graph, else it is stored unlinked (``link_method`` none). After a restart the texts of the
rumours with the newest events in the store are indexed, as many as the setting allows."""
from __future__ import annotations

import gc
import random
import tracemalloc

import orjson
import pytest

from streams.events import KIND_CODE, EventBatch
from streams.governance.config import GovernanceConfig
from streams.governance.hub import Governance
from streams.governance.reports import ReportDesk
from streams.governance.rumour_texts import RumourTexts
from streams.pipeline import Pipeline
from streams.store.governance import governance_store

T0 = 1_759_276_800_000
HOUR = 3_600_000
POST, SHARE = KIND_CODE["post"], KIND_CODE["share"]
_CHARS = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def _text(i: int) -> str:
    """A made-up Chinese post of 40-120 characters, its own for each ``i``."""
    rng = random.Random(i)
    return "".join(rng.choice(_CHARS) for _ in range(rng.randint(40, 120)))


def _batch(rows) -> EventBatch:
    """``rows``: (event_id, rumour_id, kind, text)."""
    n = len(rows)
    return EventBatch.from_columns([[r[0] for r in rows], [r[1] for r in rows], ["a"] * n,
                                    [T0 + i for i in range(n)], [None] * n, [None] * n, [r[2] for r in rows],
                                    ["weibo"] * n, ["370102"] * n, [r[3] for r in rows]])


def _posts(first: int, last: int) -> EventBatch:
    return _batch([(f"m{i}", f"r{i}", POST, _text(i)) for i in range(first, last)])


def _bytes_now() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_memory_stays_bounded_under_many_rumours():
    desk = ReportDesk(GovernanceConfig(report_link_rumours=100))
    tracemalloc.start()
    try:
        for start in range(0, 1000, 250):
            desk.observe(_posts(start, start + 250))
        settled = _bytes_now()
        for start in range(1000, 4000, 250):
            desk.observe(_posts(start, start + 250))
        grown = _bytes_now() - settled
    finally:
        tracemalloc.stop()
    texts = desk._rumour_texts
    assert len(texts) == 100 and len(texts.index) == 100 and texts.evicted == 3900
    assert texts.rumours() == [f"r{i}" for i in range(3900, 4000)]  # the newest, oldest first
    assert sum(map(len, texts.index.buckets)) <= 100 * texts.index.bands  # no empty bucket left behind
    # 3,000 more rumours: unbounded, about 17 kB each (50 MB); bounded, next to nothing.
    assert grown < 3000 * 500, f"the text index grew by {grown} bytes over 3,000 rumours"


def test_a_recent_rumour_links_and_activity_keeps_a_rumour():
    desk = ReportDesk(GovernanceConfig(report_link_rumours=3))
    desk.observe(_posts(0, 3))  # r0, r1, r2
    # r0 keeps spreading (shares, no text): it is active, r1 is now the least recently active.
    desk.observe(_batch([("s1", "r0", SHARE, None), ("s2", "r0", SHARE, None)]))
    desk.observe(_posts(3, 4))  # r3 pushes r1 out
    assert sorted(desk._rumour_texts.rumours()) == ["r0", "r2", "r3"]
    for rid, text in (("r0", _text(0)), ("r3", _text(3))):
        status, answer = desk.submit({"reporter": "x", "text": "举报：" + text}, "http:t1", now_ms=T0)
        assert (status, answer["rumour_id"], answer["link_method"]) == (201, rid, "text")


def test_a_linked_report_counts_as_activity():
    desk = ReportDesk(GovernanceConfig(report_link_rumours=2))
    desk.observe(_posts(0, 2))
    assert desk.submit({"reporter": "x", "text": _text(0)}, "http:t1", now_ms=T0)[1]["rumour_id"] == "r0"
    desk.observe(_posts(2, 3))  # r1, not r0 (just reported), is pushed out
    assert sorted(desk._rumour_texts.rumours()) == ["r0", "r2"]


def test_a_report_about_an_evicted_rumour_links_by_event_id_else_stays_unlinked():
    pipeline = Pipeline(None)
    hub = Governance(pipeline, config=GovernanceConfig(report_link_rumours=2))
    hub.attach()
    for i in range(3):  # r0 first: its text is pushed out, its graph is still held
        pipeline.process([orjson.dumps({"event_id": f"m{i}", "rumour_id": f"r{i}", "account_id": "a",
                                        "ts": T0 + i, "kind": "post", "text": _text(i)})])
    assert "r0" not in hub.desk._rumour_texts and "r0" in pipeline.graphs
    status, by_text = hub.submit_report({"reporter": "x", "text": _text(0)})
    assert (status, by_text["rumour_id"], by_text["link_method"]) == (201, "", "none")
    assert hub.desk.latest_status("r0") is None  # an unlinked report gives no rumour a status
    status, by_id = hub.submit_report({"reporter": "y", "post_id": "m0"})
    assert (status, by_id["rumour_id"], by_id["link_method"]) == (201, "r0", "event_id")
    status, recent = hub.submit_report({"reporter": "z", "text": _text(2)})
    assert (recent["rumour_id"], recent["link_method"]) == ("r2", "text")


def test_a_report_naming_a_parent_never_seen_links_by_no_event_id():
    # c1's parent p-missing is only a placeholder of r0's graph: a report naming it links
    # nothing, while the desk's index covers r0 (graph.nodes_present) and after r0 was pushed
    # out of the index, when the graph itself is asked (graph.has_event); c1 links both times.
    pipeline = Pipeline(None)
    hub = Governance(pipeline, config=GovernanceConfig(report_link_rumours=2))
    hub.attach()
    pipeline.process([orjson.dumps({"event_id": "c1", "rumour_id": "r0", "account_id": "a", "ts": T0,
                                    "parent_event_id": "p-missing", "kind": "share"})])
    assert pipeline.graphs["r0"].node("p-missing") >= 0  # the placeholder is in the graph
    for pushed_out in (False, True):
        if pushed_out:
            for i in (1, 2):
                pipeline.process([orjson.dumps({"event_id": f"m{i}", "rumour_id": f"r{i}", "account_id": "a",
                                                "ts": T0 + i, "kind": "post", "text": _text(i)})])
        assert ("r0" in hub.desk.links.posts.covered) is not pushed_out and "r0" in pipeline.graphs
        status, placeholder = hub.submit_report({"reporter": f"x{pushed_out}", "post_id": "p-missing"})
        assert (status, placeholder["rumour_id"], placeholder["link_method"]) == (201, "", "none"), pushed_out
        status, event = hub.submit_report({"reporter": f"y{pushed_out}", "post_id": "c1"})
        assert (status, event["rumour_id"], event["link_method"]) == (201, "r0", "event_id"), pushed_out


def test_the_setting_is_checked():
    with pytest.raises(ValueError, match="report_link_rumours"):
        GovernanceConfig.load({"report_link_rumours": 0})
    assert GovernanceConfig.load(environ={"RUMOUR_REPORT_LINK_RUMOURS": "7"}).report_link_rumours == 7
    with pytest.raises(ValueError):
        RumourTexts(0)


def test_a_restart_indexes_the_most_recently_active_rumours(store):
    pipeline = Pipeline(store)
    events = [{"event_id": f"m{i}", "rumour_id": f"r{i}", "account_id": "a", "ts": T0 + i * 1000, "kind": "post",
               "text": _text(i)} for i in range(5)]
    # r0, the oldest post, has the newest event: it is the most recently active.
    events.append({"event_id": "s0", "rumour_id": "r0", "account_id": "b", "ts": T0 + 60_000,
                   "parent_event_id": "m0"})
    events.append({"event_id": "m9", "rumour_id": "r9", "account_id": "c", "ts": T0 + 90_000, "kind": "post"})
    pipeline.process([orjson.dumps(e) for e in events])
    gov = governance_store(store)
    everything = gov.source_texts()
    assert list(everything) == ["r1", "r2", "r3", "r4", "r0"]  # r9's post has no text
    assert everything["r0"] == _text(0)

    hub = Governance(Pipeline(None), store=store, config=GovernanceConfig(report_link_rumours=3))
    assert hub.load_from_store() == 3
    assert hub.desk._rumour_texts.rumours() == ["r3", "r4", "r0"]
    _, answer = hub.desk.submit({"reporter": "x", "text": _text(0)}, "http:t1", now_ms=T0 + HOUR)
    assert (answer["rumour_id"], answer["link_method"]) == ("r0", "text")
    _, answer = hub.desk.submit({"reporter": "x", "text": _text(1)}, "http:t1", now_ms=T0 + HOUR)
    assert answer["link_method"] == "none"

