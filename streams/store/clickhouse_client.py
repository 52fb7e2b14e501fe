"""Connecting to clickhouse-server (the :class:`~streams.store.clickhouse.ClickHouseStore`'s
client and the replica reader's, streams/store/replicas.py): the ``clickhouse://`` URL, the
driver client, and the retry of a query on connection errors.

URL: ``clickhouse://[user[:password]@]host[:port][,host[:port]...][/database][?option=value...]``;
options ``connect_timeout``, ``send_receive_timeout`` (seconds), ``retry_seconds`` (how long to
keep retrying on connection errors, default 30), ``compression`` (``lz4``, needs the lz4 package),
``alt_hosts`` (``host[:port],...``: more hosts, after those before the path).

Several hosts are failover hosts (nodes of one cluster, each taking the same queries through
the Distributed tables): the client connects to the first that answers and stays on it; when
that one fails, the next connection (the retry of the failed query) tries the others in turn
(clickhouse-driver's ``alt_hosts``: on a connection error it rotates its host list), so a node
that dies costs its queries one retry, not ``retry_seconds`` and a :class:`StoreUnavailable`.
"""
from __future__ import annotations

import socket
import time
from typing import Sequence
from urllib.parse import parse_qsl, unquote, urlsplit

from clickhouse_driver import Client, errors
from clickhouse_driver.connection import Connection

import sql

from .base import StoreUnavailable

DEFAULT_PORT = 9000
DEFAULT_DATABASE = "rumour"
RETRYABLE = (errors.NetworkError, errors.SocketTimeoutError, errors.UnexpectedPacketFromServerError,
             EOFError, ConnectionError, socket.timeout, OSError)
_FLOAT_OPTIONS = ("connect_timeout", "send_receive_timeout", "retry_seconds")

# Every query of a store on a cluster (all exist in 18.16):
# - insert_distributed_sync: an INSERT into a Distributed table returns once the shards hold the
#   rows, so a batch is queryable when write() returns (the pipeline commits Kafka offsets after);
# - distributed_product_mode: a subquery `x IN (SELECT .. FROM distributed)` inside a distributed
#   query runs once, as GLOBAL IN (18.16 refuses it otherwise, error 288);
# - prefer_localhost_replica=0: 18.16 reads the node's own shard in-process, and there a SELECT
#   ... FINAL that neither aggregates nor names the table's sorting and version columns fails
#   ("Cannot find column ingested_at in source stream"); over the network the same query works;
# - load_balancing=in_order: reads of a shard go to its first live replica, and so do writes,
#   except that 18.16 writes to the connected node when it is a replica of the shard: a read
#   right after a write through a second replica may miss it until the first fetched it
#   (README, "Running on a ClickHouse cluster"); random would make every read a coin toss.
CLUSTER_SETTINGS = {"insert_distributed_sync": 1, "distributed_product_mode": "global",
                    "prefer_localhost_replica": 0, "load_balancing": "in_order"}



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


def connections(client: Client) -> list[Connection]:
    """Every connection of ``client``: the one in use and the spares it may make next.

    >>> client = Client("h1", alt_hosts="h2:9001")
    >>> [c is client.connection for c in connections(client)]
    [True]
    """
    # client.connection is the one in use: the driver pops it off client.connections (which
    # holds only the round-robin spares), so looping over those alone missed it.
    return [client.connection, *client.connections]


def cut_connect_timeout(client: Client, seconds: float) -> None:
    """A new connection's attempt by ``client`` takes at most ``seconds`` (the process stops)."""
    for connection in connections(client):
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
            for connection in connections(client):
                connection.connect_timeout = min(timeouts[0], left)
                # (the driver gives a new socket this timeout, for its hello and every packet)
                connection.send_receive_timeout = min(timeouts[1], left)
        try:
            return client.execute(*args, **kwargs)
        except errors.ServerException:
            raise
        except RETRYABLE as exc:
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
