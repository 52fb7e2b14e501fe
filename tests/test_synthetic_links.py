"""The synthetic streams' events link as the v1 format says: every parent is an earlier event
of the same cascade (shares under shares, debunks under debunks), a share's parent account is
its parent's account, and debunks name no parent account."""
from __future__ import annotations

from streams.events import validate_event
from streams.synthetic import REGIONS, synthetic_events


def test_links_accounts_and_kinds_are_consistent():
    for seed in (0, 3):
        events = list(synthetic_events(3, 80, seed=seed, debunk_fraction=0.5, prefix=f"s{seed}"))
        by_id = {}
        for e in events:
            validate_event(e)
            assert e["region"] in REGIONS and e["platform"] == "weibo" and e["text"] is None
            tag = "d" if e["kind"] == "debunk" else "e"
            assert e["event_id"].startswith(f"{e['rumour_id']}-{tag}")
            parent = e["parent_event_id"]
            if parent is None:
                assert e["kind"] in ("post", "debunk") and e["parent_account_id"] is None
            else:
                p = by_id[parent]  # seen before: parents come first
                assert p["rumour_id"] == e["rumour_id"] and p["ts"] <= e["ts"]
                assert (p["kind"] == "debunk") == (e["kind"] == "debunk")
                expected = None if e["kind"] == "debunk" else p["account_id"]
                assert e["parent_account_id"] == expected
            by_id[e["event_id"]] = e
        kinds = [e["kind"] for e in events]
        assert kinds.count("post") == 3 and kinds.count("debunk") == 3 * 40
