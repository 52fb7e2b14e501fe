"""The `rumour` command: replay accounting, the trace contract, importers end to end."""
from __future__ import annotations

import gzip
import random
import subprocess
import sys

import orjson
import pytest

from streams.synthetic import synthetic_events
from tests.naive_trace import reference_trace


def rumour(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "streams.cli", *map(str, args)],
                          capture_output=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"rumour {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                             f"{proc.stderr.decode(errors='replace')[-3000:]}")
    return proc


def jsonl(objs) -> bytes:
    return b"".join(orjson.dumps(o) + b"\n" for o in objs)


@pytest.fixture(scope="module")
def cascade_events():
    return list(synthetic_events(n_rumours=3, shares_per_rumour=300, seed=21, prefix="cli",
                                 debunk_fraction=0.0))


def test_replay_accounts_for_every_line(tmp_path, cascade_events):
    rng = random.Random(1)
    dups = rng.sample(cascade_events, 17)
    bad = [b"{oops", orjson.dumps({"event_id": "z", "rumour_id": "cli-r0", "account_id": 5,
                                   "ts": 1_700_000_000_000}), b"[]"]
    lines = [orjson.dumps(e) for e in cascade_events + dups] + bad
    rng.shuffle(lines)
    path = tmp_path / "in.jsonl.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"\n".join(lines) + b"\n")
    dead_path = tmp_path / "dead.jsonl"
    out = rumour("replay", path, "--store", "none", "--dead-letters", dead_path, "--batch-size", 64)
    summary = orjson.loads(out.stdout)
    assert summary == {"read": len(lines), "stored": len(cascade_events), "duplicates": 17,
                       "dead_letters": 3, "late_links": 0}
    dead = [orjson.loads(x) for x in dead_path.read_bytes().splitlines()]
    assert sorted(d["reason"].split(":")[0] for d in dead) == ["account_id", "empty batch", "invalid JSON"]
    assert all(d["source"].startswith(str(path) + ":") for d in dead)


def test_replay_into_chdb_stores_distinct_events(tmp_path, cascade_events):
    path = tmp_path / "in.json"
    # A whole-file JSON array, pretty-printed over many lines.
    path.write_bytes(orjson.dumps(cascade_events + cascade_events[:5], option=orjson.OPT_INDENT_2))
    out = rumour("replay", path, "--store", f"chdb://{tmp_path / 'db'}")
    summary = orjson.loads(out.stdout)
    assert summary["stored"] == len(cascade_events) and summary["duplicates"] == 5
    from streams.store import open_store

    store = open_store(f"chdb://{tmp_path / 'db'}")
    try:
        assert store.count_events() == len(cascade_events)
    finally:
        store.close()


def test_trace_json_contract_matches_reference(tmp_path, cascade_events):
    shuffled = cascade_events[:]
    random.Random(3).shuffle(shuffled)  # children before parents, as on a real stream
    path = tmp_path / "in.jsonl"
    path.write_bytes(jsonl(shuffled))
    out = rumour("trace", path, "--json", "--cutoff-k", 5)
    answers = [orjson.loads(x) for x in out.stdout.splitlines()]
    assert sorted(a["rumour_id"] for a in answers) == ["cli-r0", "cli-r1", "cli-r2"]
    for a in answers:
        assert set(a) == {"rumour_id", "events", "origins", "cutoff"}
        mine = [e for e in cascade_events if e["rumour_id"] == a["rumour_id"]]
        expected = reference_trace(mine, k=5)
        assert a["events"] == expected["events"]
        assert [(o["account_id"], o["event_id"], o["reach"]) for o in a["origins"]] == \
            [(o["account_id"], o["event_id"], o["reach"]) for o in expected["origins"]]
        assert a["origins"][0]["ts"].endswith("Z")
        assert [c["prevented"] for c in a["cutoff"]] == [c["prevented"] for c in expected["cutoff"]]
        origin_accounts = {o["account_id"] for o in a["origins"]}
        assert not origin_accounts & {c["account_id"] for c in a["cutoff"]}
        assert set(a["cutoff"][0]) == {"account_id", "prevented"}
    one = rumour("trace", path, "--json", "--rumour", "cli-r1")
    assert [orjson.loads(x)["rumour_id"] for x in one.stdout.splitlines()] == ["cli-r1"]
    missing = rumour("trace", path, "--json", "--rumour", "nope", check=False)
    assert missing.returncode != 0 and b"nope" in missing.stderr


def test_trace_text_says_what_the_json_says(tmp_path):
    # Without --json, --parents printed nothing of the inferred parents, --observe no forecast,
    # and origins no confidence: a share whose parent link was lost read like a second origin
    # as sure as the post, and a root known only from its children read "at None".
    events = [
        {"event_id": "S", "rumour_id": "r", "account_id": "u0", "ts": 1347332400000, "kind": "post"},
        {"event_id": "a", "rumour_id": "r", "account_id": "u1", "ts": 1347332700000, "parent_event_id": "S"},
        {"event_id": "b", "rumour_id": "r", "account_id": "u2", "ts": 1347333000000},  # link lost
        {"event_id": "c", "rumour_id": "r", "account_id": "u3", "ts": 1347333120000, "parent_event_id": "b"},
        {"event_id": "d", "rumour_id": "r", "account_id": "u4", "ts": 1347333180000,
         "parent_event_id": "gone", "parent_account_id": "u9"},  # a parent never read
    ]
    path = tmp_path / "r.jsonl"
    path.write_bytes(jsonl(events))
    (answer,) = [orjson.loads(x) for x in rumour("trace", path, "--json", "--parents").stdout.splitlines()]
    text = rumour("trace", path, "--parents").stdout.decode()
    for o in answer["origins"]:
        assert f"event {o['event_id'] or '-'} " in text and f"confidence {o['confidence']}" in text
    assert "at None" not in text and "not observed" in text
    assert f"inferred parents (leads, not evidence): {len(answer['parents'])} share" in text
    assert f"    b <- {answer['parents']['b']}" in text
    observed = rumour("trace", path, "--observe", "5m").stdout.decode()
    cutoff = orjson.loads(rumour("trace", path, "--json", "--observe", "5m").stdout)["cutoff"]
    assert cutoff and all(f"account {c['account_id']} prevents {c['prevented']} shares so far, "
                          f"{c['forecast']} expected later" in observed for c in cutoff)


def test_trace_of_missing_file_is_a_clear_error(tmp_path):
    proc = rumour("trace", tmp_path / "absent.jsonl", "--json", check=False)
    assert proc.returncode == 2 and b"no such input file" in proc.stderr


@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.parametrize("dataset, archive", [("twitter15-16", "twitter15-16-dev.tar.gz"),
                                              ("weibo-ced", "weibo-ced-dev.tar.gz")])
def test_import_then_trace_finds_the_source_author(shared_data, tmp_path, dataset, archive):
    """Issue 2's acceptance: every cascade's first origin is the source post's author."""
    out = tmp_path / "events.jsonl"
    report = orjson.loads(rumour("import", dataset, shared_data / archive, "-o", out).stdout)
    assert report["cascades"] > 0 and report["balanced"]
    authors = {}
    for line in out.read_bytes().splitlines():
        e = orjson.loads(line)
        if e["kind"] == "post":
            authors[e["rumour_id"]] = e["account_id"]
    assert len(authors) == report["cascades"]
    answers = [orjson.loads(x) for x in rumour("trace", out, "--json").stdout.splitlines()]
    assert len(answers) == len(authors)
    wrong = [a["rumour_id"] for a in answers if a["origins"][0]["account_id"] != authors[a["rumour_id"]]]
    assert wrong == []
