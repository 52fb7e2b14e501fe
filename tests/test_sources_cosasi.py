"""Side by side with a published implementation: cosasi 0.0.4 rumor/Jordan centrality."""
import numpy as np
import pytest

from benchmarks.generators import barabasi_albert, erdos_renyi, si, si_regular_tree
from tests.conftest import unavailable


@pytest.fixture(scope="module")
def cosasi():
    try:
        import cosasi as mod
    except ImportError:
        unavailable("cosasi 0.0.4 (pip install cosasi==0.0.4 scipy scikit-learn ndlib six future)")
    return mod


def _cases():
    rng = np.random.default_rng(2024)
    ip, ix, c = si_regular_tree(3, 40, rng)
    yield ip, ix, c.nodes
    for make in (lambda: erdos_renyi(400, 6.0, rng), lambda: barabasi_albert(400, 3, rng)):
        ip, ix = make()
        yield ip, ix, si(ip, ix, [int(rng.integers(400))], 40, rng).nodes


@pytest.mark.parametrize("case", range(3))
def test_same_scores_and_top_pick_as_cosasi(cosasi, case):
    from benchmarks.accuracy import compare_cosasi

    ip, ix, infected = list(_cases())[case]
    for name, r in compare_cosasi(ip, ix, infected).items():
        assert r["max_abs_diff"] < 1e-8, name
        assert r["cosasi_best"] in r["ours_best"], name
