"""A random stream usable inside numba kernels, seeded from the caller's generator."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def splitmix_uniform(state):
    """A uniform float in [0, 1) from ``state`` (a uint64 array of one), which it advances.

    splitmix64: tiny, statistically fine for simulation and sampling, and reproducible inside
    numba (whose own generator cannot be seeded from a caller's ``numpy.random.Generator``).

    >>> s = np.array([42], np.uint64)
    >>> a = splitmix_uniform(s); b = splitmix_uniform(s)
    >>> 0.0 <= a < 1.0 and a != b
    True
    """
    state[0] = state[0] + np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)
