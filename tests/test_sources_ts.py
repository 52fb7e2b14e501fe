"""graph.sources_ts_features against plain-Python oracles (networkx BFS, the SI rules written out,
a bounded least-squares solver), and graph.sources_ts's use of the stored weights."""
import math

import networkx as nx
import numpy as np
import pytest
from scipy.optimize import lsq_linear

from benchmarks.generators import watts_strogatz
from benchmarks.generators_cascades import si_discrete
from benchmarks.observe import sampled_timestamps
from graph.sources import snapshot_scores
from graph.sources_ts import COEF_TS, design, learned_ts
from graph.sources_ts_features import TS_CONTINUOUS, TS_FEATURES, ts_features
from tests.naive_sources import nx_graph


def _ws_times(seed, n=300, size=50, beta=0.3, p=0.3):
    rng = np.random.default_rng(seed)
    ip, ix = watts_strogatz(n, 6, 0.1, rng)
    c = si_discrete(ip, ix, [int(rng.integers(n))], size, beta, rng)
    obs, times = sampled_timestamps(c, p, rng, min_observed=2)
    return ip, ix, c, obs, times


def _oracle(ip, ix, infected, obs, times):
    """The features' timestamp facts, node by node with networkx BFS in the whole contact graph."""
    g = nx_graph(ip, ix)
    d = {int(o): nx.single_source_shortest_path_length(g, int(o)) for o in obs}
    t = {int(o): float(tt) for o, tt in zip(obs, times)}
    t_e = min(t.values())
    first = [o for o in t if t[o] == t_e]
    out = {}
    for v in sorted(int(u) for u in infected):
        if v in t:
            # an observer: the source only if alone at the earliest time and no later observer is
            # nearer (in hops) than (in steps)
            ok = first == [v] and all(t[j] - t_e >= d[j][v] for j in t)
            bound = t[v]
        else:
            ok = True
            bound = min(min(t[j] - d[j][v] for j in t), t_e - 1)
        early = sorted(t, key=lambda j: (t[j], list(t).index(j)))[:3]
        out[v] = {"ok": ok, "bound": bound, "is_e": float(ok and first == [v]),
                  "near_e": -d[early[0]][v], "near_early": -np.mean([d[j][v] for j in early]),
                  "dist": [d[j][v] for j in t]}
    return out


def _fit_oracle(dist, times, bound, fixed):
    """max of the Gaussian profile log-likelihood by a bounded weighted least-squares solver."""
    d = np.asarray(dist, float)
    w = 1.0 / (d + 1.0)
    a = np.column_stack([np.ones_like(d), d]) * np.sqrt(w)[:, None]
    b = np.asarray(times) * np.sqrt(w)
    lo_t0 = bound - 1e-9 if fixed else -np.inf
    res = lsq_linear(a, b, bounds=([lo_t0, 0.0], [bound, np.inf]), tol=1e-12)
    rss = float(np.sum((a @ res.x - b) ** 2))
    k = len(d)
    return -0.5 * k * math.log(rss / k + 1e-12) - 0.5 * float(np.log(d + 1.0).sum())


@pytest.mark.parametrize("seed", range(4))
def test_features_match_a_plain_oracle(seed):
    ip, ix, c, obs, times = _ws_times(seed)
    infected = np.sort(c.nodes)
    nodes, x, ok = ts_features(ip, ix, infected, obs, times, lam=0.3)
    col = {f: x[:, i] for i, f in enumerate(TS_FEATURES)}
    oracle = _oracle(ip, ix, infected, obs, times)
    assert nodes.tolist() == sorted(oracle)
    s = snapshot_scores(ip, ix, infected)
    np.testing.assert_allclose(col["rumor_avg"], s["rumor_avg"])
    np.testing.assert_allclose(col["jordan"], s["jordan"])
    for i, v in enumerate(nodes.tolist()):
        o = oracle[v]
        assert ok[i] == o["ok"], v
        assert col["is_e"][i] == o["is_e"]
        assert col["near_e"][i] == o["near_e"]
        assert col["near_early"][i] == pytest.approx(o["near_early"])
        want = _fit_oracle(o["dist"], times, o["bound"], v in set(obs.tolist()))
        assert col["gfit"][i] == pytest.approx(want, rel=1e-6, abs=1e-6), v


def test_true_source_is_never_ruled_out():
    # the hard rules are facts of discrete SI, so they must hold on every simulated cascade
    seen = 0
    for seed in range(40):
        ip, ix, c, obs, times = _ws_times(100 + seed, beta=0.5, p=0.5)
        nodes, x, ok = ts_features(ip, ix, np.sort(c.nodes), obs, times, lam=0.5)
        i = int(np.searchsorted(nodes, c.source))
        assert ok[i]
        seen += x[i, TS_FEATURES.index("is_e")] == 1.0
        assert ok.sum() < len(nodes)  # other observers are always ruled out
    assert 5 < seen < 35  # the source observed about half the time, and then it is e


def test_violating_earliest_observer_is_ruled_out():
    # path 0-1-2-3-4: node 0 seen at step 5 and node 4 at step 6 cannot both hold if 0 started it
    ip = np.array([0, 1, 3, 5, 7, 8], np.int32)
    ix = np.array([1, 0, 2, 1, 3, 2, 4, 3], np.int32)
    nodes, x, ok = ts_features(ip, ix, [0, 1, 2, 3, 4], [0, 4], [5.0, 6.0], lam=0.5)
    assert ok.tolist() == [False, True, True, True, False]
    assert x[:, TS_FEATURES.index("is_e")].sum() == 0


def test_stored_weights_are_used():
    assert np.any(COEF_TS != 0) and len(COEF_TS) == len(TS_FEATURES)
    ip, ix, c, obs, times = _ws_times(7)
    infected = np.sort(c.nodes)
    got = learned_ts(ip, ix, infected, obs, times, lam=0.3)
    nodes, x, ok = ts_features(ip, ix, infected, obs, times, lam=0.3)
    assert got.nodes.tolist() == nodes.tolist()
    np.testing.assert_allclose(got.scores[ok], (design(x, ok) @ COEF_TS)[ok])
    assert np.all(np.isneginf(got.scores[~ok]))
    other = learned_ts(ip, ix, infected, obs, times, lam=0.3, coef=np.ones(len(TS_FEATURES)))
    assert not np.allclose(other.scores[ok], got.scores[ok])


def test_design_standardises_only_continuous_columns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, len(TS_FEATURES)))
    ok = rng.random(30) < 0.7
    z = design(x, ok)
    for j, f in enumerate(TS_FEATURES):
        if f in TS_CONTINUOUS:
            assert abs(z[ok, j].mean()) < 1e-9 and abs(z[ok, j].std() - 1) < 1e-9
        else:
            np.testing.assert_array_equal(z[:, j], x[:, j])


def test_bench_column_learned_ts(tmp_path):
    from benchmarks import accuracy

    args = ["--trials", "3", "--nodes", "400", "--infected", "30", "--models", "ws", "--cosasi-trials", "0"]
    plain = accuracy.main(args)
    res = accuracy.main(args + ["--learned-ts"])
    cell = res["cells"]["ws"]
    assert cell["timestamps"]["learned_ts"]["trials"] == 3
    for base in accuracy.LEARNED_TS_BASELINES:
        assert f"learned_ts-vs-{base}" in cell["paired"]["timestamps"]
    # its own generator: every other column is the same as without the flag
    for name in accuracy.TIMESTAMP_METHODS:
        assert cell["timestamps"][name] == plain["cells"]["ws"]["timestamps"][name]
