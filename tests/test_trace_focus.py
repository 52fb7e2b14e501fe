"""`rumour trace --rumour ID` builds and answers only that rumour (streams/trace_focus.py), with
the answer the whole-input trace gives for it, byte for byte."""
from __future__ import annotations

import random

import orjson
import pytest

import streams.rumour_graphs as rumour_graphs
from streams.crossref_late import LATE_CROSS_RUMOUR
from streams.cli import main
from streams.settings import Settings
from streams.trace import run_trace

T0 = 1_500_000_000_000


def tangled_dump(rumours: int = 6, events: int = 60, seed: int = 0) -> list:
    """JSONL lines of ``rumours`` rumours interleaved at random, with what makes one rumour's
    answer depend on its batch: parents that are events of another rumour, parents never seen,
    account-only links, repeated lines, debunk shares, and malformed lines."""
    rng = random.Random(seed)
    per = {}
    for r in range(rumours):
        rid = f"r{r}"
        evs = [{"event_id": f"{rid}-0", "rumour_id": rid, "account_id": f"a{rng.randrange(30)}",
                "ts": T0 + rng.randrange(10_000), "kind": "post"}]
        for i in range(1, events):
            p = evs[rng.randrange(i)]
            e = {"event_id": f"{rid}-{i}", "rumour_id": rid, "account_id": f"a{rng.randrange(30)}",
                 "ts": T0 + 60_000 * i + rng.randrange(600_000), "parent_event_id": p["event_id"],
                 "parent_account_id": p["account_id"], "kind": rng.choice(["share"] * 8 + ["comment", "debunk"])}
            roll = rng.random()
            if roll < 0.06:  # an event of another rumour, likely in another batch
                e["parent_event_id"] = f"r{rng.randrange(rumours)}-{rng.randrange(events)}"
            elif roll < 0.10:  # a parent that never arrives
                e["parent_event_id"] = f"gone-{i}"
            elif roll < 0.15:  # the account only
                e["parent_event_id"] = None
            elif roll < 0.20:
                e["parent_event_id"] = e["parent_account_id"] = None
            evs.append(e)
        per[rid] = evs
    lines, cursors, previous = [], {rid: 0 for rid in per}, None
    while cursors:
        rid = rng.choice(sorted(cursors))
        e = per[rid][cursors[rid]]
        cursors[rid] += 1
        if cursors[rid] == len(per[rid]):
            del cursors[rid]
        if previous is not None and previous["rumour_id"] != rid and rng.random() < 0.08:
            # the event just before, of another rumour: refused when in the same batch
            e = {**e, "parent_event_id": previous["event_id"]}
        previous = e
        line = orjson.dumps(e)
        if rng.random() < 0.03:  # the rumour id spelt with an escape: still that rumour's line
            line = line.replace(b'"rumour_id":"r', b'"rumour_id":"\\u0072')
        lines.append(line)
        roll = rng.random()
        if roll < 0.03:
            lines.append(orjson.dumps(e))  # the same event again
        elif roll < 0.05:
            lines.append(b'{"event_id": "broken", "rumour_id": ')
        elif roll < 0.07:
            lines.append(orjson.dumps({**e, "event_id": f"{e['event_id']}-x", "account_id": ""}))
    return lines


def answers_of(lines, **options) -> tuple:
    settings = Settings.load({"batch_size": options.pop("batch_size", 7)})
    msgs = [(ln, f"dump:{i}") for i, ln in enumerate(lines, 1)]
    dead, answers = run_trace(msgs, settings, 5, **options)
    return dead, {rid: orjson.dumps(a) for rid, a, _ in answers}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("observe", [None, 3600.0])
def test_one_rumour_answers_what_the_whole_trace_answers_for_it(seed, observe):
    lines = tangled_dump(seed=seed)
    dead_all, whole = answers_of(lines, observe=observe)
    assert len(whole) == 6
    refused = [d for d in dead_all if d.reason == "parent in another rumour"]
    assert refused, "the dump should hold parents in another rumour of the same batch"
    for rid in whole:
        dead_one, one = answers_of(lines, observe=observe, rumour=rid)
        assert one == {rid: whole[rid]}
        # The malformed lines that may be the rumour's (they name it, or hold an escape) are
        # reported, and the rumour's own refusals, in order; not the late links (a child of
        # it waiting for a parent that came in another rumour) nor other rumours' lines.
        named = f'"{rid}"'.encode()

        def reported(d) -> bool:
            if d.source.startswith("dump:"):  # a line the decoder refused
                return named in d.raw or b"\\" in d.raw
            return d.rumour_id == rid and d.reason != LATE_CROSS_RUMOUR

        mine = [(d.source, d.reason) for d in dead_all if reported(d)]
        assert [(d.source, d.reason) for d in dead_one] == mine


def test_a_batch_of_another_rumour_still_refuses_a_parent_in_it():
    """The one case where other rumours change the answer: r's share names an event of s in
    the same batch (refused) or in an earlier one (kept, its parent a placeholder)."""
    post_s = {"event_id": "p", "rumour_id": "s", "account_id": "u", "ts": T0, "kind": "post"}
    post_r = {"event_id": "q", "rumour_id": "r", "account_id": "v", "ts": T0, "kind": "post"}
    child = {"event_id": "c", "rumour_id": "r", "account_id": "w", "ts": T0 + 1, "parent_event_id": "p"}
    lines = [orjson.dumps(e) for e in (post_r, post_s, child)]
    for batch_size, events in ((3, 1), (2, 2)):
        _, whole = answers_of(lines, batch_size=batch_size)
        dead, one = answers_of(lines, batch_size=batch_size, rumour="r")
        assert one["r"] == whole["r"]
        assert orjson.loads(one["r"])["events"] == events
        assert [d.reason for d in dead] == ["parent in another rumour"] * (events == 1)


def test_one_rumour_builds_no_other_rumours_graph(monkeypatch):
    built = []

    class Counted(rumour_graphs.CascadeGraph):
        def __init__(self, rumour_id="", *args, **kwargs):
            built.append(rumour_id)
            super().__init__(rumour_id, *args, **kwargs)

    monkeypatch.setattr(rumour_graphs, "CascadeGraph", Counted)
    lines = tangled_dump(seed=3)
    for observe in (None, 3600.0):
        built.clear()
        _, one = answers_of(lines, observe=observe, rumour="r2")
        assert list(one) == ["r2"]
        assert set(built) == {"r2"}  # its share graph and its debunk cascade, nothing else
    built.clear()
    # --parents counts every rumour's links: each graph is built (one at a time,
    # tests/test_trace_focus_parents.py checks that)
    answers_of(lines, parents=True, rumour="r2")
    assert set(built) == {f"r{i}" for i in range(6)}


def test_one_rumour_decodes_only_the_lines_that_may_hold_it(monkeypatch):
    from streams.decoder import Decoder

    decoded = []
    real = Decoder.decode

    def counted(self, messages, sources=None, now_ms=None):
        messages = list(messages)
        decoded.extend(messages)
        return real(self, messages, sources, now_ms)

    monkeypatch.setattr(Decoder, "decode", counted)
    # 12 rumours interleaved, every parent an earlier event of its rumour: no batch needs
    # decoding whole, so only the lines naming r7 are decoded
    rng = random.Random(5)
    lines, made = [], {f"r{r}": 0 for r in range(12)}
    for _ in range(600):
        rid = rng.choice(sorted(made))
        i = made[rid]
        made[rid] += 1
        lines.append(orjson.dumps({"event_id": f"{rid}-{i}", "rumour_id": rid, "account_id": f"a{rng.randrange(40)}",
                                   "ts": T0 + 1000 * i, "parent_event_id": f"{rid}-{rng.randrange(i)}" if i else None}))
    for observe in (None, 3600.0):
        decoded.clear()
        _, one = answers_of(lines, observe=observe, rumour="r7")
        assert list(one) == ["r7"]
        assert set(decoded) == {ln for ln in lines if b'"r7"' in ln} and len(decoded) < len(lines) / 6


def test_cli_prints_the_same_lines_for_one_rumour(tmp_path, capsysbinary):
    dump = tmp_path / "dump.jsonl"
    dump.write_bytes(b"\n".join(tangled_dump(seed=4)) + b"\n")

    def run(*args) -> tuple:
        code = main(["trace", str(dump), "--batch-size", "5", *args])
        out = capsysbinary.readouterr()
        return code, out.out, out.err

    for flags in ((), ("--json",), ("--observe", "1h"), ("--json", "--observe", "1h"), ("--json", "--parents")):
        code, whole, _ = run(*flags)
        assert code == 0
        # the whole run's lines for r1: JSON one line, text from "rumour r1:" to the next rumour
        text = whole.decode()
        blocks = text.splitlines(keepends=True) if "--json" in flags else \
            text.replace("\nrumour ", "\n\x00rumour ").split("\x00")
        mine = next(b for b in blocks if b.startswith(('{"rumour_id":"r1"', "rumour r1:")))
        code, one, err = run(*flags, "--rumour", "r1")
        assert (code, one.decode()) == (0, mine)
        assert b"dead letters (not traced)" in err
    for flags in ((), ("--observe", "1h")):
        code, one, err = run(*flags, "--rumour", "nope")
        assert (code, one) == (1, b"")
        assert b"no events for rumour 'nope'" in err


@pytest.mark.shared_data
@pytest.mark.slow
def test_real_cascades_one_rumour_and_masked_as_whole(shared_data, tmp_path):
    """The first 150 Weibo cascades as the importer writes them: each of 10 rumours answers as in
    the whole trace (plain and --observe 1h), and rumour mask writes what masking them held whole wrote."""
    from streams.importers import iter_events
    from streams.masking import mask_file
    from tests.test_mask_stream import held_whole

    events, _ = iter_events("weibo-ced", shared_data / "weibo-ced-dev.tar.gz")
    lines, seen = [], []
    for e in events:
        if e["rumour_id"] not in seen:
            if len(seen) == 150:
                break
            seen.append(e["rumour_id"])
        lines.append(orjson.dumps(e))
    for observe in (None, 3600.0):
        _, whole = answers_of(lines, observe=observe, batch_size=5000)
        for rid in random.Random(1).sample(seen, 10):
            dead, one = answers_of(lines, observe=observe, batch_size=5000, rumour=rid)
            assert one == {rid: whole[rid]} and not dead
    src = tmp_path / "weibo.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    mask_file(src, tmp_path / "out.jsonl", 0.3, 0, True, "event")
    assert (tmp_path / "out.jsonl").read_bytes() == held_whole(lines, 0.3, 0, True, "event")
