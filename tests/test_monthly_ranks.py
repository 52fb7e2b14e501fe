"""The monthly report's four tables (rumours, debunks, cities, counties) are each sorted by
their own order and ranked 1..n (``streams.governance.monthly._ranked``); the orders are
written out again here from the report's documented meaning, not taken from the code."""
from __future__ import annotations

import orjson

from streams.events import Decoder
from streams.synthetic import synthetic_events


def _in_order(rows, key):
    return [r["rank"] for r in rows] == list(range(1, len(rows) + 1)) and \
        all(key(a) <= key(b) for a, b in zip(rows, rows[1:]))


def test_every_table_is_ranked_in_its_order():
    from streams.governance.monthly import build_monthly

    events = list(synthetic_events(12, 60, seed=9, debunk_fraction=0.3))
    batch, dead = Decoder().decode([orjson.dumps(events)])
    assert not dead
    report = build_monthly(batch, "2025-12", "Asia/Shanghai")
    assert len(report.rumours) == 12 and report.debunks and report.cities and report.units

    def coverage_first(r):  # best coverage, then most exposed, then code
        return (-(r["coverage"] or 0), -r["exposed"], r["code"])

    assert _in_order(report.rumours, lambda r: (-r["exposed"], -r["shares"], r["rumour_id"]))
    assert _in_order(report.debunks, lambda d: (
        -(d["coverage"] or 0), float("inf") if d["hours_to_debunk"] is None else d["hours_to_debunk"],
        d["rumour_id"]))
    assert _in_order(report.cities, coverage_first)
    assert _in_order(report.units, coverage_first)
