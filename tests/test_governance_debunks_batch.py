"""DebunkTracker.observe (a batch, column by column) gives the state of event-by-event counting."""
from __future__ import annotations

import random

import orjson
import pytest

from streams.events import Decoder
from streams.governance.debunks import DebunkTracker

REGIONS = ["370102", "370200", "3717", "110105", "370000", "", None, "not a code"]


def random_rows(seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(300):
        row = {"event_id": f"e{i}", "rumour_id": f"r{rng.randrange(3)}",
               "account_id": f"a{rng.randrange(40)}",  # accounts repeat, within and across kinds
               "ts": 1_700_000_000_000 + rng.randrange(10_000_000),
               "kind": rng.choice(["post", "share", "share", "comment", "debunk"])}
        if rng.random() < 0.7:
            row["parent_account_id"] = f"a{rng.randrange(40)}"
        region = rng.choice(REGIONS)
        if region is not None:
            row["region"] = region
        rows.append(row)
    return rows


@pytest.mark.parametrize("seed", range(6))
def test_batch_observe_equals_event_by_event(seed):
    rows = random_rows(seed)
    by_batch, by_event = DebunkTracker(), DebunkTracker()
    for start in range(0, len(rows), 70):  # several batches, a rumour spread over them
        chunk = rows[start:start + 70]
        batch, dead = Decoder().decode([orjson.dumps(r) for r in chunk])
        assert not dead
        by_batch.observe(batch)
        by_event.observe_rows(chunk)
    assert by_batch.rumour_ids() == by_event.rumour_ids()
    for rumour_id in by_event.rumour_ids():
        a, b = by_batch.metrics(rumour_id), by_event.metrics(rumour_id)
        assert a == b
    # The case under test occurs: some coverage and some city breakdown.
    assert any(m.covered for m in by_event.all_metrics())
    assert any(m.by_city for m in by_event.all_metrics())
