"""ClickHouseStore: a real clickhouse-server through clickhouse-driver (native protocol).

URL: ``clickhouse://[user[:password]@]host[:port][,host[:port]...][/database][?option=value...]``;
options ``connect_timeout``, ``send_receive_timeout`` (seconds), ``retry_seconds`` (how long to
keep retrying on connection errors, default 30), ``compression`` (``lz4``, needs the lz4 package),
``alt_hosts`` (``host[:port],...``: more hosts, after those before the path).

Several hosts are failover hosts (nodes of one cluster, each taking the same queries through
the Distributed tables): the client connects to the first that answers and stays on it; when
that one fails, the next connection (the retry of the failed query) tries the others in turn
(clickhouse-driver's ``alt_hosts``: on a connection error it rotates its host list), so a node
that dies costs its queries one retry, not ``retry_seconds`` and a :class:`StoreUnavailable`.

Inserts are columnar: the rows travel as the second argument of ``execute`` (never inlined in
the SQL text; against 18.16 the driver hangs on inline VALUES). Share events go to the Null
table ``share_event_rows`` (sql/005_share_event_rows.sql), whose views fill share_events and
the minute counts: per event, its seven short strings and a code (kind, null bits) travel as
one NUL-joined value beside its text and ts_ms, and nothing is Nullable or Enum, so the driver
does no Python per value (:func:`event_rows_columns`). A batch that form cannot carry takes
the direct insert into share_events (:meth:`ClickHouseStore.insert_events_direct`).
"""
from __future__ import annotations

import operator
import socket
import threading
import time
from itertools import repeat
from typing import Sequence
from urllib.parse import parse_qsl, unquote, urlsplit

import numpy as np
from clickhouse_driver import Client, errors

import sql
from graph.kernels_rows import ROW_MARK, pack_rows
from sql import queries
from streams.events import DeadLetter, EventBatch

from .base import Store, StoreError, StoreUnavailable, dead_letter_columns

DEFAULT_PORT = 9000
DEFAULT_DATABASE = "rumour"
_RETRYABLE = (errors.NetworkError, errors.SocketTimeoutError, errors.UnexpectedPacketFromServerError,
              EOFError, ConnectionError, socket.timeout, OSError)
_FLOAT_OPTIONS = ("connect_timeout", "send_receive_timeout", "retry_seconds")

# share_event_rows' columns (sql/005_share_event_rows.sql), in event_rows_columns() order.
ROW_COLUMNS = queries.EVENT_ROW_COLUMNS
_FIELDS = ("event_id", "rumour_id", "account_id", "parent_event_id", "parent_account_id",
           "platform", "region")
# Null bit of each optional field in the code field (the kind is code // 32).
NULL_BITS = {"parent_event_id": 1, "parent_account_id": 2, "platform": 4, "region": 8, "text": 16}
# Strings go as bytes the client encoded: with str values the driver encodes each one through
# a Python-level call.
_INSERT_SETTINGS = {"strings_as_bytes": True}
# Every query of a store on a cluster (all exist in 18.16):
# - insert_distributed_sync: an INSERT into a Distributed table returns once the shards hold the
#   rows, so a batch is queryable when write() returns (the pipeline commits Kafka offsets after);
# - distributed_product_mode: a subquery `x IN (SELECT .. FROM distributed)` inside a distributed
#   query runs once, as GLOBAL IN (18.16 refuses it otherwise, error 288);
# - prefer_localhost_replica=0: 18.16 reads the node's own shard in-process, and there a SELECT
#   ... FINAL that neither aggregates nor names the table's sorting and version columns fails
#   ("Cannot find column ingested_at in source stream"); over the network the same query works;
# - load_balancing=in_order: writes and reads of a shard go to its first live replica, so a
#   read right after a write sees it (random would read the other replica before it fetched).
CLUSTER_SETTINGS = {"insert_distributed_sync": 1, "distributed_product_mode": "global",
                    "prefer_localhost_replica": 0, "load_balancing": "in_order"}


def _nulls(values: list) -> tuple[list, object, bool]:
    """``(values, where, patch)`` for a column where None is null: ``where`` indexes the Nones
    (positions, a boolean mask, or a slice for all), ``patch`` says ``values`` still holds them
    (a few: the caller writes '' there); otherwise every None in ``values`` is already ''.

    >>> _nulls(["a", "b"]), _nulls([None, None]), _nulls(["a"] * 15 + [None])[1:]
    ((['a', 'b'], [], False), (['', ''], slice(None, None, None), False), ([15], True))
    >>> v, where, patch = _nulls(["a", None, ""]); v, where.tolist(), patch
    (['a', '', ''], [False, True, False], False)
    """
    # Every pass over a column touches each str object (refcount, type), and that memory access
    # is what a pass costs here, so the common shapes take as few passes as possible. filter(None)
    # tests truth in C (cheap for a str; comparing a str with None goes through two __eq__
    # dispatches), list.index finds the few Nones of a mostly-filled column in one more pass.
    n = len(values)
    filled = len(list(filter(None, values)))
    if filled == n:
        return values, [], False
    if filled == 0 and values.count(None) == n:
        return [""] * n, slice(None), False
    if (n - filled) * 16 <= n:  # few empties: find the Nones among them
        positions, i = [], -1
        try:
            while True:
                i = values.index(None, i + 1)
                positions.append(i)
        except ValueError:
            pass
        return values, positions, bool(positions)
    # bytes() over operator.is_ is one C loop; numpy's own conversion of the list is slower.
    where = np.frombuffer(bytes(map(operator.is_, values, repeat(None))), bool)
    return ["" if v is None else v for v in values], where, False  # (20-22 ns a value)


def _null_where(values: list) -> tuple[list, object]:
    """``(values with '' for None, where)``: ``where`` indexes the Nones (positions, a boolean
    mask, or a slice for all) for the code's null bit.

    >>> _null_where(["a", "b"]), _null_where([None, None]), _null_where(["a"] * 15 + [None])[1]
    ((['a', 'b'], []), (['', ''], slice(None, None, None)), [15])
    >>> v, where = _null_where(["a", None, ""]); v, where.tolist()
    (['a', '', ''], [False, True, False])
    """
    values, where, patch = _nulls(values)
    if patch:  # a few Nones left in place: a copy with '' there (the caller's list stays as is)
        values = list(values)
        for p in where:
            values[p] = ""
    return values, where


def event_rows_columns(batch: EventBatch) -> list[list] | None:
    """``batch`` as the columns of share_event_rows (:data:`ROW_COLUMNS` order), or None when
    it cannot travel that way: a short field holds a NUL or a \\x01, a text a NUL, or a kind
    code is out of range (such a batch goes straight into share_events instead).

    Per event, ``fields`` is its seven short fields and a code (``kind * 32`` plus the
    :data:`NULL_BITS` of its nulls, a null being sent as '') joined by NUL. Each short column is
    joined by NUL and encoded (one C call each); a numba kernel (:func:`graph.kernels_rows.pack_rows`,
    GIL released) reads the seven columns as streams and interleaves them into rows
    ``f1 NUL ... NUL code`` joined by ``NUL \\x01 NUL`` marks, checking no field holds a NUL or
    a \\x01, and one split at the marks gives the rows. The texts are joined, encoded and split at
    NUL on their own. A few C calls per batch and two bytes objects per event, where the driver's
    value-by-value encode costs a Python-level call per value.

    >>> import numpy as np
    >>> b = EventBatch(["e1", "e2"], ["r", "r"], ["a", "b"], np.array([1347557095000, 1347557096000]),
    ...                [None, "e1"], ["pa", None], np.array([3, 1], np.uint8), ["", "w"],
    ...                [None, "CN-11"], ["é", None])
    >>> cols = event_rows_columns(b)
    >>> [f.split(bytes(1)) for f in cols[0]]
    [[b'e1', b'r', b'a', b'', b'pa', b'', b'', b'105'], [b'e2', b'r', b'b', b'e1', b'', b'w', b'CN-11', b'50']]
    >>> cols[1:]
    [[b'\\xc3\\xa9', b''], [1347557095000, 1347557096000]]
    >>> event_rows_columns(EventBatch(["e" + chr(1)], ["r"], ["a"], np.array([0]), [None], [None],
    ...                               np.array([1], np.uint8), [None], [None], [None])) is None
    True
    """
    n = len(batch)
    if not n or int(batch.kind.max()) > 3:  # (an empty batch is never written this way)
        return None
    codes = batch.kind.astype(np.uint8) * np.uint8(32)
    texts, where = _null_where(batch.text)
    codes[where] |= np.uint8(NULL_BITS["text"])
    joined_texts = "\0".join(texts)
    if joined_texts.count("\0") != n - 1:
        return None
    columns = []
    for name in _FIELDS:
        values = getattr(batch, name)
        if name in NULL_BITS:
            values, where = _null_where(values)
            codes[where] |= np.uint8(NULL_BITS[name])
        columns.append(np.frombuffer("\0".join(values).encode("utf-8"), np.uint8))
    rows = pack_rows(tuple(columns), codes)
    if rows is None:  # some short field holds a NUL or a \x01
        return None
    return [rows.split(ROW_MARK), joined_texts.encode("utf-8").split(b"\0"), batch.ts_ms.tolist()]


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def hosts_text(hosts: Sequence[tuple[str, int]]) -> str:
    """``host:port,...`` (an IPv6 address in brackets), as ``alt_hosts`` and messages write them.

    >>> hosts_text([("h1", 9000), ("::1", 9001)])
    'h1:9000,[::1]:9001'
    """
    return ",".join(_host_port(h, p) for h, p in hosts)


def connect(settings: dict, host: str, port: int, cluster: bool,
            alt_hosts: Sequence[tuple[str, int]] = ()) -> Client:
    """A clickhouse-driver client to ``host:port`` with the store's credentials and connection
    settings (``settings``: :func:`parse_url`'s); it connects on its first query, to the first
    of ``host:port`` and ``alt_hosts`` that answers (the driver's failover, see above)."""
    s = settings
    # Connected to 'default': the store's database may not exist until migrate(); names are qualified.
    return Client(host=host, port=port, user=s["user"], password=s["password"], database="default",
                  connect_timeout=s["connect_timeout"], send_receive_timeout=s["send_receive_timeout"],
                  compression=s["compression"], settings=dict(CLUSTER_SETTINGS) if cluster else None,
                  alt_hosts=hosts_text(alt_hosts) or None)


def cut_connect_timeout(client: Client, seconds: float) -> None:
    """A new connection's attempt by ``client`` takes at most ``seconds`` (the process stops)."""
    # client.connection is the one in use: the driver pops it off client.connections (which
    # holds only the round-robin spares), so looping over those alone cut nothing.
    for connection in [client.connection, *client.connections]:
        connection.connect_timeout = min(connection.connect_timeout, seconds)


def execute_patiently(client: Client, where: str, retry_seconds: float, stop_deadline, *args,
                      timeouts: tuple[float, float] | None = None, **kwargs):
    """``client.execute(*args, **kwargs)`` with reconnect + exponential backoff on connection
    errors, giving up (:class:`StoreUnavailable` naming ``where``) after ``retry_seconds`` or at
    ``stop_deadline()`` (read at each attempt: the process may start stopping meanwhile).
    Server-side errors (bad SQL, ...) are raised at once. With ``timeouts`` (the client's
    connect and send/receive timeouts) a connection made by an attempt gets both cut to the
    time left, so an unreachable or frozen server holds the call until about then, not a
    timeout past it (set at each attempt: for a client of the caller's own)."""
    deadline = time.monotonic() + retry_seconds
    delay = 0.05
    while True:
        if timeouts is not None:
            left = max(0.01, min(deadline, stop_deadline()) - time.monotonic())
            for connection in [client.connection, *client.connections]:
                connection.connect_timeout = min(timeouts[0], left)
                # (the driver gives a new socket this timeout, for its hello and every packet)
                connection.send_receive_timeout = min(timeouts[1], left)
        try:
            return client.execute(*args, **kwargs)
        except errors.ServerException:
            raise
        except _RETRYABLE as exc:
            client.disconnect()
            now = time.monotonic()
            if now + delay > min(deadline, stop_deadline()):
                why = (f"unreachable for {retry_seconds:g}s" if now + delay > deadline
                       else "unreachable, not retried: the process stops")
                raise StoreUnavailable(f"{where} {why}: {exc}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def _hosts(text: str, url: str) -> list[tuple[str, int]]:
    """``host[:port],...`` as ``(host, port)`` pairs (a ValueError names ``url`` when one is bad)."""
    out = []
    for item in text.split(","):
        try:
            parts = urlsplit("//" + item.strip())
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"bad host {item!r} in {url!r}: {exc}") from None
        if not parts.hostname:
            raise ValueError(f"empty host in {url!r}")
        out.append((parts.hostname, port or DEFAULT_PORT))
    return out


def parse_url(url: str, database: str | None = None) -> dict:
    """Connection settings from a ``clickhouse://`` URL; ``hosts`` lists every host in order
    (``host``, ``port``: the first).

    >>> s = parse_url("clickhouse://u:p@127.0.0.1:9001/db1?retry_seconds=2")
    >>> (s["host"], s["port"], s["user"], s["password"], s["database"], s["retry_seconds"], s["hosts"])
    ('127.0.0.1', 9001, 'u', 'p', 'db1', 2.0, [('127.0.0.1', 9001)])
    >>> parse_url("clickhouse://u@h1,h2:9002/db?alt_hosts=h3:9003")["hosts"]
    [('h1', 9000), ('h2', 9002), ('h3', 9003)]
    """
    parts = urlsplit(url)
    if parts.scheme != "clickhouse":
        raise ValueError(f"not a clickhouse:// URL: {url!r}")
    path_db = unquote(parts.path.lstrip("/")) or None
    # urlsplit's hostname/port read one host only: the list after the credentials is split here.
    hostinfo = parts.netloc.rpartition("@")[2]
    hosts = _hosts(hostinfo, url) if hostinfo else [("127.0.0.1", DEFAULT_PORT)]
    out = {
        "hosts": hosts,
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
        elif key == "alt_hosts":
            hosts.extend(_hosts(value, url))
        elif key == "compression":
            out[key] = value if value not in ("", "0", "false", "no") else False
        else:
            raise ValueError(f"unknown option {key!r} in {url!r}")
    out["host"], out["port"] = hosts[0]
    return out


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

    def migrate(self, allow_changed: bool | None = None) -> list[str]:
        # On a cluster every statement runs ON CLUSTER and the server waits for each node (its
        # distributed_ddl_task_timeout, 180 s, then an error naming no node): see ReplicaReader.
        if not self.cluster:
            return super().migrate(allow_changed)
        return self._replica_reader().migrate(lambda: super(ClickHouseStore, self).migrate(allow_changed))

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
