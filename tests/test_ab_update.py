"""`python -m benchmarks.ab_update` at a tiny size: an A/A pair of this tree ends with equal
graphs, loading a tree leaves sys.modules as it was, and the graph comparison sees a change."""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

from benchmarks import ab_update
from graph import CascadeGraph

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_pair_of_one_tree_ends_with_equal_graphs(capsys):
    own = {k: v for k, v in sys.modules.items() if k == "graph" or k.startswith("graph.")}
    assert ab_update.main([f"a={ROOT}", f"b={ROOT}", "--shape", "ic", "--shares", "3000",
                           "--rounds", "4", "--batch", "200", "--json",
                           "--reuse-numba-cache"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["reference"] == "a" and set(row["trees"]) == {"a", "b"}
    for tree in row["trees"].values():
        assert tree["same_graph"] is True
        assert tree["cpu_ms"] > 0 and tree["wall_min_ms"] <= tree["wall_ms"]
    assert row["trees"]["a"]["paired_cpu_ratio"] == 1.0
    # The process's own graph modules are back: a test after this one that patches
    # graph.confidence or reads graph.kernels_tree's doctests must reach the modules in use.
    now = {k: v for k, v in sys.modules.items() if k == "graph" or k.startswith("graph.")}
    assert now.keys() == own.keys() and all(now[k] is own[k] for k in own)


def test_message_mode_compares_the_worker_path_and_its_stages(capsys):
    packages = ab_update.MESSAGE_PACKAGES
    own = {k: v for k, v in sys.modules.items() if ab_update._is_graph(k, packages)}
    assert ab_update.main([f"a={ROOT}", f"b={ROOT}", "--message", "--shape", "hawkes",
                           "--shares", "3000", "--rounds", "4", "--batch", "200", "--json",
                           "--reuse-numba-cache"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["path"] == "message" and set(row["trees"]) == {"a", "b"}
    for tree in row["trees"].values():
        assert tree["same_graph"] is True and tree["cpu_ms"] > 0
        assert set(tree["stages_ratio"]) == {"decode", "validate", "encode", "crossref", "add"}
        assert all(v > 0 for v in tree["stages_cpu_ms"].values())
    assert row["trees"]["a"]["paired_cpu_ratio"] == 1.0
    now = {k: v for k, v in sys.modules.items() if ab_update._is_graph(k, packages)}
    assert now.keys() == own.keys() and all(now[k] is own[k] for k in own)
    with pytest.raises(SystemExit):  # whole and split rounds alternate: one round has no whole
        ab_update.main([f"a={ROOT}", "--message", "--rounds", "1", "--reuse-numba-cache"])


def test_load_tree_imports_apart_and_restores_sys_modules():
    before = sys.modules["graph"]
    mods = ab_update.load_tree(ROOT)
    assert sys.modules["graph"] is before
    assert mods["graph"] is not before and "graph.cascade" in mods
    assert mods["graph.cascade"].CascadeGraph is not CascadeGraph


def test_state_tells_graphs_apart():
    def graph(parent):
        g = CascadeGraph("r")
        g.add_batch(["a", "b", "c"], ["u", "v", "w"], np.array([1, 2, 3]),
                    [None, "a", parent], [None, None, None])
        return g
    assert ab_update._state(graph("a")) == ab_update._state(graph("a"))
    assert ab_update._state(graph("a")) != ab_update._state(graph("b"))


def test_a_tree_without_graph_package_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        ab_update.main([f"x={tmp_path}"])


def test_by_default_the_comparison_runs_in_a_child_with_an_empty_numba_cache(monkeypatch, capsys):
    seen = {}

    def call(cmd, env, cwd):
        seen.update(cmd=cmd, cache=env["NUMBA_CACHE_DIR"], cwd=cwd)
        seen["empty"] = os.path.isdir(env["NUMBA_CACHE_DIR"]) and not os.listdir(env["NUMBA_CACHE_DIR"])
        return 3

    monkeypatch.setattr(ab_update.subprocess, "call", call)
    assert ab_update.main([f"a={ROOT}", "--rounds", "2"]) == 3
    assert seen["cmd"][1:3] == ["-m", "benchmarks.ab_update"]
    assert seen["cmd"][3:] == [f"a={ROOT}", "--rounds", "2", "--reuse-numba-cache"]
    assert seen["empty"] and seen["cwd"] == ROOT
    assert not os.path.exists(seen["cache"])  # removed afterwards
    assert capsys.readouterr().out == ""  # the child printed, not this process
