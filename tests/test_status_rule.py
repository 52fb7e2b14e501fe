"""One rule for a rumour's current status (streams/governance/status_history.py): the row with
the greatest (changed_ms, workflow step, changed_by), the last recorded of equals. Seeded
histories full of ties (the same millisecond, the same step, the same change sent again with
another note), recorded through two workers over one store: the store's query, the desk, the
service's list and status routes and the monthly report all show the rule's row, before and
after a restart (a new service over the same store, memory empty). The rule is written out here
from first principles, not imported."""
from __future__ import annotations

import random

import orjson
import pytest

from streams.events import format_ts
from tests.service_helpers import T0, ThreadServer, cascades, get, governed_service, store_of

STEPS = ("received", "verified", "debunked", "handled")
# Names whose byte order and code-point order must agree (ASCII, Latin-1, CJK, a space).
NAMES = ("ann", "bob (tok1)", "Zoë", "张三")
RUMOURS = ("jn-1", "qd-1", "bj-1")  # the cascades of tests/service_helpers.py


def seeded_rows(seed: int, n: int = 90, rumours=RUMOURS) -> list[dict]:
    """``n`` status rows in the order recorded: three milliseconds, so ties of time everywhere,
    and few names, so the same change (time, status, name) comes again with another note."""
    rng = random.Random(seed)
    return [{"rumour_id": rng.choice(rumours), "status": rng.choice(STEPS), "changed_by": rng.choice(NAMES),
             "changed_ms": T0 + rng.randint(0, 2), "note": f"note {i}"} for i in range(n)]


def rule(rows, rumour_id):
    """The current row: greatest (time, step, changed_by as UTF-8 bytes, order recorded)."""
    mine = [((r["changed_ms"], STEPS.index(r["status"]), r["changed_by"].encode(), i), r)
            for i, r in enumerate(rows) if r["rumour_id"] == rumour_id]
    return max(mine, key=lambda t: t[0])[1] if mine else None


def rule_history(rows, rumour_id):
    """One row per change (time, status, changed_by: the last recorded), oldest first."""
    last = {}
    for r in rows:
        if r["rumour_id"] == rumour_id:
            last[(r["changed_ms"], STEPS.index(r["status"]), r["changed_by"].encode())] = r
    return [last[k] for k in sorted(last)]


def shown(r: dict) -> dict:
    """A row as the service shows it."""
    return {"status": r["status"], "changed_by": r["changed_by"], "changed_at": format_ts(r["changed_ms"]),
            "note": r["note"]}


def stored(r: dict) -> dict:
    return {k: r[k] for k in ("rumour_id", "status", "changed_by", "changed_ms", "note")}


def append_in_order(g, rows) -> None:
    """Append ``rows`` to the store in the order recorded: a block never holds one change twice
    (of one change the store keeps the last inserted)."""
    block, keys = [], set()
    for r in rows:
        key = (r["rumour_id"], r["changed_ms"], r["status"], r["changed_by"])
        if key in keys:
            g.append_status(block)
            block, keys = [], set()
        block.append(r)
        keys.add(key)
    g.append_status(block)


def test_the_rule_has_ties_to_break():
    """The seeded histories are what the test is about: ties of time and of step, repeats."""
    rows = seeded_rows(0)
    times = {(r["rumour_id"], r["changed_ms"]) for r in rows}
    steps = {(r["rumour_id"], r["changed_ms"], r["status"]) for r in rows}
    changes = {(r["rumour_id"], r["changed_ms"], r["status"], r["changed_by"]) for r in rows}
    assert len(times) < len(steps) < len(changes) < len(rows)


@pytest.mark.parametrize("seed", range(3))
def test_the_store_query_is_the_rule(store, seed):
    """sql.governance_queries.latest_statuses mirrors the rule: every rumour, a subset, and the
    last row of the stored history, with each column from the same row."""
    from streams.store.governance import governance_store

    g = governance_store(store)
    rumours = [f"r{i}" for i in range(8)]
    rows = seeded_rows(seed, 160, rumours)
    append_in_order(g, rows)
    want = {rid: stored(rule(rows, rid)) for rid in rumours if rule(rows, rid) is not None}
    assert g.latest_statuses() == want
    assert g.latest_statuses(rumours[:3]) == {rid: want[rid] for rid in rumours[:3] if rid in want}
    for rid in rumours:
        assert g.status_history(rid) == [stored(r) for r in rule_history(rows, rid)], rid


@pytest.fixture(params=[pytest.param("clickhouse", marks=pytest.mark.clickhouse), "chdb"])
def two_workers(request, tmp_path):
    """Worker A (a service with its hub, the cascades replayed) and worker B (a second desk)
    over one store, a national admin token, and a way to start A again over the same store."""
    from streams.governance.hub import Governance
    from streams.service.tokens import TokenStore

    with store_of(request) as store:
        tokens = tmp_path / "tokens.json"
        pipeline, hub, service = governed_service(store, cascades(), tokens, 2)
        token = TokenStore(tokens).issue("admin", "000000", "national")[0]
        servers, hubs = [], [hub, Governance(store=store)]

        def serve(svc):
            servers.append(ThreadServer(svc.application()))
            return servers[-1].url

        def restart():
            from streams.embedded import make_pipeline
            from streams.governance.config import GovernanceConfig
            from streams.governance.wiring import build_governance
            from streams.service.http import Service
            from streams.settings import Settings

            settings = Settings.load({"batch_size": 5})
            again = make_pipeline(store, settings)
            hubs.append(build_governance(again, store, settings, GovernanceConfig(alert_window_shares=2)))
            return hubs[-1], Service(again, store, tokens, cutoff_k=5, governance=hubs[-1])

        try:
            yield {"store": store, "hub": hub, "service": service, "other": hubs[1],
                   "token": token, "serve": serve, "restart": restart}
        finally:
            for s in servers:
                s.close()
            for h in hubs:
                h.close()


def _check_every_place(env, hub, service, rows, when: str) -> None:
    from streams.governance.cli import monthly_from_store

    url, token = env["serve"](service), env["token"]
    code, _, body = get(url + "/api/rumours", token)
    assert code == 200, body
    listed = {r["rumour_id"]: r["handling"] for r in orjson.loads(body)["rumours"]}
    assert set(listed) == set(RUMOURS)
    monthly = {r["rumour_id"]: r["status"] for r in monthly_from_store(env["store"], "2025-12", "Asia/Shanghai").rumours}
    latest = hub.store.latest_statuses()
    for rid in RUMOURS:
        want = rule(rows, rid)
        assert want is not None
        assert listed[rid] == shown(want), (when, "list", rid)
        code, _, body = get(url + f"/api/rumours/{rid}/status", token)
        assert code == 200, body
        detail = orjson.loads(body)
        assert detail["status"] == shown(want), (when, "status route", rid)
        assert detail["history"] == [shown(r) for r in rule_history(rows, rid)], (when, "history", rid)
        desk = hub.desk.latest_status(rid)
        assert {k: desk[k] for k in ("status", "changed_by", "changed_at", "note")} == shown(want), (when, "desk", rid)
        assert latest[rid] == stored(want), (when, "store", rid)
        assert monthly[rid] == want["status"], (when, "monthly", rid)


@pytest.mark.parametrize("seed", range(2))
def test_every_place_shows_the_rule_before_and_after_a_restart(two_workers, seed):
    env = two_workers
    rows = seeded_rows(seed)
    rng = random.Random(seed)
    for r in rows:  # each change through one of two workers (each desk writes the store first)
        worker = env["hub"] if rng.random() < 0.7 else env["other"]
        code, _ = worker.set_status(r["rumour_id"], r["status"], r["changed_by"], r["note"], r["changed_ms"])
        assert code == 201
    _check_every_place(env, env["hub"], env["service"], rows, "running")
    hub, service = env["restart"]()
    assert len(hub.desk.history) == 0  # nothing in memory: every answer comes from the store
    _check_every_place(env, hub, service, rows, "after a restart")


def test_the_list_reads_the_per_rumour_index_not_every_row(monkeypatch):
    """statuses() takes the desk's newest row per rumour; it never walks the history."""
    from streams.governance.hub import Governance
    from streams.governance.status_history import StatusHistory
    from streams.service.governance import GovernanceViews

    hub = Governance()
    rows = seeded_rows(3, 300)
    for r in rows:
        assert hub.set_status(r["rumour_id"], r["status"], r["changed_by"], r["note"], r["changed_ms"])[0] == 201

    def walked(self):
        raise AssertionError("statuses() walked every status row")

    monkeypatch.setattr(StatusHistory, "__iter__", walked)
    views = GovernanceViews(hub, None, lambda rid: None, lambda: {"rumours": {}})
    assert views.statuses() == {rid: shown(rule(rows, rid)) for rid in RUMOURS}
