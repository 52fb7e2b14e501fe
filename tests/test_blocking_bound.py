"""The LP bound and MIP of benchmarks/blocking_bound.py against brute force over all k-subsets."""
import itertools

import numpy as np
import pytest

from benchmarks import blocking_bound as bb
from benchmarks.generators import erdos_renyi
from tests.naive import live_reach, mean_live_reach




def _case(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(7, 12))
    ip, ix = erdos_renyi(n, 3.0, seed=int(rng.integers(1 << 30)))
    live = rng.random((int(rng.integers(1, 5)), len(ix))) < 0.7
    inf = np.zeros(n, bool)
    inf[rng.choice(n, int(rng.integers(1, 3)), replace=False)] = True
    return n, ip, ix, live, inf


def _greedy(ip, ix, live, inf, k):
    """Plain greedy on the sample mean reach (the test's own, not graph.blocking's)."""
    picks = []
    for _ in range(k):
        cand = [v for v in np.flatnonzero(~inf).tolist() if v not in picks]
        picks.append(min(cand, key=lambda v: mean_live_reach(ip, ix, live, inf, picks + [v])))
    return picks


@pytest.mark.parametrize("seed", range(15))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_lp_below_optimum_mip_equals_brute_force_greedy_above(seed, k):
    n, ip, ix, live, inf = _case(seed)
    cand = np.flatnonzero(~inf).tolist()
    best = min(mean_live_reach(ip, ix, live, inf, c) for c in itertools.combinations(cand, min(k, len(cand))))
    lp = bb.solve(ip, ix, live, inf, k)
    mip = bb.solve(ip, ix, live, inf, k, integral=True)
    greedy = mean_live_reach(ip, ix, live, inf, _greedy(ip, ix, live, inf, k))
    assert lp["bound"] <= best + 1e-7  # no k-set reaches below the LP value
    assert mip["optimal"] and mip["reach"] == pytest.approx(best)
    assert len(mip["picks"]) <= k and not inf[mip["picks"]].any()
    assert mean_live_reach(ip, ix, live, inf, mip["picks"]) == pytest.approx(best)  # the set does what it says
    assert greedy >= best - 1e-9
    base = mean_live_reach(ip, ix, live, inf, [])
    assert lp["base"] == pytest.approx(base)
    n_inf = int(inf.sum())  # as fractions prevented: LP >= optimum >= greedy
    assert bb.prevented(lp["bound"], base, n_inf) >= bb.prevented(best, base, n_inf) - 1e-7
    assert bb.prevented(best, base, n_inf) >= bb.prevented(greedy, base, n_inf) - 1e-9


def test_mip_picks_the_cut_vertex_then_both_routes():
    """Two routes 0-1-3 and 0-2-3 joining before a tail 3-4-5: with k = 1 blocking either route
    saves nothing, the cut vertex 3 saves the tail; with k = 2 blocking both routes saves more."""
    # 0 -> 1 -> 3, 0 -> 2 -> 3, 3 -> 4 -> 5 (directed CSR)
    ip = np.array([0, 2, 3, 4, 5, 6, 6])
    ix = np.array([1, 2, 3, 3, 4, 5])
    live = np.ones((1, 6), bool)
    inf = np.array([1, 0, 0, 0, 0, 0], bool)
    mip = bb.solve(ip, ix, live, inf, 1, integral=True)
    assert mip["picks"] == [3] and mip["reach"] == pytest.approx(3.0)
    two = bb.solve(ip, ix, live, inf, 2, integral=True)
    assert two["reach"] == pytest.approx(1.0) and sorted(two["picks"]) == [1, 2]
    assert bb.solve(ip, ix, live, inf, 1)["bound"] <= 3.0 + 1e-9


def test_build_has_one_y_per_reached_uninfected_node_and_world():
    n, ip, ix, live, inf = _case(99)
    *_, cand, n_y, base = bb.build(ip, ix, live, inf, 2)
    reached = [live_reach(ip, ix, w, inf, set()) for w in live]
    assert n_y == sum(len(r) - int(inf.sum()) for r in reached)
    assert set(cand.tolist()) == set().union(*reached) - set(np.flatnonzero(inf).tolist())
    assert base == pytest.approx(np.mean([len(r) for r in reached]))


def test_benchmark_bound_rows_dominate_the_fitted_sets():
    from benchmarks.accuracy_blocking import trial

    for seed in range(2):
        out = trial("ba", 150, 0.2, 3, 8, 20, 40, 50, seed, bound_samples=20)
        assert out["bound"][0] >= out["degree_fit"][0] - 1e-9
        assert out["bound"][0] >= out["ours_fit"][0] - 1e-9
        assert 0.0 <= out["lp"][0] <= 1.0


def test_eval_bound_caps_every_method_on_the_evaluation_worlds():
    from benchmarks.accuracy_blocking import METHODS, trial

    for seed in range(2):
        out = trial("ba", 150, 0.2, 3, 8, 20, 40, 60, seed, bound_samples=20, eval_bound=20)
        for name in METHODS + ("lp",):
            assert out["bound_eval"][0] >= out[name][0] - 1e-9, name


def test_driver_appends_each_trial_once(tmp_path, capsys):
    import json

    out = tmp_path / "rows.jsonl"
    args = ["--nodes", "150", "--k", "3", "--observe", "8", "--samples", "20", "--ours-samples", "40",
            "--eval", "40", "--bound-samples", "20", "--trials", "2", "--out", str(out)]
    bb.main(args)
    bb.main(args[:-4] + ["--trials", "3", "--out", str(out)])  # resumes: only trial 2 is new
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["trial"] for r in rows) == [0, 1, 2]
    assert all(r["bound"][0] >= r["degree_fit"][0] - 1e-9 for r in rows)
    assert "3 trials" in capsys.readouterr().out


def test_command_line_refuses_bad_options_and_another_experiments_file(tmp_path, capsys):
    # bad options were tracebacks (KeyError, FileNotFoundError); a file of --nodes 200 rows took
    # --nodes 300 rows and summarised them together
    import json

    def refused(argv):
        with pytest.raises(SystemExit) as info:
            bb.main(argv)
        assert info.value.code == 2
        return capsys.readouterr().err.strip().splitlines()[-1]

    out = str(tmp_path / "rows.jsonl")
    assert "--trials: '0'" in refused(["--trials", "0", "--out", out])
    assert "invalid choice: 'xx'" in refused(["--model", "xx", "--out", out])
    assert "folder /nonexistent does not exist" in refused(["--out", "/nonexistent/rows.jsonl"])
    assert "does not exist" in refused(["--summary-only", "--out", out])
    small = ["--nodes", "120", "--trials", "1", "--samples", "5", "--ours-samples", "10", "--eval", "10",
             "--bound-samples", "0"]
    assert bb.main(small + ["--out", out]) == 0
    assert json.loads(open(out).readline())["experiment"]["nodes"] == 120
    assert "--nodes 120 there, 150 here" in refused(small[2:] + ["--nodes", "150", "--out", out])
    capsys.readouterr()
    assert bb.main(["--summary-only", "--out", out]) == 0
    assert "ba 120 nodes" in capsys.readouterr().out
