"""Everything ``Governance.observe`` makes visible, against plain event-by-event recomputations
(the oracle kept in tests/test_governance_speed_paths.py and tests/test_governance_batch.py):
seeded random batches of many rumours in the three arrival shapes of
benchmarks/bench_governance.py (a rumour's events in runs, in Kafka-sized messages, or
interleaved by time), with debunks, reports' source posts, regions (codes, names, blanks,
nulls, garbage), out-of-order minutes, re-delivered events, non-ASCII ids, empty batches, and
batches that do and do not carry the decoder's id encoding (columnar messages do, single
events do not). Written before the session-21 speed work, so that it holds the engine to the
outputs it had."""
from __future__ import annotations

import random

import orjson
import pytest

from streams.decoder import Decoder
from streams.events import EventBatch
from streams.events_columnar import encode_columns
from streams.governance.hub import Governance
from streams.governance.textsim import shingles
from tests.test_governance_batch import plain_metrics
from tests.test_governance_speed_paths import CONFIG, REGIONS, T0, PlainAlerts

SHAPES = ("runs", "messages", "time")


def oracle_rows(seed: int, n: int = 2400, rumours: int = 9) -> list[dict]:
    """Rows of many rumours: bursts, 15% debunks, some ids repeated, some non-ASCII."""
    rng = random.Random(seed)
    rows, ts = [], T0
    for i in range(n):
        ts += rng.choice([5, 100, 600, 6_000]) if rng.random() < 0.985 else 700_000
        rid = f"r{rng.randrange(rumours)}" if rng.random() < 0.9 else f"谣言{rng.randrange(3)}"
        eid = f"e{i}" if rng.random() > 0.04 else f"e{rng.randrange(i + 1)}"
        if rng.random() < 0.05:
            eid = f"事件{eid}"
        kind = rng.choice(["post", "share", "share", "share", "comment", "debunk", "share"])
        row = {"event_id": eid, "rumour_id": rid, "account_id": f"a{rng.randrange(n // 4)}",
               "ts": ts + rng.choice([0, 0, 0, -90_000, 45_000]), "kind": kind}
        if rng.random() < 0.75:
            row["parent_account_id"] = rng.choice([f"a{rng.randrange(n // 4)}", "", f"用户{rng.randrange(9)}"])
        region = rng.choice(REGIONS + ["370102", "370211"])
        if region is not None:
            row["region"] = region
        if kind == "post" and rng.random() < 0.6:
            row["text"] = rng.choice(["", "the dam broke at dawn", f"rumour {rng.randrange(5)} about the dam",
                                      "济南大桥昨夜坍塌，多人落水"])
        rows.append(row)
    return rows


def arrange(rows: list[dict], shape: str) -> list[dict]:
    if shape == "time":
        return sorted(rows, key=lambda r: r["ts"])
    by_rumour: dict[str, list] = {}
    for r in rows:
        by_rumour.setdefault(r["rumour_id"], []).append(r)
    if shape == "runs":
        return [r for rs in by_rumour.values() for r in rs]
    messages = [rs[i:i + 37] for rs in by_rumour.values() for i in range(0, len(rs), 37)]
    messages.sort(key=lambda m: m[0]["ts"])
    return [r for m in messages for r in m]


def decoded(rows: list[dict], form: str) -> EventBatch:
    """One batch of ``rows``: as event objects one per message (no id encoding), as one
    JSON array, or as columnar messages of one rumour each (the worker's form)."""
    if form == "events":
        raw = [orjson.dumps(r) for r in rows]
    elif form == "array":
        raw = [orjson.dumps(rows)]
    else:
        raw, run = [], []
        for r in rows + [None]:
            if run and (r is None or r["rumour_id"] != run[0]["rumour_id"]):
                raw.append(encode_columns(run))
                run = []
            if r is not None:
                run.append(r)
    batch, dead = Decoder().decode(raw)
    assert not dead, dead[:1]
    assert len(batch) == len(rows)
    return batch


def cuts(n: int, rng: random.Random) -> list[tuple[int, int]]:
    points = sorted(rng.sample(range(1, n), 7))
    bounds = [0] + points + [n]
    return list(zip(bounds[:-1], bounds[1:]))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", range(3))
def test_hub_outputs_equal_the_plain_recomputations(shape, seed):
    rows = arrange(oracle_rows(seed), shape)
    rng = random.Random(seed)
    hub, plain = Governance(None, config=CONFIG), PlainAlerts(CONFIG)
    fed: list[dict] = []
    forms = ["columns", "array", "events"]
    chunks = [rows[a:b] for a, b in cuts(len(rows), rng)] + [rows[:150]]  # the last: re-delivered
    for k, chunk in enumerate(chunks):
        assert hub.observe(EventBatch()) == []
        got = hub.observe(decoded(chunk, forms[(k + seed) % 3]))
        assert got == plain.batch(chunk), (shape, k)
        fed += chunk
    assert hub.flush() == plain.flush()
    assert hub.alerts.raised > 30
    for rid in sorted({r["rumour_id"] for r in rows}):
        assert hub.debunk(rid) == plain_metrics(fed, rid).to_dict(), rid
        units = {u: st["total"] for u, st in sorted(plain.units.get(rid, {}).items())}
        assert hub.alerts.unit_counts(rid) == units
    texts: dict[str, frozenset] = {}
    for r in rows:
        if r["kind"] == "post" and r.get("text") and shingles(r["text"]) and r["rumour_id"] not in texts:
            texts[r["rumour_id"]] = shingles(r["text"])
    assert hub.desk._rumour_texts.index.grams == texts



@pytest.mark.parametrize("form", ["columns", "array", "events"])
def test_one_batch_of_every_form_gives_the_same_state(form):
    """A batch decoded from any message form (with or without the decoder's id encoding) gives
    the same alerts, unit counts and debunk figures."""
    rows = arrange(oracle_rows(7, n=1500), "messages")
    hub, plain = Governance(None, config=CONFIG), PlainAlerts(CONFIG)
    assert hub.observe(decoded(rows, form)) == plain.batch(rows)
    assert hub.flush() == plain.flush()
    for rid in sorted({r["rumour_id"] for r in rows}):
        assert hub.debunk(rid) == plain_metrics(rows, rid).to_dict()


def test_observe_runs_no_python_call_per_event():
    """The observers' Python runs per batch, rumour group and alert, not per event (issue 5):
    ten times the events (same rumours, same minutes) make no more Python-level calls in
    ``Governance.observe`` beyond a margin (on the code before session 21: 5,420 more calls for
    5,400 more events; now under 900). The desk used to append each event id to its
    rumour's list (a call per event) whenever a pipeline was attached."""
    import sys
    import threading
    from types import SimpleNamespace

    def rows(n):
        rng = random.Random(n)
        return [{"event_id": f"e{i}", "rumour_id": f"r{i * 5 // n}", "account_id": f"a{rng.randrange(n)}",
                 "ts": T0 + i * 3_000 // n, "kind": "debunk" if i % 9 == 0 else "share",
                 "parent_account_id": f"a{rng.randrange(n)}", "region": REGIONS[i % 4]} for i in range(n)]

    def calls(n):
        pipeline = SimpleNamespace(lock=threading.RLock(), graphs={}, trace=lambda rid, k=10: None,
                                   memory=SimpleNamespace(drops=0))
        hub = Governance(pipeline, config=CONFIG)
        batch = decoded(rows(n), "columns")
        count = [0]

        def profiler(frame, event, arg):
            if event in ("call", "c_call"):
                count[0] += 1
        sys.setprofile(profiler)
        try:
            hub.observe(batch)
        finally:
            sys.setprofile(None)
        return count[0]

    calls(200)  # warm-up: lazy imports, caches
    small, big = calls(600), calls(6000)
    # What does grow is logarithmic: the id tables' geometric growth steps (a few hundred).
    assert big - small < (6000 - 600) / 4, (small, big)


@pytest.mark.parametrize("seed", range(4))
def test_post_index_equals_a_plain_dict(seed):
    """The desk's event-id index (a numpy table emptied by shifting runs back) against a dict
    of the same rules: first rumour keeps an id, the least recently active rumours beyond the
    capacity go with the ids they own, discard and touch; many ids, so the table grows and runs
    wrap."""
    from collections import OrderedDict

    from streams.governance.post_index import PostRumours

    rng = random.Random(seed)
    posts, owner, events = PostRumours(capacity=6), {}, OrderedDict()
    universe = [f"m{k}" for k in range(3000)] + [f"帖{k}" for k in range(200)]
    for step in range(400):
        rid = f"r{rng.randrange(12)}"
        action = rng.random()
        if action < 0.75:
            ids = rng.sample(universe, rng.randrange(0, 60))
            ids += ids[:3]  # repeated inside one call
            posts.add(rid, ids)
            mine = events.setdefault(rid, [])
            events.move_to_end(rid)
            for e in ids:
                if e not in owner:
                    owner[e] = rid
                    mine.append(e)
            while len(events) > 6:
                _, gone = events.popitem(last=False)
                for e in gone:
                    del owner[e]
        elif action < 0.9:
            posts.discard(rid)
            for e in events.pop(rid, ()):
                del owner[e]
        else:
            posts.touch([rid])
            if rid in events:
                events.move_to_end(rid)
        assert posts.rumours() == list(events) and len(posts) == len(owner)
        if step % 40 == 0:
            assert [posts.rumour_of(e) for e in universe] == [owner.get(e) for e in universe]
    assert [posts.rumour_of(e) for e in universe] == [owner.get(e) for e in universe]
    assert posts.evicted > 0 and len(posts._keys) > 64


def test_bench_governance_with_a_pipeline_measures_the_same_alerts():
    """``--pipeline`` (the worker's setting: the desk indexes the covered graphs' events, alerts
    carry traces) feeds the same events and raises the same alerts as the hub alone."""
    from benchmarks.bench_governance import run_once, run_steps, stream_batches

    batches = stream_batches(6000, 2500, seed=3, shape="messages", shares_per_rumour=1500)
    alone, piped = run_once(batches, CONFIG), run_once(batches, CONFIG, pipeline=True)
    assert piped["events"] == alone["events"] == 6000
    assert piped["alerts"] == alone["alerts"] > 0
    assert set(run_steps(batches, CONFIG, pipeline=True)) == {"view_us", "desk_us", "debunks_us", "alerts_us"}
