"""`python -m benchmarks.profile_update` at a tiny size: every stage timed, and the staged path
(add_encoded's stages called one by one) builds the same graph as plain add_batch."""
from __future__ import annotations

import json

import pytest

from benchmarks import profile_update, trace_shapes
from graph import CascadeGraph


@pytest.mark.parametrize("shape", trace_shapes.SHAPES)
def test_staged_rounds_build_the_graph_add_batch_builds(shape):
    row, g = profile_update.profile(shape, 2_000, rounds=2, batch=200, between="queries", seed=3)
    ref = CascadeGraph("ref")
    eid, aid, ts, pe, pa = trace_shapes.columns(trace_shapes.make(shape, 2_000 + 3 * 2 * 200, 3))
    ref.add_batch(eid, aid, ts, pe, pa)
    assert g.n_events == ref.n_events == 3_200
    assert g.origins(limit=20) == ref.origins(limit=20)
    assert g.cutoff(5) == ref.cutoff(5)
    assert (g.subtree_sizes() == ref.subtree_sizes()).all()
    ms = row["ms"]
    for key in ("whole", *profile_update.STAGES, "resolve", "dispatch", "rows", "stages_sum"):
        assert key in ms
    assert all(ms[k] > 0 for k in ("whole", *profile_update.STAGES, "resolve", "dispatch"))


def test_cli_prints_one_json_object(capsys):
    assert profile_update.main(["--shares", "1500", "--rounds", "1", "--batch", "100",
                                "--between", "none", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["shares"] == 1500 and row["between"] == "none" and row["ms"]["whole"] > 0


def test_cutoff_profile_times_every_part(capsys):
    assert profile_update.main(["--cutoff", "--shares", "3000", "--shape", "ic", "--rounds", "2",
                                "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["shares"] == 3000 and row["all_present"] is True and row["accounts"] > 0
    for key in ("cutoff", "view", "sizes", "node_counts", "preorder_slots", "setup", "bands",
                "greedy", "picks"):
        assert key in row["cpu_ms"]
