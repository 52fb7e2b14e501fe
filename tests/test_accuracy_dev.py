"""The development-run helpers shared by benchmarks/accuracy_learned.py and accuracy_ts.py."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.accuracy_learned import dev_cli, dev_runs, split_rows


def test_dev_runs_refuse_the_benchmark_seed_and_cover_every_model_and_seed():
    with pytest.raises(SystemExit, match="seed 0"):
        dev_runs(lambda job: job, [8, 0], {"ws": 1}, 1)
    assert dev_runs(lambda job: job, [8, 9], {"ws": 2, "er": 1}, 1) == [
        ("ws", 8, 2), ("ws", 9, 2), ("er", 8, 1), ("er", 9, 1)]


def test_split_rows_cuts_the_stacked_blocks_back():
    blocks = [np.arange(3), np.arange(0), np.arange(5) + 10]
    got = split_rows(np.concatenate(blocks), [len(b) for b in blocks])
    assert [g.tolist() for g in got] == [b.tolist() for b in blocks]


def test_dev_cli_parses_dump_and_fit(tmp_path):
    ap, f = dev_cli("p", "ws=2", ["a", "b"])
    f.add_argument("--raw", default="")
    a = ap.parse_args(["dump", "--out", "x.npz", "--seeds", "8"])
    assert (a.cmd, a.trials, a.seeds, a.jobs) == ("dump", {"ws": 2}, [8], 1)
    (tmp_path / "x.npz").write_bytes(b"")
    a = ap.parse_args(["fit", str(tmp_path / "x.npz"), "--raw", "a"])
    assert (a.cmd, a.features, a.l2, a.raw) == ("fit", ["a", "b"], 1e-3, "a")
