"""Guarded status changes across workers (streams/governance/status_guard.py): several workers
(each its own hub, service views and store connection) over one database; of the guarded changes
that replace the same status at most one is accepted (201), the others get 409 naming the change
they met, and nothing a loser wrote shows, before or after a restart. The interleavings are
forced by wrapping each worker's store calls (between the check and the insert, between the
insert and the read-back), so the races are the same at every run. On clickhouse-server 18.16
(clickhouse-driver), chDB and the local cluster (each worker through another node)."""
from __future__ import annotations

import random
import threading
import time

import pytest

from tests.service_helpers import T0, store_of

N = 4
PREDECESSOR = {"rumour_id": "r1", "status": "received", "changed_by": "system", "changed_ms": T0,
               "note": "first report"}
PREDECESSOR_KEY = f"{T0}/received/system"  # replaces_key(PREDECESSOR), written out
WAIT = 60  # seconds a forced interleaving waits for the others before it gives up


@pytest.fixture(params=[pytest.param("clickhouse", marks=pytest.mark.clickhouse), "chdb",
                        pytest.param("cluster", marks=[pytest.mark.clickhouse, pytest.mark.slow])])
def store(request):
    if request.param == "cluster":  # the workers connect to the three nodes in turn
        yield request.getfixturevalue("cluster_store")
        return
    with store_of(request) as s:
        yield s


def gs(store):
    from streams.store.governance import governance_store

    return governance_store(store)


def another_store(store, i: int = 0):
    """Another connection to ``store``'s database (worker ``i``'s; on the cluster, through the
    node ``i`` of it modulo their number)."""
    from streams.store.clickhouse import ClickHouseStore
    from streams.store.embedded import ChdbStore

    if isinstance(store, ChdbStore):
        return ChdbStore("chdb://", database=store.database)
    s = store.settings
    port = s["port"]
    if store.cluster:
        from tests.plugins.clickhouse_cluster import cluster_nodes

        ports = [p for _s, _r, p in cluster_nodes(store)]
        port = ports[i % len(ports)]
    return ClickHouseStore(f"clickhouse://{s['host']}:{port}", database=store.database, cluster=store.cluster)


class Worker:
    """One worker: its own store connection (``own_store``: another_store's unless given), hub
    and service views."""

    def __init__(self, store, i: int, own_store=None):
        from streams.governance.hub import Governance
        from streams.service.access import Principal
        from streams.service.governance import GovernanceViews

        self.own_store = own_store if own_store is not None else another_store(store, i)
        self.hub = Governance(store=self.own_store)
        self.views = GovernanceViews(self.hub, None, None, None, cache_seconds=0)
        self.principal = Principal(f"{i:012x}", f"officer{i}", "analyst", "000000")
        self.gstore = self.hub.store
        assert self.views.store is self.gstore and self.hub.desk.store is self.gstore

    def change(self, status="verified", expected="received", rumour="r1"):
        return self.views.set_status(rumour, {"status": status, "expected_status": expected}, self.principal)

    def after(self, method: str, fn, nth=1):
        """Run ``fn()`` after the ``nth`` call of the store's ``method`` returns."""
        real = getattr(self.gstore, method)
        calls = []

        def wrapped(*a, **k):
            out = real(*a, **k)
            calls.append(1)
            if len(calls) == nth:
                fn()
            return out
        setattr(self.gstore, method, wrapped)

    def before(self, method: str, fn):
        real = getattr(self.gstore, method)
        calls = []

        def wrapped(*a, **k):
            if not calls:
                calls.append(1)
                fn()
            return real(*a, **k)
        setattr(self.gstore, method, wrapped)

    def close(self):
        self.hub.close()
        self.own_store.close()


@pytest.fixture
def workers(store):
    gs(store).append_status([PREDECESSOR])
    synced(store)  # every worker's check sees it, whichever replica its node reads
    made = [Worker(store, i) for i in range(N)]
    yield made
    for w in made:
        w.close()


def race(workers, **kw):
    """Every worker's change at once (threads); their answers in worker order."""
    out = [None] * len(workers)

    def run(i):
        out[i] = workers[i].change(**kw)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def synced(store):
    """On the cluster, wait until every replica has every status row (a read through the
    Distributed table reads one replica per shard, and a worker's insert lands on its own node
    when that is a replica: the guard's read-back reads them all, a dashboard's read may lag)."""
    if not getattr(store, "cluster", None):
        return
    from tests.plugins.clickhouse_cluster import cluster_nodes, node_store

    for _shard, _replica, port in cluster_nodes(store):
        node = node_store(store, port)
        try:
            node._rows(f"SYSTEM SYNC REPLICA {store.database}.rumour_status_history_local")
        finally:
            node.close()


def restarted_view(store):
    """What a worker started afresh over the store shows: (history, current, the list's row)."""
    synced(store)
    w = Worker(store, 99)
    try:
        answer = w.views.status("r1")
        return ([(r["status"], r["changed_by"]) for r in answer["history"]],
                (answer["status"]["status"], answer["status"]["changed_by"]),
                w.views.statuses()["r1"]["changed_by"])
    finally:
        w.close()


def wait_all(barrier):
    return lambda: barrier.wait(WAIT)


def test_workers_that_all_passed_the_check_make_at_most_one_change(store, workers):
    """Every worker checked "received" is current before any wrote: the old code (a lock per
    process) answered 201 to all four and the last won silently."""
    barrier = threading.Barrier(N)
    for w in workers:  # the check's store read returns to all of them before anyone inserts
        w.after("status_history", wait_all(barrier))
    answers = race(workers)
    codes = [c for c, _ in answers]
    assert codes.count(201) <= 1 and codes.count(409) == N - codes.count(201), answers
    history, now, listed = restarted_view(store)
    if 201 in codes:
        winner = answers[codes.index(201)][1]["changed_by"]
        assert history == [("received", "system"), ("verified", winner)] and now == ("verified", winner)
        assert listed == winner
    else:
        assert history == [("received", "system")] and listed == "system"
    for code, answer in answers:
        if code == 409:
            assert answer["competitor"]["changed_by"].startswith("officer"), answer


def test_the_first_to_read_back_wins_alone_and_the_others_name_it(store, workers):
    """Worker 0 reads back (and settles) before the others insert: exactly one 201 (worker
    0's); the others insert, meet it and withdraw, each 409 naming it (an accepted sibling is
    named before a pending one)."""
    checked, read_back = threading.Barrier(N), threading.Event()
    for w in workers:
        w.after("status_history", wait_all(checked))
    workers[0].after("append_status", read_back.set, nth=2)  # its outcome is written
    for w in workers[1:]:
        w.before("append_status", lambda: read_back.wait(WAIT))
    answers = race(workers)
    assert [c for c, _ in answers] == [201] + [409] * (N - 1), answers
    first = workers[0].views.hub.desk.latest_status("r1")["changed_by"]
    assert first == answers[0][1]["changed_by"] == "officer0 (000000000000)"
    assert all(a["competitor"]["changed_by"] == first and first in a["error"] for _, a in answers[1:])
    history, now, listed = restarted_view(store)
    assert history == [("received", "system"), ("verified", first)] and listed == first


def test_changes_that_all_inserted_before_any_read_back_are_all_withdrawn(store, workers):
    """All insert, then all read back: each meets the others and withdraws (409 all); the
    status stays "received" for every worker and after a restart, and no withdrawn change is
    in the history."""
    checked, inserted = threading.Barrier(N), threading.Barrier(N)
    for w in workers:  # all check before any inserts: a later check would see a pending change
        w.after("status_history", wait_all(checked))  # (shown while it settles) and answer 409 at once
        w.after("append_status", wait_all(inserted))
    workers[-1].before("status_history", lambda: time.sleep(0.5))  # one starting late changes nothing
    answers = race(workers)
    assert [c for c, _ in answers] == [409] * N, answers
    synced(store)
    for w in workers:
        assert w.views.status("r1")["history"][-1]["changed_by"] == "system"
        assert w.views.statuses()["r1"]["status"] == "received"
    assert restarted_view(store) == ([("received", "system")], ("received", "system"), "system")
    assert workers[0].gstore.latest_statuses()["r1"]["status"] == "received"
    # The officers read again and one changes it: guarded on what is really current.
    assert workers[2].change()[0] == 201
    assert restarted_view(store)[1] == ("verified", "officer2 (000000000002)")


def test_a_loser_left_pending_never_hides_the_accepted_change(store, workers):
    """A change accepted, then a sibling written later that never settles (its worker crashed
    between its insert and its withdrawal): the accepted change stays current everywhere."""
    code, answer = workers[0].change()
    assert code == 201
    loser = {"rumour_id": "r1", "status": "handled", "changed_by": "officer9 (000000000009)",
             "changed_ms": int(time.time() * 1000) + 60_000, "note": "", "replaces": PREDECESSOR_KEY,
             "outcome": 0}  # later than the accepted change: by time alone it would be current
    gs(store).append_status([loser])
    history, now, listed = restarted_view(store)  # synced
    assert now == ("verified", answer["changed_by"]) and listed == answer["changed_by"]
    assert ("handled", loser["changed_by"]) not in history
    assert workers[1].views.statuses()["r1"]["changed_by"] == answer["changed_by"]
    assert gs(store).latest_statuses(["r1"])["r1"]["status"] == "verified"


def test_a_lone_change_left_pending_shows_and_the_next_replaces_it(store, workers):
    """A guarded change whose worker crashed before settling it, alone: it shows (the newest),
    and the next guarded change names it and is made (no change meets it forever)."""
    lone = {"rumour_id": "r1", "status": "debunked", "changed_by": "officer9 (000000000009)",
            "changed_ms": T0 + 5, "note": "", "replaces": PREDECESSOR_KEY, "outcome": 0}
    gs(store).append_status([lone])
    assert restarted_view(store)[1] == ("debunked", lone["changed_by"])
    assert workers[1].change(status="handled", expected="debunked")[0] == 201
    assert restarted_view(store)[1] == ("handled", "officer1 (000000000001)")


def test_the_predecessor_key_is_replaces_key():
    from streams.governance.status_history import replaces_key

    assert replaces_key(PREDECESSOR) == PREDECESSOR_KEY


def test_unguarded_changes_still_last_wins(store, workers):
    """Without expected_status nothing changes: both made, the later is current."""
    a = workers[0].views.set_status("r1", {"status": "verified"}, workers[0].principal)
    b = workers[1].views.set_status("r1", {"status": "debunked"}, workers[1].principal)
    assert a[0] == b[0] == 201
    history, now, _ = restarted_view(store)
    assert len(history) == 3 and now[0] in ("verified", "debunked")


@pytest.mark.parametrize("seed", range(3))
def test_the_store_query_mirrors_the_rule_with_guarded_changes(store, seed):
    """sql.governance_queries.latest_statuses and the store's history against the Python rule
    (shown, then current / ordered) on seeded histories of guarded siblings in every state."""
    from streams.governance.status_history import current, ordered, shown

    rng = random.Random(seed)
    rumours = [f"r{i}" for i in range(6)]
    changes, writes = {}, []
    for i in range(120):
        rid = rng.choice(rumours)
        key = (rid, T0 + rng.randint(0, 3), rng.choice(("received", "verified", "debunked", "handled")),
               rng.choice(("ann", "bob", "Zoë")))
        if key in changes:
            continue
        replaces = rng.choice(("", "", "none", f"{T0}/received/system", f"{T0 + 1}/verified/ann"))
        row = dict(zip(("rumour_id", "changed_ms", "status", "changed_by"), key), note=f"n{i}",
                   replaces=replaces, outcome=0)
        changes[key] = row
        writes.append([row])
        if replaces and rng.random() < 0.7:  # settled: accepted (rarely) or withdrawn
            row = dict(row, outcome=1 if rng.random() < 0.3 else 2)
            changes[key] = row
            writes.append([row])
    for block in writes:
        gs(store).append_status(block)
    plain = ("rumour_id", "status", "changed_by", "changed_ms", "note")
    want = {}
    for rid in rumours:
        mine = shown([r for k, r in changes.items() if k[0] == rid])
        if mine:
            want[rid] = {k: current(mine)[k] for k in plain}
        assert gs(store).status_history(rid) == [{k: r[k] for k in plain} for r in ordered(mine)], rid
    assert gs(store).latest_statuses() == want
    assert any(r["outcome"] == 2 for r in changes.values()) and any(r["outcome"] == 1 for r in changes.values())


def test_the_migration_upgrades_a_database_with_status_rows_and_runs_twice(request, store):
    """sql/024 on a database migrated up to 023 that holds status rows (written by the old code:
    five columns): they read as unguarded changes; a second run applies nothing."""
    import sql
    from sql import governance_queries as gq

    old = another_store(store)
    old.database = "rt_test_up_" + store.database[-12:]
    try:
        sql.migrate(old._execute, old.database, migrations=[m for m in sql.load_migrations() if m.version < 24],
                    cluster=old.cluster)
        rows = [dict(PREDECESSOR, note="old"), dict(PREDECESSOR, status="verified", changed_by="ann",
                                                       changed_ms=T0 + 1, note="old")]
        gs(old)._insert_dicts(f"INSERT INTO {old.database}.rumour_status_history ({', '.join(gq.STATUS_COLUMNS)})",
                              gq.STATUS_COLUMNS, rows)
        applied = old.migrate()  # 024 and any later file of the release
        assert applied[0] == "024_status_guard" and all(int(name[:3]) >= 24 for name in applied), applied
        assert old.migrate() == []
        assert gs(old).latest_statuses()["r1"]["status"] == "verified"
        assert [r["changed_by"] for r in gs(old).status_history("r1")] == ["system", "ann"]
        assert len(gs(old).status_siblings("r1", "")) == 2  # the old rows are unguarded ('' replaces)
    finally:
        old.drop()
        old.close()


def test_the_route_answers_409_with_the_competitor_and_audits_it(tmp_path):
    """Over HTTP: another worker's change replacing the same status is in the store, unsettled
    (its clock a little behind: the status the officer saw is still current), so the officer's
    guarded change meets it: 409 with ``competitor``, the refusal audited, the status as it was."""
    import orjson

    from streams.service.tokens import TokenStore
    from streams.store.embedded import ChdbStore
    from tests.plugins.clickhouse import fresh_database
    from tests.service_helpers import ThreadServer, cascades, get, governed_service
    from tests.test_service_governance import post

    store = ChdbStore("chdb://", database=fresh_database())
    store.migrate()
    tokens = tmp_path / "tokens.json"
    _pipeline, hub, service = governed_service(store, cascades(), tokens, 2)
    token = TokenStore(tokens).issue("admin", "000000", "national")[0]
    server = ThreadServer(service.application())
    try:
        path = server.url + "/api/rumours/qd-1/status"
        assert post(path, token, {"status": "verified"})[0] == 201
        seen = orjson.loads(get(path, token)[2])["status"]
        now_ms = gs(store).status_history("qd-1")[-1]["changed_ms"]
        other = {"rumour_id": "qd-1", "status": "handled", "changed_by": "officer9 (000000000009)",
                 "changed_ms": now_ms - 1, "note": "", "outcome": 0,
                 "replaces": f"{now_ms}/verified/{seen['changed_by']}"}
        gs(store).append_status([other])
        status, body = post(path, token, {"status": "debunked", "expected_status": "verified",
                                          "expected_changed_at": seen["changed_at"]})
        answer = orjson.loads(body)
        assert status == 409 and answer["competitor"]["changed_by"] == other["changed_by"], answer
        assert "officer9" in answer["error"] and answer["status"] == 409
        assert store.audit_rows(limit=1)[0]["status"] == 409
        assert orjson.loads(get(path, token)[2])["status"] == seen
    finally:
        server.close()
        hub.close()
        store.drop()
        store.close()
