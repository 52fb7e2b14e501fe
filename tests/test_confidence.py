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


def test_candidate_features_placeholder_and_delay():
    from graph.confidence import FEATURE_NAMES, candidates

    g = CascadeGraph("r")
    # "late" is a deleted post known only from its child (2 h after the first event)
    g.add_batch(["o", "a", "c"], ["src", "u", "v"], np.array([0, 60_000, 7_200_000]),
                [None, "o", "late"], [None, "src", "w"], np.array([0, 1, 1]))
    roots, X = candidates(g)
    f = {g.ev.strings(roots)[i]: dict(zip(FEATURE_NAMES, X[i])) for i in range(len(roots))}
    assert f["o"]["placeholder"] == 0 and f["late"]["placeholder"] == 1
    assert f["o"]["log_delay_min"] == 0 and np.isclose(np.expm1(f["late"]["log_delay_min"]), 120)


def test_fit_logistic_recovers_known_coefficients():
    from benchmarks.origins_models import fit_logistic, reliability

    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(20000), rng.normal(size=20000), rng.normal(size=20000)])
    w = np.array([-0.5, 2.0, -1.0])
    y = (rng.random(20000) < 1 / (1 + np.exp(-X @ w))).astype(float)
    got = fit_logistic(X, y, ridge=0.0)
    assert np.abs(got - w).max() < 0.1
    conf = 1 / (1 + np.exp(-X @ got))
    assert reliability(conf, y)[1] < 0.02  # calibrated on its own data
    assert reliability(np.full(len(y), 0.99), y)[1] > 0.3


def test_observation_models():
    from benchmarks.origins_models import observe

    ev = [("p", "s", 0.0, None, None, 0)] + [(f"e{i}", f"a{i}", float(i), "p", "s", 1) for i in range(1, 2001)]
    multi = observe(ev, "multi", np.random.default_rng(1))
    orphans = sum(1 for e in multi if e[5] == 1 and e[3] is None)
    assert 500 < orphans < 700 and len([e for e in multi if e[5] == 1]) == 2000
    sampled = observe(ev, "sampled", np.random.default_rng(2))
    assert 900 < len(sampled) < 1100 and all(e[3] == "p" for e in sampled if e[5] == 1)


def test_cached_confidence_follows_the_forest_and_is_computed_once_per_forest(monkeypatch):
    import graph.confidence as oc

    calls = []
    fresh_roots = oc.root_confidence
    monkeypatch.setattr(oc, "root_confidence", lambda g: calls.append(1) or fresh_roots(g))
    g = CascadeGraph("r")
    # x's parent p has not arrived (and names no account): x is a root of its own.
    g.add_batch(["o", "a", "x"], ["src", "u", "w"], np.arange(3) * 1000, [None, "o", "p"], [None] * 3,
                np.array([0, 1, 1]))
    before = dict(g.confidence_by_event)
    assert before == oc.confidence_by_event(g) and set(before) == {("src", "o"), ("w", "x")}
    trace_answer(g, 2)
    trace_answer(g, 2)
    assert len(calls) == 1  # two traces and the property: one fit
    g.add_batch(["o"], ["src"], np.array([0]), [None], [None], np.array([0]))  # a duplicate adds nothing
    assert dict(g.confidence_by_event) == before and len(calls) == 1
    # p arrives under o (x joins o's tree), y is a new orphan, c names only an account that
    # has no event (an account placeholder, event id None, becomes a root).
    g.add_batch(["p", "y", "c"], ["v", "z", "k"], np.array([3, 4, 5]) * 1000, ["o", None, None],
                [None, None, "boss"], np.array([1, 1, 1]))
    after = dict(g.confidence_by_event)
    assert len(calls) == 2
    assert after == oc.confidence_by_event(g)
    assert set(after) == {("src", "o"), ("z", "y"), ("boss", None)}
    assert after[("src", "o")] != before[("src", "o")]  # its reach and share changed
    keys = [*after, ("w", "x"), ("u", "a"), ("src", "a"), ("k", None)]  # no longer / never candidates
    got = g.confidence_by_event.lookup([a for a, _ in keys], [e for _, e in keys]).tolist()
    assert got == [*after.values(), 0.0, 0.0, 0.0, 0.0]
    answer = trace_answer(g, 2)
    assert len(calls) == 2
    assert {(o["account_id"], o["event_id"]): o["confidence"] for o in answer["origins"]} == \
        {key: round(c, 4) for key, c in after.items()}
