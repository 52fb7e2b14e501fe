"""graph.sources_features against the public scores and networkx; graph.sources_learned's fit
against a synthetic conditional logit with known weights and a finite-difference gradient."""
import networkx as nx
import numpy as np
import pytest

from graph.sources import snapshot_scores
from graph.sources_dmp import dmp_snapshot
from graph.sources_features import FEATURES, candidate_features, standardise
from graph.sources_learned import fit_conditional_logit, learned_snapshot
from graph.sources_spectral import netsleuth
from tests.naive_sources import nx_graph, ws_snapshot


@pytest.mark.parametrize("seed", range(2))
def test_features_match_their_sources(seed):
    ip, ix, inf = ws_snapshot(seed)
    nodes, x = candidate_features(ip, ix, inf, lam=0.1)
    col = {f: x[:, i] for i, f in enumerate(FEATURES)}
    s = snapshot_scores(ip, ix, inf)
    for f in ("rumor_avg", "rumor", "jordan", "distance"):
        np.testing.assert_allclose(col[f], s[f])
    np.testing.assert_allclose(col["dmp"], dmp_snapshot(ip, ix, inf, lam=0.1).scores, rtol=1e-9)
    np.testing.assert_allclose(col["dmp_t"], dmp_snapshot(ip, ix, inf, lam=0.1, inside_weight=0.1).scores,
                               rtol=1e-9)
    np.testing.assert_allclose(col["netsleuth"], netsleuth(ip, ix, inf).scores)
    g = nx_graph(ip, ix)
    clus = nx.clustering(g)
    inside = set(inf.tolist())
    out = {v: sum(w not in inside for w in g[v]) for v in inf.tolist()}
    sub = g.subgraph(inf.tolist())
    tot = sum(out.values())
    for i, v in enumerate(nodes.tolist()):
        assert col["log_degree"][i] == pytest.approx(np.log(g.degree[v]))
        assert col["outside"][i] == out[v]
        assert col["clustering"][i] == pytest.approx(clus[v])
        d = nx.single_source_shortest_path_length(sub, v)
        assert col["boundary_dist"][i] == pytest.approx(-sum(out[b] * d[b] for b in out) / tot)


def _softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()


def test_fit_recovers_known_weights():
    rng = np.random.default_rng(3)
    true = np.array([2.0, -1.0, 0.0, 0.5])
    groups = []
    for _ in range(1500):
        z = rng.normal(size=(int(rng.integers(10, 40)), 4))
        groups.append((z, int(rng.choice(len(z), p=_softmax(z @ true)))))
    w, _ = fit_conditional_logit(groups, l2=0.0)
    np.testing.assert_allclose(w, true, atol=0.15)


def test_fit_is_a_stationary_point_of_the_penalised_likelihood():
    rng = np.random.default_rng(4)
    groups = [(rng.normal(size=(15, 3)), int(rng.integers(15))) for _ in range(200)]
    l2 = 0.05

    def objective(w):
        return np.mean([(z @ w)[y] - np.log(np.exp(z @ w).sum()) for z, y in groups]) - 0.5 * l2 * w @ w

    w, ll = fit_conditional_logit(groups, l2=l2)
    assert ll == pytest.approx(objective(w), abs=1e-9)
    h = 1e-5
    for k in range(3):
        e = np.zeros(3)
        e[k] = h
        assert (objective(w + e) - objective(w - e)) / (2 * h) == pytest.approx(0.0, abs=1e-6)


def test_one_hot_weights_rank_as_that_feature():
    ip, ix, inf = ws_snapshot(5)
    nodes, x = candidate_features(ip, ix, inf, lam=0.1)
    for f in ("distance", "netsleuth", "dmp"):
        w = np.zeros(len(FEATURES))
        w[FEATURES.index(f)] = 2.0
        got = learned_snapshot(ip, ix, inf, lam=0.1, coef=w)
        assert got.nodes.tolist() == nodes.tolist()
        assert np.argsort(-got.scores, kind="stable").tolist() == \
            np.argsort(-standardise(x)[:, FEATURES.index(f)], kind="stable").tolist()


def test_accuracy_learned_flag_leaves_every_other_column_unchanged(tmp_path):
    from benchmarks import accuracy

    argv = ["--trials", "4", "--nodes", "400", "--infected", "30", "--models", "ws,tree3", "--cosasi-trials", "0"]
    plain = accuracy.main(argv)
    more = accuracy.main(argv + ["--learned"])
    for model, cell in plain["cells"].items():
        for obs in ("snapshot", "timestamps"):
            for name, row in cell[obs].items():
                assert more["cells"][model][obs][name] == row
        snap = more["cells"][model]["snapshot"]
        assert snap["learned"]["trials"] == 4 and snap["netsleuth"]["trials"] == 4
        assert "learned-vs-dmp_rumor" in more["cells"][model]["paired"]["snapshot"]
