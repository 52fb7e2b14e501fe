"""Trace answers as the CLI and the web API print them (the contract of `rumour trace --json`)."""
from __future__ import annotations

from streams.events import format_ts


def trace_answer(graph, k: int = 10) -> dict:
    """One rumour's answer: ``{"rumour_id", "events", "origins": [...], "cutoff": [...]}``.

    Origins are ranked most likely first, each ``{"account_id", "event_id", "ts", "reach"}``
    (``ts`` RFC 3339 UTC, or null for an origin known only from its children); cut-off accounts
    (origins excluded) are ranked by the shares each would have prevented.
    """
    raw = graph.trace(k)
    origins = []
    for o in raw["origins"]:
        ts_ms = o.get("ts_ms")
        origins.append({
            "account_id": o["account_id"],
            "event_id": o["event_id"],
            "ts": None if ts_ms is None else format_ts(int(ts_ms)),
            "reach": int(o["reach"]),
        })
    cutoff = [{"account_id": c["account_id"], "prevented": int(c["prevented"])} for c in raw["cutoff"]]
    return {"rumour_id": raw["rumour_id"], "events": int(raw["events"]),
            "origins": origins, "cutoff": cutoff}


def chain_answer(hops) -> list[dict]:
    """An evidence chain (event first, origin last) as JSON-ready hops."""
    return [{"event_id": h.event_id, "account_id": h.account_id,
             "ts": None if h.ts_ms is None else format_ts(int(h.ts_ms)),
             "observed": bool(h.observed)} for h in hops]
