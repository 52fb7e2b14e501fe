"""benchmarks.accuracy: a tiny end-to-end run through main(argv), and the interval helpers."""
import json

import numpy as np
import pytest

from benchmarks import accuracy


def test_main_runs_every_method_on_identical_cascades(tmp_path, capsys):
    out = tmp_path / "acc.json"
    res = accuracy.main(["--trials", "4", "--nodes", "400", "--infected", "30", "--models", "tree3,ba",
                         "--cosasi-trials", "0", "--json", str(out)])
    saved = json.loads(out.read_text())
    assert saved["config"]["si"] == "discrete" and saved["config"]["beta"] == 0.1
    for model in ("tree3", "ba"):
        cell = saved["cells"][model]
        assert set(cell["snapshot"]) == set(accuracy.SNAPSHOT_METHODS)
        assert set(cell["timestamps"]) == set(accuracy.TIMESTAMP_METHODS)
        for row in list(cell["snapshot"].values()) + list(cell["timestamps"].values()):
            assert row["trials"] == 4 and 0.0 <= row["top1_ci"][0] <= row["top1"] <= row["top1_ci"][1] <= 1.0
            assert row["top1"] <= row["top5"] and row["rank"] >= 1
    printed = capsys.readouterr().out
    assert "dmp_rumor" in printed and "joint-vs-correlation" in printed
    pair = saved["cells"]["ba"]["paired"]["timestamps"]["joint-vs-earliest"]
    joint, early = saved["cells"]["ba"]["timestamps"]["joint"], saved["cells"]["ba"]["timestamps"]["earliest"]
    assert abs(pair["diff"] - (joint["top1"] - early["top1"])) < 1e-12 and 0.0 <= pair["mcnemar_p"] <= 1.0
    assert res["cells"]["ba"]["snapshot"]["dmp"]["trials"] == 4


def test_intervals():
    lo, hi = accuracy.wilson(0, 50)
    assert lo == 0.0 and 0.05 < hi < 0.1
    lo, hi = accuracy.bootstrap_mean(np.arange(100.0), seed=0)
    assert lo < 49.5 < hi and hi - lo < 15


def test_unknown_graph_model_is_refused_before_any_trial(capsys):
    with pytest.raises(SystemExit) as info:
        accuracy.main(["--models", "ba,smallworld", "--trials", "1"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "'smallworld'" in err and "tree3, er, ws, ba" in err


@pytest.mark.parametrize("argv, message", [
    (["--nodes", "50", "--infected", "300", "--models", "er"], "--infected 300 needs a graph larger"),
    (["--nodes", "500", "--infected", "40", "--cosasi-infected", "600", "--models", "tree3,ws"],
     "--cosasi-infected 600 needs a graph larger"),
    (["--nodes", "5", "--infected", "3", "--models", "ba", "--cosasi-trials", "0"], "--nodes 5 is too small"),
    (["--beta", "0", "--models", "er", "--nodes", "100", "--infected", "10"], "--beta 0 never infects anyone"),
])
def test_sizes_no_graph_can_give_are_refused_before_any_trial(argv, message, capsys):
    # --infected above --nodes drew sources for ever (the command never ended)
    with pytest.raises(SystemExit) as info:
        accuracy.main(argv + ["--trials", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and message in err[-1]


def test_a_cascade_no_source_can_fill_is_an_error_not_an_endless_loop():
    import argparse

    args = argparse.Namespace(nodes=20, infected=21, si="discrete", beta=0.1)
    with pytest.raises(ValueError, match="reached 21 infected"):
        accuracy._cascade("er", args, np.random.default_rng(0))


def test_table_names_the_si_model_each_cell_ran(tmp_path, capsys):
    # tree3 is always continuous SI (exactly --infected); its header said "discrete SI, >= N"
    out = tmp_path / "acc.json"
    accuracy.main(["--trials", "2", "--nodes", "200", "--infected", "20", "--models", "tree3,er",
                   "--cosasi-trials", "0", "--json", str(out)])
    printed = capsys.readouterr().out
    saved = json.loads(out.read_text())
    assert saved["cells"]["tree3"]["si"] == "continuous" and saved["cells"]["er"]["si"] == "discrete"
    assert "tree3 / snapshot  (continuous SI, 20 infected," in printed
    assert "er / snapshot  (discrete SI, >= 20 infected," in printed


@pytest.mark.parametrize("argv, trials, cosasi", [
    (["--quick"], 30, 5),
    (["--quick", "--trials", "3", "--cosasi-trials", "0"], 3, 0),
    (["--trials", "2"], 2, 30),
])
def test_quick_changes_the_defaults_not_counts_given_beside_it(argv, trials, cosasi, monkeypatch):
    # --quick used to overwrite an explicit --trials silently: the run was not the one asked for
    seen = {}

    def cell(job):
        _, args = job
        seen.update(trials=args.trials, cosasi=args.cosasi_trials)
        raise SystemExit(0)

    monkeypatch.setattr(accuracy, "_model_cell", cell)
    with pytest.raises(SystemExit):
        accuracy.main([*argv, "--models", "er"])
    assert seen == {"trials": trials, "cosasi": cosasi}


def test_a_progress_line_comes_before_the_first_trial(monkeypatch, capsys):
    # the first trial compiles the numba kernels (about 25 s fresh) and nothing was printed
    seen = []

    def cell(job):
        seen.append(capsys.readouterr().err)
        raise SystemExit(0)

    monkeypatch.setattr(accuracy, "_model_cell", cell)
    with pytest.raises(SystemExit):
        accuracy.main(["--models", "er", "--trials", "1"])
    assert len(seen) == 1
    assert seen[0].splitlines() == ["accuracy: the first trial loads the numba kernels from their cache, "
                                    "or compiles them (about half a minute in a fresh checkout) ..."]


def test_no_progress_line_before_a_bad_option_is_refused(capsys):
    with pytest.raises(SystemExit):
        accuracy.main(["--models", "er", "--nodes", "100", "--infected", "200"])
    assert "numba" not in capsys.readouterr().err
