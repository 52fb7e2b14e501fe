"""ClickHouseStore: a real clickhouse-server through clickhouse-driver (native protocol).

Split by responsibility: the URL, the client and the retry of a query on connection errors are
in :mod:`streams.store.clickhouse_client` (failover hosts: see there), the columnar form of an
insert in :mod:`streams.store.clickhouse_rows`, the nodes of a cluster read one by one in
:mod:`streams.store.replicas`. Their public names are imported here too, where callers have
always found them.
"""
from __future__ import annotations

import threading
import time
from typing import Sequence

from clickhouse_driver import errors

import sql
from sql import queries
from streams.events import DeadLetter, EventBatch

from .base import Store, StoreError, dead_letter_columns, setting_or_env
from .clickhouse_client import (CLUSTER_SETTINGS, connect, cut_connect_timeout, execute_patiently,  # noqa: F401
                                hosts_text, parse_url)
from .cluster_migrate import ddl_settings, migrate_on_cluster
from .clickhouse_rows import NULL_BITS, ROW_COLUMNS, _nulls, event_rows_columns  # noqa: F401

# Strings go as bytes the client encoded: with str values the driver encodes each one through
# a Python-level call.
_INSERT_SETTINGS = {"strings_as_bytes": True}


class ClickHouseStore(Store):
    """Events and dead letters in one database of a clickhouse-server."""

    def __init__(self, url: str = "clickhouse://127.0.0.1:9000", database: str | None = None,
                 cluster: str | None = None):
        self.settings = parse_url(url, database)
        self.database = self.settings["database"]
        self.cluster = sql.check_identifier(cluster) if cluster else None
        self.retry_seconds = self.settings["retry_seconds"]
        host, port = self.settings["host"], self.settings["port"]
        self.client = connect(self.settings, host, port, bool(self.cluster), alt_hosts=self.settings["hosts"][1:])
        # One connection, not safe to share: a web route may query while the agent writes.
        self._lock = threading.Lock()
        self._stop_deadline = float("inf")  # give_up_by: no retry past it (the process stops)
        self._replicas = None  # on a cluster, a ReplicaReader once every_replica_rows is called
        self.tables_made: dict = {}  # the last migrate's: "host:port" -> tables made on that node

    def __repr__(self) -> str:
        s = self.settings
        on = f" on cluster {self.cluster}" if self.cluster else ""
        return f"ClickHouseStore({hosts_text(s['hosts'])}/{self.database}{on})"

    def _call(self, *args, **kwargs):
        """``client.execute`` with reconnect + exponential backoff on connection errors, giving
        up after ``retry_seconds``. Server-side errors (bad SQL, ...) are raised at once."""
        with self._lock:
            return self._call_locked(*args, **kwargs)

    def give_up_by(self, deadline: float) -> None:
        # Read by every retry loop on each attempt (a float store: no lock needed), so a call
        # already waiting for the server gives up at the deadline too. A new connection's attempt
        # is cut to the time left as well (an attempt already connecting keeps its timeout); the
        # send/receive timeout is not: a slow but answering server may still take a final write.
        self._stop_deadline = min(self._stop_deadline, deadline)
        left = max(0.1, deadline - time.monotonic())
        cut_connect_timeout(self.client, left)
        if self._replicas is not None:
            self._replicas.cut_connect_timeout(left)

    def _call_locked(self, *args, **kwargs):
        s = self.settings
        return execute_patiently(self.client, f"clickhouse-server at {hosts_text(s['hosts'])}",
                                 self.retry_seconds, lambda: self._stop_deadline, *args, **kwargs)

    def _command(self, statement: str) -> None:
        self._call(statement)

    def _rows(self, query: str) -> list[tuple]:
        return self._call(query)

    def every_replica_rows(self, query: str) -> list[list[tuple]]:
        """On a cluster, ``query``'s rows from every node (each replica of each shard), each over
        its own connection (:class:`streams.store.replicas.ReplicaReader`); StoreUnavailable when
        a node cannot be read."""
        if not self.cluster:
            raise ValueError("every_replica_rows: the store is not on a cluster")
        return self._replica_reader().rows(query)

    def _replica_reader(self):
        if self._replicas is None:
            from streams.store.replicas import ReplicaReader

            self._replicas = ReplicaReader(self)
        return self._replicas

    def migrate(self, allow_changed: bool | None = None, ddl_timeout: int | None = None,
                create_lacking: bool = False) -> list[str]:
        """As :meth:`Store.migrate`; on a cluster, then every node is checked for tables of the
        store it lacks (added to remote_servers after the migration: :mod:`streams.store.node_schema`):
        ``create_lacking`` (``rumour migrate``) makes them there, listed in :attr:`tables_made`
        by node, else (a worker's start) :class:`NodesLackTables` says so in one line."""
        self.tables_made = {}
        if not self.cluster:
            return super().migrate(allow_changed, ddl_timeout)
        allow_changed = setting_or_env("migrate_allow_changed", allow_changed)
        ddl = ddl_settings(setting_or_env("clickhouse_ddl_timeout", ddl_timeout))

        def execute(statement: str):
            # as Store._execute, with the DDL's wait for the nodes bounded (ddl_settings)
            if statement.lstrip()[:6].upper() == "SELECT":
                return self._rows(statement)
            self._call(statement, settings=ddl or None)
            return None

        applied, self.tables_made = migrate_on_cluster(
            self, lambda: sql.migrate(execute, self.database, cluster=self.cluster, allow_changed=allow_changed),
            allow_changed, create_lacking)
        return applied

    def _columns(self, query: str, ncols: int) -> list[Sequence]:
        cols = self._call(query, columnar=True)
        return list(cols) if cols else [[] for _ in range(ncols)]

    def _insert_events(self, batch: EventBatch) -> None:
        columns = event_rows_columns(batch)
        if columns is None:
            self.insert_events_direct(batch)
            return
        self._insert(queries.insert_event_rows(self.database), columns, len(batch),
                     settings=_INSERT_SETTINGS)

    def insert_events_direct(self, batch: EventBatch) -> None:
        """Straight into share_events, one driver value per field and event (the driver maps
        every Nullable and Enum8 value in Python): for batches with a NUL in a string, and to
        compare against."""
        data = [batch.event_id, batch.rumour_id, batch.account_id, batch.ts_ms.tolist(),
                batch.parent_event_id, batch.parent_account_id, batch.kind.tolist(),
                batch.platform, batch.region, batch.text]
        self._insert(queries.insert_events(self.database), data, len(batch))

    def _insert(self, head: str, columns: list, rows: int, settings: dict | None = None) -> None:
        try:
            self._call(head + " VALUES", columns, columnar=True, settings=settings)
        except errors.Error as exc:
            if isinstance(exc, errors.ServerException):
                raise
            raise StoreError(f"insert of {rows} events failed: {exc}") from exc

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
        if self._replicas is not None:
            self._replicas.close()
