"""graph.sources_mc against a slow obvious oracle: plain-Python synchronous discrete SI (every
step, every infected node tries every susceptible neighbour with probability beta), Jaccard by
Python sets and the soft-margin formula written out. The kernel simulates the same law another
way (geometric edge delays in a calendar queue), so they agree in distribution, not draw by draw:
the tests compare frequencies within a few standard errors, with fixed seeds."""
import math

import numpy as np
import pytest

from benchmarks.generators import edges_to_csr, erdos_renyi, regular_tree
from graph.kernels_mc import _CALENDAR, _phis, _simulate
from graph.sources_mc import _state, choose_a, mc_rumor, mc_scores, mc_snapshot, soft_margin


# --- the oracle -------------------------------------------------------------------------------

def naive_run(ip, ix, src, beta, stop_size, rule, rng):
    """One synchronous discrete-SI run from src, stopped at the end of the first step with at
    least stop_size infected ("first"), or at whichever of that step end and the one before has
    the size closest to stop_size ("closest"; a tie keeps the later). Returns a set."""
    infected = {src}
    prev = set(infected)
    while len(infected) < stop_size:
        new = set()
        for u in infected:
            for w in ix[ip[u]:ip[u + 1]]:
                w = int(w)
                if w not in infected and rng.random() < beta:
                    new.add(w)
        if not new:
            if not any(int(w) not in infected for u in infected for w in ix[ip[u]:ip[u + 1]]):
                return infected  # nothing left to reach
            continue
        prev = set(infected)
        infected |= new
    if rule == "closest" and stop_size - len(prev) < len(infected) - stop_size:
        return prev
    return infected


def naive_phis(ip, ix, observed, beta, runs, rule, rng):
    """Per candidate (sorted observed nodes), the Jaccard similarity of each run with observed."""
    obs = set(int(v) for v in observed)
    out = []
    for s in sorted(obs):
        phis = []
        for _ in range(runs):
            r = naive_run(ip, ix, s, beta, len(obs), rule, rng)
            phis.append(len(r & obs) / len(r | obs))
        out.append(phis)
    return out


def naive_soft(phis, a):
    """The soft-margin weights exp(-(phi - 1)^2 / a^2) of each run."""
    return [math.exp(-(p - 1) ** 2 / a ** 2) for p in phis]


# --- helpers ------------------------------------------------------------------------------------

def kernel_runs(ip, ix, src, beta, stop_size, rule, runs, seed):
    """The kernel's simulated sets (list of sets) for ``runs`` runs from src."""
    n = len(ip) - 1
    tent, done = np.full(n, -1, np.int64), np.zeros(n, np.uint8)
    touched, out = np.empty(n, np.int32), np.empty(n, np.int32)
    heads = np.full(_CALENDAR, -1, np.int32)
    ent_node, ent_next = np.empty(len(ix) + 1, np.int32), np.empty(len(ix) + 1, np.int32)
    observed = np.zeros(n, np.int64)
    log_q = -np.inf if beta >= 1 else math.log1p(-beta)
    state = _state(seed)
    sets = []
    for _ in range(runs):
        k, _inter = _simulate(ip, ix, src, log_q, stop_size, rule == "closest", observed, state, tent, done,
                              touched, heads, ent_node, ent_next, out)
        sets.append(set(out[:k].tolist()))
        assert (tent == -1).all() and (done == 0).all() and (heads == -1).all()  # restored
    return sets


def small_graph(seed, n=40, degree=4.0):
    return erdos_renyi(n, degree, np.random.default_rng(seed))


def path(n):
    return edges_to_csr(n, np.arange(n - 1), np.arange(1, n))


# --- tests --------------------------------------------------------------------------------------

def test_beta_one_is_bfs_and_the_stopping_rules():
    ip, ix = regular_tree(3, 4)  # root 0, 3 children, then 6, 12, ...
    ball1 = {0, 1, 2, 3}
    ball2 = ball1 | set(range(4, 10))
    # first step end with >= 5 infected is step 2 (10 nodes); the closest to 5 is step 1 (4 nodes)
    assert kernel_runs(ip, ix, 0, 1.0, 5, "first", 3, 0) == [ball2] * 3
    assert kernel_runs(ip, ix, 0, 1.0, 5, "closest", 3, 0) == [ball1] * 3
    assert kernel_runs(ip, ix, 0, 1.0, 8, "closest", 1, 0) == [ball2]  # 10 is closer to 8 than 4
    assert naive_run(ip, ix, 0, 1.0, 5, "first", np.random.default_rng(0)) == ball2
    assert naive_run(ip, ix, 0, 1.0, 5, "closest", np.random.default_rng(0)) == ball1


def test_a_run_stops_when_the_component_is_exhausted():
    ip, ix = path(6)
    assert kernel_runs(ip, ix, 2, 0.5, 50, "first", 5, 1) == [set(range(6))] * 5


@pytest.mark.parametrize("seed,rule", [(0, "first"), (1, "closest"), (2, "first")])
def test_simulated_sets_have_the_synchronous_si_law(seed, rule):
    ip, ix = small_graph(seed)
    rng = np.random.default_rng(seed)
    src = int(np.argmax(np.diff(ip)))
    runs, beta, stop = 3000, 0.3, 12
    ours = kernel_runs(ip, ix, src, beta, stop, rule, runs, seed)
    theirs = [naive_run(ip, ix, src, beta, stop, rule, rng) for _ in range(runs)]
    n = len(ip) - 1
    for v in range(n):  # per-node inclusion frequency: two binomials with the same p
        a = sum(v in s for s in ours) / runs
        b = sum(v in s for s in theirs) / runs
        se = math.sqrt(max(a * (1 - a) + b * (1 - b), 1e-4) / runs)
        assert abs(a - b) < 5 * se, (v, a, b)
    sa, sb = np.array([len(s) for s in ours]), np.array([len(s) for s in theirs])
    assert abs(sa.mean() - sb.mean()) < 5 * math.sqrt((sa.var() + sb.var()) / runs)


@pytest.mark.parametrize("seed", [3, 4])
def test_phi_and_soft_margin_scores_match_the_oracle(seed):
    ip, ix = small_graph(seed, n=30, degree=3.0)
    rng = np.random.default_rng(seed)
    start = int(np.argmax(np.diff(ip)))
    observed = sorted(naive_run(ip, ix, start, 0.4, 8, "first", rng))
    runs, a = 2000, 0.5
    oracle = naive_phis(ip, ix, observed, 0.4, runs, "first", rng)
    mask = np.zeros(len(ip) - 1, np.int64)
    mask[observed] = 1
    phi = _phis(ip, ix, mask, len(observed), np.array(observed, np.int32), runs, math.log1p(-0.4), len(observed),
                False, _state(seed))
    soft_k = np.exp(soft_margin(phi, (a,))[0])
    for c in range(len(observed)):
        x, y = np.array(oracle[c]), np.array(naive_soft(oracle[c], a))
        xk, yk = phi[c], np.exp(-(phi[c] - 1) ** 2 / a ** 2)
        assert abs(xk.mean() - x.mean()) < 5 * math.sqrt((xk.var() + x.var() + 1e-8) / runs)
        assert abs(soft_k[c] - y.mean()) < 5 * math.sqrt((yk.var() + y.var() + 1e-8) / runs)
        assert soft_k[c] == pytest.approx(yk.mean())  # soft_margin is the mean of these weights


def test_soft_margin_is_the_written_formula():
    rng = np.random.default_rng(5)
    phi = rng.random((4, 30))
    for a in (0.5, 0.125, 1 / 64):
        want = [math.log(sum(math.exp(-(p - 1) ** 2 / a ** 2) for p in row) / 30) if a > 0.1 else None
                for row in phi]
        got = soft_margin(phi, (a,))[0]
        if a > 0.1:
            assert np.allclose(got, want)
        assert np.isfinite(got).all()  # the log domain keeps tiny a finite
    # tiny a: the score is set by the best run, -(1 - max phi)^2 / a^2 up to log(count / runs)
    a = 1 / 128
    assert np.allclose(soft_margin(phi, (a,))[0], -(1 - phi.max(axis=1)) ** 2 / a ** 2 - math.log(30), atol=1e-6)


def test_choose_a_falls_back_to_the_widest_a_when_halves_disagree():
    phi = np.zeros((2, 40))
    phi[0, :20], phi[1, 20:] = 0.9, 0.9  # first half says candidate 0, second half candidate 1
    assert choose_a(phi, (0.5, 0.25, 0.125), tol=0.05) == 0
    assert choose_a(np.full((2, 40), 0.7), (0.5, 0.25, 0.125)) == 2


def test_the_centre_of_an_infected_path_ranks_first():
    ip, ix = path(41)
    infected = np.arange(12, 29)  # 17 nodes around 20
    r = mc_scores(ip, ix, infected, 0.5, seed=7, rounds=((1.0, 300),))
    ranking = r.ranking()
    assert ranking[0] == 20
    # symmetry: i and 40 - i are equally likely, so their scores are close; the ends are worst
    assert set(ranking[-2:].tolist()) == {12, 28}


def test_the_centre_of_an_infected_ball_in_a_tree_ranks_first():
    ip, ix = regular_tree(3, 6)
    ball = list(range(1 + 3 + 6 + 12))  # every node within 3 hops of the root 0
    r = mc_scores(ip, ix, ball, 0.5, seed=3, rounds=((1.0, 64), (0.25, 400)))
    assert r.ranking()[0] == 0


def test_the_true_root_of_grown_trees_ranks_well_on_average():
    ip, ix = regular_tree(3, 6)
    rng = np.random.default_rng(11)
    rel = []
    for trial in range(8):
        infected = sorted(naive_run(ip, ix, 0, 0.5, 25, "first", rng))
        r = mc_scores(ip, ix, infected, 0.5, seed=trial, rounds=((1.0, 64), (0.25, 400)))
        rel.append(np.flatnonzero(r.ranking() == 0)[0] / len(infected))
    assert np.mean(rel) < 0.2  # a uniform ranking would average about 0.5


def test_seeded_runs_are_reproducible_and_seeds_matter():
    ip, ix = small_graph(6, n=60)
    infected = sorted(naive_run(ip, ix, 0, 0.3, 15, "first", np.random.default_rng(6)))
    a = mc_scores(ip, ix, infected, 0.3, seed=123)
    b = mc_scores(ip, ix, infected, 0.3, seed=np.random.default_rng(123))
    c = mc_scores(ip, ix, infected, 0.3, seed=124)
    assert np.array_equal(a.scores, b.scores) and np.array_equal(a.runs, b.runs)
    assert not np.array_equal(a.loglik, c.loglik)


def test_successive_halving_and_candidates():
    ip, ix = small_graph(8, n=80)
    infected = sorted(naive_run(ip, ix, 3, 0.3, 30, "first", np.random.default_rng(8)))
    m = len(infected)
    r = mc_scores(ip, ix, infected, 0.3, seed=1, rounds=((1.0, 10), (0.5, 20), (0.25, 40)))
    k1 = math.ceil(0.5 * m)
    k2 = math.ceil(0.25 * k1)
    assert sorted(np.bincount(r.runs).nonzero()[0].tolist()) == [10, 30, 70]
    assert (r.runs == 70).sum() == k2 and (r.runs == 30).sum() == k1 - k2
    # every survivor of a later round ranks above every candidate dropped earlier
    order = np.argsort(-r.scores)
    assert (np.diff(r.runs[order]) <= 0).all()
    cand = np.array(infected[:5], np.int32)
    rc = mc_scores(ip, ix, infected, 0.3, seed=1, candidates=cand, rounds=((1.0, 10),))
    assert set(rc.ranking()[:5].tolist()) == set(cand.tolist())
    assert (rc.runs > 0).sum() == 5


def test_prior_breaks_ties_and_bad_input_is_refused():
    ip, ix = path(5)
    # beta = 1 on a path seen whole from the middle: every run from 2 matches exactly, the others
    # never do; with a prior favouring node 1 strongly enough, 1 wins
    s = mc_snapshot(ip, ix, [1, 2, 3], 1.0, seed=0, rounds=((1.0, 4),))
    assert s.best() == 2
    prior = np.array([5000.0, 0.0, 0.0])  # above the gap 0.5^2 / a^2 = 4096 at a = 1/128
    assert mc_snapshot(ip, ix, [1, 2, 3], 1.0, seed=0, rounds=((1.0, 4),), prior=prior).best() == 1
    with pytest.raises(ValueError):
        mc_scores(ip, ix, [1, 2], 0.0, seed=0)
    with pytest.raises(ValueError):
        mc_scores(ip, ix, [1, 2], 0.5, seed=0, candidates=[4])
    with pytest.raises(ValueError):
        mc_scores(ip, ix, [1, 2], 0.5, seed=0, rule="last")


def test_mc_rumor_reranks_only_the_top_of_the_base_order():
    ip, ix = small_graph(9, n=80)
    infected = sorted(naive_run(ip, ix, 5, 0.3, 30, "first", np.random.default_rng(9)))
    base = np.random.default_rng(0).random(len(infected))
    s = mc_rumor(ip, ix, infected, 0.3, seed=2, base_scores=base, top=4, runs=50)
    order = np.argsort(-base)
    assert set(s.ranking()[:4].tolist()) == set(np.array(infected)[order[:4]].tolist())
    assert s.ranking()[4:].tolist() == np.array(infected)[order[4:]].tolist()


def test_accuracy_bench_mc_column_leaves_every_other_figure_unchanged(tmp_path):
    from benchmarks import accuracy

    argv = ["--trials", "3", "--nodes", "400", "--infected", "30", "--models", "ba", "--cosasi-trials", "0"]
    plain = accuracy.main(argv + ["--json", str(tmp_path / "a.json")])["cells"]["ba"]
    with_mc = accuracy.main(argv + ["--mc", "--json", str(tmp_path / "b.json")])["cells"]["ba"]
    mc = with_mc["snapshot"].pop("mc")
    assert mc["trials"] == 3 and mc["cpu_seconds_per_trial"] > 0
    assert with_mc["snapshot"] == plain["snapshot"] and with_mc["timestamps"] == plain["timestamps"]
    pair = with_mc["paired"]["snapshot"]["mc-vs-dmp_rumor"]
    assert abs(pair["diff"] - (mc["top1"] - plain["snapshot"]["dmp_rumor"]["top1"])) < 1e-12
