"""``GET /api/rumours/{id}/trace?parents=1``: the parents `rumour trace --json --parents` infers,
over HTTP (embedded serve and the worker), event ids as the caller sees every other event id,
the chains unchanged, the parameter audited and checked."""
from __future__ import annotations

import orjson
import pytest

from tests.service_helpers import ThreadServer, cascades, get

PARENT_KEYS = ("parents", "parent_probability", "parents_method")


def masked_events() -> list[dict]:
    """The service tests' cascades with two shares of jn-1 that lost their parent link: e3 (a
    repost of e1) with no hint, e5 (a repost of e0) quoting e0's text as Weibo reposts do."""
    out = []
    for e in cascades():
        if e["event_id"] in ("jn-1-e3", "jn-1-e5"):
            e = {**e, "parent_event_id": None, "parent_account_id": None}
            if e["event_id"] == "jn-1-e5":
                e["text"] = "转发 //@src: 谣言原文 rumour"
        out.append(e)
    return out


def cli_parents(events) -> dict:
    from streams.settings import Settings
    from streams.trace import run_trace

    msgs = [(orjson.dumps(e), f"x:{i}") for i, e in enumerate(events)]
    _, answers = run_trace(msgs, Settings.load({}), 5, parents=True)
    return {rid: answer["parents"] for rid, answer, _ in answers}


def cli_probabilities(events, rumour: str = "jn-1", with_texts: bool = True) -> dict:
    """``{event: probability}`` of the links :func:`cli_parents` gives, computed as `rumour trace
    --parents` does (one batch, no store, the file's texts), which prints no probability."""
    from graph.reconstruct import reconstruct_scored
    from streams.decoder import Decoder
    from streams.embedded import make_pipeline
    from streams.settings import Settings
    from streams.trace import batch_texts, interactions_of

    settings = Settings.load({})
    pipeline = make_pipeline(None, settings)
    batch, dead = Decoder(settings.max_message_bytes, settings.max_event_bytes).decode(
        [orjson.dumps(e) for e in events], ["x"] * len(events))
    pipeline.process_batch(batch, list(dead))
    texts = batch_texts(batch).get(rumour, {}) if with_texts else {}
    scored = reconstruct_scored(pipeline.graphs[rumour], interactions_of(pipeline.graphs.values()), texts=texts)
    return {e: p for e, (_, p) in scored.items()}


@pytest.fixture(scope="module")
def replayed():
    from streams.embedded import replay_events
    from streams.settings import Settings
    from streams.store.embedded import ChdbStore
    from tests.plugins.clickhouse import fresh_database

    events = masked_events()
    store = ChdbStore("chdb://", database=fresh_database())
    store.migrate()
    pipeline, stats = replay_events(events, store, Settings.load({"batch_size": 5}))
    assert stats.stored == len(events)
    yield pipeline, store, cli_parents(events)
    store.drop()
    store.close()


@pytest.fixture(scope="module")
def served(replayed, tmp_path_factory):
    """A service per account scope over the same replayed store, with their tokens."""
    from streams.service.http import Service
    from streams.service.tokens import TokenStore

    pipeline, store, cli = replayed
    out = {}
    servers = []
    for scope in ("cascade", "jurisdiction"):
        tokens_path = tmp_path_factory.mktemp(scope) / "tokens.json"
        service = Service(pipeline, store, tokens_path, cutoff_k=5, liaison_account_scope=scope)
        server = ThreadServer(service.application())
        servers.append(server)
        issue = TokenStore(tokens_path).issue
        out[scope] = {"url": server.url, "service": service,
                      "national": issue("liaison", "000000", "nat")[0],
                      "analyst": issue("analyst", "370000", "ana")[0],
                      "qingdao": issue("liaison", "370211", "qd")[0]}
    yield out, store, cli
    for server in servers:
        server.close()


def trace(url, token, query="", rumour="jn-1", status=200):
    code, _, body = get(f"{url}/api/rumours/{rumour}/trace{query}", token, case="P-1")
    assert code == status, body
    return orjson.loads(body)


def test_the_cli_infers_something_here(served):
    _, _, cli = served
    assert set(cli["jn-1"]) == {"jn-1-e3", "jn-1-e5"}
    # e5's quote of e0's text moves its link's probability: the HTTP answer matching the
    # probabilities with texts shows the service used the texts the store keeps.
    events = masked_events()
    assert cli_probabilities(events)["jn-1-e5"] != cli_probabilities(events, with_texts=False)["jn-1-e5"]


def test_national_liaison_gets_the_cli_parents_in_clear_and_the_same_chains(served):
    services, store, cli = served
    s = services["cascade"]
    plain = trace(s["url"], s["national"])
    with_parents = trace(s["url"], s["national"], "?parents=1")
    assert with_parents["parents"] == cli["jn-1"]
    assert with_parents["parent_probability"] == cli_probabilities(masked_events())
    assert all(0.0 < p <= 1.0 for p in with_parents["parent_probability"].values())
    assert "inferred, not observed" in with_parents["parents_method"]
    # Everything else is the plain trace's: no inferred link became a hop.
    assert {k: v for k, v in with_parents.items() if k not in PARENT_KEYS} == plain
    assert not any(k in plain for k in PARENT_KEYS)
    hops = [h for c in with_parents["chains"] for h in c["hops"]]
    assert all(h["observed"] for h in hops if h["ts"] is not None)
    # ?parents=0 is the plain trace.
    assert trace(s["url"], s["national"], "?parents=0") == plain
    # The audit row of each request records what was asked.
    rows = [r for r in store.audit_rows(limit=10) if r["action"] == "trace" and r["case_id"] == "P-1"]
    recorded = [orjson.loads(r["params"]).get("parents") for r in rows[:3]]
    assert recorded == [0, 1, None], recorded  # newest first


def test_analyst_gets_them_pseudonymised_as_the_rest_of_the_answer(served):
    services, _, cli = served
    s = services["cascade"]
    pseudo = s["service"].pseudo
    nat = trace(s["url"], s["national"], "?parents=1")
    ana = trace(s["url"], s["analyst"], "?parents=1")
    assert ana["identities"] == "pseudonymised"
    expected = {pseudo.event(e): pseudo.event(p) for e, p in cli["jn-1"].items()}
    assert ana["parents"] == expected
    assert set(ana["parent_probability"]) == set(expected)
    assert all(k.startswith("pev_") for k in ana["parents"])
    # The same pseudonyms the answer gives those events elsewhere: the masked shares are origins.
    shown = {pseudo.event(o["event_id"]): a["event_id"] for o, a in zip(nat["origins"], ana["origins"])}
    assert all(shown[k] == k for k in expected if k in shown)
    assert {pseudo.event(e) for e in cli["jn-1"]} <= set(shown)
    assert ana["chains"] == [{**c, "event_id": pseudo.event(c["event_id"]),
                              "hops": [h | {"event_id": pseudo.event(h["event_id"]), "account_id": pseudo(h["account_id"]),
                                            "text_sha256": None} for h in c["hops"]]} for c in nat["chains"]]


def test_a_liaison_below_national_sees_in_clear_only_its_jurisdictions_events(served):
    services, _, cli = served
    s = services["jurisdiction"]
    pseudo = s["service"].pseudo
    qd = trace(s["url"], s["qingdao"], "?parents=1")
    assert qd["identities"] == "clear_in_jurisdiction"
    # e3 (a3) and e5 (a5) and their parents (hub, src) all acted in Jinan only: pseudonyms.
    assert qd["parents"] == {pseudo.event(e): pseudo.event(p) for e, p in cli["jn-1"].items()}
    origins = {o["event_id"] for o in qd["origins"]}
    assert set(qd["parents"]) <= origins


@pytest.mark.parametrize("query, message", [
    ("?parents=2", "parents: expected 0 or 1"),
    ("?parents=yes", "parents: expected 0 or 1"),
    ("?parents=1&parents=1", "parents: given more than once"),
])
def test_bad_parents_values_are_refused(served, query, message):
    services, _, _ = served
    s = services["cascade"]
    assert message in trace(s["url"], s["national"], query, status=400)["error"]


def test_the_event_and_account_traces_do_not_take_parents(served):
    services, _, _ = served
    s = services["cascade"]
    for path in ("events/jn-1-e3/trace", "accounts/a3/trace"):
        code, _, body = get(f"{s['url']}/api/rumours/jn-1/{path}?parents=1", s["national"], case="P-1")
        assert code == 400 and b"unknown query parameter 'parents'" in body, body


def test_the_openapi_description_lists_parents(served):
    services, _, _ = served
    code, _, body = get(services["cascade"]["url"] + "/openapi.json")
    params = orjson.loads(body)["paths"]["/api/rumours/{rumour_id}/trace"]["get"]["parameters"]
    assert "parents" in {p["name"] for p in params}


def test_the_worker_serves_the_same_parents(tmp_path, monkeypatch, chdb_store):
    from streams.app import create_app
    from streams.embedded import replay_events
    from streams.service.tokens import TokenStore
    from streams.settings import Settings

    tokens = tmp_path / "tokens.json"
    monkeypatch.setenv("RUMOUR_TOKENS_FILE", str(tokens))
    settings = Settings.load({"data_dir": str(tmp_path / "worker")})
    events = masked_events()
    pipeline, _ = replay_events(events, chdb_store, settings)
    app = create_app(settings, pipeline=pipeline)
    server = ThreadServer(app.web.web_app)
    try:
        token = TokenStore(tokens).issue("liaison", "000000", "w")[0]
        answer = trace(server.url, token, "?parents=1")
    finally:
        server.close()
    assert answer["parents"] == cli_parents(events)["jn-1"]
    row = next(r for r in chdb_store.audit_rows(limit=5) if r["action"] == "trace")
    assert orjson.loads(row["params"])["parents"] == 1


def test_the_service_keeps_the_interaction_graph_by_ingest_not_by_request(served, monkeypatch):
    """Ingest keeps the counts (streams/held_interactions.py); a parents request reads them
    and rebuilds nothing, so it never pauses ingest for the whole interaction graph."""
    import streams.trace
    from streams.trace import interactions_of

    services, _, cli = served
    s = services["cascade"]
    pipeline = s["service"].views.pipeline
    # Counted from the first parents request on: a service nobody asks for inferred parents
    # does not make its ingest keep them.
    if pipeline.memory.interactions is None:
        assert s["service"].views.interactions is None
        trace(s["url"], s["national"], "?parents=1")
    held = pipeline.memory.interactions
    assert held is not None and held is s["service"].views.interactions
    whole = interactions_of(pipeline.graphs.values())
    assert held.pair("a2", "hub") == whole.pair("a2", "hub") > 0
    assert held.influence_of("hub") == whole.influence_of("hub") > 0
    full = held.full_counts
    monkeypatch.setattr(streams.trace, "interactions_of", lambda graphs: pytest.fail("rebuilt"))
    assert trace(s["url"], s["national"], "?parents=1")["parents"] == cli["jn-1"]
    assert held.full_counts == full  # nothing counted whole again
