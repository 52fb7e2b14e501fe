"""Reading every replica of a cluster, each over its own connection: the status guard's read-back
(:func:`streams.governance.status_guard.claim`) must see an insert that returned on any node,
and a read through the Distributed table reads one replica per shard.

Not ``remote('h1:p1,h2:p2', db, table, 'user', 'password')``: that writes the store's user and
password into the query text, which the server keeps in its query log and processlist and
repeats in error messages. Here each node gets a clickhouse-driver client made like the store's
own (:func:`streams.store.clickhouse_client.connect`: the same credentials, timeouts, compression),
created on its first read, kept for the next ones and closed with the store.

The nodes are read at once, one thread each, against one deadline: ``connect_timeout`` (or the
store's ``retry_seconds`` when shorter) from the start of the read-back, and the store's stop
deadline. A node's connection attempts are cut to the time left and connection errors retried
until then; a node that has not answered by the deadline (refusing, unreachable, or accepting
connections but answering nothing: a frozen server) makes the read-back raise
:class:`NodesUnread`, so a dead node costs one connect timeout, whatever the number of nodes,
not ``retry_seconds`` (or ``send_receive_timeout``) each. A connection the read-back makes gets
its connect and send/receive timeouts cut to the time left, so a thread still waiting at the
deadline ends about then; it keeps its client, and disconnects it; the node gets a new one.

The node list (``system.clusters``) is read at the first read-back, again after
:data:`NODE_LIST_SECONDS`, and again after a read-back that failed: a node replaced in the
servers' ``remote_servers`` is picked up without a restart of the worker.
"""
from __future__ import annotations

import threading
import time

from streams.store.base import StoreUnavailable
from streams.store.clickhouse_client import connect, cut_connect_timeout, execute_patiently, hosts_text

# How long a read node list is used before it is read again (a failed read-back reads it again
# at once): nodes are replaced rarely, and a read costs one query of the store.
NODE_LIST_SECONDS = 60.0


class NodesUnread(StoreUnavailable):
    """Some nodes did not answer the read-back within ``seconds``; ``nodes`` names them (for
    the log: the message shown to a caller must not), ``asked`` every node it read."""

    def __init__(self, message: str, nodes: list[tuple[str, int]], seconds: float,
                 asked: list[tuple[str, int]] = ()):
        super().__init__(message)
        self.nodes, self.seconds, self.asked = nodes, seconds, list(asked)


class ReplicaReader:
    """Every node of ``store``'s cluster (``system.clusters``, in shard and replica order), one
    client each."""

    def __init__(self, store):
        self.store = store
        self.nodes: list[tuple[str, int]] | None = None
        self.shards: dict = {}  # node -> its shard_num, from the last node list read
        self._listed_at = 0.0  # time.monotonic() of the node list's read
        self._clients: dict = {}
        self._lock = threading.Lock()  # a driver client is not safe to share between threads

    def node_list(self) -> list[tuple[str, int]]:
        if self.nodes is None or time.monotonic() - self._listed_at > NODE_LIST_SECONDS:
            listed = self.store._rows(
                f"SELECT host_name, port, shard_num FROM system.clusters WHERE cluster = '{self.store.cluster}' "
                "ORDER BY shard_num, replica_num")
            self.nodes = [(h, int(p)) for h, p, _ in listed]
            self.shards = {(h, int(p)): int(shard) for h, p, shard in listed}
            self._listed_at = time.monotonic()
            for node in [n for n in self._clients if n not in self.nodes]:  # a node taken out
                self._clients.pop(node).disconnect()
        return self.nodes

    def seconds(self) -> float:
        """The read-back's bound: one connect timeout (the store's ``retry_seconds`` if shorter)."""
        s = self.store.settings
        return min(s["connect_timeout"], self.store.retry_seconds)

    def rows(self, query: str) -> list[list[tuple]]:
        """``query``'s rows from each node, in :meth:`node_list` order, all nodes read at once.
        A node that does not answer by the deadline raises :class:`NodesUnread`: the caller
        cannot tell what it holds, so no answer is made of the others (and the node list is
        read again at the next read-back)."""
        with self._lock:
            nodes = self.node_list()
            seconds = self.seconds()
            deadline = min(time.monotonic() + seconds, self.store._stop_deadline)
            read = _ReadBack(len(nodes))
            threads = []
            for i, node in enumerate(nodes):
                client = self._client(node)
                t = threading.Thread(target=self._read, args=(read, i, client, node, query, deadline),
                                     name=f"replica-read-{node[0]}:{node[1]}", daemon=True)
                t.start()
                threads.append(t)
            for t in threads:
                t.join(max(0.0, deadline - time.monotonic()))
            answers = read.close()
            unread = [node for node, answer in zip(nodes, answers) if answer is None]
            for node in unread:  # its thread keeps (and disconnects) the client it still waits on
                self._clients.pop(node, None)
            for answer in answers:
                if isinstance(answer, BaseException) and not isinstance(answer, StoreUnavailable):
                    raise answer  # a server error (bad SQL, ...), as a query of the store's
            unread += [node for node, answer in zip(nodes, answers) if isinstance(answer, StoreUnavailable)]
            if unread:
                self.nodes = None  # a node may have been replaced: the list is read again
                raise NodesUnread(f"cluster node(s) {hosts_text(unread)} did not answer within {seconds:g}s",
                                  unread, seconds, nodes)
            return answers

    def _client(self, node: tuple[str, int]):
        client = self._clients.get(node)
        if client is None:
            client = self._clients[node] = connect(self.store.settings, node[0], node[1], cluster=True)
        return client

    def node_rows(self, node: tuple[str, int], query: str) -> list[tuple]:
        """``query``'s rows from ``node`` alone (one of :meth:`node_list`), its connection errors
        retried for :meth:`seconds` (then StoreUnavailable naming it)."""
        with self._lock:
            return execute_patiently(self._client(node), f"cluster node {hosts_text([node])}", self.seconds(),
                                     lambda: self.store._stop_deadline, query, timeouts=self._timeouts)

    def check_every_node(self, purpose: str) -> None:
        """Every node answers (within :meth:`seconds`), else :class:`NodesUnread` saying that
        ``purpose`` needs them all, in one line naming the nodes."""
        try:
            self.rows("SELECT 1")
        except NodesUnread as exc:
            raise NodesUnread(f"{purpose}: {exc}; every node of the cluster must take its statements "
                              "(start it, or take it out of remote_servers on every node)",
                              exc.nodes, exc.seconds, exc.asked) from None

    @property
    def _timeouts(self) -> tuple[float, float]:
        s = self.store.settings
        return s["connect_timeout"], s["send_receive_timeout"]

    def _read(self, read: "_ReadBack", i: int, client, node: tuple[str, int], query: str,
              deadline: float) -> None:
        give_up = lambda: min(deadline, self.store._stop_deadline)  # noqa: E731
        try:
            answer = execute_patiently(client, f"cluster node {node[0]}:{node[1]}", deadline - time.monotonic(),
                                       give_up, query, timeouts=self._timeouts)
        except BaseException as exc:  # noqa: BLE001 - handed to the thread that waits for it
            answer = exc
        if not read.answer(i, answer):
            client.disconnect()  # given up on: no one else holds this client any more

    def cut_connect_timeout(self, seconds: float) -> None:
        """A new connection's attempt takes at most ``seconds`` (the process stops)."""
        for client in list(self._clients.values()):
            cut_connect_timeout(client, seconds)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.disconnect()
            self._clients.clear()


class _ReadBack:
    """The answers of one read-back's threads: a node's rows or the exception it raised, None
    until it answers. After :meth:`close` (the deadline) a late answer is refused."""

    def __init__(self, n: int):
        self._answers: list = [None] * n
        self._open = True
        self._lock = threading.Lock()

    def answer(self, i: int, answer) -> bool:
        """Keep node ``i``'s answer; False when the read-back closed before it came."""
        with self._lock:
            if self._open:
                self._answers[i] = answer
            return self._open

    def close(self) -> list:
        with self._lock:
            self._open = False
            return list(self._answers)
