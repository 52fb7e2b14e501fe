"""format_ts's integer path (streams/events.py) writes what datetime + strftime wrote, on seeded
random times across its whole range and at its edges."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from streams.events import _FAST_MS, format_ts


def strftime_ts(ms: int) -> str:
    """The session-6 format_ts."""
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@pytest.mark.parametrize("seed", range(4))
def test_integer_path_matches_strftime(seed):
    rng = np.random.default_rng(seed)
    lo, hi = _FAST_MS
    values = rng.integers(lo, hi, 3000).tolist()
    # Near the epoch and today, where the bench and real data live; day and second bounds.
    values += rng.integers(-10**12, 2 * 10**12, 3000).tolist()
    values += [d * 86_400_000 + k for d in rng.integers(-4000, 30000, 200).tolist() for k in (-1, 0, 1, 999, 1000)]
    values += [lo, lo + 1, hi - 1, hi, -1, 0, 1]
    for ms in values:
        assert format_ts(ms) == strftime_ts(ms), ms


def test_numpy_integers_and_outside_the_fast_range():
    assert format_ts(np.int64(1347557095123)) == strftime_ts(1347557095123)
    for ms in (_FAST_MS[0] - 1, _FAST_MS[1] + 5):
        assert format_ts(ms) == strftime_ts(ms)
