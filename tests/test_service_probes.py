"""Requests with no valid token are audited without a "who" (streams/service/probes.py,
sql/019_audit_auth_failures.sql): rate-limited to a number of rows a minute plus one summary of
the rest, written at the next request after the minute or when the service stops. On chDB and on
clickhouse-server 18.16 (the ``store`` fixture)."""
from __future__ import annotations

import orjson
import pytest

from streams.service.probes import PEERS_KEPT, ProbeLog, fingerprint, fingerprint_key
from tests.service_helpers import ThreadServer, cascades, get

MINUTE_MS = 60_000


class Clock:
    def __init__(self, ms):
        self.ms = ms

    def __call__(self):
        return self.ms / 1000


@pytest.fixture
def served(store, tmp_path):
    from streams.embedded import replay_events
    from streams.service.http import Service
    from streams.service.tokens import TokenStore
    from streams.settings import Settings

    pipeline, _ = replay_events(cascades(), store, Settings.load({"batch_size": 5}))
    service = Service(pipeline, store, tmp_path / "tokens.json", cutoff_k=5)
    clock = Clock(1_800_000_000_000 - 1_800_000_000_000 % MINUTE_MS)
    service.probes = ProbeLog(service.probes.key, rows_per_minute=3, clock=clock)
    server = ThreadServer(service.application())
    admin = TokenStore(tmp_path / "tokens.json").issue("admin", "000000", "admin")[0]
    env = {"url": server.url, "store": store, "service": service, "clock": clock, "admin": admin,
           "tokens_path": tmp_path / "tokens.json", "server": server}
    yield env
    if env["server"] is not None:
        server.close()


def refused_rows(store) -> list[dict]:
    return sorted((r for r in store.audit_rows(limit=1000) if not r["token_id"]),
                  key=lambda r: (r["ts_ms"], r["auth_failure"]))


def test_a_flood_of_bad_tokens_is_capped_a_minute_and_summarised(served):
    env, url = served, served["url"]
    for i in range(7):  # 3 rows, then 4 counted
        assert get(url + "/api/rumours/jn-1/trace", f"guess-{i}", case="C-1")[0] == 401
    rows = refused_rows(env["store"])
    assert [(r["action"], r["auth_failure"], r["status"]) for r in rows] == [("trace", "malformed", 401)] * 3
    assert len({r["token_fingerprint"] for r in rows}) == 3

    env["clock"].ms += MINUTE_MS  # the next minute: its first refusal writes the summary first
    assert get(url + "/api/me")[0] == 401
    rows = refused_rows(env["store"])
    assert len(rows) == 5
    summary = next(r for r in rows if r["auth_failure"] == "suppressed")
    assert summary["action"] == "unauthenticated" and summary["remote"] == "" and summary["token_id"] == ""
    params = orjson.loads(summary["params"])
    assert params["suppressed"] == 4 and params["routes"] == {"trace": 4}
    assert params["reasons"] == {"malformed": 4} and params["peers"] == {"127.0.0.1": 4}
    assert next(r for r in rows if r["action"] == "me")["auth_failure"] == "missing"

    # The admin reads them (a national admin: they belong to no jurisdiction), in words too.
    status, _, body = get(url + "/api/audit?limit=100", env["admin"])
    assert status == 200
    listed = [r for r in orjson.loads(body)["rows"] if r["auth_failure"]]
    assert len(listed) == 5 and {r["token_expires"] for r in listed} == {"not recorded"}


def test_a_suppressed_count_is_written_when_the_service_stops(served):
    env = served
    for _ in range(5):
        assert get(env["url"] + "/api/rumours", "rt_000000000000_" + "x" * 43)[0] == 401
    assert len(refused_rows(env["store"])) == 3
    env["server"].close()  # aiohttp's on_shutdown: the pending summary
    env["server"] = None
    rows = refused_rows(env["store"])
    assert [r["auth_failure"] for r in rows].count("unknown") == 3
    summary = next(r for r in rows if r["auth_failure"] == "suppressed")
    assert orjson.loads(summary["params"])["reasons"] == {"unknown": 2}


def test_an_unreadable_tokens_file_is_audited_as_such(served):
    env = served
    env["tokens_path"].write_text("not json", encoding="utf-8")
    status, _, body = get(env["url"] + "/api/rumours", env["admin"])
    assert status == 503, body
    (row,) = refused_rows(env["store"])
    assert (row["status"], row["auth_failure"], row["action"]) == (503, "tokens_unreadable", "rumours")
    # the admin's token was presented: its fingerprint, not the token
    assert row["token_fingerprint"] and env["admin"] not in str(row)


def test_the_401_leaves_even_when_its_row_cannot_be_written(served, monkeypatch):
    env = served

    def broken(rows):
        raise OSError("disk full")

    monkeypatch.setattr(env["store"], "write_audit", broken)
    status, headers, _ = get(env["url"] + "/api/rumours", "nope")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")


def test_the_summary_keeps_a_bounded_number_of_peers():
    log = ProbeLog(b"k" * 32, rows_per_minute=0)
    for i in range(PEERS_KEPT + 50):
        assert log.note("me", 401, "missing", f"10.0.{i // 256}.{i % 256}", None, now_ms=0) == []
    (row,) = log.flush()
    params = orjson.loads(row["params"])
    assert len(params["peers"]) == PEERS_KEPT and params["other_peers"] == 50
    assert params["suppressed"] == PEERS_KEPT + 50
    assert log.flush() == []  # written once


def test_fingerprints_are_keyed():
    token = "rt_0123456789ab_" + "y" * 43
    key = fingerprint_key(b"k" * 32)
    assert fingerprint(key, token) != fingerprint(fingerprint_key(b"j" * 32), token)
    assert token not in fingerprint(key, token)


def test_the_cli_fingerprint_of_a_token_is_the_one_its_refusal_recorded(served, monkeypatch, capsys, tmp_path):
    import io

    from streams.service.cli import token_main
    from streams.service.tokens import TokenStore

    env = served
    tokens = TokenStore(env["tokens_path"])
    revoked = tokens.issue("analyst", "110000", "gone")[0]
    assert tokens.revoke(revoked.split("_")[1])
    assert get(env["url"] + "/api/rumours", revoked)[0] == 401
    assert get(env["url"] + "/api/rumours", headers={"Authorization": "Basic dXNlcjpwdw=="})[0] == 401
    recorded = {r["auth_failure"]: r["token_fingerprint"] for r in refused_rows(env["store"])}
    assert len(recorded["revoked"]) == 16

    # from stdin, as pasted (bare, or with its scheme as sent); one line out per token in
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{revoked}\n\nBearer {revoked}\nBasic dXNlcjpwdw==\n"))
    assert token_main(["fingerprint", "--tokens-file", str(env["tokens_path"])]) == 0
    out = capsys.readouterr().out.split()
    assert out == [recorded["revoked"], recorded["revoked"], recorded["malformed"]]
    # from a file
    path = tmp_path / "suspect.txt"
    path.write_text(revoked + "\n", encoding="utf-8")
    assert token_main(["fingerprint", "--from", str(path), "--tokens-file", str(env["tokens_path"])]) == 0
    assert capsys.readouterr().out == recorded["revoked"] + "\n"


def test_the_cli_fingerprint_needs_the_services_key_and_never_makes_one(tmp_path, monkeypatch, capsys):
    import io

    from streams.service.cli import token_main

    monkeypatch.setattr("sys.stdin", io.StringIO("rt_0123456789ab_" + "y" * 43 + "\n"))
    assert token_main(["fingerprint", "--tokens-file", str(tmp_path / "tokens.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rumour: error: cannot read the pseudonym key ") and "pseudonym.key" in err
    assert not (tmp_path / "pseudonym.key").exists()  # a new key would match nothing written
    (tmp_path / "pseudonym.key").write_bytes(b"k" * 32)
    monkeypatch.setattr("sys.stdin", io.StringIO("\n \n"))
    assert token_main(["fingerprint", "--tokens-file", str(tmp_path / "tokens.json")]) == 2
    assert "no token read from stdin" in capsys.readouterr().err
