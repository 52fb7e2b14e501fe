"""streams.seen.DroppedIds, the dropped-rumour memory of the alert router and the debunk
tracker: the exact set and the filter agree on every id held (the filter may add false "yes"
answers, never a false "no"), nothing is made before the first drop, and the listing merges
the held rumours with the lister's dropped ones."""
from __future__ import annotations

import random

import pytest

from streams.lru import LRU
from streams.seen import DroppedIds, ExactSeen, Seen


def _ids(seed: int, n: int, prefix: str = "r") -> list[str]:
    rng = random.Random(seed)
    return [f"{prefix}{rng.randrange(10**9)}" for _ in range(n)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_and_filter_modes_agree_on_the_ids_they_hold(seed):
    dropped = _ids(seed, 3000)
    others = _ids(seed + 100, 3000, prefix="other-")
    store = dropped + others
    exact = DroppedIds(lister=None)  # no lister: an exact set whatever the size asked
    bloom = DroppedIds(id_filter_mb=1, lister=lambda: store, seed=seed)
    for d in (exact, bloom):
        for i in range(0, len(dropped), 500):
            d.add(dropped[i:i + 500])
    assert isinstance(exact.ids, ExactSeen) and isinstance(bloom.ids, Seen)
    assert exact.which_dropped(dropped) == bloom.which_dropped(dropped) == set(dropped)
    assert all(r in exact and r in bloom for r in dropped[::37])
    # The exact set says no to every other id; the filter's extra "yes" answers are rare (1 MB
    # holds 3,000 ids at a ~1e-14 textbook rate), and they are a superset, never a loss.
    assert exact.which_dropped(others) == set()
    assert len(bloom.which_dropped(others)) <= 3
    mixed = dropped[:50] + others[:50]
    assert exact.which_dropped(mixed) <= bloom.which_dropped(mixed)
    assert exact.sizes()["evicted_ids"] == len(set(dropped))
    assert bloom.sizes() == {"evicted_ids": len(dropped), "evicted_id_bytes": 1 << 20}


def test_nothing_is_made_or_answered_before_the_first_drop():
    d = DroppedIds(id_filter_mb=1, lister=lambda: ["a"])
    d.add([])
    assert d.ids is None and not d.holds_any
    assert d.which_dropped(["a"]) == set() and "a" not in d
    assert d.sizes() == {"evicted_ids": 0, "evicted_id_bytes": 0}
    assert d.listing({"h"}) == ["h"]  # the lister is not asked: nothing was dropped


def test_filter_size_comes_from_the_setting_only_with_a_lister(monkeypatch):
    monkeypatch.setenv("RUMOUR_ID_FILTER_MB", "2")
    assert DroppedIds(lister=list).filter_mb() == 2  # None: the configured size
    assert DroppedIds(id_filter_mb=0.5, lister=list).filter_mb() == 0.5
    assert DroppedIds(id_filter_mb=4).filter_mb() == 0  # nothing could list a filter's ids


@pytest.mark.parametrize("mode", ["exact", "filter"])
def test_listing_merges_held_and_the_listers_dropped(mode):
    listed = ["held-and-stored", "dropped-1", "dropped-2", "stored-never-held"]
    asked = []

    def lister():
        asked.append(1)
        return listed

    d = DroppedIds(id_filter_mb=1, lister=lister) if mode == "filter" else DroppedIds()
    d.add(["dropped-1", "dropped-2"])
    held = {"held-and-stored", "held-only"}
    want = sorted(held | {"dropped-1", "dropped-2"})
    assert d.listing(held) == want
    # Filter mode lists from the store (once per listing); exact mode from its own set.
    assert len(asked) == (1 if mode == "filter" else 0)
    assert "stored-never-held" not in d.listing(set())


def test_trim_drops_beyond_the_cap_and_remembers_what_went():
    states = LRU(2, manual=True)
    for r in ("a", "b", "c", "d"):
        states[r] = r.upper()
    d = DroppedIds()
    assert d.trim(states, keep={"a"}) == 2
    assert sorted(states) == ["a", "d"]
    assert d.which_dropped(["a", "b", "c", "d", "e"]) == {"b", "c"}
    assert d.trim(states, keep=set()) == 0 and d.sizes()["evicted_ids"] == 2
