"""The benchmarks' command lines as a researcher meets them: a bad value is one error line and
exit 2 (never a traceback), a JSON file says how to rerun it and is written whole or not at all,
and the same seed gives the same numbers."""
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from benchmarks import accuracy_blocking, parents_synth
from benchmarks.cli import BENCHMARKS, main as bench_main
from benchmarks.outputs import write_json

BAD = [
    ("trace", ["--sizes", "abc"], "--sizes: 'abc' is not a size"),
    ("trace", ["--sizes", "0"], "--sizes: '0' is not a size"),
    ("trace", ["--repeat", "0"], "--repeat: '0' is not a whole number >= 1"),
    ("accuracy", ["--trials", "0"], "--trials: '0' is not a whole number >= 1"),
    ("accuracy", ["--seed", "abc"], "--seed: 'abc' is not a whole number >= 0"),
    ("accuracy", ["--p", "1.5"], "--p: '1.5' is not a number between 0 and 1"),
    ("parents", ["--trials", "0"], "--trials: '0' is not a whole number >= 1"),
    ("parents", ["--mask", "2"], "--mask: '2' is not a number between 0 and 1"),
    ("origins", ["--models", "er,smallworld"], "--models: unknown 'smallworld'; choose from er, ws, ba"),
    ("origins", ["--trials", "0"], "--trials: '0' is not a whole number >= 1"),
    ("cutoff", ["--observe", "an hour"], "--observe: 'an hour' is not a duration"),
    ("cutoff", ["--limit", "0"], "--limit: '0' is not a whole number >= 1"),
    ("cutoff", ["--k", "0"], "--k: '0' is not a whole number >= 1"),
    ("blocking", ["--models", "ba,er"], "--models: unknown 'er'; choose from ba, ws"),
    ("blocking", ["--trials", "0"], "--trials: '0' is not a whole number >= 1"),
    ("blocking", ["--nodes", "20", "--k", "10", "--observe", "10"], "leave no node of --nodes 20"),
    # was "rumour: error: p < 0, p > 1 or p is NaN" from the first trial (parents: after reading
    # and fitting the real cascades)
    ("origins", ["--nodes", "5"], "--nodes: '5' is too few nodes for the er, ws and ba graphs"),
    ("parents", ["--nodes", "2"], "--nodes: '2' is too few nodes for the er, ws and ba graphs"),
]
# numpy seeds are >= 0: a negative one was a traceback after the warm-up or the data read
BAD += [(name, ["--seed", "-1"], "--seed: '-1' is not a whole number >= 0")
        for name in ("trace", "ingest", "scale", "accuracy", "parents", "origins", "cutoff", "blocking")]
# a --json FILE that cannot be written is refused before the run, not after it
BAD += [(name, ["--json", "/nonexistent/r.json"], "--json: folder /nonexistent does not exist")
        for name in ("accuracy", "parents", "origins", "cutoff", "blocking")]


@pytest.mark.parametrize("name,argv,message", BAD, ids=[f"{n} {' '.join(a)}" for n, a, _ in BAD])
def test_bad_option_is_one_error_line_and_exit_2(name, argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        bench_main([name, *argv])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith(f"rumour bench {name}: error: ") and message in err.splitlines()[-1]


def _wrong_data(tmp_path: Path) -> dict:
    text = tmp_path / "notes.txt"
    text.write_text("not a dataset\n")
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz") as tar:
        tar.add(text, arcname="README.txt")
    return {"/nonexistent/weibo.tar.gz": "no such folder or file", str(text): "not a folder or a tar archive",
            str(empty): "no weibo-ced cascade in it"}


@pytest.mark.parametrize("name", ["parents", "origins", "cutoff"])
def test_missing_or_wrong_data_is_one_error_line_and_exit_2(name, tmp_path, capsys):
    for path, message in _wrong_data(tmp_path).items():
        with pytest.raises(SystemExit) as info:
            bench_main([name, "--weibo", path, "--twitter", path] if name == "parents" else [name, "--weibo", path])
        last = capsys.readouterr().err.splitlines()[-1]
        assert info.value.code == 2 and last.startswith(f"rumour bench {name}: error: ") and message in last


@pytest.mark.parametrize("name", ["parents", "origins", "cutoff"])
def test_data_missing_where_it_is_looked_for_by_default_names_the_option_to_give(name, tmp_path, monkeypatch,
                                                                                capsys):
    # a checkout away from ../shared/data got "...weibo-ced-dev.tar.gz: no such folder or file" alone
    from benchmarks import real_cascades

    monkeypatch.setattr(real_cascades, "SHARED_DATA", tmp_path / "shared" / "data")
    with pytest.raises(SystemExit) as info:
        bench_main([name, "--real", "1"] if name == "origins" else [name])
    last = capsys.readouterr().err.splitlines()[-1]
    assert info.value.code == 2 and last.startswith(f"rumour bench {name}: error: ")
    assert "no such folder or file" in last and "with --weibo PATH" in last and str(tmp_path / "shared") in last


def test_json_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    write_json(path, {"trials": 1})

    def half_then_interrupt(self, data):  # Ctrl-C in the middle of writing
        with open(self, "wb") as fh:
            fh.write(data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_bytes", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_json(path, {"trials": 2, "cells": list(range(100))})
    assert json.loads(path.read_text()) == {"trials": 1}  # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary left behind


BLOCKING = ["--models", "ba", "--trials", "2", "--nodes", "150", "--k", "3", "--observe", "8",
            "--samples", "10", "--ours-samples", "20", "--eval", "20"]


def _blocking(tmp_path, seed, capsys):
    out = tmp_path / f"b{seed}-{len(list(tmp_path.iterdir()))}.json"
    assert bench_main(["blocking", *BLOCKING, "--seed", str(seed), "--json", str(out)]) == 0
    return json.loads(out.read_text()), capsys.readouterr()


def test_blocking_json_reruns_the_same_and_a_seed_changes_it(tmp_path, capsys):
    first, printed = _blocking(tmp_path, 5, capsys)
    run = first["run"]
    assert run["command"] == "rumour bench blocking " + " ".join(BLOCKING + ["--seed", "5", "--json"]) + \
        " " + str(tmp_path / "b5-0.json")
    assert run["options"]["seed"] == 5 and run["options"]["samples"] == 10 and run["options"]["reading"] == "observed"
    assert run["git_commit"] and len(run["load_average"]) == 3
    # what else a figure depends on: package versions, the machine, the run's duration
    assert run["versions"]["numpy"] == np.__version__ and run["versions"]["numba"]
    assert run["machine"]["cpus"] >= 1 and run["machine"]["platform"]
    assert run["wall_seconds"] >= 0 and run["cpu_seconds"] > 0
    assert "ba: 2/2 trials" in printed.err  # progress on stderr
    cell = first["cells"]["ba"]
    assert f"ours       {cell['ours']['new']:.3f} [{cell['ours']['new_ci'][0]:.3f}," in printed.out  # the printed table is the JSON's
    # rerun from the JSON's own options: the same numbers
    opts = run["options"]
    again, _ = _blocking(tmp_path, opts["seed"], capsys)
    for name in accuracy_blocking.METHODS:
        assert again["cells"]["ba"][name] == cell[name]
    other, _ = _blocking(tmp_path, 6, capsys)
    assert any(other["cells"]["ba"][name] != cell[name] for name in accuracy_blocking.METHODS)
    # the whole JSON, every figure and interval, but the run's timings
    assert {key: val for key, val in again["cells"]["ba"].items() if key != "seconds"} == \
        {key: val for key, val in cell.items() if key != "seconds"}


def test_blocking_runs_with_two_seeds_share_no_trial(monkeypatch):
    # trial i was seeded seed + i: --seed 1 repeated trials 1.. of --seed 0 (the same graphs,
    # sources and samples), so two "independent" runs shared all but one trial.
    graphs = []
    real_graph_of = accuracy_blocking.graph_of

    def recorded(model, n, rng, rewire=0.1):
        ip, ix = real_graph_of(model, n, rng, rewire)
        graphs.append((model, ip.tobytes(), ix.tobytes()))
        return ip, ix

    monkeypatch.setattr(accuracy_blocking, "graph_of", recorded)
    seen = {}
    for seed in (0, 1):
        graphs.clear()
        accuracy_blocking.run(models=("ba", "ws"), trials=4, n=120, k=2, observed=6, samples=5, ours_samples=5,
                              n_eval=5, seed=seed, log=lambda line: None)
        seen[seed] = list(graphs)
    assert len(seen[0]) == len(seen[1]) == 8
    assert len(set(seen[0])) == 8 and not set(seen[0]) & set(seen[1])  # no trial twice, none shared



@pytest.mark.parametrize("name,argv,message", [
    ("ingest", ["--repeat", "0"], "--repeat: '0' is not a whole number >= 1"),
    ("ingest", ["--latency-seconds", "soon"], "--latency-seconds: 'soon' is not a number > 0"),
    ("scale", ["--workers", "1,two"], "--workers: 'two' is not a size"),
    ("scale", ["--events", "0"], "--events: '0' is not a whole number >= 1"),
])
def test_ingest_and_scale_refuse_bad_options_before_touching_services(name, argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        bench_main([name, *argv, "--broker", "127.0.0.1:1", "--clickhouse", "clickhouse://127.0.0.1:1"])
    last = capsys.readouterr().err.splitlines()[-1]
    assert info.value.code == 2 and last.startswith(f"rumour bench {name}: error: ") and message in last


@pytest.mark.parametrize("name", ["ingest", "scale"])
def test_ingest_and_scale_explain_every_option(name, capsys):
    with pytest.raises(SystemExit):
        bench_main([name, "--help"])
    lines = capsys.readouterr().out.split("options:")[1].splitlines()
    # an option line without text after it, and no continuation line below: unexplained
    bare = [line.split()[0] for i, line in enumerate(lines) if line.startswith("  --") and len(line.split()) <= 2
            and not (i + 1 < len(lines) and lines[i + 1].startswith(" " * 10))]
    assert bare == []


def test_parents_synthetic_masks_the_fraction_asked():
    low = parents_synth.run(models=("er",), trials=1, n=200, seed=0, mask=0.2)
    high = parents_synth.run(models=("er",), trials=1, n=200, seed=0, mask=0.6)
    assert high["er"]["masked_links"] > 1.5 * low["er"]["masked_links"] > 0  # about 3x; the cascades differ too


def test_cutoff_on_real_cascades_shows_progress_and_saves_what_it_printed(shared_data, tmp_path, capsys):
    out = tmp_path / "cut.json"
    assert bench_main(["cutoff", "--limit", "60", "--weibo", str(shared_data / "weibo-ced-dev.tar.gz"),
                       "--json", str(out)]) == 0
    printed = capsys.readouterr()
    saved = json.loads(out.read_text())
    assert "60 cascades read" in printed.err and f"{saved['cascades']}/{saved['cascades']} evaluated" in printed.err
    # every row of the table is the JSON's, its label apart from its figure ("forecast - forecast
    # (subtree only)0.000" ran together)
    import re

    for name, value in saved.items():
        if isinstance(value, list) and len(value) == 3:
            mean, lo, hi = value
            assert re.search(rf"^{re.escape(name)}  +{mean:.3f} \[{lo:.3f},{hi:.3f}\]$", printed.out, re.M), name
    assert saved["run"]["options"]["limit"] == 60 and saved["run"]["options"]["observe"] == "1h"


def test_ctrl_c_is_one_line_exit_130_and_the_old_file_stays(tmp_path, monkeypatch, capsys):
    out = tmp_path / "blk.json"
    out.write_text('{"old": true}')
    calls = []

    def interrupted_trial(*args, **kwargs):
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(accuracy_blocking, "trial", interrupted_trial)
    assert bench_main(["blocking", *BLOCKING, "--json", str(out)]) == 130
    err = capsys.readouterr().err
    assert calls and "Traceback" not in err and err.strip().endswith("(any earlier one is left as it was)")
    assert json.loads(out.read_text()) == {"old": True} and [p.name for p in tmp_path.iterdir()] == ["blk.json"]


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_readme_synopsis_of_each_benchmark_lists_every_option(name, capsys):
    # benchmarks/README.md gave the options of trace, ingest and scale only; accuracy lacked
    # --beta, --jobs, --sis ..., blocking nine of its options
    import re

    with pytest.raises(SystemExit):
        bench_main([name, "--help"])
    options = set(re.findall(r"--[a-z][a-z0-9-]*", capsys.readouterr().out)) - {"--help"}
    readme = (Path(__file__).resolve().parent.parent / "benchmarks" / "README.md").read_text()
    # the synopsis: "    rumour bench NAME [..." and its indented continuation lines
    block = re.search(rf"^    rumour bench {name} +\[.*?(?=^\S|^    rumour bench |^$)", readme, re.M | re.S)
    assert block, f"no synopsis of {name} in benchmarks/README.md"
    assert options <= set(re.findall(r"--[a-z][a-z0-9-]*", block.group(0))), options - set(
        re.findall(r"--[a-z][a-z0-9-]*", block.group(0)))


@pytest.mark.parametrize("module,argv,message", [
    # the helpers benchmarks/README.md names for researchers: a traceback (or an empty run) before
    ("memory_sizes", ["--shapes", "foo"], "--shapes: unknown 'foo'"),
    ("memory_sizes", ["--max", "5", "--step", "10"], "--step 10 is above --max 5"),
    ("profile_update", ["--shares", "0"], "--shares: '0' is not a whole number >= 1"),
    ("accuracy_learned", ["fit", "/nonexistent/dev.npz"], "/nonexistent/dev.npz: no such file"),
    ("accuracy_ts", ["fit", "/nonexistent/ts.npz"], "/nonexistent/ts.npz: no such file"),
    ("accuracy_ts", ["dump", "--trials", "ws=0", "--out", "x.npz"], "'ws=0': want NAME=COUNT"),
    ("accuracy_learned", ["dump", "--seeds", "8,x", "--out", "x.npz"], "--seeds: 'x' is not a whole number"),
    ("cutoff_bounds", ["--cv", "1", "--weibo", "/nonexistent.tar.gz"], "--cv 1 leaves nothing to fit on"),
])
def test_researcher_helpers_refuse_bad_options_in_one_line(module, argv, message, capsys):
    import importlib

    with pytest.raises(SystemExit) as info:
        importlib.import_module(f"benchmarks.{module}").main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and message in err[-1]


def test_origins_says_it_is_reading_the_real_cascades_first(shared_data, monkeypatch, tmp_path, capsys):
    # it read the whole Weibo archive (two minutes on the shared machine) before its first line
    from benchmarks import real_cascades

    few = real_cascades.load("weibo-ced", shared_data / "weibo-ced-dev.tar.gz", limit=60)
    monkeypatch.setattr(real_cascades, "load_or_exit", lambda ap, dataset, path=None, limit=None, keep=None:
                        real_cascades.Shelf.of(few, keep))
    out = tmp_path / "ori.json"
    assert bench_main(["origins", "--models", "er", "--trials", "1", "--train-trials", "1", "--nodes", "100",
                       "--real", "3", "--json", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert "reading" in err[0] and "weibo-ced-dev.tar.gz" in err[0] and "60 cascades read" in err[1]
    assert json.loads(out.read_text())["cells"]["weibo/multi"]["rumours"] == 3


def test_origins_reports_an_empty_cell_as_null_without_numpy_warnings(tmp_path, capsys):
    # A one-trial cell of 100 nodes can observe no candidate: its Brier score was numpy's "Mean of
    # empty slice" warning and NaN ("nan" in the table) and its ECE 0.0, a perfect score.
    import warnings

    from benchmarks import origins_models

    out = tmp_path / "ori.json"
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert bench_main(["origins", "--models", "er", "--trials", "1", "--train-trials", "1", "--nodes", "100",
                           "--real", "0", "--json", str(out)]) == 0
    text = out.read_text()
    cells = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))["cells"]
    empty = [name for name, c in cells.items() if c["candidates"] == 0]
    assert empty, {name: c["candidates"] for name, c in cells.items()}  # the case this test is about
    for name in empty:
        for conf in ("fitted", "hand-set"):
            assert cells[name][conf] == {"bins": [], "ece": None, "brier": None}, (name, cells[name][conf])
    printed = capsys.readouterr().out
    assert "nan" not in printed and "ECE fitted n/a hand-set n/a  Brier n/a / n/a" in printed, printed
    assert origins_models.line("x", {**cells[empty[0]], "top1": None}).count("n/a") >= 5


@pytest.mark.parametrize("argv,message", [
    # a RuntimeError traceback (exit 1), and numpy's "need at least one array to concatenate"
    (["blocking", "--p-ba", "0", "--models", "ba", "--trials", "1", "--nodes", "100"], "--p-ba 0 never spreads"),
    (["parents", "--mask", "1", "--weibo", "/nonexistent.tar.gz"], "--mask 1 hides every parent link"),
])
def test_settings_that_cannot_give_a_cascade_are_refused_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        bench_main(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err.strip().splitlines()[-1]


def test_a_rare_cascade_of_the_dava_reading_is_found_not_given_up():
    # WS rewired 0.3, p = 0.12 (the dava reading's): trial 33 of seed 0 needs more than 1,000
    # sources for a cascade that reaches 20, and `rumour bench blocking --reading dava` failed
    # whole on it ("no independent cascade ... from 1000 sources").
    from benchmarks.accuracy_blocking import READINGS, graph_of, observe, trial_seed

    probs, rewire = READINGS["dava"]
    g_seed, o_seed, _, _ = trial_seed(0, "ws", 33).spawn(4)
    ip, ix = graph_of("ws", 2000, np.random.default_rng(g_seed), rewire)
    infected, tried = observe(ip, ix, probs["ws"], 20, np.random.default_rng(o_seed))
    assert infected.sum() == 20 and tried.any()


def test_a_cascade_that_never_reaches_the_observation_size_is_a_value_error():
    from benchmarks.accuracy_blocking import graph_of, observe

    ip, ix = graph_of("ba", 100, np.random.default_rng(0))
    with pytest.raises(ValueError, match="reached 20 infected from 5 sources"):
        observe(ip, ix, 0.001, 20, np.random.default_rng(0), tries=5)


def test_parents_on_real_cascades_prints_its_json_with_95_percent_intervals(shared_data, tmp_path, capsys):
    # the real-data rows (origin top-1, masked parents recovered) were point figures without intervals
    import re

    out = tmp_path / "par.json"
    assert bench_main(["parents", "--limit", "24", "--skip-synthetic", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    r = json.loads(out.read_text())["weibo_masked"]
    for key in ("origin_top1_engine", "origin_top1_reconstructed"):
        lo, hi = r[key + "_ci"]
        assert lo <= r[key] <= hi and f"{r[key]:.4f} [{lo:.4f},{hi:.4f}]" in printed
    for rule, value in r["parent_accuracy"].items():
        lo, hi = r["parent_accuracy_ci"][rule]
        assert lo <= value <= hi and re.search(rf"^{re.escape(rule)} +{value:.4f} \[{lo:.4f},{hi:.4f}\]$", printed, re.M)
    d, lo, hi = r["model_minus_all_to_origin"]
    assert d == pytest.approx(r["parent_accuracy"]["model"] - r["parent_accuracy"]["all to origin"])
    assert lo <= d <= hi and f"{d:+.4f} [{lo:+.4f},{hi:+.4f}]" in printed


def test_no_benchmark_name_is_a_usage_error_on_stderr_and_help_is_output(capsys):
    # A missing name, like argparse's missing argument: nothing on stdout (it was the list, with
    # exit 2, which a redirect into a results file kept), the list and one error line on stderr.
    assert bench_main([]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.rstrip().endswith("rumour bench: error: name a benchmark")
    assert all(f"  {name:<9} " in err for name in ("trace", "ingest", "parents", "blocking"))
    # asked for: the list on stdout, exit 0
    assert bench_main(["--help"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("usage: rumour bench NAME") and err == ""


def test_parents_synthetic_says_its_best_rule_is_per_trial_and_compares_each_rule(capsys):
    from benchmarks.accuracy_parents import print_synthetic

    cells = parents_synth.run(models=("er",), trials=3, n=200, seed=0)
    cell = cells["er"]
    # the keys there were stay, with the same meaning; the comparison with each rule is added
    for key in ("most recent", "earliest", "model", "model minus best rule", "model minus most recent",
                "model minus earliest"):
        assert len(cell[key]) == 3, key
    # the better rule of each trial is at least as good as either rule in that trial
    assert cell["model minus best rule"][0] <= min(cell["model minus most recent"][0],
                                                   cell["model minus earliest"][0]) + 1e-12
    assert abs(cell["model minus most recent"][0] - (cell["model"][0] - cell["most recent"][0])) < 1e-9
    print_synthetic(cells)
    out = capsys.readouterr().out
    assert "model - per-trial best rule" in out and "model - most recent" in out and "model - earliest" in out
    assert "model - best rule " not in out  # the label that read as the better rule overall
    assert out.count("\ner ") == 2  # one row in each table


def _parser_of(name, monkeypatch):
    """The argparse parser ``rumour bench NAME`` builds (caught at parse_args, before any run)."""
    import argparse

    seen = []

    def caught(self, *args, **kwargs):
        seen.append(self)
        raise SystemExit(0)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", caught)
    with pytest.raises(SystemExit):
        bench_main([name])
    return seen[0]


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_help_gives_every_default_and_a_whole_description(name, monkeypatch):
    # ingest's description stopped mid-sentence ("..., beside the"); --take-events, --take-single,
    # blocking's --reading, --bound-samples, --eval-bound and the --limit of parents and cutoff
    # gave no default
    ap = _parser_of(name, monkeypatch)
    assert ap.description.rstrip().endswith("."), ap.description
    silent = [a.option_strings[-1] for a in ap._actions
              if a.option_strings and a.nargs != 0 and a.dest != "json" and "default" not in (a.help or "")]
    assert silent == []
