"""The bench's message path (benchmarks/trace_message.py): a columnar message of shares taken from
bytes to graph through the worker's pipeline leaves the graph add_batch of the same rows leaves,
whole or stage by stage, and its figures are timed."""
from __future__ import annotations

import json

import numpy as np
import orjson
import pytest

from benchmarks import profile_update, trace_message, trace_shapes
from graph import CascadeGraph
from streams.events_columnar import is_columnar


def _built(cols, n: int, name: str) -> CascadeGraph:
    g = CascadeGraph(name)
    eid, aid, ts, pe, pa = cols
    for i in range(0, n, 500):
        g.add_batch(eid[i:i + 500], aid[i:i + 500], ts[i:i + 500], pe[i:i + 500], pa[i:i + 500])
    return g


def _same_state(a: CascadeGraph, b: CascadeGraph) -> None:
    assert a.n_events == b.n_events and a.n_nodes == b.n_nodes and a.n_accounts == b.n_accounts
    assert a.event_ids() == b.event_ids()
    assert a.ac.strings(np.arange(a.n_accounts)) == b.ac.strings(np.arange(b.n_accounts))
    n = a.n_nodes
    for x, y in ((a.plink, b.plink), (a.acct, b.acct), (a.ts, b.ts), (a.kf, b.kf)):
        assert np.array_equal(x[:n], y[:n])
    assert np.array_equal(a._view()[0], b._view()[0])  # the resolved parents
    assert a.origins(limit=50) == b.origins(limit=50)


@pytest.mark.parametrize("shape,seed", [("hawkes", 1), ("ic", 2)])
def test_message_path_leaves_the_graph_add_batch_leaves(shape, seed):
    n, batch = 3000, 1000
    cols = trace_shapes.columns(trace_shapes.make(shape, n + 2 * batch, seed))
    eid, aid, ts, pe, pa = cols
    ref, mine = _built(cols, n, "r"), _built(cols, n, "r")
    pipeline = trace_message.worker_pipeline(mine)
    for lo in (n, n + batch):
        sl = slice(lo, lo + batch)
        ref.add_batch(eid[sl], aid[sl], ts[sl], pe[sl], pa[sl])
        raw = trace_message.message_of(cols, sl, "r")
        assert is_columnar(orjson.loads(raw))
        prepared = trace_message.checked(trace_message.apply_message(pipeline, raw), batch)
        assert prepared.batch.event_id == eid[sl]
    assert pipeline.graphs["r"] is mine and mine.n_events == n + 2 * batch
    _same_state(ref, mine)


def test_checked_refuses_a_message_that_lost_shares():
    g = _built(trace_shapes.columns(trace_shapes.make("hawkes", 1200, 0)), 1000, "r")
    cols = trace_shapes.columns(trace_shapes.make("hawkes", 1200, 0))
    raw = trace_message.message_of(cols, slice(990, 1010), "r")  # ten of them are in the graph
    with pytest.raises(RuntimeError, match="10 of 20 shares stored, 10 duplicates"):
        trace_message.checked(trace_message.apply_message(trace_message.worker_pipeline(g), raw), 20)


@pytest.mark.parametrize("shape", trace_shapes.SHAPES)
def test_staged_message_rounds_build_the_graph_add_batch_builds(shape):
    row, g = trace_message.profile_message(shape, 2_000, rounds=2, batch=200, seed=3)
    cols = trace_shapes.columns(trace_shapes.make(shape, 2_000 + 2 * 2 * 200, 3))
    _same_state(_built(cols, 2_800, "profile"), g)
    ms = row["ms"]
    assert set(ms) == {"whole", *trace_message.STAGES, "stages_sum"}
    assert all(v > 0 for v in ms.values())
    assert ms["stages_sum"] == pytest.approx(sum(ms[k] for k in trace_message.STAGES), abs=1e-3)


def test_profile_update_cli_splits_the_message_path(capsys):
    assert profile_update.main(["--message", "--shares", "1500", "--rounds", "1", "--batch", "100",
                                "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["path"] == "message" and row["shares"] == 1500 and row["ms"]["whole"] > 0
    with pytest.raises(SystemExit):
        profile_update.main(["--message", "--cutoff"])
