"""Token expiry: the store's clock is injected (no sleeps); old token files load; the CLI's
flags and the token_days setting; `rumour token list` shows expiry and state."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import orjson
import pytest

from streams.service.tokens import TokenStore, expiry_ms

DAY_MS = 86_400_000
T_ISSUE = 1_800_000_000.0  # seconds, a fixed instant (2027-01-15)


class Clock:
    """A settable clock in seconds, like time.time."""

    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_token_works_until_its_expiry_then_is_refused(tmp_path):
    clock = Clock(T_ISSUE)
    store = TokenStore(tmp_path / "tokens.json", clock=clock)
    token, rec = store.issue("liaison", "370100", "police", expires_ms=expiry_ms(store.now_ms(), days=2))
    assert rec.expires_ms == int(T_ISSUE * 1000) + 2 * DAY_MS
    principal = store.authenticate(token)
    assert principal is not None and principal.expires_ms == rec.expires_ms
    clock.t = T_ISSUE + 2 * 86_400 - 0.001  # the last millisecond of its life
    assert store.authenticate(token) is not None
    clock.t = T_ISSUE + 2 * 86_400
    assert store.authenticate(token) is None
    # A fresh store over the same file (another worker) refuses it as well.
    assert TokenStore(store.path, clock=clock).authenticate(token) is None
    # Time going back (a clock corrected) brings it back: expiry is a time, not a state.
    clock.t = T_ISSUE
    assert store.authenticate(token) is not None


def test_an_expiry_in_the_past_is_refused_at_issue(tmp_path):
    store = TokenStore(tmp_path / "tokens.json", clock=Clock(T_ISSUE))
    with pytest.raises(ValueError):
        store.issue("admin", "000000", expires_ms=int(T_ISSUE * 1000))
    with pytest.raises(ValueError):
        expiry_ms(int(T_ISSUE * 1000), until="2027-01-14")
    with pytest.raises(ValueError):
        expiry_ms(0, days=-1)
    with pytest.raises(ValueError):
        expiry_ms(0, days=1, until="2030-01-01")
    assert not store.path.exists()


def test_a_date_expiry_covers_that_whole_utc_day():
    now = int(T_ISSUE * 1000)
    end = expiry_ms(now, until="2027-01-20")
    assert datetime.fromtimestamp(end / 1000, timezone.utc) == datetime(2027, 1, 21, tzinfo=timezone.utc)


def _old_record(token_id: str, secret: str, **extra) -> dict:
    # The record as the first version wrote it: no expires_ms field at all.
    salt = "00" * 16
    digest = hashlib.sha256(bytes.fromhex(salt) + secret.encode("ascii")).hexdigest()
    return {"id": token_id, "name": "old", "role": "analyst", "jurisdiction": "370000", "salt": salt,
            "sha256": digest, "created_ms": 1_700_000_000_000, "revoked_ms": None, **extra}


def test_an_old_tokens_file_loads_and_its_tokens_never_expire(tmp_path):
    secret = "s" * 43
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"version": 1, "tokens": [
        _old_record("0123456789ab", secret),
        # a field written by some later version is ignored, not fatal
        _old_record("ba9876543210", secret, some_future_field=1)]}), encoding="utf-8")
    clock = Clock(T_ISSUE + 10 * 365 * 86_400)
    store = TokenStore(path, clock=clock)
    principal = store.authenticate(f"rt_0123456789ab_{secret}")
    assert principal is not None and principal.role == "analyst" and principal.expires_ms is None
    assert store.authenticate(f"rt_ba9876543210_{secret}") is not None
    (entry, _) = store.listing()
    assert (entry["expires"], entry["expires_ms"], entry["expired"], entry["state"]) == ("never", None, False, "active")
    # Issuing into the old file keeps the old records usable.
    store.issue("admin", "000000", "new", expires_ms=store.now_ms() + DAY_MS)
    assert store.authenticate(f"rt_0123456789ab_{secret}") is not None
    assert len(json.loads(path.read_text())["tokens"]) == 3


@pytest.fixture
def cli(capsys):
    """Run `rumour token ...`; (exit code, stdout, stderr). capsys, as `list` writes bytes."""
    from streams.service.cli import token_main

    def run(*argv) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = token_main(list(argv))
        except SystemExit as exc:  # argparse refusals
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err
    return run


def test_cli_list_shows_expiry_and_state(tmp_path, monkeypatch, cli):
    monkeypatch.delenv("RUMOUR_TOKEN_DAYS", raising=False)
    path = tmp_path / "tokens.json"
    # Issued ten years ago for one day: expired now, whatever today is.
    past = TokenStore(path, clock=Clock(1_500_000_000.0))
    _, lapsed = past.issue("liaison", "370100", "lapsed", expires_ms=past.now_ms() + DAY_MS)
    _, gone = past.issue("liaison", "370100", "gone", expires_ms=past.now_ms() + DAY_MS)
    past.revoke(gone.id)
    code, out, _ = cli("issue", "--role", "analyst", "--jurisdiction", "370000", "--name", "forever",
                        "--expires-days", "0", "--tokens-file", str(path))
    assert code == 0
    code, out, _ = cli("issue", "--role", "analyst", "--jurisdiction", "370000", "--name", "until",
                        "--expires", "2999-12-31", "--tokens-file", str(path))
    assert code == 0
    code, out, _ = cli("list", "--tokens-file", str(path))
    assert code == 0
    rows = {r["name"]: r for r in map(orjson.loads, out.splitlines())}
    assert rows["lapsed"]["expired"] is True and rows["lapsed"]["state"] == "expired"
    assert rows["lapsed"]["expires"] == "2017-07-15T02:40:00Z"  # 1.5e9 s + 1 day, by hand
    assert rows["gone"]["state"] == "revoked"
    assert rows["forever"]["expires"] == "never" and rows["forever"]["state"] == "active"
    assert rows["until"]["expires"] == "3000-01-01T00:00:00Z" and rows["until"]["expired"] is False
    assert all("salt" not in r and "sha256" not in r for r in rows.values())


def test_cli_default_lifetime_is_the_token_days_setting(tmp_path, monkeypatch, cli):
    from streams.settings import Settings

    assert Settings.load(environ={}).token_days == 90  # the brief's default
    path = str(tmp_path / "tokens.json")

    def issued(*flags, env=None):
        if env is None:
            monkeypatch.delenv("RUMOUR_TOKEN_DAYS", raising=False)
        else:
            monkeypatch.setenv("RUMOUR_TOKEN_DAYS", env)
        code, out, err = cli("issue", "--role", "admin", "--jurisdiction", "000000", *flags,
                              "--tokens-file", path)
        assert code == 0, err
        token_id = out.split("_")[1]
        rec = next(r for r in TokenStore(path).list() if r.id == token_id)
        return None if rec.expires_ms is None else rec.expires_ms - rec.created_ms

    assert issued() == 90 * DAY_MS
    assert issued(env="7") == 7 * DAY_MS
    assert issued(env="0") is None
    assert issued("--expires-days", "3", env="7") == 3 * DAY_MS  # the flag wins
    assert issued("--token-days", "0.5") == DAY_MS // 2
    assert cli("issue", "--role", "admin", "--jurisdiction", "000000", "--expires-days", "-2",
                "--tokens-file", path)[0] == 2
    assert cli("issue", "--role", "admin", "--jurisdiction", "000000", "--expires", "1999-01-01",
                "--tokens-file", path)[0] == 2
    assert cli("issue", "--role", "admin", "--jurisdiction", "000000", "--expires", "31/12/2999",
                "--tokens-file", path)[0] == 2
    assert cli("issue", "--role", "admin", "--jurisdiction", "000000", "--expires", "2999-01-01",
                "--expires-days", "3", "--tokens-file", path)[0] == 2


def test_an_expiry_counts_from_the_issue_time_itself(tmp_path):
    # A clock that moves 1 ms per reading: reading it once for the expiry and again for the
    # record made "7 days" 1 ms short (a CI failure); the issue takes the caller's reading.
    ticks = iter(range(10**6))
    store = TokenStore(str(tmp_path / "tokens.json"), clock=lambda: 1.8e9 + next(ticks) / 1000)
    now = store.now_ms()
    _, rec = store.issue("admin", "000000", None, expiry_ms(now, days=7), now)
    assert rec.created_ms == now and rec.expires_ms - rec.created_ms == 7 * DAY_MS
    _, rec = store.issue("admin", "000000", None, expiry_ms(store.now_ms(), days=7))
    assert rec.expires_ms - rec.created_ms != 7 * DAY_MS  # two readings: what the CLI no longer does


def _not_a_tokens_file(tmp_path):
    path = tmp_path / "tokens.json"
    path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")  # a CSV given by mistake
    return path


def test_cli_names_a_file_that_is_not_a_tokens_file_and_leaves_it_alone(tmp_path, cli):
    # json's "Expecting value: line 1 column 1 (char 0)" was all `rumour token` said.
    path = _not_a_tokens_file(tmp_path)
    for argv in (("list",), ("issue", "--role", "admin", "--jurisdiction", "000000"), ("revoke", "x")):
        code, out, err = cli(*argv, "--tokens-file", str(path))
        assert code == 2 and out == "", argv
        assert err == f"rumour: error: tokens file {path}: not a tokens file of this service " \
            "(JSONDecodeError: Expecting value: line 1 column 1 (char 0))\n", err
    assert path.read_text(encoding="utf-8") == "a,b,c\n1,2,3\n"
    (tmp_path / "empty.json").write_text("")  # made by `touch`: no tokens yet, not an error
    assert cli("list", "--tokens-file", str(tmp_path / "empty.json"))[0] == 0


def test_serve_refuses_a_file_that_is_not_a_tokens_file_at_start(tmp_path):
    # It started, replayed, and then answered every request with a token 500 (a traceback in
    # its log). A subprocess with a timeout: a server that starts anyway must not hang the suite.
    import subprocess
    import sys

    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({"event_id": "e1", "rumour_id": "r1", "account_id": "a1",
                                  "ts": 1_700_000_000_000, "kind": "post"}) + "\n")
    path = _not_a_tokens_file(tmp_path)
    try:
        proc = subprocess.run([sys.executable, "-m", "streams.cli", "serve", str(events), "--host",
                               "127.0.0.1", "--port", "0", "--tokens-file", str(path)],
                              capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("rumour serve started over a file that is not a tokens file")
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.startswith("rumour: error: tokens file ") and err.count("\n") == 1, err


def test_a_tokens_file_spoilt_while_serving_answers_503_not_500(tmp_path):
    from streams.service.http import Service
    from tests.service_helpers import ThreadServer, get

    path = tmp_path / "tokens.json"
    token, _ = TokenStore(path).issue("admin", "000000")
    server = ThreadServer(Service(None, None, path).application())
    try:
        assert get(server.url + "/api/me", token)[0] == 200
        _not_a_tokens_file(tmp_path)
        status, headers, body = get(server.url + "/api/me", token)
        assert status == 503 and headers["Content-Type"].startswith("application/json")
        assert orjson.loads(body) == {"status": 503, "error": "tokens cannot be checked now "
                                      "(the server's tokens file is unreadable)", "code": "tokens_unreadable"}
        path.unlink()  # repaired (here: emptied): checked again at the next request
        assert get(server.url + "/api/me", token)[0] == 401
    finally:
        server.close()


def test_cli_refusals_are_one_rumour_error_line_with_exit_2(tmp_path, cli):
    # `rumour token` said `rumour token: ...`, and revoking an unknown id exited 1.
    path = str(tmp_path / "tokens.json")
    token_id = cli("issue", "--role", "liaison", "--jurisdiction", "310000", "--tokens-file", path)[1].split("_")[1]
    assert cli("revoke", token_id, "--tokens-file", path)[0] == 0
    for argv in (("revoke", token_id), ("revoke", "0123456789ab"),
                 ("issue", "--role", "liaison", "--jurisdiction", "31")):
        code, out, err = cli(*argv, "--tokens-file", path)
        assert code == 2 and out == "" and err.startswith("rumour: error: ") and err.count("\n") == 1, (argv, err)
