"""`rumour mask`: the masked / origin-removed variants the benchmarks measure, written to a file
(one copy of the transform, streams/masking.py, used by the benchmarks too)."""
from __future__ import annotations

import importlib.util
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest

from benchmarks import contract_variants, parents_real
from benchmarks.real_cascades import _pack
from streams.cli import main

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "f206af3"  # main before the transform moved to streams/masking.py


def synthetic(rumours: int = 5, shares: int = 40, seed: int = 0) -> dict:
    """``{rumour_id: [event, ...]}``: a post and ``shares`` shares of random earlier events."""
    rng = random.Random(seed)
    out = {}
    for r in range(rumours):
        rid = f"r{r}"
        evs = [{"event_id": f"{rid}-0", "rumour_id": rid, "account_id": f"a{rng.randrange(50)}",
                "ts": 1_500_000_000_000, "parent_event_id": None, "parent_account_id": None,
                "kind": "post"}]
        for i in range(1, shares + 1):
            p = evs[rng.randrange(i)]
            evs.append({"event_id": f"{rid}-{i}", "rumour_id": rid, "account_id": f"a{rng.randrange(50)}",
                        "ts": 1_500_000_000_000 + 1000 * i, "parent_event_id": p["event_id"],
                        "parent_account_id": p["account_id"], "kind": "share"})
        out[rid] = evs
    return out


def write(path: Path, cascades: dict) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for evs in cascades.values() for e in evs))
    return path


def read(path: Path) -> list:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


def old_module(relpath: str, name: str):
    """The module as it was at :data:`BEFORE` (from git), or skip."""
    try:
        text = subprocess.run(["git", "show", f"{BEFORE}:{relpath}"], cwd=ROOT, capture_output=True,
                              check=True).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"git history with {BEFORE} not available")
    spec = importlib.util.spec_from_loader(name, loader=None)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses and pickling look modules up by name
    exec(compile(text, relpath, "exec"), mod.__dict__)
    return mod


def test_same_seed_same_file_and_another_seed_another(tmp_path, capsys):
    src = write(tmp_path / "in.jsonl", synthetic())
    outs = []
    for n, seed in enumerate((4, 4, 5)):
        out = tmp_path / f"out{n}.jsonl"
        assert main(["mask", str(src), "-o", str(out), "--mask-parents", "0.3", "--drop-origin-post",
                     "--seed", str(seed)]) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]


@pytest.mark.parametrize("link, kept", [("event", "both"), ("account", "account"), ("none", "none")])
def test_counts_and_what_the_origin_shares_keep(tmp_path, capsys, link, kept):
    cascades = synthetic(rumours=4, shares=40)
    src = write(tmp_path / "in.jsonl", cascades)
    out = tmp_path / "out.jsonl"
    assert main(["mask", str(src), "-o", str(out), "--mask-parents", "0.3", "--drop-origin-post",
                 "--origin-link", link, "--seed", "1"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    events = read(out)
    assert len(events) == 4 * 40 and not any(e["kind"] == "post" for e in events)
    posts = {evs[0]["event_id"]: evs[0]["account_id"] for evs in cascades.values()}
    direct = {e["event_id"] for evs in cascades.values() for e in evs if e["parent_event_id"] in posts}
    unlinked = [e for e in events if e["parent_event_id"] is None and e["parent_account_id"] is None]
    said = re.fullmatch(r"rumour: mask: 4 rumours, 164 events; masked 48 of 160 parent links; dropped 4 "
                        r"origin posts, whose (\d+) direct shares keep (.*); wrote 160 events to (.*)",
                        err[0])
    assert len(err) == 1 and said and said[3] == str(out)
    assert said[2] == {"both": "both parent ids", "account": "only the account they reposted",
                       "none": "no parent"}[kept]
    n_origin = int(said[1])
    # round(0.3 * 40) = 12 masked per rumour, exactly; with "none" the origin's shares too
    assert len(unlinked) == 4 * 12 + (n_origin if kept == "none" else 0)
    # (with "none" a masked direct share looks like the others: all of them have no parent)
    masked = unlinked if kept != "none" else [e for e in unlinked if e["event_id"] not in direct]
    origin = [e for e in events if e["event_id"] in direct and e not in masked]
    assert len(origin) == n_origin > 0 if kept != "none" else len(origin) > n_origin > 0
    if kept == "both":
        assert all(posts.get(e["parent_event_id"]) == e["parent_account_id"] for e in origin)
    elif kept == "account":
        assert all(e["parent_event_id"] is None and e["parent_account_id"] in posts.values()
                   for e in origin)
    else:
        assert all(e["parent_event_id"] is None and e["parent_account_id"] is None for e in origin)
    # The shares not masked keep their parent ids as they were.
    before = {e["event_id"]: e for evs in cascades.values() for e in evs}
    for e in events:
        if e["event_id"] not in direct and e not in masked:
            b = before[e["event_id"]]
            assert (e["parent_event_id"], e["parent_account_id"]) == (b["parent_event_id"], b["parent_account_id"])


def test_the_file_is_the_variant_parents_real_measures(tmp_path, capsys):
    cascades = synthetic(rumours=6, shares=30, seed=3)
    src = write(tmp_path / "in.jsonl", cascades)
    out = tmp_path / "out.jsonl"
    assert main(["mask", str(src), "-o", str(out), "--mask-parents", "0.3", "--drop-origin-post",
                 "--seed", "9"]) == 0
    written = read(out)
    for i, evs in enumerate(cascades.values()):
        o = parents_real.Observed(_pack(evs), 0.3, (9, i))
        mine = [e for e in written if e["rumour_id"] == evs[0]["rumour_id"]]
        assert [e["account_id"] for e in mine] == o.child_accounts
        assert [e["parent_account_id"] for e in mine] == o.parent_accounts


def _observed(mod, cascades, mask, seed):
    obs = [mod.Observed(c, mask, (seed, i)) for i, c in enumerate(cascades)]
    return [(o.graph.event_ids(), o.child_accounts, o.parent_accounts, o.masked.tolist(),
             o.graph.subtree_sizes().tolist()) for o in obs]


def _real_or_synthetic(shared_data_dir):
    twitter = shared_data_dir / "twitter15-16-dev.tar.gz"
    if twitter.exists():
        from benchmarks.contract_audit import load

        cascades = load("twitter15-16", shared_data_dir)
        return {r: cascades[r] for r in sorted(cascades)[:40]}
    return synthetic(rumours=20, shares=60, seed=11)


def test_benchmark_variants_are_the_same_as_before(capsys):
    cascades = _real_or_synthetic(ROOT.parent / "shared" / "data")
    cascades.update(synthetic(rumours=10, shares=25, seed=2))
    packed = [_pack(evs) for evs in cascades.values()]
    old_parents = old_module("benchmarks/parents_real.py", "_old_parents_real")
    for mask in (0.0, 0.3, 1.0):
        assert _observed(parents_real, packed, mask, 3) == _observed(old_parents, packed, mask, 3)
    old_variants = old_module("benchmarks/contract_variants.py", "_old_contract_variants")
    for name in ("masked30", "origin_removed_named", "origin_removed_anon"):
        for seed in range(3):
            new = contract_variants.VARIANTS[name](cascades, random.Random(f"{seed}:{name}"))
            old = old_variants.VARIANTS[name](cascades, random.Random(f"{seed}:{name}"))
            assert new == old


@pytest.mark.parametrize("args, message", [
    (["--mask-parents", "1.5"], "rumour: error: --mask-parents must be a fraction between 0 and 1, got 1.5"),
    (["--mask-parents", "nan"], "rumour: error: --mask-parents must be a fraction between 0 and 1, got nan"),
    (["--mask-parents", "-0.1"], "rumour: error: --mask-parents must be a fraction between 0 and 1, got -0.1"),
])
def test_a_bad_fraction_is_one_error_line(tmp_path, capsys, args, message):
    src = write(tmp_path / "in.jsonl", synthetic(rumours=1, shares=3))
    out = tmp_path / "out.jsonl"
    assert main(["mask", str(src), "-o", str(out), *args]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [message]
    assert not out.exists()


def test_a_missing_file_or_a_bad_line_is_one_error_line(tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    assert main(["mask", str(tmp_path / "nope.jsonl"), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.jsonl" in err[0] and err[0].startswith("rumour: error:")
    src = tmp_path / "in.jsonl"
    src.write_bytes(write(tmp_path / "x", synthetic(rumours=1, shares=3)).read_bytes() + b"{oops\n")
    assert main(["mask", str(src), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{src}:5: not JSON" in err[0] and err[0].endswith("nothing written")
    assert not out.exists()


def test_mask_rumour_is_exact_and_leaves_its_input_alone():
    evs = synthetic(rumours=1, shares=21)["r0"]
    snapshot = orjson.dumps(evs)
    from streams.masking import mask_rumour

    kept, counts = mask_rumour(evs, 0.5, np.random.default_rng(0))
    assert counts == {"shares": 21, "masked": 10, "posts_dropped": 0, "origin_shares": 0}
    assert len(kept) == 22 and sum(e["parent_event_id"] is None for e in kept) == 11  # + the post
    assert orjson.dumps(evs) == snapshot
