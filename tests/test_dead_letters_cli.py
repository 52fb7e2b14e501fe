"""`rumour dead-letters` lists what the store's dead letters hold (reason, ids, the raw bytes
whole) and --raw writes the refused messages back out, byte for byte, as a file to send again:
before it an operator had no documented way to read or replay them."""
from __future__ import annotations

import base64

import orjson
import pytest

from tests.test_cli import rumour

GOOD = [{"event_id": f"e{i}", "rumour_id": "dl-r", "account_id": f"a{i}", "ts": 1764547200000 + i}
        for i in range(5)]
BAD = [b'{"event_id": "x1", not json',
       b'{"event_id": "u1", "rumour_id": "dl-r", "account_id": "\xff\xfe", "ts": 1764547200000}',
       orjson.dumps({"event_id": "k1", "rumour_id": "dl-r", "account_id": "a", "ts": 1764547200000,
                     "kind": "like"}),
       orjson.dumps({"rumour_id": "dl-r", "account_id": "a", "ts": 1764547200000})]


def test_dead_letters_are_listed_with_their_reasons_and_written_back_byte_for_byte(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join([orjson.dumps(GOOD[0]), *BAD, *map(orjson.dumps, GOOD[1:])]) + b"\n")
    store = f"chdb://{tmp_path / 'store'}"
    summary = orjson.loads(rumour("replay", source, "--store", store).stdout)
    assert (summary["stored"], summary["dead_letters"]) == (5, 4)

    listed = [orjson.loads(line) for line in rumour("dead-letters", "--url", store).stdout.splitlines()]
    assert sorted(base64.b64decode(d["raw_base64"]) for d in listed) == sorted(BAD)
    reasons = {base64.b64decode(d["raw_base64"]): d["reason"] for d in listed}
    assert reasons[BAD[2]] == "kind: expected one of post, share, comment, debunk, got 'like'"
    assert reasons[BAD[3]] == "event_id: required"
    assert all(d["raw_bytes"] == len(base64.b64decode(d["raw_base64"])) for d in listed)

    only = rumour("dead-letters", "--url", store, "--reason", "kind:").stdout.splitlines()
    assert [orjson.loads(line)["event_id"] for line in only] == ["k1"]

    out = tmp_path / "again.jsonl"
    proc = rumour("dead-letters", "--url", store, "--raw", out)
    assert sorted(out.read_bytes().splitlines()) == sorted(BAD)
    assert "4 messages written" in proc.stderr.decode()
    # Sent again unchanged, they are refused again for the same reasons: the bytes are the same.
    again = orjson.loads(rumour("replay", out, "--store", "none").stdout)
    assert (again["read"], again["dead_letters"]) == (4, 4)


def test_a_bad_limit_is_one_line():
    proc = rumour("dead-letters", "--url", "chdb://", "--limit", "0", check=False)
    assert proc.returncode == 2 and proc.stderr == b"rumour: error: --limit must be at least 1, got 0\n"


def test_reason_filters_before_the_limit(tmp_path):
    # It filtered only the newest --limit rows: an older dead letter of the reason asked for was
    # not listed while newer ones of another reason filled the limit.
    from streams.events import DeadLetter, EventBatch
    from streams.store import open_store

    url = f"chdb://{tmp_path / 'store'}"
    store = open_store(url)
    try:
        store.migrate()
        store.write(EventBatch(), [DeadLetter(BAD[2], "kind: expected one of post, share, comment, debunk, "
                                                      "got 'like'", "f:1", 1_000, "dl-r", "k1")]
                    + [DeadLetter(BAD[0], "invalid JSON: x", f"f:{i + 2}", 2_000 + i) for i in range(3)])
    finally:
        store.close()
    only = rumour("dead-letters", "--url", url, "--limit", "2", "--reason", "kind:").stdout.splitlines()
    assert [orjson.loads(line)["event_id"] for line in only] == ["k1"]


def test_a_store_url_naming_no_store_is_one_line_and_creates_nothing(tmp_path):
    # A mistyped store path: dead-letters printed a traceback (UNKNOWN_DATABASE) instead of a line.
    url = f"chdb://{tmp_path / 'no-store'}"
    proc = rumour("dead-letters", "--url", url, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.decode().startswith(f"rumour: error: {url}: database 'rumour' holds no store")
    assert b"Traceback" not in proc.stderr and proc.stdout == b""


@pytest.mark.clickhouse
def test_a_server_url_with_a_wrong_database_or_user_is_one_line(clickhouse_server):
    from tests.plugins.clickhouse import database_url, fresh_database, probe_rows

    name = fresh_database()
    url = database_url(clickhouse_server, name)
    proc = rumour("dead-letters", "--url", url, check=False)
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr, proc.stderr
    assert f"database '{name}' holds no store of this service" in proc.stderr.decode()
    assert probe_rows(clickhouse_server, f"SELECT count() FROM system.databases WHERE name = '{name}'") == [(0,)]
    # credentials the server does not know: the server's reason, its stack trace left out
    host = clickhouse_server.split("://", 1)[1].rstrip("/")
    proc = rumour("dead-letters", "--url", f"clickhouse://nobody_{name}:x@{host}/default?retry_seconds=5",
                  check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "Traceback" not in err and "Stack trace" not in err, err
    assert err.startswith("rumour: error: clickhouse-server refused the store URL (") and "x@" not in err
