"""Event and account ids in the trace routes' paths: every id the event format stores can be
traced (Weibo account ids such as ``addlez?st=4c9e7e`` hold characters a rumour id may not), and
one that is refused is named as what it is."""
from __future__ import annotations

from urllib.parse import quote

import orjson
import pytest

from tests.service_helpers import ThreadServer, get

T0 = 1_764_547_200_000  # 2025-12-01T00:00:00Z
# A chain post -> share -> share whose ids are valid share events (streams/events.py) but hold
# characters outside a rumour id's alphabet: "?", "=", "%", a space.
EVENTS = [
    {"event_id": "p1", "rumour_id": "r1", "account_id": "addlez?st=4c9e7e", "ts": T0, "kind": "post",
     "region": "370102"},
    {"event_id": "s 2", "rumour_id": "r1", "account_id": "u2", "ts": T0 + 60_000, "parent_event_id": "p1",
     "region": "370102"},
    {"event_id": "s%3", "rumour_id": "r1", "account_id": "u 3", "ts": T0 + 120_000,
     "parent_event_id": "s 2", "region": "370102"},
]


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
    pipeline, stats = replay_events(EVENTS, store, Settings.load({}))
    assert stats.stored == len(EVENTS)
    server = ThreadServer(Service(pipeline, store, tokens_path).application())
    token = TokenStore(tokens_path).issue("liaison", "370000", "liaison")[0]
    yield {"url": server.url, "token": token}
    server.close()
    store.drop()
    store.close()


def _trace(env, kind: str, value: str):
    status, _, body = get(f"{env['url']}/api/rumours/r1/{kind}/{quote(value, safe='')}/trace",
                          env["token"], case="C-1")
    return status, orjson.loads(body)


@pytest.mark.parametrize("kind,value", [("accounts", "addlez?st=4c9e7e"), ("accounts", "u 3"),
                                        ("events", "s 2"), ("events", "s%3")])
def test_every_stored_id_can_be_traced(env, kind, value):
    # Refused with 400 "rumour id: 1-256 letters, digits or . : @ / + - _" before.
    status, answer = _trace(env, kind, value)
    assert status == 200, answer
    assert answer["scope"] == {"kind": kind[:-1], "id": value}
    hops = [(h["event_id"], h["account_id"]) for c in answer["chains"] for h in c["hops"]]
    assert ("p1", "addlez?st=4c9e7e") in hops and answer["origins"][0]["account_id"] == "addlez?st=4c9e7e"


@pytest.mark.parametrize("kind,value,what", [("accounts", " ", "account id"), ("events", "a\nb", "event id"),
                                             ("events", "e" * 257, "event id")])
def test_a_refused_id_is_named_as_what_it_is(env, kind, value, what):
    status, answer = _trace(env, kind, value)
    assert (status, answer["error"]) == (400, f"{what}: 1-256 characters, not blank, no control characters")


def test_an_unknown_id_with_such_characters_is_unknown_not_malformed(env):
    assert _trace(env, "accounts", "nobody?st=1") == (404, {"error": "unknown account 'nobody?st=1'",
                                                           "status": 404, "code": "unknown_account"})
