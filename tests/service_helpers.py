"""Shared wiring of the service tests: hand-made cascades over several jurisdictions, a server
running in a thread, and a small HTTP client."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import threading
import urllib.error
import urllib.request

T0 = 1_764_547_200_000  # 2025-12-01T00:00:00Z
MIN = 60_000


def _ev(rumour, i, account, minute, parent=None, parent_account=None, region=None, kind=None, text=None):
    return {"event_id": f"{rumour}-e{i}", "rumour_id": rumour, "account_id": account,
            "ts": T0 + minute * MIN, "parent_event_id": None if parent is None else f"{rumour}-e{parent}",
            "parent_account_id": parent_account, "kind": kind or ("post" if parent is None else "share"),
            "platform": "weibo", "region": region, "text": text if text is not None else f"{rumour} text {i}"}


def cascades() -> list[dict]:
    """Three rumours: jn-1 (Jinan 370102 and Qingdao 370211), qd-1 (Qingdao 370211 only),
    bj-1 (Beijing 110105), plus a debunk of jn-1. jn-1's tree: e0 <- e1 <- {e2, e3, e4}, e0 <- e5."""
    ev = [
        _ev("jn-1", 0, "src", 0, region="370102", text="谣言原文 rumour"),
        _ev("jn-1", 1, "hub", 1, 0, "src", region="370102"),
        _ev("jn-1", 2, "a2", 2, 1, "hub", region="370211"),
        _ev("jn-1", 3, "a3", 3, 1, "hub", region="370102"),
        _ev("jn-1", 4, "a4", 4, 1, "hub", region=None),
        _ev("jn-1", 5, "a5", 5, 0, "src", region="370102"),
        _ev("jn-1", 6, "police", 6, region="370102", kind="debunk", text="辟谣 debunk"),
        _ev("qd-1", 0, "q0", 10, region="370211"),
        _ev("qd-1", 1, "q1", 11, 0, "q0", region="370211"),
        _ev("bj-1", 0, "b0", 20, region="110105"),
        _ev("bj-1", 1, "b1", 21, 0, "b0", region="110105"),
        _ev("bj-1", 2, "src", 22, 1, "b1", region="110105"),
    ]
    return ev


@contextlib.contextmanager
def store_of(request):
    """A fresh migrated store of the kind a parametrised fixture names (``request.param``:
    ``chdb`` or ``clickhouse``, the server 18.16), dropped and closed afterwards."""
    from tests.plugins.clickhouse import fresh_database, patient

    if request.param == "chdb":
        from streams.store.embedded import ChdbStore

        store = ChdbStore("chdb://", database=fresh_database())
    else:
        from streams.store.clickhouse import ClickHouseStore

        store = ClickHouseStore(patient(request.getfixturevalue("clickhouse_server")), database=fresh_database())
    try:
        store.migrate()
        yield store
    finally:
        store.drop()
        store.close()


@contextlib.contextmanager
def served_events(events, tokens_path, batch_size: int = 5, cutoff_k: int = 5):
    """``(store, service, server)``: ``events`` replayed into a fresh chDB store, the service
    (no governance) over it and its server in a thread; closed and dropped afterwards."""
    from streams.embedded import replay_events
    from streams.service.http import Service
    from streams.settings import Settings
    from streams.store.embedded import ChdbStore
    from tests.plugins.clickhouse import fresh_database

    store = ChdbStore("chdb://", database=fresh_database())
    store.migrate()
    pipeline, stats = replay_events(events, store, Settings.load({"batch_size": batch_size}))
    assert stats.stored == len(events)
    service = Service(pipeline, store, tokens_path, cutoff_k=cutoff_k)
    server = ThreadServer(service.application())
    try:
        yield store, service, server
    finally:
        server.close()
        store.drop()
        store.close()


@contextlib.contextmanager
def governed_server(tokens_path, events, threshold: int, tokens):
    """A dict ``url``, ``tok`` (name -> token), ``store``, ``service``, ``hub``, ``pipeline``,
    ``tokens_path``: :func:`governed_service` over ``events`` in a fresh chDB store, served in a
    thread, with a token per ``tokens`` entry ``(name, role, jurisdiction)``; closed and dropped
    afterwards."""
    from streams.service.tokens import TokenStore
    from streams.store.embedded import ChdbStore
    from tests.plugins.clickhouse import fresh_database

    store = ChdbStore("chdb://", database=fresh_database())
    store.migrate()
    pipeline, hub, service = governed_service(store, events, tokens_path, threshold)
    server = ThreadServer(service.application())
    ts = TokenStore(tokens_path)
    tok = {name: ts.issue(role, code, name)[0] for name, role, code in tokens}
    try:
        yield {"url": server.url, "tok": tok, "store": store, "service": service, "hub": hub,
               "pipeline": pipeline, "tokens_path": tokens_path}
    finally:
        server.close()
        store.drop()
        store.close()


def governed_service(store, events, tokens_path, threshold: int):
    """``(pipeline, hub, service)`` over a migrated ``store`` once ``events`` are replayed and the
    hub flushed. Alerts by the volume rule only, at ``threshold`` shares: growth and burst need
    histories these small cascades do not have."""
    import orjson

    from streams.embedded import make_pipeline, replay_messages
    from streams.governance.config import GovernanceConfig
    from streams.governance.wiring import build_governance
    from streams.service.http import Service
    from streams.settings import Settings

    settings = Settings.load({"batch_size": 5})
    pipeline = make_pipeline(store, settings)
    config = GovernanceConfig(alert_window_shares=threshold, alert_growth_min_shares=10 ** 6,
                              alert_burst_min_shares=10 ** 6)
    hub = build_governance(pipeline, store, settings, config)
    replay_messages(((orjson.dumps(e), f"t:{i}") for i, e in enumerate(events)), pipeline, 5)
    hub.flush()
    return pipeline, hub, Service(pipeline, store, tokens_path, cutoff_k=5, governance=hub)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadServer:
    """An aiohttp application served from a background thread, by ``runner`` (an AppRunner
    class; default: :class:`streams.service.errors.JsonErrorRunner`, as ``rumour serve``)."""

    def __init__(self, app, runner=None):
        from aiohttp import web

        from streams.service.errors import JsonErrorRunner

        runner_class = runner or JsonErrorRunner
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def start():
            runner = runner_class(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            return runner, site._server.sockets[0].getsockname()[1]

        self.runner, self.port = asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def get(url: str, token: str | None = None, case: str | None = None, headers=None):
    """(status, headers, body bytes) of a GET."""
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    if case is not None:
        h["X-Case-Id"] = case
    req = urllib.request.Request(url, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def bad_tokens(tok: dict, valid: str) -> list[tuple]:
    """``(token or None, the reason its audit row records)`` of every kind of token a route
    refuses with 401; ``tok["revoked"]`` is a revoked token, ``valid`` names a valid one."""
    good = tok[valid]
    return [(None, "missing"), ("", "missing"), ("rt_000000000000_" + "x" * 43, "unknown"),
            ("not-a-token", "malformed"), (tok["revoked"], "revoked"),
            (good[:-1] + ("A" if good[-1] != "A" else "B"), "wrong_secret")]


def check_refusal_rows(rows: list[dict], route: str, bad: list[tuple]) -> None:
    """The audit rows of the requests of ``bad`` (in any order: rows of one millisecond have no
    order): one each, naming the route, the status and the reason, with a fingerprint of the
    token presented and nothing of who presented it, never the token itself."""
    assert sorted(r["auth_failure"] for r in rows) == sorted(reason for _, reason in bad), (route, rows)
    for row in rows:
        assert (row["action"], row["status"]) == (route, 401), (route, row)
        assert row["token_id"] == row["token_name"] == row["role"] == row["jurisdiction"] == "", row
        assert row["remote"] == "127.0.0.1", row
        assert (row["token_fingerprint"] == "") == (row["auth_failure"] == "missing"), row
        assert all(not token or token not in str(row) for token, _ in bad), row
    fingerprints = [r["token_fingerprint"] for r in rows if r["token_fingerprint"]]
    assert len(set(fingerprints)) == len(fingerprints), rows
