"""Every error answer carries a stable ``code`` (streams/service/error_codes.py) that the dashboard
puts in the user's language (streams/service/static/errors.js): the codes the server's source
emits, the registry and the dashboard's table are one set (a new code without a translation fails
here), and each refusal a user can meet answers its code. Shares the module server of
tests/test_service_governance.py (chDB store, the hand-made cascades, the governance hub)."""
from __future__ import annotations

import ast
import json
import shutil
import socket
import subprocess
from pathlib import Path

import orjson
import pytest

import tests.test_service_governance
from tests.conftest import PROJECT_ROOT, unavailable
from tests.service_helpers import get
from tests.test_service_governance import post

env = tests.test_service_governance.env

ERRORS_JS = PROJECT_ROOT / "streams" / "service" / "static" / "errors.js"
# Where error answers are made: the service, the parameter checks it shares with the CLI, and the
# governance desk whose (status, answer) the service passes on.
SOURCES = [*sorted((PROJECT_ROOT / "streams" / "service").glob("*.py")), PROJECT_ROOT / "streams" / "api.py",
           *sorted((PROJECT_ROOT / "streams" / "governance").glob("*.py"))]
# Constructors of an error answer and where each takes its code: (positional index, keyword).
MAKERS = {"_error": (2, "code"), "Refused": (None, "code"), "ApiError": (2, "code"),
          "NotFound": (1, "code"), "NoCascade": (1, "code"), "HiddenEvent": (1, "code")}


def _name(func) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _literals(node) -> set[str]:
    """The string constants a code expression can be (``"a" if x else "b"`` is both)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _literals(node.body) | _literals(node.orelse)
    if isinstance(node, ast.BoolOp):
        return set().union(*(_literals(v) for v in node.values))
    return set()


def emitted_codes() -> dict[str, list[str]]:
    """code -> where the source emits it: each error constructor's code argument (an ApiError
    without one: its default), each desk answer's ``"code"`` key, and what the functions that
    pick a code (``*_code``) return."""
    found: dict[str, list[str]] = {}

    def note(codes, path, node):
        for c in codes:
            found.setdefault(c, []).append(f"{path.name}:{node.lineno}")

    for path in SOURCES:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in MAKERS:
                index, keyword = MAKERS[_name(node.func)]
                given = [k.value for k in node.keywords if k.arg == keyword]
                if index is not None and len(node.args) > index:
                    given.append(node.args[index])
                if not given and _name(node.func) == "ApiError":
                    note({"bad_parameter"}, path, node)  # ApiError's default code
                for g in given:
                    note(_literals(g), path, node)
            elif isinstance(node, ast.Dict):
                for k, v in zip(node.keys, node.values):
                    if isinstance(k, ast.Constant) and k.value == "code":
                        note(_literals(v), path, node)
            elif isinstance(node, ast.FunctionDef) and node.name.endswith("_code"):
                for r in ast.walk(node):
                    if isinstance(r, ast.Return) and r.value is not None:
                        note(_literals(r.value), path, r)
            elif (isinstance(node, ast.Call) and _name(node.func) == "check"
                  and node.args and isinstance(node.args[0], ast.BoolOp)):
                note(_literals(node.args[0]), path, node)  # a fallback code: check(x or "bad_request")
    return found


def dashboard_codes() -> list[str]:
    if shutil.which("node") is None:
        unavailable("node")
    script = f"console.log(JSON.stringify(require({json.dumps(str(ERRORS_JS))}).codes))"
    return json.loads(subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout)


def dashboard_text(lang: str, error: dict) -> str:
    script = (f"const E = require({json.dumps(str(ERRORS_JS))});"
              f"console.log(JSON.stringify(E.text({json.dumps(lang)}, {json.dumps(error)})))")
    return json.loads(subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout)


def test_the_server_the_registry_and_the_dashboard_know_the_same_codes():
    from streams.service.error_codes import CODES

    emitted = emitted_codes()
    assert set(emitted) - set(CODES) == set(), "emitted but not registered"
    assert set(CODES) - set(emitted) == set(), "registered but never emitted"
    dashboard = dashboard_codes()
    assert len(dashboard) == len(set(dashboard))
    assert set(CODES) - set(dashboard) == set(), "no zh/en text on the dashboard"
    assert set(dashboard) - set(CODES) == set(), "the dashboard translates a code the server never sends"


def test_each_code_reads_in_chinese_and_english_and_an_unknown_one_as_the_servers_text():
    from streams.service.error_codes import CODES

    for code in CODES:
        zh = dashboard_text("zh-CN", {"code": code, "status": 400, "message": "server text"})
        en = dashboard_text("en", {"code": code, "status": 400, "message": "server text"})
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh) and zh != en, (code, zh)
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in en), (code, en)
    # A parameter's refusal keeps the server's detail (which parameter) after the words.
    assert dashboard_text("zh-CN", {"code": "bad_parameter", "status": 400, "message": "limit: expected 1..1000"}) \
        == "请求参数无效（limit: expected 1..1000）"
    # A code this page does not know (a newer server): the server's text, not nothing.
    assert dashboard_text("zh-CN", {"code": "from_the_future", "status": 418, "message": "teapot"}) == "teapot"
    assert dashboard_text("zh-CN", {"code": "unreachable"}) == "无法连接服务器，请检查网络后重试"


def test_an_unregistered_code_is_refused_where_the_answer_is_made():
    from streams.service.responses import Refused, _error

    assert orjson.loads(_error(404, "unknown rumour 'x'", "unknown_rumour").body) == {
        "error": "unknown rumour 'x'", "status": 404, "code": "unknown_rumour"}
    with pytest.raises(ValueError, match="not in streams.service.error_codes.CODES"):
        _error(404, "x", "unknown_rumor")
    with pytest.raises(ValueError):
        Refused(404, "x", code="nope")


def _code(answer: bytes) -> str:
    body = orjson.loads(answer)
    assert set(body) >= {"error", "status", "code"}, body
    return body["code"]


def test_each_refusal_a_user_meets_answers_its_code(env, monkeypatch):
    from streams.store.base import StoreUnavailable

    url, tok = env["url"], env["tok"]

    def g(path, token=None, case=None, base=url):
        status, _, body = get(base + path, token, case=case)
        return status, _code(body)

    def p(path, token, body, **kw):
        status, answer = post(url + path, token, body, **kw)
        return status, _code(answer)

    assert g("/api/me") == (401, "token_required")
    assert g("/api/me", tok["revoked"]) == (401, "token_required")
    assert g("/api/rumours/jn-1/evidence?case=C-1", tok["analyst"]) == (403, "role_forbidden")
    assert g("/api/rumours/jn-1/accounts/someone/trace", tok["analyst"]) == (403, "pseudonym_only")
    # Outside the jurisdiction and unknown: the same code (and body), as the same 404.
    assert g("/api/rumours/jn-1", tok["beijing"]) == g("/api/rumours/no-such", tok["beijing"]) == (404, "unknown_rumour")
    assert g("/api/rumours/jn-1/accounts/psn_0000000000000000/trace", tok["analyst"]) == (404, "unknown_account")
    assert g("/api/rumours/jn-1/tree?under=pev_0000000000000000", tok["analyst"]) == (404, "unknown_event")
    assert g("/api/rumours/jn-1/trace", tok["liaison"]) == (400, "case_required")
    assert g("/api/rumours/jn-1/trace", tok["liaison"], case="bad;case") == (400, "bad_case")
    assert g("/api/rumours?limit=abc", tok["analyst"]) == (400, "bad_parameter")
    assert g("/api/alerts?limt=5", tok["analyst"]) == (400, "bad_parameter")
    assert g("/api/alerts?jurisdiction=110000", tok["analyst"]) == (403, "outside_jurisdiction")
    assert g("/api/audit/refusals", tok["admin"]) == (403, "national_admin_only")
    assert g("/api/nothing-here", tok["analyst"]) == (404, "no_such_route")
    assert g("/static/nothing.js") == (404, "no_such_file")
    assert p("/api/rumours/jn-1/status", tok["admin"], None, content_type="text/plain", raw=b"x") == (415, "body_not_json")
    assert p("/api/rumours/jn-1/status", tok["admin"], None, raw=b"{") == (400, "bad_body")
    assert p("/api/rumours/jn-1/status", tok["admin"], {"status": "bogus"}) == (400, "bad_body")
    assert p("/api/rumours/jn-1/status", tok["admin"],
             {"status": "verified", "expected_changed_at": "1970-01-01T00:00:00.000Z"}) == (409, "status_conflict")
    assert g("/api/rumours/jn-1/status", tok["analyst"], base=env["bare"]) == (503, "governance_off")
    # A store that cannot be reached: still 500 "internal error", now told apart from a bug.
    monkeypatch.setattr(env["service"].views, "detail",
                        lambda *a, **k: (_ for _ in ()).throw(StoreUnavailable("no server at 127.0.0.1:9")))
    assert g("/api/rumours/jn-1", tok["analyst"]) == (500, "store_unavailable")
    monkeypatch.setattr(env["service"].views, "detail", lambda *a, **k: {}["boom"])
    assert g("/api/rumours/jn-1", tok["analyst"]) == (500, "internal_error")

    def broken(rows):
        raise RuntimeError("disk full")

    monkeypatch.setattr(env["store"], "write_audit", broken)
    assert g("/api/rumours/jn-1/trace", tok["liaison"], case="C-3") == (503, "audit_unavailable")


def test_the_parser_and_aiohttp_refusals_carry_codes_too(env):
    host, port = env["url"].split("//")[1].split(":")

    def raw(request: bytes) -> tuple[int, str]:
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(request)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), _code(body)

    assert raw(b"GET /api/me?q=\xe5\xb9\xbf HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == (400, "url_not_encoded")
    assert raw(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == (400, "header_too_long")
    assert raw(b"NOT HTTP\r\n\r\n") == (400, "malformed_request")
    assert raw(b"DELETE /api/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == (405, "method_not_allowed")
