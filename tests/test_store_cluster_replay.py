"""Real Weibo cascades (../shared/data) replayed through the pipeline into a store on the
ClickHouse cluster and into a single-server store: every read the store offers answers the
same on both. That is the point of the cluster form (sql/cluster.py): the queries of
sql/queries.py and sql/governance_queries.py run unchanged over the Distributed tables."""
from __future__ import annotations

import orjson
import pytest

from streams.embedded import make_pipeline, replay_messages
from streams.importers import iter_events
from streams.settings import Settings
from streams.store.governance import governance_store
from tests.plugins.clickhouse_cluster import cluster_nodes, node_store

pytestmark = [pytest.mark.clickhouse, pytest.mark.shared_data, pytest.mark.slow]

CASCADES = 200
BAD = [b"{not json", b"\xff\xfe", orjson.dumps({"event_id": "x1", "rumour_id": "r-bad", "ts": "yesterday"})]


def weibo_messages(shared_data, cascades: int) -> list[tuple[bytes, str]]:
    events, _ = iter_events("weibo-ced", shared_data / "weibo-ced-dev.tar.gz")
    out, seen = [], set()
    for e in events:
        if e["rumour_id"] not in seen and len(seen) == cascades:
            break
        seen.add(e["rumour_id"])
        out.append((orjson.dumps(e), f"weibo:{len(out)}"))
    bad = [(raw, f"bad:{i}") for i, raw in enumerate(BAD)]
    # a few malformed lines among them, and the first cascade's events sent twice
    first = out[:300]
    return out[:1000] + bad + out[1000:] + first


def audit_rows(rumours: list[str]) -> list[dict]:
    rows = []
    for i, r in enumerate(rumours[:60]):
        failure = ("", "unknown", "suppressed")[i % 3]
        rows.append({"audit_id": f"a{i}", "ts_ms": 1_700_000_000_000 + i * 600_000, "token_id": f"t{i % 4}",
                     "token_name": "n", "role": "liaison", "jurisdiction": "440000", "case_id": f"C-{i % 5}",
                     "action": ("trace", "evidence", "unauthenticated")[i % 3], "rumour_id": r,
                     "params": '{"suppressed":3,"reasons":{"unknown":2,"expired":1}}' if failure == "suppressed" else "{}",
                     "status": 200 if not failure else 401, "answer_sha256": "", "remote": "",
                     "token_expires_ms": 0, "auth_failure": failure, "token_fingerprint": "f" * 16 if failure else ""})
    return rows


def governance_rows(rumours: list[str]):
    reports = [{"report_id": f"rep{i}", "reporter": f"u{i}", "post_id": "", "link": "", "text": f"看到 {i}",
                "report_ms": 1_700_000_000_000 + i, "received_ms": 1_700_000_000_500 + i, "region": "广东",
                "region_code": "440000", "rumour_id": r, "link_method": "event_id", "similarity": 1.0,
                "duplicate_of": "", "source": "http", "client_report_id": f"c{i}"}
               for i, r in enumerate(rumours[:40])]
    # reports that matched nothing, five of them linked by hand later (written again with the
    # rumour: that row must replace the first on the cluster too, so both meet on one shard)
    reports += [dict(reports[0], report_id=f"open{i}", rumour_id="", link_method="none", similarity=0.0,
                     client_report_id=f"o{i}") for i in range(10)]
    statuses = [{"rumour_id": r, "status": s, "changed_by": "desk", "changed_ms": 1_700_000_000_000 + 1000 * j,
                 "note": ""} for r in rumours[:30] for j, s in enumerate(("received", "verified", "debunked")[: 1 + len(r) % 3])]
    alerts = [{"alert_id": f"al{i}", "rumour_id": r, "unit": "440100", "level": "city", "rule": "growth",
               "minute_ms": 1_700_000_040_000 + 60_000 * i, "minute_shares": 5 + i, "window_shares": 50,
               "previous_window_shares": 10} for i, r in enumerate(rumours[:25])]
    return reports, statuses, alerts


def everything(store, rumours: list[str]) -> dict:
    """Every read of the store (and its governance view) over the replayed data."""
    g = governance_store(store)
    some = rumours[::7]
    out = {
        "count": store.count_events(), "rumour_ids": store.rumour_ids(),
        "events": list(store.load_events().rows()),
        "events_some": list(store.load_events(rumour_ids=some).rows()),
        "dead": sorted((d["source"], d["reason"], d["rumour_id"], d["event_id"], d["raw"])
                       for d in store.dead_letters(limit=1000)),
        "dead_count": store.count_dead_letters(),
        "region_counts": sorted(store.rumour_region_counts(), key=repr),
        "changed": store.rumours_changed_since(0)[2],
        "audit": store.audit_rows(limit=1000, auth_failure="any"),
        "refusal_hours": store.audit_refusal_hours(0, 2_000_000_000_000),
        "reports": g.load_reports(), "report": g.find_report("rep3"), "linked": g.find_report("open1"),
        "unlinked": g.unlinked_reports(),
        "statuses": g.latest_statuses(), "alerts": g.load_alerts(), "alert_ids": g.alert_ids(rumours),
        "active": g.active_rumours(0, 2_000_000_000_000), "texts": g.source_texts(),
        "dead_hours": store._rows(f"SELECT reason_kind, uniqExactMerge(letters) FROM {store.database}."
                                  "dead_letter_hour_counts GROUP BY reason_kind ORDER BY reason_kind"),
        "audit_hours": store._rows(f"SELECT hour, action, status, uniqExactMerge(queries) FROM {store.database}."
                                   "audit_hour_counts GROUP BY hour, action, status ORDER BY hour, action, status"),
    }
    for r in some:
        accounts = store.rumour_accounts(r)
        ids = list(store.load_events(r).event_id[:50])
        out[r] = (store.count_events(r), store.minute_counts(r), store.rumour_region_kinds(r),
                  store.top_spreaders(r, 10), store.event_details(r, ids), accounts,
                  store.account_regions(r, accounts[:50]), g.status_history(r), g.load_reports(r))
    return out


def test_weibo_replay_reads_the_same_on_the_cluster_as_on_one_server(shared_data, cluster_store, ch_store):
    messages = weibo_messages(shared_data, CASCADES)
    settings = Settings.load()
    for store in (cluster_store, ch_store):
        stats = replay_messages(iter(messages), make_pipeline(store, settings), 2000)
        assert stats.dead_letters == len(BAD)
    rumours = ch_store.rumour_ids()
    assert len(rumours) == CASCADES
    reports, statuses, alerts = governance_rows(rumours)
    for store in (cluster_store, ch_store):
        store.write_audit(audit_rows(rumours))
        g = governance_store(store)
        g.insert_reports(reports)
        g.insert_reports([dict(r, rumour_id=rumours[i], link_method="manual", linked_by="desk (t1)",
                               linked_ms=1_700_000_100_000 + i, link_note="by hand")
                          for i, r in enumerate(reports[-10:-5])])
        g.append_status(statuses)
        g.insert_alerts(alerts)
    single, spread = everything(ch_store, rumours), everything(cluster_store, rumours)
    assert spread["count"] == single["count"] > 10_000
    assert single["linked"]["link_method"] == "manual" and len(single["unlinked"]) == 5
    for key in single:
        assert spread[key] == single[key], key
    # and the data is really spread: both shards hold rumours, none on both
    (_, _, p11), _, (_, _, p21) = cluster_nodes(cluster_store)
    held = []
    for port in (p11, p21):
        node = node_store(cluster_store, port)
        try:
            held.append({r for r, in node._rows(f"SELECT DISTINCT rumour_id FROM {cluster_store.database}.share_events_local")})
        finally:
            node.close()
    assert held[0] and held[1] and not held[0] & held[1]
    assert held[0] | held[1] == set(rumours)
