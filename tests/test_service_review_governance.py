"""Defects found by the session-8 review in the governance routes (each test failed before its
fix). Shares the module server of tests/test_service_governance.py."""
from __future__ import annotations

import orjson

from tests.service_helpers import get
import tests.test_service_governance
from tests.test_service_governance import post

# The module-scoped server fixture of tests/test_service_governance.py (this module gets a server
# of its own).
env = tests.test_service_governance.env


def test_a_report_cannot_reveal_an_accounts_pseudonym(env):
    # An analyst reports jn-1's source post naming the account "hub" as reporter, then reads
    # the rumour's reports: with account pseudonyms the reporter column would be p("hub").
    url, tok, p = env["url"], env["tok"], env["service"].pseudo
    status, body = post(url + "/api/reports", tok["analyst"], {"reporter": "hub", "post_id": "jn-1-e0"})
    assert status in (200, 201) and orjson.loads(body)["rumour_id"] == "jn-1"
    # Another desk (and a liaison, who sees accounts in clear) gets the reporter's own pseudonym.
    for who in ("jinan", "liaison"):
        answer = orjson.loads(get(url + "/api/rumours/jn-1/reports", tok[who])[2])
        shown = [r["reporter"] for r in answer["reports"]]
        assert p("hub") not in shown and "hub" not in shown
        assert all(p.looks_like(r) for r in shown) and p.reporter("hub") in shown
    # The desk that submitted it sees the name it typed, never the account's pseudonym.
    answer = orjson.loads(get(url + "/api/rumours/jn-1/reports", tok["analyst"])[2])
    shown = [r["reporter"] for r in answer["reports"]]
    assert "hub" in shown and p("hub") not in shown


def test_no_status_change_without_its_audit_row(env, monkeypatch):
    def broken(rows):
        raise RuntimeError("audit log down")

    url, tok = env["url"], env["tok"]
    before = orjson.loads(get(url + "/api/rumours/jn-1/status", tok["analyst"])[2])["history"]
    monkeypatch.setattr(env["store"], "write_audit", broken)
    status, body = post(url + "/api/rumours/jn-1/status", tok["analyst"], {"status": "handled"})
    assert status == 503  # the caller is told nothing happened ...
    monkeypatch.undo()
    after = orjson.loads(get(url + "/api/rumours/jn-1/status", tok["analyst"])[2])["history"]
    assert after == before  # ... so nothing may have happened


def test_a_change_that_fails_after_its_audit_row_is_audited_twice(env, monkeypatch):
    # The row is written before the change; if the change then fails, a second row says so
    # (the trail never shows a change as made when the caller was told it failed).
    def broken(rows):
        raise RuntimeError("status table down")

    url, tok, store = env["url"], env["tok"], env["store"]
    before = store.audit_rows(limit=100_000)
    history = orjson.loads(get(url + "/api/rumours/jn-1/status", tok["analyst"])[2])["history"]
    monkeypatch.setattr(env["hub"].desk.store, "append_status", broken)
    status, _ = post(url + "/api/rumours/jn-1/status", tok["analyst"], {"status": "verified"})
    monkeypatch.undo()
    assert status == 500
    rows = store.audit_rows(limit=100_000)
    new = sorted((r for r in rows if r["audit_id"] not in {b["audit_id"] for b in before}),
                 key=lambda r: r["ts_ms"])
    assert [(r["action"], r["status"]) for r in new] == [("status_set", 201), ("status_set", 500)]
    assert all('"verified"' in r["params"] for r in new)
    # ... and the change the store refused is not shown as made either
    assert orjson.loads(get(url + "/api/rumours/jn-1/status", tok["analyst"])[2])["history"] == history
