"""ChdbStore: ClickHouse in-process through chDB (no server), for the demo, replay and tests.

URL: ``chdb://`` (a temporary data folder, removed when the last store on it closes) or
``chdb:///abs/path`` / ``chdb://rel/path`` (persistent), optionally ``?database=name``
(default ``rumour``).

chDB runs one embedded engine per process, bound to one data path: stores on the same path
share it (each opens its own session), and opening a *different* path while one is open raises
:class:`ChdbPathConflict`. Different databases on one path are independent, which is how the
tests isolate themselves.

Inserts go through an Arrow table read by ``INSERT ... SELECT * FROM Python(table)``: measured
about 10x faster than building JSONEachRow text (see benchmarks/store_quick.py), and binary
columns carry dead-letter bytes exactly (JSON cannot carry invalid UTF-8).
"""
from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Sequence
from urllib.parse import parse_qsl, unquote, urlsplit

import chdb.session
import pyarrow as pa

import sql
from sql import queries
from streams.events import DeadLetter, EventBatch

from .base import Store, StoreError, dead_letter_columns

DEFAULT_DATABASE = "rumour"

_EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("rumour_id", pa.string()), ("account_id", pa.string()),
    ("ts_ms", pa.int64()), ("parent_event_id", pa.string()), ("parent_account_id", pa.string()),
    ("kind", pa.int8()), ("platform", pa.string()), ("region", pa.string()), ("text", pa.string()),
])
_DEAD_SCHEMA = pa.schema([
    ("received_ms", pa.int64()), ("source", pa.string()), ("reason", pa.string()),
    ("rumour_id", pa.string()), ("event_id", pa.string()), ("raw", pa.binary()),
])


class ChdbPathConflict(StoreError):
    """chDB is already open on another data path in this process."""


class _Engine:
    """The process-wide embedded engine: which path it is bound to and how many stores use it."""

    lock = threading.Lock()
    path: str | None = None
    temp: bool = False
    users = 0

    @classmethod
    def acquire(cls, path: str | None) -> str:
        with cls.lock:
            if cls.users:
                if path is not None and str(Path(path).resolve()) != cls.path:
                    raise ChdbPathConflict(
                        f"chDB is open on {cls.path} in this process; close those stores before "
                        f"opening {path} (one embedded engine per process)")
                if path is None and not cls.temp:
                    raise ChdbPathConflict(
                        f"chDB is open on {cls.path}; a temporary store cannot share a process with it")
            else:
                if path is None:
                    cls.path = tempfile.mkdtemp(prefix="rumour-chdb-")
                    cls.temp = True
                else:
                    Path(path).mkdir(parents=True, exist_ok=True)
                    cls.path = str(Path(path).resolve())
                    cls.temp = False
            cls.users += 1
            return cls.path

    @classmethod
    def release(cls) -> None:
        with cls.lock:
            cls.users -= 1
            if cls.users == 0:
                if cls.temp and cls.path:
                    shutil.rmtree(cls.path, ignore_errors=True)
                cls.path = None
                cls.temp = False


def parse_url(url: str, database: str | None = None) -> tuple[str | None, str]:
    """``(data path or None for temporary, database)`` from a ``chdb://`` URL.

    >>> parse_url("chdb:///var/lib/rt?database=x")
    ('/var/lib/rt', 'x')
    >>> parse_url("chdb://")
    (None, 'rumour')
    """
    parts = urlsplit(url)
    if parts.scheme != "chdb":
        raise ValueError(f"not a chdb:// URL: {url!r}")
    path = unquote(parts.netloc + parts.path) or None
    options = dict(parse_qsl(parts.query))
    db = options.pop("database", None)
    if options:
        raise ValueError(f"unknown option(s) {sorted(options)} in {url!r}")
    return path, sql.check_identifier(database or db or DEFAULT_DATABASE)


class ChdbStore(Store):
    """Events and dead letters in one database of the in-process chDB engine."""

    def __init__(self, url: str = "chdb://", database: str | None = None):
        path, self.database = parse_url(url, database)
        self.path = _Engine.acquire(path)
        try:
            self.session = chdb.session.Session(self.path)
        except Exception:
            _Engine.release()
            raise
        self._closed = False

    def __repr__(self) -> str:
        return f"ChdbStore({self.path}/{self.database})"

    def _query(self, text: str, fmt: str = "TabSeparated"):
        if self._closed:
            raise StoreError("store is closed")
        return self.session.query(text, fmt)

    def _command(self, statement: str) -> None:
        self._query(statement)

    def _table(self, query: str) -> pa.Table:
        return self._query(query, "ArrowTable")

    def _rows(self, query: str) -> list[tuple]:
        table = self._table(query)
        return list(zip(*(c.to_pylist() for c in table.columns)))

    def _columns(self, query: str, ncols: int) -> list[Sequence]:
        table = self._table(query)
        if table.num_columns != ncols:
            raise StoreError(f"expected {ncols} columns, got {table.num_columns}")
        return [c.to_numpy() if pa.types.is_integer(c.type) else c.to_pylist() for c in table.columns]

    def _insert_python(self, insert: str, rt_rows) -> None:
        """``insert`` (an ``INSERT INTO db.table`` head) with the rows of ``rt_rows``, an Arrow
        table (or any object chDB's ``Python()`` table function reads). chDB resolves
        ``Python(name)`` by looking ``name`` up among the variables of the calling frames, so
        the rows are this frame's argument of that name: a caller's own variable would look
        unused to a reader and to pyflakes, and a rename would break the query silently."""
        self._command(insert + " SELECT * FROM Python(rt_rows)")

    def _insert_events(self, batch: EventBatch) -> None:
        self._insert_python(queries.insert_events(self.database), pa.Table.from_arrays([
            pa.array(batch.event_id, pa.string()),
            pa.array(batch.rumour_id, pa.string()),
            pa.array(batch.account_id, pa.string()),
            pa.array(batch.ts_ms, pa.int64()),
            pa.array(batch.parent_event_id, pa.string()),
            pa.array(batch.parent_account_id, pa.string()),
            pa.array(batch.kind.astype("int8", copy=False), pa.int8()),
            pa.array(batch.platform, pa.string()),
            pa.array(batch.region, pa.string()),
            pa.array(batch.text, pa.string()),
        ], schema=_EVENT_SCHEMA))

    def _insert_dead_letters(self, dead: Sequence[DeadLetter]) -> None:
        cols = dead_letter_columns(dead)
        self._insert_python(queries.insert_dead_letters(self.database), pa.Table.from_arrays(
            [pa.array(col, field.type) for col, field in zip(cols, _DEAD_SCHEMA)], schema=_DEAD_SCHEMA))

    def _insert_audit(self, columns: list[list]) -> None:
        self._insert_python(queries.insert_audit(self.database), pa.Table.from_arrays(
            [pa.array(col, pa.int64() if name in queries.AUDIT_INT_COLUMNS else pa.string())
             for name, col in zip(queries.AUDIT_COLUMNS, columns)], names=list(queries.AUDIT_COLUMNS)))

    def server_version(self) -> str:
        return self._rows("SELECT version()")[0][0]

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self.session.close()
            finally:
                _Engine.release()
