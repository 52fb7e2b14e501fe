"""graph.sources_joint and the candidate-restricted correlation baseline, against the oracles."""
import numpy as np
import pytest

from benchmarks.generators import barabasi_albert, erdos_renyi
from benchmarks.generators_cascades import si_discrete
from graph.sources_dmp import dmp_rumor
from graph.sources_joint import CORR_WEIGHT, correlation_z, snapshot_time_source
from graph.sources_time import time_distance_correlation
from tests import naive_sources as naive


def _case(seed, make=erdos_renyi):
    rng = np.random.default_rng(seed)
    ip, ix = make(300, 6.0, rng) if make is erdos_renyi else make(300, 3, rng)
    c = si_discrete(ip, ix, [int(rng.integers(300))], 60, 0.2, rng)
    pick = rng.random(len(c.nodes)) < 0.3
    pick[int(np.argmax(c.times))] = True  # at least a few observers
    return ip, ix, c, c.nodes[pick], c.times[pick]


def test_correlation_restricted_to_candidates_and_its_fisher_z():
    ip, ix, c, obs, times = _case(1)
    oracle = naive.correlation_scores(naive.nx_graph(ip, ix), obs, times)
    got = time_distance_correlation(ip, ix, obs, times, candidates=c.nodes)
    assert got.nodes.tolist() == sorted(c.nodes.tolist())
    assert np.allclose(got.scores, [oracle[v] for v in got.nodes.tolist()])
    z = correlation_z(ip, ix, obs, times, got.nodes)
    r = np.clip(got.scores, -0.999, 0.999)
    assert np.allclose(z, np.arctanh(r) * np.sqrt(len(obs) - 3))


@pytest.mark.parametrize("make", [erdos_renyi, barabasi_albert])
def test_joint_adds_the_correlation_evidence_to_the_snapshot_estimator(make):
    ip, ix, c, obs, times = _case(2, make)
    joint = snapshot_time_source(ip, ix, c.nodes, obs, times, lam=0.2)
    snap = dmp_rumor(ip, ix, c.nodes, lam=0.2)
    z = correlation_z(ip, ix, obs, times, joint.nodes)
    assert np.array_equal(joint.nodes, snap.nodes)
    assert np.allclose(joint.scores, snap.scores + CORR_WEIGHT * 0.5 * z * np.abs(z))


def test_joint_finds_sources_more_often_than_chance():
    hits = 0
    for seed in range(12):
        ip, ix, c, obs, times = _case(100 + seed)
        ranking = snapshot_time_source(ip, ix, c.nodes, obs, times, lam=0.2).ranking(seed)
        hits += c.source in ranking[:5].tolist()
    assert hits >= 5  # chance: 12 * 5/60 = 1
