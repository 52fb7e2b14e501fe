"""Audit rows carry the expiry of the token that made the request (sql/013_audit_token_expiry.sql):
written by the service, read back by the store and ``GET /api/audit``; rows older than the
column read back "not recorded". On chDB and on clickhouse-server 18.16 (the ``store`` fixture)."""
from __future__ import annotations

import orjson
import pytest

import sql
from sql import queries
from streams.service import audit
from streams.service.access import Principal
from tests.service_helpers import ThreadServer, cascades, get
from tests.test_sql import due_migrations

DAY_MS = 86_400_000
OLD_COLUMNS = ("audit_id", "ts_ms", "token_id", "token_name", "role", "jurisdiction", "case_id",
               "action", "rumour_id", "params", "status", "answer_sha256", "remote")  # before 013


def _row(audit_id, ts_ms, **extra):
    return {"audit_id": audit_id, "ts_ms": ts_ms, "token_id": "t1", "token_name": "n", "role": "liaison",
            "jurisdiction": "370000", "case_id": "C-1", "action": "trace", "rumour_id": "r1",
            "params": "{}", "status": 200, "answer_sha256": "", "remote": "", **extra}


def _by_id(store):
    return {r["audit_id"]: r for r in store.audit_rows(limit=1000)}


def test_store_round_trips_the_expiry_and_its_two_markers(store):
    expires = 1_800_000_000_123  # ms precision survives (a DateTime column would drop the 123)
    store.write_audit([_row("a1", 1, token_expires_ms=expires),
                       _row("a2", 2, token_expires_ms=queries.AUDIT_EXPIRY_NEVER),
                       _row("a3", 3)])  # a caller that does not know the column
    got = _by_id(store)
    assert got["a1"]["token_expires_ms"] == expires
    assert got["a2"]["token_expires_ms"] == 0
    assert got["a3"]["token_expires_ms"] == queries.AUDIT_EXPIRY_UNRECORDED
    # The column is Int64 on both servers, so SQL can compare it with ts_ms.
    typ = store._rows(f"SELECT type FROM system.columns WHERE database = '{store.database}' "
                      "AND table = 'audit_log' AND name = 'token_expires_ms'")
    assert typ == [("Int64",)]


def test_rows_written_before_the_migration_read_back_not_recorded(store, monkeypatch):
    # Rebuild the database as it was before 013, and write a row the way the code then did.
    store.drop()
    before = [m for m in sql.load_migrations() if m.version < 13]
    sql.migrate(store._execute, store.database, migrations=before)
    monkeypatch.setattr(queries, "AUDIT_COLUMNS", OLD_COLUMNS)
    store.write_audit([_row("old", 1)])
    cols = store._rows(f"SELECT name FROM system.columns WHERE database = '{store.database}' "
                       "AND table = 'audit_log'")
    assert ("token_expires_ms",) not in cols
    monkeypatch.undo()

    # every later file this engine applies (a version-gated one, such as 018, only from its version)
    assert store.migrate() == [m.name for m in due_migrations(store) if m.version >= 13]
    store.write_audit([_row("new", 2, token_expires_ms=5 * DAY_MS)])
    got = _by_id(store)
    assert got["old"]["token_expires_ms"] == queries.AUDIT_EXPIRY_UNRECORDED
    assert got["new"]["token_expires_ms"] == 5 * DAY_MS
    assert audit.readable([got["old"]])[0]["token_expires"] == "not recorded"
    # and migrating again leaves the rows as they are
    assert store.migrate() == []
    assert _by_id(store)["old"]["token_expires_ms"] == queries.AUDIT_EXPIRY_UNRECORDED


def test_old_code_writing_into_a_migrated_table_records_not_recorded(store, monkeypatch):
    # During a rolling upgrade a process older than 013 still writes 13 columns: its rows must
    # not claim "never".
    monkeypatch.setattr(queries, "AUDIT_COLUMNS", OLD_COLUMNS)
    store.write_audit([_row("from-old-code", 1)])
    monkeypatch.undo()
    assert _by_id(store)["from-old-code"]["token_expires_ms"] == queries.AUDIT_EXPIRY_UNRECORDED


def test_row_takes_the_principals_expiry():
    p = Principal("0123456789ab", "ann", "liaison", "370100", expires_ms=1_800_000_000_000)
    assert audit.row(p, "trace", "r", "C", {}, 200, "")["token_expires_ms"] == 1_800_000_000_000
    never = Principal("0123456789ab", "ann", "liaison", "370100")
    assert audit.row(never, "trace", "r", "C", {}, 200, "")["token_expires_ms"] == queries.AUDIT_EXPIRY_NEVER
    assert set(audit.row(p, "trace", "r", "C", {}, 200, "")) == set(queries.AUDIT_COLUMNS)


@pytest.fixture
def served(store, tmp_path):
    from streams.embedded import replay_events
    from streams.service.http import Service
    from streams.service.tokens import TokenStore, expiry_ms
    from streams.settings import Settings

    pipeline, _ = replay_events(cascades(), store, Settings.load({"batch_size": 5}))
    service = Service(pipeline, store, tmp_path / "tokens.json", cutoff_k=5)
    server = ThreadServer(service.application())
    ts = TokenStore(tmp_path / "tokens.json")
    now = ts.now_ms()
    expires = expiry_ms(now, days=30)
    tok = {"expiring": ts.issue("liaison", "370000", "expiring", expires_ms=expires, now_ms=now)[0],
           "forever": ts.issue("liaison", "370000", "forever")[0],
           "admin": ts.issue("admin", "370000", "admin")[0]}
    yield {"url": server.url, "tok": tok, "store": store, "expires": expires}
    server.close()


def _trace(env, who, case):
    status, _, body = get(f"{env['url']}/api/rumours/jn-1/trace", env["tok"][who], case=case)
    assert status == 200, body


def test_a_trace_records_its_tokens_expiry_and_the_audit_route_shows_it(served):
    env = served
    _trace(env, "expiring", "C-EXP")
    _trace(env, "forever", "C-NEV")
    rows = {r["case_id"]: r for r in env["store"].audit_rows(limit=100)}
    assert rows["C-EXP"]["token_expires_ms"] == env["expires"]
    assert rows["C-NEV"]["token_expires_ms"] == queries.AUDIT_EXPIRY_NEVER

    status, _, body = get(env["url"] + "/api/audit?limit=100", env["tok"]["admin"])
    assert status == 200
    shown = {r["case_id"]: r for r in orjson.loads(body)["rows"]}
    assert shown["C-EXP"]["token_expires_ms"] == env["expires"]
    assert shown["C-NEV"]["token_expires"] == "never"
    # The same words /api/me gives the token's holder.
    _, _, me = get(env["url"] + "/api/me", env["tok"]["expiring"])
    assert shown["C-EXP"]["token_expires"] == orjson.loads(me)["expires_at"]
    # A court's question in SQL: no row was made by a token already expired at the time.
    lapsed = env["store"]._rows(f"SELECT count() FROM {env['store'].database}.audit_log "
                                "WHERE token_expires_ms > 0 AND token_expires_ms <= ts_ms")
    assert lapsed == [(0,)]


def test_an_evidence_package_names_the_tokens_expiry_like_its_audit_row(served):
    import io
    import zipfile

    env = served
    status, _, body = get(f"{env['url']}/api/rumours/jn-1/evidence?case=C-PKG", env["tok"]["expiring"])
    assert status == 200
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        generated_by = orjson.loads(z.read("evidence.json"))["generated_by"]
        report = z.read("report.html").decode("utf-8")
    row = next(r for r in env["store"].audit_rows(limit=100) if r["case_id"] == "C-PKG")
    words = audit.expiry_label(row["token_expires_ms"])
    assert row["token_expires_ms"] == env["expires"]
    assert generated_by["token_expires"] == words != "never"
    assert f"valid until {words}" in report
