"""A restarted worker (or one that takes over a partition) completes each rumour's debunk
figures from the store instead of counting the rumour from zero (``Governance.catch_up`` marks
the stored rumours; :meth:`DebunkTracker.mark_stored`). The expectation is the one-pass
:func:`~streams.governance.debunks.debunk_metrics` over every event, not the tracker's own output."""
from __future__ import annotations

import numpy as np
import pytest

from streams.governance.debunks import debunk_metrics
from tests.test_alert_catchup import World, event, stream


def with_debunks(seed: int) -> list[dict]:
    """The alert tests' random shares plus debunk shares by some of the same accounts."""
    rng = np.random.default_rng(seed + 1000)
    ev = stream(seed)
    rumours = sorted({e["rumour_id"] for e in ev})
    for k, e in enumerate(rng.choice(len(ev), size=len(ev) // 4, replace=False).tolist()):
        base = ev[e]
        d = event(base["rumour_id"], 10_000 + k, 30, base["region"], k % 60)
        d.update(kind="debunk", account_id=base["account_id"], event_id=f"{base['rumour_id']}-d{k}",
                 parent_event_id=None, parent_account_id=None, text="debunk")
        ev.append(d)
    assert rumours
    ev.sort(key=lambda e: (e["ts"], e["event_id"]))
    return ev


def expected(events) -> dict:
    return {r: debunk_metrics([e for e in events if e["rumour_id"] == r], r)
            for r in sorted({e["rumour_id"] for e in events})}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_restarted_worker_debunk_figures_equal_all_events(store, seed):
    ev = with_debunks(seed)
    cut = len(ev) // 2
    first = World(store)
    first.feed(ev[:cut])
    second = World(store)  # the restarted worker over the same store
    second.hub.catch_up()
    second.feed(ev[cut:])
    want = expected(ev)
    got = {r: second.hub.debunks.metrics(r) for r in want}
    assert got == want
    assert [m.rumour_id for m in second.hub.debunks.all_metrics()] == sorted(want)


def test_without_the_catch_up_a_restart_counts_from_zero(store):
    """The failure the catch-up prevents (so the test above can fail): the second half alone."""
    ev = with_debunks(3)
    cut = len(ev) // 2
    World(store).feed(ev[:cut])
    second = World(store)
    second.feed(ev[cut:])
    want = expected(ev)
    got = {r: second.hub.debunks.metrics(r) for r in want}
    assert got != want
    assert all(got[r] is None or got[r].rumour_shares <= want[r].rumour_shares for r in want)
