"""Reading every replica of a cluster, each over its own connection: the status guard's read-back
(:func:`streams.governance.status_guard.claim`) must see an insert that returned on any node,
and a read through the Distributed table reads one replica per shard.

Not ``remote('h1:p1,h2:p2', db, table, 'user', 'password')``: that writes the store's user and
password into the query text, which the server keeps in its query log and processlist and
repeats in error messages. Here each node gets a clickhouse-driver client made like the store's
own (:func:`streams.store.clickhouse.connect`: the same credentials, timeouts, compression),
created on its first read, kept for the next ones and closed with the store; each read retries
connection errors like the store's (``retry_seconds``, the stop deadline), then raises
:class:`~streams.store.base.StoreUnavailable` naming the node.
"""
from __future__ import annotations

import threading

from streams.store.clickhouse import connect, cut_connect_timeout, execute_patiently


class ReplicaReader:
    """Every node of ``store``'s cluster (``system.clusters``, read once, in shard and replica
    order), one client each."""

    def __init__(self, store):
        self.store = store
        self.nodes: list[tuple[str, int]] | None = None
        self._clients: dict = {}
        self._lock = threading.Lock()  # a driver client is not safe to share between threads

    def node_list(self) -> list[tuple[str, int]]:
        if self.nodes is None:
            self.nodes = [(h, int(p)) for h, p in self.store._rows(
                f"SELECT host_name, port FROM system.clusters WHERE cluster = '{self.store.cluster}' "
                "ORDER BY shard_num, replica_num")]
        return self.nodes

    def rows(self, query: str) -> list[list[tuple]]:
        """``query``'s rows from each node, in :meth:`node_list` order. A node that cannot be
        read within the store's patience raises StoreUnavailable: the caller cannot tell what it
        holds, so no answer is made of the others."""
        nodes = self.node_list()
        with self._lock:
            return [self._read(node, query) for node in nodes]

    def _read(self, node: tuple[str, int], query: str) -> list[tuple]:
        client = self._clients.get(node)
        if client is None:
            client = self._clients[node] = connect(self.store.settings, node[0], node[1], cluster=True)
        return execute_patiently(client, f"cluster node {node[0]}:{node[1]}", self.store.retry_seconds,
                                 lambda: self.store._stop_deadline, query)

    def cut_connect_timeout(self, seconds: float) -> None:
        """A new connection's attempt takes at most ``seconds`` (the process stops)."""
        for client in list(self._clients.values()):
            cut_connect_timeout(client, seconds)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.disconnect()
            self._clients.clear()
