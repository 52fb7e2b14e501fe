"""Every key of a benchmark's JSON is explained in benchmarks/README.md: the `--json FILE` of
accuracy, blocking, origins, cutoff and parents (their keys were not described anywhere; only
the `run` block was, and origins' unnamed `coef` list could not be read without the code)."""
import json
import re
from pathlib import Path

import pytest

from benchmarks import accuracy_blocking, accuracy_cells, accuracy_cutoff, parents_real
from benchmarks.cli import main as bench_main

README = Path(__file__).resolve().parent.parent / "benchmarks" / "README.md"

# Keys that are names of things, not fields: graph models and methods (their modules say what each
# is; the README names the levels they fill, MODEL and METHOD), and composed row names
# ("OURS-vs-BASE", "MODEL/OBS", "forecast - OTHER", "A_minus_B", "model minus ...").
NAMES = ({"tree3", "er", "ws", "ba", "all to origin", "most recent", "earliest", "model"}
         | set(accuracy_cells.SNAPSHOT_METHODS) | set(accuracy_cells.TIMESTAMP_METHODS)
         | set(accuracy_blocking.METHODS) | set(parents_real._ABLATIONS))
COMPOSED = re.compile(r"-vs-|/| - |_minus_|^model minus ")
# subtrees keyed by feature names (documented by the module that fits them) or by option names
NOT_WALKED = {"run", "config", "coef", "account coef", "weights"}


def _fields(tree) -> set:
    out = set()
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key in NOT_WALKED:
                out.add(key)
                continue
            if key not in NAMES and not COMPOSED.search(key):
                out.add(key)
            out |= _fields(value)
    return out


def _json_section() -> str:
    text = README.read_text()
    return text.split("## What a `--json FILE` holds", 1)[1].split("\n## ", 1)[0]


def _undocumented(path: Path) -> list:
    section = _json_section()
    return sorted(key for key in _fields(json.loads(path.read_text())) if f"`{key}`" not in section)


RUNS = {
    "accuracy": ["--trials", "2", "--nodes", "60", "--infected", "8", "--models", "tree3,er",
                 "--cosasi-trials", "1", "--cosasi-infected", "8"],
    "blocking": ["--models", "ba", "--trials", "2", "--nodes", "150", "--k", "3", "--observe", "8",
                 "--samples", "10", "--ours-samples", "20", "--eval", "20"],
    "origins": ["--trials", "2", "--train-trials", "2", "--nodes", "60", "--real", "0", "--models", "er"],
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_key_of_a_synthetic_benchmark_json_is_in_the_readme(name, tmp_path, capsys):
    out = tmp_path / f"{name}.json"
    assert bench_main([name, *RUNS[name], "--json", str(out)]) == 0
    assert _fields(json.loads(out.read_text())) > {"run"}  # the walk found fields to check
    assert _undocumented(out) == []


def test_every_key_of_a_real_data_benchmark_json_is_in_the_readme(shared_data, tmp_path, capsys):
    weibo = str(shared_data / "weibo-ced-dev.tar.gz")
    cut, par = tmp_path / "cut.json", tmp_path / "par.json"
    assert bench_main(["cutoff", "--limit", "60", "--weibo", weibo, "--json", str(cut)]) == 0
    assert bench_main(["parents", "--limit", "24", "--trials", "1", "--nodes", "60", "--weibo", weibo,
                       "--json", str(par)]) == 0
    assert set(accuracy_cutoff.METHODS) <= set(json.loads(cut.read_text()))
    assert _undocumented(cut) == [] and _undocumented(par) == []
