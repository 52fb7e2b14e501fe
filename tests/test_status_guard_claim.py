"""status_guard.claim's error paths on an in-memory store (no server): whatever step fails, the
change it was making never shows as made (streams/governance/status_history.shown), so the error
the caller answers and what every worker reads agree."""
from __future__ import annotations

import pytest

from streams.governance.status_guard import claim
from streams.governance.status_history import shown

ROW = {"rumour_id": "r1", "status": "verified", "changed_by": "ann", "changed_ms": 2, "note": ""}
REPLACES = "1/received/system"


class LossyStore:
    """Keeps every status row appended; the ``fail_at``-th append (1-based) keeps its row and
    then raises, as a connection lost after the server took the block does."""

    def __init__(self, fail_at: int | None = None, fail_siblings: bool = False):
        self.rows, self.appends, self.fail_at, self.fail_siblings = [], 0, fail_at, fail_siblings

    def append_status(self, rows):
        self.appends += 1
        self.rows.extend(dict(r) for r in rows)
        if self.appends == self.fail_at:
            raise ConnectionError("connection lost after the insert")

    def status_siblings(self, rumour_id, replaces):
        if self.fail_siblings:
            raise RuntimeError("read failed")
        best = {}
        for r in self.rows:
            if r["rumour_id"] == rumour_id and r.get("replaces") == replaces:
                key = (r["changed_ms"], r["status"], r["changed_by"])
                best[key] = max(best.get(key, r), r, key=lambda x: x["outcome"])
        return list(best.values())

    def shown_changes(self):
        final = {}
        for r in self.rows:  # FINAL keeps a key's last row
            final[(r["changed_ms"], r["status"], r["changed_by"])] = r
        return shown(final.values())


def test_an_accepted_change_shows():
    store = LossyStore()
    assert claim(store, ROW, REPLACES) is None
    assert [r["changed_by"] for r in store.shown_changes()] == ["ann"]


@pytest.mark.parametrize("fail_at", [1, 2], ids=["pending insert", "accepting insert"])
def test_an_insert_that_raises_after_landing_leaves_the_change_unshown(fail_at):
    # fail_at 1: the pending row landed and its insert raised (before this mend it stayed
    # pending, alone, and showed as made although the caller answered an error).
    store = LossyStore(fail_at=fail_at)
    with pytest.raises(ConnectionError):
        claim(store, ROW, REPLACES)
    assert store.shown_changes() == []


def test_a_failed_read_back_leaves_the_change_unshown():
    store = LossyStore(fail_siblings=True)
    with pytest.raises(RuntimeError):
        claim(store, ROW, REPLACES)
    assert store.shown_changes() == []
