"""The audited trace routes compute only what they answer: on seeded cascades each route's JSON
equals an answer built from first principles (the networkx oracle of tests/naive_trace.py, the
confidence model run afresh, chains walked up the events' parent links), and no route builds the
full trace answer (every origin formatted with its confidence, streams.trace.trace_answer)."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import numpy as np
import orjson
import pytest

from graph import CascadeGraph
from graph.confidence import origin_confidence
from streams.service.views import CONFIDENCE_METHOD
from streams.trace import trace_answer, trace_without_origins
from tests.naive import SHAPES, feed, random_rows
from tests.naive_trace import reference_trace
from tests.service_helpers import ThreadServer, get

T0 = 1_764_547_200_000  # 2025-12-01T00:00:00Z
SEEDS = (3, 11, 29)
K = 5  # the service's cutoff_k


def seeded_cascade(rumour: str, seed: int) -> list[dict]:
    """A rumour of 120-180 shares (about 30% of them posts with no parent, so more roots than the
    20 origins a route shows), accounts reused, unique times, in shuffled arrival order."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(120, 180))
    acc = rng.integers(0, max(4, n // 3), n)
    ts = T0 + np.cumsum(rng.integers(1, 90_000, n))
    events = []
    for i in range(n):
        parent = int(rng.integers(0, i)) if i and rng.random() < 0.7 else None
        events.append({"event_id": f"{rumour}-e{i}", "rumour_id": rumour, "account_id": f"{rumour}-u{acc[i]}",
                       "ts": int(ts[i]), "parent_event_id": None if parent is None else f"{rumour}-e{parent}",
                       "parent_account_id": None if parent is None else f"{rumour}-u{acc[parent]}",
                       "kind": "post" if parent is None else "share", "platform": "weibo",
                       "region": "370102", "text": f"{rumour} text {i}"})
    return [events[int(j)] for j in rng.permutation(n)]


RUMOURS = {f"r{seed}": seeded_cascade(f"r{seed}", seed) for seed in SEEDS}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from streams.embedded import replay_events
    from streams.service.http import Service
    from streams.service.tokens import TokenStore
    from streams.settings import Settings
    from streams.store.embedded import ChdbStore
    from tests.plugins.clickhouse import fresh_database

    tokens_path = tmp_path_factory.mktemp("tokens") / "tokens.json"
    store = ChdbStore("chdb://", database=fresh_database())
    store.migrate()
    events = [e for evs in RUMOURS.values() for e in evs]
    pipeline, stats = replay_events(events, store, Settings.load({"batch_size": 7}))
    assert stats.stored == len(events)
    service = Service(pipeline, store, tokens_path, cutoff_k=K)
    server = ThreadServer(service.application())
    token = TokenStore(tokens_path).issue("liaison", "370000", "liaison")[0]
    yield {"url": server.url, "token": token, "pipeline": pipeline, "store": store}
    server.close()
    store.drop()
    store.close()


def route(env, path: str) -> dict:
    status, _, body = get(env["url"] + path, env["token"], case="C-7")
    assert status == 200, body
    return orjson.loads(body)


def rfc3339(ms: int) -> str:
    t = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)
    return f"{t:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def hops_of(rumour: str, event_id: str) -> list[dict]:
    """The evidence chain of an event: its parent links walked up to the root."""
    by_id = {e["event_id"]: e for e in RUMOURS[rumour]}
    hops = []
    while event_id is not None:
        e = by_id[event_id]
        hops.append({"event_id": event_id, "account_id": e["account_id"], "ts": rfc3339(e["ts"]),
                     "platform": "weibo", "region": "370102",
                     "text_sha256": hashlib.sha256(e["text"].encode()).hexdigest(), "observed": True})
        event_id = e["parent_event_id"]
    return hops


def expected(rumour: str, k: int, graph, scope: dict) -> dict:
    """The route's answer from first principles (liaison over a cascade scope: names in clear)."""
    events = RUMOURS[rumour]
    ref = reference_trace(events, k)
    model = {(a, e): c for a, c, e, _ in origin_confidence(graph)}

    def chain(event_id):
        return {"event_id": event_id, "hops": hops_of(rumour, event_id)}

    def account_events(account):
        return [e["event_id"] for e in sorted(events, key=lambda e: (e["ts"], e["event_id"]))
                if e["account_id"] == account]

    if scope["kind"] == "event":
        chains = [chain(scope["id"])]
    elif scope["kind"] == "account":
        chains = [chain(e) for e in account_events(scope["id"])][:100]
    else:
        chains = [chain(account_events(c["account_id"])[0]) for c in ref["cutoff"]]
    return {"rumour_id": rumour, "events": ref["events"], "scope": scope, "identities": "clear",
            "origins": [{"account_id": o["account_id"], "event_id": o["event_id"], "ts": rfc3339(o["ts"]),
                         "reach": o["reach"], "observed": True,
                         "confidence": round(model[(o["account_id"], o["event_id"])], 4)}
                        for o in ref["origins"][:20]],
            "confidence_method": CONFIDENCE_METHOD, "chains": chains, "cutoff": ref["cutoff"],
            "case_id": "C-7"}


@pytest.mark.parametrize("rumour", sorted(RUMOURS))
def test_trace_routes_answer_what_first_principles_give(env, rumour):
    graph = env["pipeline"].graphs[rumour]
    ref = reference_trace(RUMOURS[rumour], K)
    assert len(ref["origins"]) > 20 and ref["cutoff"]  # the origin limit and the chains are exercised
    for k in (K, 2):
        got = route(env, f"/api/rumours/{rumour}/trace?k={k}")
        assert got == expected(rumour, k, graph, {"kind": "rumour", "id": rumour})
    deepest = max(RUMOURS[rumour], key=lambda e: len(hops_of(rumour, e["event_id"])))["event_id"]
    got = route(env, f"/api/rumours/{rumour}/events/{deepest}/trace")
    assert got == expected(rumour, K, graph, {"kind": "event", "id": deepest})
    assert len(got["chains"][0]["hops"]) > 2
    for account in {ref["cutoff"][0]["account_id"], ref["origins"][0]["account_id"]}:
        got = route(env, f"/api/rumours/{rumour}/accounts/{account}/trace")
        assert got == expected(rumour, K, graph, {"kind": "account", "id": account})


def test_no_route_formats_every_origin(env, monkeypatch):
    """The routes rank their own 20 origins: neither the full trace answer nor the graph's whole
    trace (every origin) is built for them; the CLI's path still builds it (the control)."""
    import streams.trace

    calls = {"trace_answer": 0, "graph.trace": 0}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(streams.trace, "trace_answer", counted("trace_answer", streams.trace.trace_answer))
    monkeypatch.setattr(CascadeGraph, "trace", counted("graph.trace", CascadeGraph.trace))
    rumour = sorted(RUMOURS)[0]
    account = reference_trace(RUMOURS[rumour], K)["cutoff"][0]["account_id"]
    for path in (f"/api/rumours/{rumour}/trace", f"/api/rumours/{rumour}/trace?k=2",
                 f"/api/rumours/{rumour}/events/{rumour}-e5/trace",
                 f"/api/rumours/{rumour}/accounts/{account}/trace", f"/api/rumours/{rumour}/tree"):
        route(env, path)
    status, _, _ = get(env["url"] + f"/api/rumours/{rumour}/evidence", env["token"], case="C-7")
    assert status == 200
    assert calls == {"trace_answer": 0, "graph.trace": 0}
    env["pipeline"].trace(rumour, K)  # `rumour trace`'s answer: the counters do count
    assert calls == {"trace_answer": 1, "graph.trace": 1}


@pytest.mark.parametrize("seed", range(40))
def test_trace_without_origins_is_the_trace_answer_without_its_origins(seed):
    """Placeholders, account-only links, duplicates, every tree shape."""
    g = CascadeGraph(f"r{seed}")
    feed(g, random_rows(seed, n=int(np.random.default_rng(seed).integers(1, 120)), shape=SHAPES[seed % len(SHAPES)]),
         np.random.default_rng(seed))
    for k in (0, 1, 3, 10):
        full = trace_answer(g, k)
        del full["origins"]
        assert trace_without_origins(g, k) == full
