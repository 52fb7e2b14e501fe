"""Grafana provisioning: valid YAML/JSON, the data source the panels name, and every panel's SQL
runs against the schema (on clickhouse-server 18.16 and chDB, with Grafana's macros expanded) and
gives the numbers the raw tables give, without an account id, a payload or a case id."""
from __future__ import annotations

import json
import re

import orjson
import pytest

from streams.decoder import Decoder
from streams.events import DeadLetter, EventBatch
from tests.conftest import PROJECT_ROOT
from tests.test_store import T0, make_batch

GRAFANA = PROJECT_ROOT / "deploy" / "grafana"
HOUR_MS = 3_600_000


def _dashboard():
    return json.loads((GRAFANA / "dashboards" / "rumour-trace.json").read_text(encoding="utf-8"))


def dashboard_queries(dash=None) -> dict[str, str]:
    """Every SQL text of the dashboard by panel title (text panels have none), and the template
    variables' queries by variable name."""
    dash = dash or _dashboard()
    out = {p["title"]: t["rawSql"] for p in dash["panels"] for t in p.get("targets", ())}
    out.update({v["name"]: v["query"] for v in dash["templating"]["list"]})
    return out


def _panel_sql(prefix: str) -> str:
    (sql,) = [q for title, q in dashboard_queries().items() if title.startswith(prefix)]
    return sql


def test_provisioning_files_parse_and_agree():
    # PyYAML is not a declared dependency yet (see the report): skip rather than fail without it.
    yaml = pytest.importorskip("yaml")
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "clickhouse.yaml").read_text())
    (source,) = ds["datasources"]
    assert source["type"] == "grafana-clickhouse-datasource"
    prov = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "rumour.yaml").read_text())
    assert prov["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    dash = _dashboard()
    assert dash["panels"]
    for panel in dash["panels"]:
        if panel["type"] == "text":  # no query, no data source
            assert "targets" not in panel and panel["options"]["content"]
            continue
        assert panel["datasource"]["uid"] == source["uid"]
        assert panel["targets"]
        for t in panel["targets"]:
            assert t["datasource"]["uid"] == source["uid"]
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert any(m.startswith("./deploy/grafana/provisioning:") for m in mounts)


def test_the_deployment_pins_every_image_and_plugin():
    # A production deployment that pulls "latest" changes under its users on the next restart.
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        if "image" in service and "build" not in service:  # our own image is built from this tree
            image = service["image"]
            assert re.fullmatch(r"[\w./-]+:[\w.-]*\d[\w.-]*", image) and not image.endswith(":latest"), (name, image)
    plugins = compose["services"]["grafana"]["environment"]["GF_PLUGINS_PREINSTALL"].split(",")
    assert plugins and all(re.fullmatch(r"[\w-]+@\d+\.\d+\.\d+", p.strip()) for p in plugins), plugins


def _expand(sql: str, database: str) -> str:
    sql = re.sub(r"\$__timeFilter\((\w+)\)", r"\1 >= toDateTime(0)", sql)
    sql = sql.replace("${rumour:singlequote}", "'r1'")
    return sql.replace("rumour.", database + ".")


# Dead letters: re-delivered copies (same source, reason and bytes) arrive an hour later; one
# reason quotes the input after its first ':'.
_DEAD = [
    DeadLetter(b"{", "invalid JSON: unexpected end", "f.jsonl:1", T0),
    DeadLetter(b'{"ts": 5}', "ts: 5 is before 2000-01-01", "f.jsonl:2", T0 + 1_000),
    DeadLetter(b'{"ts": "x"}', "ts: not RFC 3339: 'x'", "f.jsonl:3", T0 + 2_000, "r1", "e9"),
    DeadLetter(b'{"e": 1}', "parent in another rumour", "pipeline", T0 + 3_000, "r1", "e8"),
]
_REDELIVERED = [DeadLetter(d.raw, d.reason, d.source, d.received_ms + HOUR_MS, d.rumour_id, d.event_id)
                for d in _DEAD[1:3]]


def _audit(audit_id, ts_ms, action="trace", status=200, **extra):
    return {"audit_id": audit_id, "ts_ms": ts_ms, "token_id": "tok-1", "token_name": "ann", "role": "liaison",
            "jurisdiction": "370000", "case_id": "C-1", "action": action, "rumour_id": "r1", "params": "{}",
            "status": status, "answer_sha256": "", "remote": "", "token_expires_ms": 0, **extra}


_AUDIT = [_audit("q1", T0), _audit("q2", T0 + 60_000), _audit("q3", T0 + 120_000, status=403),
          _audit("q4", T0 + HOUR_MS, action="evidence"), _audit("q5", T0 + HOUR_MS + 1, action="audit")]


def refusal_rows(t0_ms: int, refused: int, rows_per_minute: int = 2) -> list[dict]:
    """The audit rows of ``refused`` requests with no valid token in the minute from ``t0_ms``,
    as the service writes them (streams.service.probes): ``rows_per_minute`` rows of their own,
    then one summary row standing for the rest."""
    from streams.service.probes import ProbeLog

    log = ProbeLog(b"k" * 32, rows_per_minute=rows_per_minute)
    rows = []
    for i in range(refused):
        rows += log.note("trace" if i % 3 else "rumours", 401, "unknown", "10.0.0.9", f"guess-{i}",
                         now_ms=t0_ms + i)
    return rows + log.flush()


def _load(store) -> None:
    store.write(make_batch([
        {"event_id": "e0", "rumour_id": "r1", "account_id": "a", "ts": T0, "region": "370102", "kind": "post"},
        {"event_id": "e1", "rumour_id": "r1", "account_id": "b", "ts": T0 + 1, "parent_event_id": "e0",
         "parent_account_id": "a", "region": "370211"},
        {"event_id": "d0", "rumour_id": "r1", "account_id": "g", "ts": T0 + 2, "kind": "debunk"},
    ]), _DEAD)
    store.write(EventBatch(), _REDELIVERED)
    store.write_audit(_AUDIT)
    store.write_audit(_AUDIT[:2])  # a retried insert: audit_log is a plain MergeTree and keeps both
    # 40 requests with no valid token: 2 rows of their own and a summary of 38; written twice
    refused = refusal_rows(T0 + HOUR_MS, 40)
    store.write_audit(refused)
    store.write_audit(refused[-1:])


def _run(store, sql: str) -> list:
    return store._rows(_expand(sql, store.database))


def _seconds(value) -> int:
    """A DateTime as epoch seconds: clickhouse-driver gives datetimes, chDB (Arrow) integers."""
    return int(value.timestamp()) if hasattr(value, "timestamp") else int(value)


def test_every_panel_query_runs_and_agrees_with_the_raw_tables(store):
    _load(store)
    db = store.database
    results = {title: _run(store, q) for title, q in dashboard_queries().items()}
    assert results["rumour"] == [("r1",)]
    provinces = next(v for k, v in results.items() if k.startswith("Shares by province"))
    assert provinces == [("370000", 2)]

    # Dead letters: one row per reason kind, each letter once however often re-delivered, the
    # newest receipt; the same as dead_letters FINAL grouped by the same kind, and as the letters.
    dead = [(kind, int(n), _seconds(latest)) for kind, n, latest in
            next(v for k, v in results.items() if k.startswith("Dead letters"))]
    raw = store._rows(f"SELECT splitByChar(':', reason)[1] AS kind, count() AS n, max(received_at) "
                      f"FROM {db}.dead_letters FINAL GROUP BY kind ORDER BY n DESC, kind")
    assert dead == [(k, int(n), _seconds(latest)) for k, n, latest in raw]
    expected = {}
    for d in _DEAD + _REDELIVERED:
        kind = d.reason.split(":")[0]
        keys, newest = expected.get(kind, (set(), 0))
        expected[kind] = (keys | {(d.source, d.reason, d.raw)}, max(newest, d.received_ms // 1000))
    assert {k: (n, latest) for k, n, latest in dead} == \
        {k: (len(keys), newest) for k, (keys, newest) in expected.items()}
    assert dict((k, n) for k, n, _ in dead) == {"ts": 2, "invalid JSON": 1, "parent in another rumour": 1}

    # Audit: served requests per hour and route, each once (the retried copies are in audit_log
    # twice), 403s included; the requests refused for their token apart, per reason, a summary
    # row as the requests it stands for; as audit_log gives them, distinct audit ids.
    served = _hourly(next(v for k, v in results.items() if k.startswith("Served requests")))
    refused = _hourly(next(v for k, v in results.items() if k.startswith("Refused requests")))
    hour0 = T0 // HOUR_MS * HOUR_MS
    assert served == {(hour0, "trace"): 3, (hour0 + HOUR_MS, "audit"): 1, (hour0 + HOUR_MS, "evidence"): 1}
    assert refused == {(hour0 + HOUR_MS, "unknown"): 40}
    raw = store._rows(f"SELECT toStartOfHour(ts) AS time, auth_failure != '' AS refused, sum(if(auth_failure = "
                      f"'suppressed', visitParamExtractUInt(params, 'suppressed'), 1)) FROM (SELECT audit_id, "
                      f"any(ts) AS ts, any(auth_failure) AS auth_failure, any(params) AS params "
                      f"FROM {db}.audit_log GROUP BY audit_id) GROUP BY time, refused")
    raw = {(_seconds(t) * 1000, bool(r)): int(n) for t, r, n in raw}
    for (hour, is_refused), n in raw.items():
        shown = refused if is_refused else served
        assert sum(m for (h, _), m in shown.items() if h == hour) == n, (hour, is_refused)
    assert store._rows(f"SELECT count() FROM {db}.audit_log") == [(11,)]


_AGGREGATE = re.compile(r"\b(?:count|uniq\w*|countDistinct)\s*\([^()]*\)", re.I)


def _select_lists(sql: str) -> list[str]:
    """What each SELECT of a query (subqueries included) returns, aggregate calls taken out."""
    return [_AGGREGATE.sub("", part) for part in re.findall(r"\bSELECT\b(.*?)\bFROM\b", sql, re.I | re.S)]


def test_no_panel_shows_an_account_id_a_payload_or_a_case(store):
    # Grafana reads the store directly, with no jurisdiction check and no audit row: an account's
    # identity must leave only through the audited API, so no query may return an account id.
    queries = dashboard_queries()
    for q in queries.values():
        for columns in _select_lists(q):
            assert not re.search(r"account_id|\*", columns, re.I), (q, columns)
    # And by what the queries return: ids that cannot be mistaken for anything else, also where
    # the decoder quotes them in a dead letter's reason and in its payload.
    accounts = {c: f"acct-{c}-7f3e" for c in "abcdefg"}
    parents = {"b": "a", "c": "a", "d": "a", "e": "b", "f": "b", "g": "c"}
    event = {c: f"e-{c}" for c in accounts}
    rows = [{"event_id": event["a"], "rumour_id": "r1", "account_id": accounts["a"], "ts": T0,
             "region": "370102", "kind": "post"}]
    for i, (child, parent) in enumerate(parents.items(), 1):
        rows.append({"event_id": event[child], "rumour_id": "r1", "account_id": accounts[child],
                     "ts": T0 + i, "parent_event_id": event[parent], "parent_account_id": accounts[parent],
                     "region": "370211"})
    secret = accounts["a"]
    refused = [
        {"event_id": "x1", "rumour_id": "r1", "account_id": secret, "ts": secret},
        {"event_id": "x2", "rumour_id": "r1", "account_id": secret, "ts": T0, "kind": secret},
        {"v": secret, "columns": {}},
        {"v": 1, "columns": {"event_id": ["y"], "rumour_id": ["r1"], "account_id": [secret], "ts": [T0],
                             secret: [1, 2]}},
        {"event_id": secret, "rumour_id": "r1", "account_id": secret, "ts": T0, "parent_event_id": secret},
    ]
    _, dead = Decoder().decode([orjson.dumps(r) for r in refused], sources=[f"f:{i}" for i in range(5)],
                               now_ms=T0 + 10_000)
    assert len(dead) == len(refused) and all(secret in d.reason or secret.encode() in d.raw for d in dead)
    assert sum(secret in d.reason for d in dead) >= 3
    store.write(make_batch(rows), dead)
    case = "CASE-5b1e-secret"
    store.write_audit([_audit("z1", T0, case_id=case, token_id="tok-5b1e", rumour_id="r1",
                              params=orjson.dumps({"account_id": secret}).decode())])
    results = {q: store._rows(_expand(q, store.database)) for q in queries.values()}
    assert any(results[q] for q in queries.values() if "dead_letter" in q)
    secrets = list(accounts.values()) + [case, "tok-5b1e"]
    for q, result in results.items():
        for row in result:
            for cell in row:
                assert not any(s in str(cell) for s in secrets), (q, row)


def _hourly(rows) -> dict:
    """A panel's (time, label, count) rows as {(hour as epoch ms, label): count}."""
    return {(_seconds(t) * 1000, label): int(n) for t, label, n in rows}


def test_the_audit_panels_are_the_projects_hourly_queries():
    from sql.queries import audit_hour_refused, audit_hour_served

    assert _panel_sql("Served requests") == audit_hour_served("rumour", "$__timeFilter(hour)")
    assert _panel_sql("Refused requests") == audit_hour_refused("rumour", "$__timeFilter(hour)")


def _refusals(t0_ms: int, plan, rows_per_minute: int) -> list[dict]:
    """The audit rows the service writes for the refused requests of ``plan`` ((route, status,
    reason) each), one a millisecond from ``t0_ms`` (one minute), under ``rows_per_minute``."""
    from streams.service.probes import ProbeLog

    log = ProbeLog(b"k" * 32, rows_per_minute=rows_per_minute)
    rows = []
    for i, (route, status, reason) in enumerate(plan):
        rows += log.note(route, status, reason, f"10.0.0.{i % 7}", f"guess-{i}", now_ms=t0_ms + i)
    return rows + log.flush()


def test_the_audit_panels_tell_served_from_refused_requests(store):
    # What an auditor must not mistake: a route's hourly count made of token guessing. Hour 0:
    # six trace requests served (one 403, one 503 of a valid token: served, not refused) and
    # eleven refused (three rows of their own under trace and rumours, one 503 for an unreadable
    # tokens file, seven in a summary). Hour 1: one evidence export and 65 refusals (60 rows, a
    # summary of 5); both summaries and some rows written twice (retried inserts).
    hour0 = T0 // HOUR_MS * HOUR_MS
    hour1 = hour0 + HOUR_MS
    served_rows = [_audit(f"s{i}", hour0 + 60_000 * i, status=status)
                   for i, status in enumerate((200, 200, 200, 403, 503, 200))]
    served_rows.append(_audit("s9", hour1 + 5, action="evidence"))
    mix = [("trace", 401, "unknown"), ("rumours", 401, "missing"), ("trace", 401, "expired")]
    refused0 = _refusals(hour0 + 600_000, [mix[i % 3] for i in range(10)], rows_per_minute=3)
    refused0 += _refusals(hour0 + 1_200_000, [("trace", 503, "tokens_unreadable")], rows_per_minute=3)
    refused1 = _refusals(hour1 + 60_000, [mix[i % 2] for i in range(65)], rows_per_minute=60)
    for rows in (served_rows, served_rows[:2], refused0, refused0[-2:], refused1, refused1[-1:]):
        store.write_audit(rows)

    queries = dashboard_queries()
    served = _hourly(_run(store, _panel_sql("Served requests")))
    refused = _hourly(_run(store, _panel_sql("Refused requests")))
    assert served == {(hour0, "trace"): 6, (hour1, "evidence"): 1}
    assert refused == {(hour0, "unknown"): 4, (hour0, "missing"): 3, (hour0, "expired"): 3,
                       (hour0, "tokens_unreadable"): 1, (hour1, "unknown"): 33, (hour1, "missing"): 32}
    # The same from the rows themselves, each audit id once, a summary by its params' reasons.
    expected_refused, once = {}, {r["audit_id"]: r for r in refused0 + refused1}
    for row in once.values():
        hour = row["ts_ms"] // HOUR_MS * HOUR_MS
        counts = orjson.loads(row["params"])["reasons"] if row["auth_failure"] == "suppressed" \
            else {row["auth_failure"]: 1}
        for reason, n in counts.items():
            expected_refused[(hour, reason)] = expected_refused.get((hour, reason), 0) + n
    assert refused == expected_refused
    # Served and refused together are every audited request, from the rows themselves (each
    # audit id once, a summary as the requests it stands for): nothing lost and nothing counted
    # on both sides.
    everything: dict = {}
    for row in {r["audit_id"]: r for r in served_rows + refused0 + refused1}.values():
        hour = row["ts_ms"] // HOUR_MS * HOUR_MS
        requests = orjson.loads(row["params"])["suppressed"] if row.get("auth_failure") == "suppressed" else 1
        everything[hour] = everything.get(hour, 0) + requests
    for hour in (hour0, hour1):
        assert everything[hour] == sum(n for (h, _), n in {**served, **refused}.items() if h == hour)
    assert not any(title.startswith("Trace queries") for title in queries)


def test_top_spreaders_point_at_the_projects_own_dashboard():
    # Ranking spreaders needs share_events (account ids); no view is added on share_events for
    # it (each costs server CPU per ingested event), so Grafana only says where they are.
    (panel,) = [p for p in _dashboard()["panels"] if p["title"].startswith("Top spreaders")]
    assert panel["type"] == "text" and "targets" not in panel
    for text in (panel["options"]["content"], panel["description"]):
        assert "GET /" in text and "pseudonymised" in text, text


def test_grafana_is_documented_as_an_admins_tool():
    # Whoever has a Grafana account can run any SQL over the store through the data source.
    compose = (PROJECT_ROOT / "docker-compose.yml").read_text()
    grafana = compose.split("\n  grafana:\n", 1)[1].split("\nvolumes:", 1)[0]
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8").split("\n\n")
    (paragraph,) = [p for p in readme if "Grafana" in p]
    for text in (grafana, paragraph, _dashboard()["description"]):
        assert "admins" in text and "audited" in text and "jurisdiction" in text, text


def test_the_deployment_defaults_are_the_engine_defaults():
    # "${RUMOUR_X:-default}" in the compose file must not quietly differ from the setting's own
    # default (it once said batch_wait 0.5 s, the value that broke the p99 latency goal).
    from streams.settings import all_settings

    by_env = {s.env: s for s in all_settings()}
    text = (PROJECT_ROOT / "docker-compose.yml").read_text()
    found = re.findall(r"\$\{(RUMOUR_\w+):-([^}]*)\}", text)
    checked = [(env, default) for env, default in found if env in by_env]
    assert len(checked) >= 3
    for env, default in checked:
        setting = by_env[env]
        assert setting.type(default) == setting.default, (env, default, setting.default)
