"""Every error answer of the API is JSON (``{"error", "status"}``, streams/service/errors.py):
aiohttp's own 404/405/413 and the parser's refusals (malformed request, oversized header) as
well as the handlers' answers, which stay byte for byte what they were. Shares the module server
of tests/test_service_governance.py (chDB store, the hand-made cascades)."""
from __future__ import annotations

import logging
import socket

import orjson
import pytest
from aiohttp import web

from streams.service.errors import json_errors
from tests.service_helpers import ThreadServer, get
import tests.test_service_governance
from tests.test_service_governance import post

# The module-scoped server fixture of tests/test_service_governance.py (this module gets a server
# of its own).
env = tests.test_service_governance.env


def _request(url: str, method: str, path: str, token=None, body: bytes | None = None,
             content_type: str = "application/json"):
    """(status, headers, body) of any method, by urllib."""
    import urllib.error
    import urllib.request

    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url + path, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _raw(url: str, data: bytes) -> tuple[int, dict, bytes]:
    """Send raw bytes; (status, headers, body) of the answer (the server closes after it)."""
    host, port = url.rsplit("/", 1)[-1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def _json_error(status, headers, body, expected_status):
    assert status == expected_status, body
    assert headers.get("Content-Type", headers.get("content-type", "")).startswith("application/json")
    answer = orjson.loads(body)
    assert set(answer) == {"error", "status", "code"} and answer["status"] == expected_status
    return answer["error"]


@pytest.fixture(scope="module")
def worker_shaped(env):
    """The service mounted as in the worker: its middleware on an application that has routes of
    its own (Faust's pages), and no catch-all."""
    app = web.Application(client_max_size=1024)

    async def router_page(request):  # a Faust page that reads its body
        await request.read()
        return web.json_response({"ok": True})

    app.router.add_route("GET", "/router", router_page)
    app.router.add_route("PUT", "/router/upload", router_page)
    app.middlewares.insert(0, json_errors)
    app.middlewares.append(env["service"].middleware)
    server = ThreadServer(app)
    yield server.url
    server.close()


def test_malformed_json_body_is_a_json_400(env):
    status, raw = post(env["url"] + "/api/reports", env["tok"]["analyst"], None, raw=b'{"reporter": ')
    assert (status, orjson.loads(raw)) == (400, {"error": "body: invalid JSON", "status": 400, "code": "bad_body"})


@pytest.mark.parametrize("which", ["url", "worker"])
def test_unknown_api_route_is_a_json_404(env, worker_shaped, which):
    url = env["url"] if which == "url" else worker_shaped
    for path in ("/api/nothing-here", "/api/rumours/jn-1/nothing", "/not-api"):
        status, headers, body = get(url + path, env["tok"]["analyst"])
        assert _json_error(status, headers, body, 404) == "no such route"


def test_wrong_method_is_a_json_405_with_allow(env, worker_shaped):
    status, headers, body = _request(env["url"], "DELETE", "/api/reports", env["tok"]["analyst"])
    assert _json_error(status, headers, body, 405) == "allowed: POST"  # the service's own answer
    status, headers, body = _request(worker_shaped, "POST", "/router")  # aiohttp's, from the router
    assert _json_error(status, headers, body, 405) == "allowed: GET"
    assert headers["Allow"] == "GET"


def test_oversized_body_is_a_json_413(env, worker_shaped):
    big = orjson.dumps({"reporter": "x", "text": "a" * 70_000})
    status, headers, body = _request(env["url"], "POST", "/api/reports", env["tok"]["analyst"], big)
    assert _json_error(status, headers, body, 413) == "body: larger than 65536 bytes"
    # aiohttp's own limit (client_max_size) on a page that reads its body
    status, headers, body = _request(worker_shaped, "PUT", "/router/upload", body=b"x" * 5000)
    assert "1024" in _json_error(status, headers, body, 413)


@pytest.mark.parametrize("which", ["url", "worker"])
def test_parser_refusals_are_json(env, worker_shaped, which):
    url = env["url"] if which == "url" else worker_shaped
    long_header = b"GET /api/me HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
    error = _json_error(*_raw(url, long_header), 400)
    assert error == "request line or header longer than 8190 bytes"
    assert b"aaaa" not in orjson.dumps(error)  # the request's bytes are not echoed
    _json_error(*_raw(url, b"NOT HTTP AT ALL\r\n\r\n"), 400)
    _json_error(*_raw(url, b"GET /api/me HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n"), 400)


@pytest.mark.parametrize("which", ["url", "worker"])
def test_unencoded_url_says_how_to_encode(env, worker_shaped, which):
    # curl sends a Chinese search word typed into the URL as raw UTF-8, which the parser refuses:
    # the answer says what to send instead (it was "malformed HTTP request (bad request)").
    url = env["url"] if which == "url" else worker_shaped
    for target in ("/api/rumours?q=广州", "/api/rumours/广州"):
        request = f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        error = _json_error(*_raw(url, request), 400)
        assert "percent-encoded" in error and "--data-urlencode" in error


@pytest.mark.parametrize("which", ["url", "worker"])
def test_unencoded_url_is_one_warning_line_not_a_traceback(env, worker_shaped, which, caplog):
    # The client's mistake, answered with how to fix it: aiohttp logged a full ERROR traceback.
    url = env["url"] if which == "url" else worker_shaped
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    _json_error(*_raw(url, "GET /api/rumours?q=广州 HTTP/1.1\r\nHost: x\r\n\r\n".encode()), 400)
    records = [r for r in caplog.records if r.name.startswith("aiohttp")]
    assert [(r.levelname, r.exc_info) for r in records] == [("WARNING", None)], caplog.text
    assert "not percent-encoded" in records[0].getMessage() and "Traceback" not in caplog.text
    assert "广州" not in caplog.text  # the request's bytes are not echoed into the log


def test_handlers_answers_are_unchanged(env):
    """The same requests against the service with aiohttp's plain runner and no json_errors (as
    before) and as served now: same status, body and content type."""
    service = env["service"]
    before = web.Application(middlewares=[service.middleware])

    async def not_found(request):
        from streams.service.responses import _error

        return _error(404, "no such route", "no_such_route")

    before.router.add_route("*", "/{tail:.*}", not_found)
    plain = ThreadServer(before, runner=web.AppRunner)
    tok = env["tok"]
    try:
        requests = [("GET", "/api/me", None, None), ("GET", "/api/me", tok["analyst"], None),
                    ("GET", "/api/rumours/bj-1", tok["analyst"], None),
                    ("GET", "/api/rumours/jn-1/reports", tok["beijing"], None),
                    ("GET", "/api/rumours/%ff/status", tok["analyst"], None),
                    ("GET", "/api/alerts?jurisdiction=x", tok["analyst"], None),
                    ("POST", "/api/reports", tok["analyst"], b"[1"),
                    ("POST", "/api/reports", tok["analyst"], b"{}"),
                    ("POST", "/api/rumours/jn-1/status", tok["liaison"], b'{"status": "verified"}'),
                    ("PUT", "/api/alerts", tok["analyst"], None), ("GET", "/nothing", None, None),
                    ("GET", "/healthz", None, None)]
        for method, path, token, body in requests:
            was = _request(plain.url, method, path, token, body)
            now = _request(env["url"], method, path, token, body)
            assert (now[0], now[2], now[1].get("Content-Type")) == (was[0], was[2], was[1].get("Content-Type")), path
    finally:
        plain.close()


def test_audited_routes_still_write_their_row(env):
    before = len(env["store"].audit_rows(limit=100_000))
    status, _, _ = get(env["url"] + "/api/rumours/jn-1/trace", env["tok"]["analyst"])
    status_refused, _, _ = get(env["url"] + "/api/rumours/bj-1/trace", env["tok"]["analyst"])
    assert (status, status_refused) == (200, 404)
    assert len(env["store"].audit_rows(limit=100_000)) == before + 2


def test_the_worker_mounts_both(env, tmp_path, monkeypatch):
    """streams/web.py: json_errors outermost on Faust's application, the service inside it, and
    Faust's runner (made when the app is built, set up at start) replaced by JsonErrorRunner."""
    from types import SimpleNamespace

    from streams.service.errors import JsonErrorRunner
    from streams.settings import Settings
    from streams.web import register_routes

    monkeypatch.setenv("RUMOUR_TOKENS_FILE", str(tmp_path / "tokens.json"))
    faust_app = web.Application()
    app = SimpleNamespace(web=SimpleNamespace(web_app=faust_app, _runner=web.AppRunner(faust_app)), stats={})
    register_routes(app, env["pipeline"], Settings.load({}))
    assert list(faust_app.middlewares) == [json_errors, app.rumour_service.middleware]
    assert type(app.web._runner) is JsonErrorRunner and app.web._runner.app is faust_app


def test_the_worker_serves_with_the_tokens_file_setting(env, tmp_path, monkeypatch):
    # `rumour worker --tokens-file F` was ignored by the API: it read the environment alone.
    from types import SimpleNamespace

    from streams.settings import Settings
    from streams.web import register_routes

    monkeypatch.setenv("RUMOUR_TOKENS_FILE", str(tmp_path / "env" / "tokens.json"))
    faust_app = web.Application()
    app = SimpleNamespace(web=SimpleNamespace(web_app=faust_app, _runner=web.AppRunner(faust_app)), stats={})
    given = tmp_path / "flag" / "tokens.json"
    register_routes(app, env["pipeline"], Settings.load({"tokens_file": str(given)}))
    assert app.rumour_service.tokens.path == given
