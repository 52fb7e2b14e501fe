"""Grafana reads ClickHouse as a read-only user (deploy/clickhouse/users.d/grafana.xml): the files
agree with each other and with the dashboard, the user is granted aggregates only (no table with
an account id, a payload or a case id), and an 18.16 server loading the same user (its grants
replaced by the database restriction 18.16 knows) lets it SELECT and refuses writes."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, unavailable
from tests.service_helpers import free_port
from tests.test_service_grafana import _expand, dashboard_queries

USERS_D = PROJECT_ROOT / "deploy" / "clickhouse" / "users.d" / "grafana.xml"
DATASOURCE = PROJECT_ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "clickhouse.yaml"
_GRANT = re.compile(r"^GRANT SELECT ON (\w+)\.(\w+)$")


def _yaml(path):
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _user():
    root = ET.parse(USERS_D).getroot()
    (user,) = list(root.find("users"))
    return root, user


def _dashboard_tables() -> set[tuple[str, str]]:
    found = set()
    for q in dashboard_queries().values():
        found |= set(re.findall(r"\b(?:FROM|JOIN)\s+(\w+)\.(\w+)", q, re.I))
    return found


def _granted() -> set[tuple[str, str]]:
    _, user = _user()
    out = set()
    for q in user.find("grants"):
        match = _GRANT.match(q.text.strip())
        assert match, f"not a plain SELECT grant on one table: {q.text!r}"
        out.add(match.groups())
    return out


# On the cluster of docker-compose.yml each table X is Distributed over X_local, and a read runs
# the local shard's part as the querying user: X_local is granted beside X (on one server it
# does not exist and the grant gives nothing).
LOCAL = "_local"


def _tables() -> set[tuple[str, str]]:
    """The granted tables as one server names them (the grants without the X_local ones)."""
    return {(db, t) for db, t in _granted() if not t.endswith(LOCAL)}


def test_each_table_is_granted_with_its_local_part_and_nothing_else():
    granted = _granted()
    assert granted == _tables() | {(db, t + LOCAL) for db, t in _tables()}, granted


def test_users_file_is_well_formed_and_read_only():
    text = USERS_D.read_text(encoding="utf-8")
    for comment in re.findall(r"<!--(.*?)-->", text, re.S):
        assert "--" not in comment  # ClickHouse refuses the whole file for one
    root, user = _user()
    profile = root.find(f"profiles/{user.findtext('profile')}")
    assert profile is not None and profile.findtext("readonly") in ("1", "2")
    password = user.find("password")
    assert password.get("from_env") and not (password.text or "").strip()
    # ClickHouse refuses a user with grants beside these (the server would not start)
    for refused in ("allow_databases", "allow_dictionaries", "access_management", "named_collection_control"):
        assert user.find(refused) is None, refused
    assert _granted()


def test_every_table_the_dashboard_reads_is_granted_and_nothing_else():
    tables = _dashboard_tables()
    assert len(tables) >= 3
    assert _tables() == tables


# Tables that hold account ids (share_events, public_reports' reporter), dead letters' payloads
# or who traced what (audit_log): Grafana reads without jurisdiction checks or an audit row.
IDENTIFYING_TABLES = {"share_events", "share_event_rows", "dead_letters", "audit_log", "public_reports",
                      "alerts", "rumour_status_history"}
# Every column a granted table may have: counts and what they are counted by. A new column on a
# granted table fails here until someone has checked it holds no id, payload or case.
AGGREGATE_COLUMNS = {"rumour_id", "minute", "region", "kind", "shares",  # share_minute_counts
                     "hour", "reason_kind", "letters", "latest",  # dead_letter_hour_counts
                     "action", "status", "queries",  # audit_hour_counts
                     "reason", "refusal", "requests"}  # audit_hour_refusals


def test_grants_name_no_table_that_holds_identities():
    granted = {table.removesuffix(LOCAL) for _, table in _granted()}  # share_events_local too
    assert not granted & IDENTIFYING_TABLES, granted & IDENTIFYING_TABLES
    # nor any grant that is wider than one table (a database, *, ALL)
    _, user = _user()
    for q in user.find("grants"):
        assert not re.search(r"\*|\bALL\b|\bON\s+\w+\s*$", q.text.strip(), re.I), q.text


def test_granted_tables_hold_only_aggregate_columns(chdb_store):
    rows = chdb_store._rows(f"SELECT table, name, type FROM system.columns "
                            f"WHERE database = '{chdb_store.database}'")
    columns = {}
    for table, name, typ in rows:
        columns.setdefault(table, {})[name] = typ
    for _, table in _tables():
        assert set(columns[table]) <= AGGREGATE_COLUMNS, (table, set(columns[table]) - AGGREGATE_COLUMNS)
        # the per-row keys (event ids, audit ids, dead letters' keys) are there only as
        # aggregate states, which give back counts, never the keys themselves
        for name, typ in columns[table].items():
            if name in ("shares", "letters", "queries"):
                assert typ.startswith("AggregateFunction(uniqExact"), (table, name, typ)
            if name == "refusal":  # a hash of a refusal row's audit id, not the id
                assert typ == "UInt64", (table, name, typ)
    # and every identifying table really is in the schema (a renamed one would slip past)
    assert IDENTIFYING_TABLES <= set(columns)


def test_granted_tables_exist_in_the_schema_and_grants_parse(chdb_store):
    names = {r[0] for r in chdb_store._rows(
        f"SELECT name FROM system.tables WHERE database = '{chdb_store.database}'")}
    _, user = _user()
    for database, table in _tables():
        assert table in names, table
    for q in user.find("grants"):
        # the server parses each as a GRANT without grantee; formatQuery is the same parser (26.x)
        statement = q.text.strip() + " TO " + user.tag
        assert chdb_store._rows(f"SELECT formatQuery('{statement}')") == [(statement,)]


def test_grafana_uses_that_user_not_the_workers():
    compose = _yaml(PROJECT_ROOT / "docker-compose.yml")
    services = compose["services"]
    (source,) = _yaml(DATASOURCE)["datasources"]
    _, user = _user()
    env_name = user.find("password").get("from_env")
    worker_url = services["worker"]["environment"]["RUMOUR_CLICKHOUSE_URL"]
    worker_user = re.match(r"clickhouse://([^:@/]+)", worker_url).group(1)
    assert source["jsonData"]["username"] == user.tag == "grafana" != worker_user
    assert source["secureJsonData"]["password"] == "$" + env_name
    assert {db for db, _ in _granted()} == {source["jsonData"]["defaultDatabase"]}
    # The password reaches every ClickHouse node and Grafana from the deployer's environment,
    # required like the others.
    clickhouse_nodes = [name for name, s in services.items()
                        if s.get("image", "").startswith("clickhouse/clickhouse-server:")]
    assert len(clickhouse_nodes) >= 2
    for name in [*clickhouse_nodes, "grafana"]:
        value = services[name]["environment"][env_name]
        assert value == "${%s:?set %s}" % (env_name, env_name), (name, value)
    # Grafana's container never holds the workers' password.
    assert not any("RUMOUR_CLICKHOUSE_PASSWORD" in str(v) for v in services["grafana"]["environment"].values())
    assert "RUMOUR_CLICKHOUSE_PASSWORD" not in services["grafana"]["environment"]
    for name in clickhouse_nodes:
        mounts = services[name]["volumes"]
        assert f"./{USERS_D.relative_to(PROJECT_ROOT)}:/etc/clickhouse-server/users.d/grafana.xml:ro" in mounts


# ---- the same user on a private clickhouse-server 18.16 -----------------------------------------
def _users_file_for_18_16(target: Path) -> None:
    """The production file with its grants swapped for ``allow_databases``: 18.16 has no
    table grants, and the rest (readonly profile, password from the environment) is the same."""
    tree = ET.parse(USERS_D)
    root = tree.getroot()
    root.tag = "yandex"  # 18.16's root element
    user = root.find("users/grafana")
    databases = {db for db, _ in _granted()}
    user.remove(user.find("grants"))
    allow = ET.SubElement(user, "allow_databases")
    for db in sorted(databases):
        ET.SubElement(allow, "database").text = db
    target.parent.mkdir(parents=True, exist_ok=True)
    tree.write(target)


@pytest.fixture(scope="module")
def private_server():
    if shutil.which("clickhouse-server") is None and not Path("/usr/sbin/clickhouse-server").exists():
        unavailable("clickhouse-server binary")
    shm = Path("/dev/shm")
    run_dir = (shm if shm.is_dir() else Path("/tmp")) / f"rt_grafana_{uuid.uuid4().hex[:12]}"
    _users_file_for_18_16(run_dir / "clickhouse" / "users.d" / "grafana.xml")
    _, user = _user()
    password = "pw " + uuid.uuid4().hex  # a space: the value is passed through, not split
    env = {**os.environ, "RUMOUR_RUN_DIR": str(run_dir), "RUMOUR_CLICKHOUSE_PORT": str(free_port()),
           "RUMOUR_CLICKHOUSE_HTTP_PORT": str(free_port()), user.find("password").get("from_env"): password}
    script = PROJECT_ROOT / "scripts" / "services" / "clickhouse.sh"
    started = subprocess.run(["bash", str(script), "start"], env=env, capture_output=True, text=True, timeout=120)
    try:
        if started.returncode != 0:
            unavailable(f"a private clickhouse-server ({started.stderr[-500:]})")
        yield {"port": int(env["RUMOUR_CLICKHOUSE_PORT"]), "password": password}
    finally:
        subprocess.run(["bash", str(script), "stop"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def loaded(private_server):
    """Database ``rumour`` migrated and holding a few rows (written as the default user), and
    a table in another database."""
    from clickhouse_driver import Client

    from streams.events import DeadLetter
    from streams.store.clickhouse import ClickHouseStore
    from tests.test_store import T0, make_batch

    (database,) = {db for db, _ in _granted()}
    store = ClickHouseStore(f"clickhouse://127.0.0.1:{private_server['port']}/{database}", database=database)
    store.migrate()
    store.write(make_batch([
        {"event_id": "e0", "rumour_id": "r1", "account_id": "a", "ts": T0, "region": "370102", "kind": "post"},
        {"event_id": "e1", "rumour_id": "r1", "account_id": "b", "ts": T0 + 1, "parent_event_id": "e0",
         "parent_account_id": "a", "region": "370211"},
    ]), [DeadLetter(b'{"ts": 5}', "ts: 5 is before 2000-01-01", "f:1", T0)])
    store.write_audit([{"audit_id": "x1", "ts_ms": T0, "token_id": "t", "token_name": "n", "role": "admin",
                        "jurisdiction": "000000", "case_id": "", "action": "trace", "rumour_id": "r1",
                        "params": "{}", "status": 200, "answer_sha256": "", "remote": "",
                        "token_expires_ms": 0},
                       {"audit_id": "x2", "ts_ms": T0 + 1, "token_id": "", "token_name": "", "role": "",
                        "jurisdiction": "", "case_id": "", "action": "trace", "rumour_id": "", "params": "{}",
                        "status": 401, "answer_sha256": "", "remote": "", "token_expires_ms": -1,
                        "auth_failure": "missing", "token_fingerprint": ""}])
    store._command("CREATE DATABASE IF NOT EXISTS other")
    store._command("CREATE TABLE IF NOT EXISTS other.t (a UInt8) ENGINE = Memory")
    store.close()
    admin = Client("127.0.0.1", port=private_server["port"])
    grafana = Client("127.0.0.1", port=private_server["port"], user="grafana",
                     password=private_server["password"], database=database)
    yield {"admin": admin, "grafana": grafana, "database": database, **private_server}
    grafana.disconnect()
    admin.disconnect()


def _counts(client, database):
    return {t: client.execute(f"SELECT count() FROM {database}.{t}")[0][0] for _, t in sorted(_tables())}


def test_grafana_user_runs_every_dashboard_query(loaded):
    results = {}
    for title, q in dashboard_queries().items():
        # max_execution_time: what the Grafana data source sets on every query
        results[title] = loaded["grafana"].execute(_expand(q, loaded["database"]),
                                                   settings={"max_execution_time": 30})
    by_prefix = lambda prefix: next(v for k, v in results.items() if k.startswith(prefix))  # noqa: E731
    assert by_prefix("Shares by province") == [("370000", 2)]
    assert [(kind, n) for kind, n, _ in by_prefix("Dead letters")] == [("ts", 1)]
    # the refused trace request (no token) is counted apart from the served one
    assert [(action, n) for _, action, n in by_prefix("Served requests")] == [("trace", 1)]
    assert [(reason, n) for _, reason, n in by_prefix("Refused requests")] == [("missing", 1)]


@pytest.mark.parametrize("statement", [
    "INSERT INTO {db}.audit_log (audit_id, ts_ms) VALUES",
    "ALTER TABLE {db}.audit_log DELETE WHERE 1",
    "TRUNCATE TABLE {db}.audit_log",
    "DROP TABLE {db}.share_events",
    "CREATE TABLE {db}.sneaky (a UInt8) ENGINE = Memory",
    "SET readonly = 0",
    "SELECT count() FROM other.t",
])
def test_grafana_user_cannot_write_drop_or_leave_its_database(loaded, statement):
    from clickhouse_driver import errors

    before = _counts(loaded["admin"], loaded["database"])
    sql = statement.format(db=loaded["database"])
    with pytest.raises(errors.ServerException) as refused:
        if sql.startswith("INSERT"):
            loaded["grafana"].execute(sql, [("forged", 1)])
        else:
            loaded["grafana"].execute(sql)
    assert refused.value.code in (164, 291), refused.value  # READONLY, DATABASE_ACCESS_DENIED
    assert _counts(loaded["admin"], loaded["database"]) == before


def test_grafana_user_needs_its_password(loaded):
    from clickhouse_driver import Client, errors

    for wrong in ("", "not-it", loaded["password"].upper()):
        client = Client("127.0.0.1", port=loaded["port"], user="grafana", password=wrong)
        with pytest.raises(errors.ServerException) as refused:
            client.execute("SELECT 1")
        assert refused.value.code in (193, 194, 516)  # wrong / required password, auth failed
        client.disconnect()
