"""Origin confidence and the trace contract (confidence always, parents only when asked)."""
import numpy as np

from graph import CascadeGraph
from graph.confidence import calibrated, origin_confidence
from streams.trace import trace_answer


def _graph():
    g = CascadeGraph("r")
    g.add_batch(["o", "a", "b", "x"], ["src", "u", "v", "w"], np.arange(4) * 1000,
                [None, "o", "a", None], [None] * 4, np.array([0, 1, 1, 1]))
    return g


def test_confidence_in_unit_interval_and_monotone_in_reach():
    c = calibrated(np.arange(1, 50), 60, np.zeros(49))
    assert ((c >= 0) & (c <= 1)).all()
    assert (np.diff(c) > 0).all()
    assert calibrated([5], 10, [1])[0] < calibrated([5], 10, [0])[0]


def test_origin_confidence_ranks_source_first():
    ranked = origin_confidence(_graph())
    assert [r[0] for r in ranked] == ["src", "w"]
    assert ranked[0][1] > ranked[1][1]
    # completing the forest (w's share under a) merges it into the source's tree
    par = _graph()._view()[0].copy()
    par[3] = 1
    assert [r[0] for r in origin_confidence(_graph(), par)] == ["src"]


def test_trace_keys():
    g = _graph()
    base = trace_answer(g, 2)
    assert set(base) == {"rumour_id", "events", "origins", "cutoff"}
    for o in base["origins"]:
        assert set(o) == {"account_id", "event_id", "ts", "reach", "confidence"}
        assert 0.0 <= o["confidence"] <= 1.0
    assert "parents" in trace_answer(g, 2, parents={"x": "a"})
