"""Store methods of the service on both backends: audit rows (append-only) and dashboard reads."""
from __future__ import annotations

from tests.test_store import T0, make_batch


def _row(i, case="C-1", jurisdiction="370000"):
    return {"audit_id": f"a{i:03d}", "ts_ms": T0 + i, "token_id": "t1", "token_name": "名字 'x'",
            "role": "liaison", "jurisdiction": jurisdiction, "case_id": case, "action": "trace",
            "rumour_id": "r1", "params": '{"k": "3"}', "status": 200, "answer_sha256": "ab" * 32,
            "remote": "127.0.0.1", "token_expires_ms": T0 + 30 * 86_400_000,
            # a refused request's columns (sql/019), round-tripped here on an authenticated row
            "auth_failure": "wrong_secret" if i == 4 else "", "token_fingerprint": f"{i:016x}"}


def test_audit_rows_round_trip_newest_first(store):
    rows = [_row(i) for i in range(5)] + [_row(9, case="C-2", jurisdiction="110000")]
    store.write_audit(rows[:3])
    store.write_audit(rows[3:])
    got = store.audit_rows(limit=100)
    assert [r["audit_id"] for r in got] == ["a009", "a004", "a003", "a002", "a001", "a000"]
    assert got[1] == rows[4]
    assert [r["audit_id"] for r in store.audit_rows(case_id="C-2")] == ["a009"]
    assert [r["audit_id"] for r in store.audit_rows(since_ms=T0 + 3)] == ["a009", "a004", "a003"]
    assert [r["audit_id"] for r in store.audit_rows(jurisdiction_prefix="11")] == ["a009"]
    assert len(store.audit_rows(limit=2)) == 2


def test_audit_table_is_a_plain_merge_tree(store):
    engine = store._rows(f"SELECT engine FROM system.tables WHERE database = '{store.database}' "
                         "AND name = 'audit_log'")
    assert engine == [("MergeTree",)]


def test_dashboard_reads(store):
    rows = [
        {"event_id": "e0", "rumour_id": "r1", "account_id": "src", "ts": T0, "kind": "post",
         "region": "370102", "text": "t0", "platform": "weibo"},
        {"event_id": "e1", "rumour_id": "r1", "account_id": "a1", "ts": T0 + 60_000, "parent_event_id": "e0",
         "parent_account_id": "src", "region": "370211"},
        {"event_id": "e2", "rumour_id": "r1", "account_id": "a2", "ts": T0 + 120_000, "parent_event_id": "e0",
         "parent_account_id": "src"},
        {"event_id": "e3", "rumour_id": "r1", "account_id": "a1", "ts": T0 + 180_000, "parent_event_id": "e1",
         "parent_account_id": "a1"},
        {"event_id": "d0", "rumour_id": "r1", "account_id": "gov", "ts": T0 + 240_000, "kind": "debunk",
         "region": "370102"},
        {"event_id": "x0", "rumour_id": "r2", "account_id": "z", "ts": T0, "region": "110105"},
    ]
    store.write(make_batch(rows))
    store.write(make_batch(rows[:3]))  # re-delivery must not double anything
    counts = {(r, reg, k): n for r, reg, k, n, _ in store.rumour_region_counts()}
    assert counts == {("r1", "370102", "post"): 1, ("r1", "370211", "share"): 1, ("r1", None, "share"): 2,
                      ("r1", "370102", "debunk"): 1, ("r2", "110105", "share"): 1}
    # minute resolution: "since" the minute that holds e2
    since = (T0 + 120_000) // 60_000 * 60_000
    recent = {(r, reg, k): n for r, reg, k, n, _ in store.rumour_region_counts(since_ms=since)}
    assert recent == {("r1", None, "share"): 2, ("r1", "370102", "debunk"): 1}
    assert store.top_spreaders("r1") == [("src", 2, 2), ("a1", 1, 1)]
    details = store.event_details("r1", ["e0", "e1", "nope", "x0"])
    assert details == {"e0": ("weibo", "370102", "t0"), "e1": (None, "370211", None)}
    assert store.event_details("r1", []) == {}
    assert store.rumour_accounts("r1") == ["a1", "a2", "gov", "src"]
    assert store.rumour_accounts("x' OR 1=1 --") == []
