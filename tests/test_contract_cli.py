"""`rumour trace` on hostile input through the command itself: malformed lines become dead
letters with a reason (``--dead-letters``), the rest is answered as without them."""
from __future__ import annotations

import random
import subprocess
import sys

import orjson

from benchmarks.contract_checks import check_answer
from benchmarks.contract_variants import BAD_LINES, with_bad_lines
from streams.synthetic import synthetic_events


def rumour(*args):
    proc = subprocess.run([sys.executable, "-m", "streams.cli", *map(str, args)],
                          capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc


def test_trace_dead_letters_and_the_rest_answered(tmp_path):
    events = list(synthetic_events(n_rumours=2, shares_per_rumour=120, seed=4, prefix="h5",
                                   debunk_fraction=0.0))
    good = [orjson.dumps(e) for e in events]
    clean, dirty = tmp_path / "clean.jsonl", tmp_path / "dirty.jsonl"
    clean.write_bytes(b"\n".join(good) + b"\n")
    dirty.write_bytes(b"\n".join(with_bad_lines(good, random.Random(2))) + b"\n")
    for flags in (["--json"], ["--json", "--parents"], ["--json", "--observe", "1h", "--cutoff-k", "10"]):
        want = rumour("trace", clean, *flags).stdout
        dead = tmp_path / "dead.jsonl"
        proc = rumour("trace", dirty, *flags, "--dead-letters", dead)
        assert proc.stdout == want
        letters = [orjson.loads(x) for x in dead.read_bytes().splitlines()]
        assert len(letters) == len(BAD_LINES)
        assert all(d["reason"] and d["source"].startswith(str(dirty) + ":") for d in letters)
        assert f"{len(BAD_LINES)} dead letters".encode() in proc.stderr
        if "--observe" not in flags:
            for line in proc.stdout.splitlines():
                a = orjson.loads(line)
                mine = [e for e in events if e["rumour_id"] == a["rumour_id"]]
                assert check_answer(a, mine, 10, "--parents" in flags, False) == []


def test_negative_cutoff_k_is_a_clear_error(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(orjson.dumps({"event_id": "e", "rumour_id": "r", "account_id": "a",
                                   "ts": 1_500_000_000_000}) + b"\n")
    proc = subprocess.run([sys.executable, "-m", "streams.cli", "trace", path, "--json",
                           "--cutoff-k", "-1"], capture_output=True, timeout=120)
    assert proc.returncode == 2 and b"--cutoff-k" in proc.stderr


def test_bad_observe_durations_are_clear_errors(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(orjson.dumps({"event_id": "e", "rumour_id": "r", "account_id": "a",
                                   "ts": 1_500_000_000_000}) + b"\n")
    for bad in ("-1h", "inf", "nan", "soon"):
        proc = subprocess.run([sys.executable, "-m", "streams.cli", "trace", path, "--json",
                               f"--observe={bad}"], capture_output=True, timeout=120)
        assert proc.returncode == 2 and b"rumour: error" in proc.stderr, (bad, proc.stderr[-300:])
    ok = rumour("trace", path, "--json", "--observe", "0s")
    assert orjson.loads(ok.stdout)["events"] == 1
