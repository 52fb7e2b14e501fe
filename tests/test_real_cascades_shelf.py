"""`rumour bench origins` keeps its pool of real cascades in a temporary file, one read back at a
time (benchmarks.real_cascades.Shelf), and measures what it measured with every cascade held."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from benchmarks import origins_models, real_cascades
from benchmarks.real_cascades import Shelf, _pack
from tests.test_mask_cli import synthetic


def cascades(n: int, shares: int = 30, seed: int = 0) -> list:
    out = []
    for rid, evs in synthetic(n, shares, seed).items():
        for e in evs:
            e["account_id"] = f"{rid}:{e['account_id']}"  # distinct source accounts
            e["text"] = "repost " * 20
        out.append(_pack(evs))
    return out


def same(a, b) -> bool:
    return all(np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y for x, y in zip(a, b))


def test_the_pool_on_a_shelf_measures_what_the_pool_in_memory_measured():
    held = cascades(40)
    shelf = Shelf.of(iter(held), keep=origins_models.in_pool)
    pool = origins_models.real_pool(held)
    assert shelf.read == 40 and len(shelf) == len(pool) >= 3
    assert all(same(a, b) for a, b in zip(shelf, pool))
    assert origins_models.real_pool(shelf) is shelf
    args = dict(models=("er",), trials=1, train_trials=1, n=100, real=8, seed=3, log=lambda *_: None)
    assert origins_models.run(**args, cascades=shelf) == origins_models.run(**args, cascades=held)


def test_a_shelf_holds_one_cascade_at_a_time():
    def stream():  # one cascade made at a time, each with texts of its own
        for i in range(200):
            evs = synthetic(1, 60, seed=i)["r0"]
            for j, e in enumerate(evs):
                e.update(rumour_id=f"r{i}", text=f"repost {i}:{j} " * 10)
            yield _pack(evs)

    tracemalloc.start()
    try:
        held = list(stream())
        whole = tracemalloc.get_traced_memory()[0]
        del held
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        shelf = Shelf.of(stream())
        peak = tracemalloc.get_traced_memory()[1] - base
        assert len(shelf) == 200 and shelf[-1].rumour_id == "r199"
    finally:
        tracemalloc.stop()
    assert peak < whole / 10, (peak, whole)


@pytest.mark.shared_data
@pytest.mark.slow
def test_the_real_pool_on_a_shelf_is_the_pool_loaded_whole(shared_data):
    archive = shared_data / "weibo-ced-dev.tar.gz"
    shelf = real_cascades.shelve("weibo-ced", archive, keep=origins_models.in_pool, limit=80)
    pool = origins_models.real_pool(real_cascades.load("weibo-ced", archive, limit=80))
    assert shelf.read == 80 and len(shelf) == len(pool) > 10
    assert all(same(a, b) for a, b in zip(shelf, pool))
