"""refuse_cross_rumour_parents against a plain rule, for batches of one rumour and of several."""
from __future__ import annotations

import random

import orjson
import pytest

from streams.crossref import CROSS_RUMOUR, refuse_cross_rumour_parents
from streams.events import Decoder

TS = 1_700_000_000_000


def batch_of(rows):
    batch, dead = Decoder().decode([orjson.dumps(r) for r in rows])
    assert not dead
    return batch


def plain_rule(rows):
    """Indices refused: the parent is no event of the row's own rumour in the batch but is one
    of another rumour in the batch (no graphs, no store)."""
    own = {(r["rumour_id"], r["event_id"]) for r in rows}
    where = {}
    for r in rows:
        where.setdefault(r["event_id"], set()).add(r["rumour_id"])
    return [i for i, r in enumerate(rows)
            if r.get("parent_event_id") is not None
            and (r["rumour_id"], r["parent_event_id"]) not in own
            and where.get(r["parent_event_id"], set()) - {r["rumour_id"]}]


@pytest.mark.parametrize("n_rumours", [1, 2, 5])
@pytest.mark.parametrize("seed", range(8))
def test_refused_rows_match_the_plain_rule(n_rumours, seed):
    rng = random.Random(seed)
    rows = []
    for i in range(200):
        rid = f"r{rng.randrange(n_rumours)}"
        parent = None
        if rows and rng.random() < 0.8:
            # An earlier event of any rumour, or a later one (a child that overtook its parent).
            pick = rng.choice(rows)
            parent = pick["event_id"] if rng.random() < 0.9 else f"e{i + 1 + rng.randrange(50)}"
        rows.append({"event_id": f"e{i}", "rumour_id": rid, "account_id": f"a{i}",
                     "ts": TS + i, "parent_event_id": parent})
    dead = []
    kept = refuse_cross_rumour_parents(batch_of(rows), dead, ({},), store=None)
    refused = plain_rule(rows)
    assert sorted(d.event_id for d in dead) == sorted(rows[i]["event_id"] for i in refused)
    assert all(d.reason == CROSS_RUMOUR for d in dead)
    assert len(kept) == len(rows) - len(refused)
    if n_rumours == 1:
        assert not dead  # one rumour: no parent can belong to another
    else:
        assert dead  # the case under test occurs
