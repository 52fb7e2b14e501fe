"""Smoke tests of `rumour bench trace` at tiny sizes: the JSON contract, sane figures, and the
networkx side doing the same work as ours (same answers), so the ratio compares like with like."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import bench_trace, limits, trace_networkx, trace_shapes
from benchmarks.cli import main as bench_main
from graph import CascadeGraph

CONTRACT = ("shares", "origins_ms", "cutoff_ms", "update_1000_ms", "networkx_ratio", "bytes_per_share")


@pytest.mark.parametrize("shape", trace_shapes.SHAPES)
def test_shapes_are_forests_in_arrival_order_and_seeded(shape):
    a, b = trace_shapes.make(shape, 3000, seed=5), trace_shapes.make(shape, 3000, seed=5)
    assert len(a.parent) == 3000
    assert (a.parent < np.arange(3000)).all()
    assert (np.diff(a.ts_ms) >= 0).all()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a.parent, trace_shapes.make(shape, 3000, seed=6).parent)


def _graphs(shape, n, seed):
    cols = trace_shapes.columns(trace_shapes.make(shape, n, seed))
    ours = CascadeGraph("t")
    ours.add_batch(*cols)
    eid, aid, ts, pe, _ = cols
    return ours, trace_networkx.build(eid, aid, ts, pe), cols


@pytest.mark.parametrize("shape,seed", [("hawkes", 1), ("hawkes", 2), ("ic", 3)])
def test_networkx_side_answers_what_the_graph_answers(shape, seed):
    ours, nxg, cols = _graphs(shape, 1500, seed)
    probes = [cols[0][i] for i in (0, 700, 1499)]
    top, chains = trace_networkx.origins_chains(nxg, probes, limit=20)
    assert [(o.account_id, o.event_id, o.reach) for o in ours.origins(limit=20)] == top
    assert [[h.event_id for h in ours.chain(e)] for e in probes] == [[h[0] for h in c] for c in chains]
    sizes = trace_networkx.subtree_sizes(nxg)
    assert ours.subtree_sizes().tolist() == [sizes[e] for e in cols[0]]
    assert [tuple(c) for c in ours.cutoff(5)] == trace_networkx.cutoff(nxg, 5)


def test_limits_are_positive_and_chase_is_not_faster_than_a_scan():
    # the median of 5: one preemption on a loaded machine cannot decide it (the scan takes ~20 us)
    lim = limits.limits(200_000, seed=0, repeat=5)
    assert all(v > 0 for v in lim.values())
    assert lim["pointer_chase_ns"] > lim["sequential_ns"]


def test_bench_trace_json_contract(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("benchmarks.outputs.OUT_DIR", tmp_path)
    assert bench_main(["trace", "--sizes", "3000,2000", "--shapes", "hawkes,ic", "--repeat", "1",
                       "--json"]) == 0
    printed = capsys.readouterr()
    rows = [json.loads(line) for line in printed.out.splitlines()]
    # progress from the first second: the warm-up (minutes of compiling in a fresh checkout) said nothing
    assert "trace: warm-up" in printed.err.splitlines()[0] and "warm-up done in" in printed.err
    assert [(r["shape"], r["shares"]) for r in rows] == [("hawkes", 2000), ("hawkes", 3000),
                                                        ("ic", 2000), ("ic", 3000)]
    for r in rows:
        assert set(CONTRACT) <= set(r)
        assert r["networkx_ratio"] > 0 and all(v > 0 for v in r["networkx_ratios"].values())
        assert r["origins_ms"] >= r["origins_only_ms"] > 0
        assert 0 < r["bytes_per_share"] < 1000
        # the run applied 1000-share updates on top of n (add_batch, add + trace; the worker's
        # message path came after the sizes were taken): counts reconcile
        assert r["shares_at_end"] == r["shares"] + 2 * 1000
        assert r["update_1000_message_ms"] > 0
        assert r["limit"]["pointer_chase_ns"] > 0
        chase = r["limit"]["pointer_chase_ns"]
        for op in ("origins", "subtree_sizes", "cutoff"):
            ns = r[op + "_ms"] * 1e6 / r["shares"]
            assert abs(r["ns_per_share_" + op] - ns) <= 0.01
            assert abs(r["x_chase_" + op] - ns / chase) <= 0.01 * max(1.0, ns / chase)
        per_new = r["update_1000_ms"] * 1e6 / 1000
        assert abs(r["ns_per_new_share_update"] - per_new) <= 0.1
        assert abs(r["x_chase_update"] - per_new / chase) <= 0.1 * max(1.0, per_new / chase)
    saved = json.loads((tmp_path / "trace.json").read_text())
    assert saved["command"].startswith("rumour bench trace") and len(saved["results"]) == 4
    # every field is explained in benchmarks/README.md (build_shares_per_s, top_cutoff, the
    # ns_per_share_ fields, networkx and networkx_ops were not)
    readme = (Path(__file__).resolve().parent.parent / "benchmarks" / "README.md").read_text()
    assert sorted(key for r in rows for key in r if f"`{key}`" not in readme) == []
    assert "`results`" in readme


def test_networkx_is_skipped_past_its_budget():
    allowed = bench_trace._next_nx({"run": True, "cutoff": True},
                                   {"origins_ms": 10_000, "subtree_sizes_ms": 1, "cutoff_ms": 50_000},
                                   1000, 10_000, budget_s=60)
    assert allowed == {"run": False, "cutoff": False}
    allowed = bench_trace._next_nx({"run": True, "cutoff": True},
                                   {"origins_ms": 100, "subtree_sizes_ms": 1, "cutoff_ms": 50_000},
                                   1000, 10_000, budget_s=60)
    assert allowed == {"run": True, "cutoff": False}


def test_bench_cli_dispatch(capsys):
    assert bench_main([]) == 2
    assert bench_main(["nope"]) == 2
    out, err = capsys.readouterr()
    assert "accuracy" in err and out == ""  # usage errors: the list on stderr


def test_unknown_shape_is_refused_before_the_warm_up(capsys, monkeypatch):
    def warm_up(*args, **kwargs):
        raise AssertionError("the warm-up ran before --shapes was checked")

    monkeypatch.setattr("benchmarks.bench_trace.ours", warm_up)
    with pytest.raises(SystemExit) as info:
        bench_main(["trace", "--sizes", "1000", "--shapes", "hawkes,tree"])
    assert info.value.code == 2 and "'tree'" in capsys.readouterr().err
