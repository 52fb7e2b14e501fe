"""Rows an older release left in its store, for tests/test_upgrade.py: a database migrated up to a
cut point (the project's own files up to it), then filled through raw INSERTs of the columns that
schema has (the store code of that time is gone, its columns are not): hand-made rows for the
tables the current queries read, and one valid row, built from ``system.columns``, in every other
table a writer fills (a view's target is left to its view, as in a real deployment)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import sql
from sql import queries

T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC: the old rows' time (epoch ms)
OLD = "r-old"  # the rumour the old release stored
# the summary row of refused requests (streams/service/probes.py): 3 refusals, by reason
SUMMARY_PARAMS = '{"suppressed":3,"reasons":{"expired":1,"unknown":2}}'


def copy_cut(tmp_path: Path, cut: int) -> Path:
    """A folder holding the project's migration files up to version ``cut`` (unchanged)."""
    folder = tmp_path / f"sql_upto_{cut:03d}"
    folder.mkdir()
    for m in sql.load_migrations():
        if m.version <= cut:
            shutil.copy(sql.SQL_DIR / f"{m.name}.sql", folder)
    return folder


def due_names(store, after: int) -> list[str]:
    """The files a migration from ``after`` applies on this engine (gated ones need its version)."""
    version = sql.parse_version(store._rows("SELECT version()")[0][0])
    return [m.name for m in sql.load_migrations()
            if m.version > after and (m.requires is None or version >= m.requires)]


def view_targets() -> set:
    """Tables a materialized view of the project's files writes (their rows come from views)."""
    return {t for m in sql.load_migrations()
            for t in re.findall(r"\bTO \{database\}\.(\w+)", m.text)}


def columns(store) -> dict:
    """table -> [(column, type, default_kind)] of the store's database, in table order."""
    out: dict = {}
    for table, name, kind, default_kind in store._rows(
            "SELECT table, name, type, default_kind FROM system.columns "
            f"WHERE database = '{store.database}' ORDER BY table"):
        out.setdefault(table, []).append((name, kind, default_kind))
    return out


def engines(store) -> dict:
    return dict(store._rows(f"SELECT name, engine FROM system.tables WHERE database = '{store.database}'"))


def _literal(name: str, kind: str) -> str | None:
    """A valid value of type ``kind`` as SQL (None: a type no writer fills, an aggregate state)."""
    inner = kind
    while True:
        m = re.match(r"^(?:Nullable|LowCardinality)\((.*)\)$", inner)
        if not m:
            break
        inner = m.group(1)
    if inner.startswith("AggregateFunction"):
        return None
    if inner.startswith("Enum"):
        value = re.search(r"'((?:[^'\\]|\\.)*)'", inner).group(1)
        return f"CAST('{value}' AS {kind})"
    if inner == "String":
        return f"CAST('old {name}' AS {kind})"
    if inner.startswith("DateTime"):
        return f"CAST(toDateTime({T0 // 1000}, 'UTC') AS {kind})"
    if re.match(r"^U?Int\d+$", inner):
        return f"CAST({T0 if name.endswith('_ms') else 7} AS {kind})"
    if inner.startswith("Float"):
        return f"CAST(0.5 AS {kind})"
    raise AssertionError(f"no test value for a column of type {kind} ({name}): add one")


def insert(store, table: str, present: list, row: dict) -> None:
    """One raw ``INSERT ... SELECT`` of ``row``'s values for the columns ``table`` has (the
    others are what a newer release added: an old writer did not send them)."""
    types = {c: kind for c, kind, _ in present}
    cols = [c for c in row if c in types]
    # each value CAST to its column's type: 18.16 converts no String to an Enum8 on its own
    values = ", ".join("CAST({} AS {})".format(
        queries.quote(row[c]) if isinstance(row[c], str) else "NULL" if row[c] is None else repr(row[c]),
        types[c]) for c in cols)
    store._command(f"INSERT INTO {store.database}.{table} ({', '.join(cols)}) SELECT {values}")


def packed(event_id, rumour_id, account_id, parent_event_id, parent_account_id, kind, platform, region) -> str:
    """share_event_rows.fields (sql/005) of an event with a text."""
    code = kind * 32
    for bit, value in ((1, parent_event_id), (2, parent_account_id), (4, platform), (8, region)):
        code |= bit if value is None else 0
    return "\0".join([event_id, rumour_id, account_id, parent_event_id or "", parent_account_id or "",
                      platform or "", region or "", str(code)])


MEANINGFUL = {
    "share_events": [
        dict(event_id="e1", rumour_id=OLD, account_id="a1", ts_ms=T0, parent_event_id=None,
             parent_account_id=None, kind="post", platform="weibo", region="4401", text="the source post"),
        dict(event_id="e2", rumour_id=OLD, account_id="a2", ts_ms=T0 + 60_000, parent_event_id="e1",
             parent_account_id="a1", kind="share", platform="weibo", region="4403", text=None),
    ],
    # clickhouse-server's writer sent this packed form from sql/005 on (its views fill share_events)
    "share_event_rows": [
        dict(fields=packed("e3", OLD, "a3", "e2", "a2", 1, "weibo", "4401"), text="", ts_ms=T0 + 120_000),
    ],
    "dead_letters": [
        dict(received_ms=T0, source="old.jsonl:7", reason="ts: not RFC 3339: 'yesterday'",
             rumour_id=OLD, event_id="e9", raw="{\"ts\": \"yesterday\"}"),
    ],
    "audit_log": [
        dict(audit_id="au1", ts_ms=T0, token_id="t1", token_name="liaison", role="liaison",
             jurisdiction="4401", case_id="case-1", action="trace", rumour_id=OLD, params="{}",
             status=200, answer_sha256="ab" * 32, remote="10.0.0.1", token_expires_ms=T0 + 86_400_000,
             auth_failure="", token_fingerprint=""),
        dict(audit_id="au2", ts_ms=T0 + 1000, token_id="", token_name="", role="", jurisdiction="",
             case_id="", action="trace", rumour_id="", params="{}", status=401, answer_sha256="",
             remote="10.0.0.2", token_expires_ms=-1, auth_failure="unknown", token_fingerprint="0123456789abcdef",
             _needs="auth_failure"),
        dict(audit_id="au3", ts_ms=T0 + 2000, token_id="", token_name="", role="", jurisdiction="",
             case_id="", action="unauthenticated", rumour_id="", params=SUMMARY_PARAMS, status=401,
             answer_sha256="", remote="", token_expires_ms=-1, auth_failure="suppressed", token_fingerprint="",
             _needs="auth_failure"),
    ],
    "public_reports": [
        dict(report_id="rep1", reporter="citizen", post_id="e1", link="", text="this is false",
             report_ms=T0 + 5000, received_ms=T0 + 6000, region="Guangzhou", region_code="4401",
             rumour_id=OLD, link_method="event_id", similarity=1.0, duplicate_of="", source="http",
             client_report_id="desk-1", linked_by="", linked_ms=0, link_note=""),
        dict(report_id="rep2", reporter="citizen2", post_id="", link="", text="something else",
             report_ms=T0 + 7000, received_ms=T0 + 8000, region="Shenzhen", region_code="4403",
             rumour_id="", link_method="none", similarity=0.0, duplicate_of="", source="http",
             client_report_id="", linked_by="", linked_ms=0, link_note=""),
    ],
    "rumour_status_history": [
        dict(rumour_id=OLD, status="received", changed_by="system", changed_ms=T0 + 5000, note=""),
        dict(rumour_id=OLD, status="verified", changed_by="analyst", changed_ms=T0 + 9000, note="checked"),
    ],
    "alerts": [
        dict(alert_id="al1", rumour_id=OLD, unit="4401", level="warning", rule="growth", minute_ms=T0,
             minute_shares=2, window_shares=3, previous_window_shares=0,
             detail='{"alert_id":"al1","rumour_id":"r-old","unit":"4401","rule":"growth"}'),
    ],
}


def fill(store) -> dict:
    """Write the old release's rows into ``store`` (a database migrated to some cut point);
    returns what was written: table -> the rows (as dicts of the columns it has)."""
    cols = columns(store)
    kinds = engines(store)
    derived = view_targets()
    cluster = store.cluster is not None
    written = {}
    for table, present in cols.items():
        if table == "schema_migrations" or kinds.get(table) == "MaterializedView":
            continue
        if cluster and table.endswith("_local"):
            continue  # written through its Distributed table
        if table in MEANINGFUL:
            names = {n for n, _, _ in present}
            # a row with _needs is one that releases before that column never wrote (a refusal)
            rows = [{c: v for c, v in r.items() if c in names} for r in MEANINGFUL[table]
                    if r.get("_needs", next(iter(names))) in names]
            for row in rows:
                insert(store, table, present, row)
            written[table] = rows
            continue
        if table in derived:
            continue
        values = {}
        for name, kind, default_kind in present:
            if default_kind:  # a DEFAULT / MATERIALIZED column: writers never sent it
                continue
            literal = _literal(name, kind)
            if literal is None:
                break
            values[name] = literal
        else:
            store._command(f"INSERT INTO {store.database}.{table} ({', '.join(values)}) "
                           f"SELECT {', '.join(values.values())}")
            written[table] = [values]
    return written
