"""`rumour mask` holds one rumour at a time, not its input (streams/masking.py), and writes what
masking the input held whole wrote."""
from __future__ import annotations

import gzip
import random
import tracemalloc

import numpy as np
import orjson
import pytest

from streams.cli import main
from streams.masking import mask_file, mask_rumour
from tests.test_mask_cli import synthetic


def held_whole(lines, fraction, seed, drop_origin=False, origin_link="event") -> bytes:
    """The transform as it was: every event held, grouped by rumour in order of first appearance."""
    rumours: dict = {}
    for ln in lines:
        e = orjson.loads(ln)
        rumours.setdefault(e["rumour_id"], []).append(e)
    out = b""
    for i, evs in enumerate(rumours.values()):
        kept, _ = mask_rumour(evs, fraction, np.random.default_rng((seed, i)), drop_origin, origin_link)
        out += b"".join(orjson.dumps(e) + b"\n" for e in kept)
    return out


def interleaved(rumours=8, shares=40, seed=0) -> list:
    """Lines of rumours that stop and come back later in the file, shares before their post."""
    rng = random.Random(seed)
    per = [list(evs) for evs in synthetic(rumours, shares, seed).values()]
    for evs in per:
        rng.shuffle(evs)
    lines = []
    while per:
        evs = per[rng.randrange(len(per))]
        for _ in range(rng.randrange(1, 12)):
            if evs:
                lines.append(orjson.dumps(evs.pop()))
        per = [p for p in per if p]
    return lines


@pytest.mark.parametrize("form", ["jsonl", "gz", "array"])
@pytest.mark.parametrize("fraction, drop, link", [(0.3, False, "event"), (0.5, True, "account"), (1.0, True, "none")])
def test_the_file_is_what_masking_it_whole_wrote(tmp_path, form, fraction, drop, link):
    lines = interleaved(seed=int(fraction * 10))
    src = tmp_path / f"in.{form}"
    if form == "array":
        src.write_bytes(b"[\n" + b",\n".join(lines) + b"\n]")
    else:
        data = b"\n".join(lines) + b"\n"
        src.write_bytes(gzip.compress(data) if form == "gz" else data)
    out = tmp_path / "out.jsonl"
    counts = mask_file(src, out, fraction, 3, drop, link)
    assert out.read_bytes() == held_whole(lines, fraction, 3, drop, link)
    assert (counts["rumours"], counts["events_in"]) == (8, len(lines))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([src.name, "out.jsonl"])  # nothing left beside


def test_memory_holds_one_rumour_not_the_file(tmp_path):
    lines = [orjson.dumps(e) for evs in synthetic(60, 400, seed=1).values() for e in evs]
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    tracemalloc.start()
    try:
        whole = [orjson.loads(ln) for ln in lines]  # what holding the file costs, at the least
        held = tracemalloc.get_traced_memory()[0]
        del whole
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        mask_file(src, tmp_path / "out.jsonl", 0.3, 0)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # 24,060 events in 60 rumours: one rumour is under 2% of them
    assert peak < held / 8, (peak, held)
    assert (tmp_path / "out.jsonl").read_bytes() == held_whole(lines, 0.3, 0)


def test_a_bad_line_late_in_the_file_writes_nothing(tmp_path, capsys):
    lines = interleaved(seed=5)
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(lines[:-1] + [b'{"event_id": "x"}', lines[-1]]) + b"\n")
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"kept\n")
    assert main(["mask", str(src), "-o", str(out), "--mask-parents", "0.3"]) == 2
    err = capsys.readouterr().err
    assert err == (f"rumour: error: {src}:{len(lines)}: not a share event (needs string rumour_id and "
                   "event_id); nothing written\n")
    assert out.read_bytes() == b"kept\n"  # an earlier output stays as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]
