"""ClickHouseStore: a real clickhouse-server through clickhouse-driver (native protocol).

URL: ``clickhouse://[user[:password]@]host[:port][/database][?option=value...]``; options
``connect_timeout``, ``send_receive_timeout`` (seconds), ``retry_seconds`` (how long to keep
retrying on connection errors, default 30), ``compression`` (``lz4``, needs the lz4 package).

Inserts are columnar: the rows travel as the second argument of ``execute`` (never inlined in
the SQL text; against 18.16 the driver hangs on inline VALUES).
"""
from __future__ import annotations

import socket
import threading
import time
from typing import Sequence
from urllib.parse import parse_qsl, unquote, urlsplit

from clickhouse_driver import Client, errors

import sql
from sql import queries
from streams.events import DeadLetter, EventBatch

from .base import Store, StoreError, StoreUnavailable, dead_letter_columns

DEFAULT_PORT = 9000
DEFAULT_DATABASE = "rumour"
_RETRYABLE = (errors.NetworkError, errors.SocketTimeoutError, errors.UnexpectedPacketFromServerError,
              EOFError, ConnectionError, socket.timeout, OSError)
_FLOAT_OPTIONS = ("connect_timeout", "send_receive_timeout", "retry_seconds")


def parse_url(url: str, database: str | None = None) -> dict:
    """Connection settings from a ``clickhouse://`` URL.

    >>> s = parse_url("clickhouse://u:p@127.0.0.1:9001/db1?retry_seconds=2")
    >>> (s["host"], s["port"], s["user"], s["password"], s["database"], s["retry_seconds"])
    ('127.0.0.1', 9001, 'u', 'p', 'db1', 2.0)
    """
    parts = urlsplit(url)
    if parts.scheme != "clickhouse":
        raise ValueError(f"not a clickhouse:// URL: {url!r}")
    path_db = unquote(parts.path.lstrip("/")) or None
    out = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or DEFAULT_PORT,
        "user": unquote(parts.username) if parts.username else "default",
        "password": unquote(parts.password) if parts.password else "",
        "database": sql.check_identifier(database or path_db or DEFAULT_DATABASE),
        "connect_timeout": 5.0,
        "send_receive_timeout": 300.0,
        "retry_seconds": 30.0,
        "compression": False,
    }
    for key, value in parse_qsl(parts.query):
        if key in _FLOAT_OPTIONS:
            out[key] = float(value)
        elif key == "compression":
            out[key] = value if value not in ("", "0", "false", "no") else False
        else:
            raise ValueError(f"unknown option {key!r} in {url!r}")
    return out


class ClickHouseStore(Store):
    """Events and dead letters in one database of a clickhouse-server."""

    def __init__(self, url: str = "clickhouse://127.0.0.1:9000", database: str | None = None):
        self.settings = parse_url(url, database)
        self.database = self.settings["database"]
        self.retry_seconds = self.settings["retry_seconds"]
        s = self.settings
        # Connect to 'default': our database may not exist until migrate(); names are qualified.
        self.client = Client(
            host=s["host"], port=s["port"], user=s["user"], password=s["password"],
            database="default", connect_timeout=s["connect_timeout"],
            send_receive_timeout=s["send_receive_timeout"], compression=s["compression"],
        )
        # One connection, not safe to share: a web route may query while the agent writes.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        s = self.settings
        return f"ClickHouseStore({s['host']}:{s['port']}/{self.database})"

    def _call(self, *args, **kwargs):
        """``client.execute`` with reconnect + exponential backoff on connection errors, giving
        up after ``retry_seconds``. Server-side errors (bad SQL, ...) are raised at once."""
        with self._lock:
            return self._call_locked(*args, **kwargs)

    def _call_locked(self, *args, **kwargs):
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.05
        while True:
            try:
                return self.client.execute(*args, **kwargs)
            except errors.ServerException:
                raise
            except _RETRYABLE as exc:
                self.client.disconnect()
                if time.monotonic() + delay > deadline:
                    s = self.settings
                    raise StoreUnavailable(
                        f"clickhouse-server at {s['host']}:{s['port']} unreachable for "
                        f"{self.retry_seconds:g}s: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _command(self, statement: str) -> None:
        self._call(statement)

    def _rows(self, query: str) -> list[tuple]:
        return self._call(query)

    def _columns(self, query: str, ncols: int) -> list[Sequence]:
        cols = self._call(query, columnar=True)
        return list(cols) if cols else [[] for _ in range(ncols)]

    def _insert_events(self, batch: EventBatch) -> None:
        data = [batch.event_id, batch.rumour_id, batch.account_id, batch.ts_ms.tolist(),
                batch.parent_event_id, batch.parent_account_id, batch.kind.tolist(),
                batch.platform, batch.region, batch.text]
        try:
            self._call(queries.insert_events(self.database) + " VALUES", data, columnar=True)
        except errors.Error as exc:
            if isinstance(exc, errors.ServerException):
                raise
            raise StoreError(f"insert of {len(batch)} events failed: {exc}") from exc

    def _insert_dead_letters(self, dead: Sequence[DeadLetter]) -> None:
        self._call(queries.insert_dead_letters(self.database) + " VALUES",
                   dead_letter_columns(dead), columnar=True)

    def _insert_audit(self, columns: list[list]) -> None:
        self._call(queries.insert_audit(self.database) + " VALUES", columns, columnar=True)

    def server_version(self) -> str:
        return self._rows("SELECT version()")[0][0]

    def close(self) -> None:
        with self._lock:
            self.client.disconnect()
