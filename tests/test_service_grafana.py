"""Grafana provisioning: valid YAML/JSON, the data source the panels name, and every panel's SQL
runs against the schema (chDB, with Grafana's macros expanded)."""
from __future__ import annotations

import json
import re

import pytest

from tests.conftest import PROJECT_ROOT
from tests.test_store import T0, make_batch

GRAFANA = PROJECT_ROOT / "deploy" / "grafana"


def _dashboard():
    return json.loads((GRAFANA / "dashboards" / "rumour-trace.json").read_text(encoding="utf-8"))


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
        assert panel["datasource"]["uid"] == source["uid"]
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


def test_every_panel_query_runs_on_the_schema(chdb_store):
    chdb_store.write(make_batch([
        {"event_id": "e0", "rumour_id": "r1", "account_id": "a", "ts": T0, "region": "370102", "kind": "post"},
        {"event_id": "e1", "rumour_id": "r1", "account_id": "b", "ts": T0 + 1, "parent_event_id": "e0",
         "parent_account_id": "a", "region": "370211"},
        {"event_id": "d0", "rumour_id": "r1", "account_id": "g", "ts": T0 + 2, "kind": "debunk"},
    ]))
    dash = _dashboard()
    queries = [t["rawSql"] for p in dash["panels"] for t in p["targets"]]
    queries += [v["query"] for v in dash["templating"]["list"]]
    results = [chdb_store._rows(_expand(q, chdb_store.database)) for q in queries]
    by_title = dict(zip([p["title"] for p in dash["panels"]], results))
    spreaders = next(v for k, v in by_title.items() if k.startswith("Top spreaders"))
    assert spreaders == [(1, 1)]  # a was reshared once, by one account; a itself is not named
    provinces = next(v for k, v in by_title.items() if k.startswith("Shares by province"))
    assert provinces == [("370000", 2)]


_AGGREGATE = re.compile(r"\b(?:count|uniq\w*|countDistinct)\s*\([^()]*\)", re.I)


def _select_lists(sql: str) -> list[str]:
    """What each SELECT of a query (subqueries included) returns, aggregate calls taken out."""
    return [_AGGREGATE.sub("", part) for part in re.findall(r"\bSELECT\b(.*?)\bFROM\b", sql, re.I | re.S)]


def test_no_panel_shows_an_account_id(chdb_store):
    # Grafana reads the store directly, with no jurisdiction check and no audit row: an account's
    # identity must leave only through the audited API, so no query may return an account id.
    dash = _dashboard()
    queries = [t["rawSql"] for p in dash["panels"] for t in p["targets"]]
    queries += [v["query"] for v in dash["templating"]["list"]]
    for q in queries:
        for columns in _select_lists(q):
            assert not re.search(r"account_id|\*", columns, re.I), (q, columns)
    # And by what the queries return: ids that cannot be mistaken for anything else.
    accounts = {c: f"acct-{c}-7f3e" for c in "abcdefg"}
    parents = {"b": "a", "c": "a", "d": "a", "e": "b", "f": "b", "g": "c"}  # a 3, b 2, c 1
    event = {c: f"e-{c}" for c in accounts}
    rows = [{"event_id": event["a"], "rumour_id": "r1", "account_id": accounts["a"], "ts": T0,
             "region": "370102", "kind": "post"}]
    for i, (child, parent) in enumerate(parents.items(), 1):
        rows.append({"event_id": event[child], "rumour_id": "r1", "account_id": accounts[child],
                     "ts": T0 + i, "parent_event_id": event[parent], "parent_account_id": accounts[parent],
                     "region": "370211"})
    chdb_store.write(make_batch(rows))
    results = {q: chdb_store._rows(_expand(q, chdb_store.database)) for q in queries}
    for q, result in results.items():
        for row in result:
            for cell in row:
                assert not any(a in str(cell) for a in accounts.values()), (q, row)
    spreaders = next(results[t["rawSql"]] for p in dash["panels"] for t in p["targets"]
                     if p["title"].startswith("Top spreaders"))
    assert spreaders == [(3, 3), (2, 2), (1, 1)]  # a, b, c by the parents above


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
