"""Migrating a store on a ClickHouse cluster (:meth:`ClickHouseStore.migrate` with a cluster).

Every statement runs ON CLUSTER, and the node that takes one waits until every node of the
cluster has run it (the ``distributed_ddl_task_timeout`` sent with it: the
``clickhouse_ddl_timeout`` setting, else the server's 180 s), then fails with an error that
names the task, not the nodes. So:

- every node is asked first, all at once within one connect timeout
  (:meth:`ReplicaReader.check_every_node`): a node down is named in one line, not waited for;
- with a node down, a run that has something to do is refused in that line (a starting worker
  waits and tries again), but a store that is current is used as it is (:func:`current_without`):
  each node that answers records every file of this release that its server runs, and each
  shard has a node that answers. The run's setup statements (``CREATE DATABASE`` and the
  record's table, ``IF NOT EXISTS ... ON CLUSTER``) are then skipped: on the nodes that answer
  they would change nothing (each holds both: its record was just read), and each would wait
  for the node down and fail. The store writes and reads through the Distributed tables, whose
  shards go to a replica that answers, so a worker starts with one replica of a shard down;
- a statement whose wait runs out (a node answers but its DDL worker is stuck) is reported
  naming the nodes that have not run it (:func:`unfinished_ddl_nodes`);
- then each node that answers is checked for the tables the applied files make: one added to
  the cluster since lacks them (:mod:`streams.store.node_schema`).
"""
from __future__ import annotations

import logging
import re
from typing import Callable
from urllib.parse import unquote

from clickhouse_driver import errors
from clickhouse_driver.settings.available import settings as _DRIVER_SETTINGS
from clickhouse_driver.varint import write_varint

import sql
from sql.plan import migration_status
from streams.store.clickhouse_client import hosts_text
from streams.store.node_schema import complete_nodes
from streams.store.replicas import NodesUnread, ReplicaReader

log = logging.getLogger(__name__)

# A server's ON CLUSTER wait that ran out (code 159): the task's ZooKeeper path.
_DDL_TIMEOUT = re.compile(r"Watching task (/[\w/.-]+) is executing longer than distributed_ddl_task_timeout")


class SignedSetting:
    """How a server that takes query settings in binary (older than 19.x: 18.16 here) reads an
    Int64 setting: a signed (zigzag) varint. clickhouse-driver 0.2 writes its Int64 settings as
    unsigned varints, so 18.16 read ``distributed_ddl_task_timeout`` 5 as -3 (no limit: the
    statement hung until the socket's timeout) and 60 as 30 (measured on a private cluster with
    a node down). A server that takes settings as strings gets ``str(value)``: not this.

    >>> import io
    >>> buf = io.BytesIO(); SignedSetting.write(5, buf); SignedSetting.write(-3, buf); buf.getvalue()
    b'\\n\\x05'
    """

    @staticmethod
    def write(value, buf) -> None:
        number = int(value)
        write_varint((number << 1) ^ (number >> 63), buf)


# The setting sent here, and only it (the driver's other Int64 settings are not ours to change).
_DRIVER_SETTINGS["distributed_ddl_task_timeout"] = SignedSetting


def ddl_settings(timeout: int) -> dict:
    """The query settings of a migration's statements: ``distributed_ddl_task_timeout`` when
    ``timeout`` (seconds) is set, none for 0 (the server's own).

    >>> ddl_settings(60), ddl_settings(0)
    ({'distributed_ddl_task_timeout': 60}, {})
    """
    return {"distributed_ddl_task_timeout": int(timeout)} if timeout else {}


def migrate_on_cluster(store, run: Callable[[], list], allow_changed: bool,
                       create_lacking: bool = False) -> tuple[list, dict]:
    """``run()`` (the store's migration, its statements ON CLUSTER) once every node answers; with
    nodes down, ``[]`` when the store is current without them (:func:`current_without`), else
    the one-line :class:`NodesUnread`. Then every node that answers is checked for tables it
    lacks (a node added since: :func:`streams.store.node_schema.complete_nodes`), made there
    with ``create_lacking``, else refused. Returns ``(files applied, {node: tables made})``."""
    reader = store._replica_reader()
    purpose = f"migrate ON CLUSTER {store.cluster}"
    try:
        reader.check_every_node(purpose)
    except NodesUnread as down:
        due = current_without(store, reader, down, allow_changed, purpose)
        if due:
            raise NodesUnread(f"{down}; due: {due}", down.nodes, down.seconds, down.asked) from None
        log.warning("%s: node(s) %s did not answer; the schema is current on every other node and each "
                    "shard has one that answers: nothing to run, the store is used as it is",
                    purpose, hosts_text(down.nodes))
        live = [node for node in down.asked if node not in down.nodes]
        return [], complete_nodes(store, reader, live, create_lacking)
    applied = _run_reporting_late_nodes(store, reader, run)
    return applied, complete_nodes(store, reader, reader.node_list(), create_lacking)


def _run_reporting_late_nodes(store, reader: ReplicaReader, run: Callable[[], list]) -> list:
    try:
        return run()
    except (sql.MigrationError, errors.ServerException) as exc:
        cause = exc if isinstance(exc, errors.ServerException) else exc.__cause__
        late = unfinished_ddl_nodes(store, reader, cause)
        if not late:
            raise
        where, _, statement = str(exc).partition("\n-- statement:\n")
        name = where.split(":", 1)[0] if isinstance(exc, sql.MigrationError) else "schema setup"
        raise sql.MigrationError(
            f"{name}: node(s) {hosts_text(late)} did not run an ON CLUSTER statement within "
            "distributed_ddl_task_timeout (setting clickhouse_ddl_timeout; their DDL worker is stuck or "
            "behind: see their log)"
            + (f"\n-- statement:\n{statement}" if statement else "")) from cause


def current_without(store, reader: ReplicaReader, down: NodesUnread, allow_changed: bool,
                    purpose: str) -> str | None:
    """What a run would do with ``down.nodes`` unreachable (the first file due, and how many
    more, on which node), or None when nothing: each node that answers has the store's record
    of migrations and it lists every file of this release its server runs (the record is one
    table replicated on every node, so a node whose copy is behind counts as due: refused,
    not guessed). Raises :class:`sql.MigrationRefused` when a node's record refuses a run (a
    newer release's, files edited since: ``allow_changed``), and :class:`NodesUnread` naming
    each shard that no node answering holds (its rows can be neither written nor read)."""
    live = [node for node in down.asked if node not in down.nodes]
    held = {reader.shards[node] for node in live if node in reader.shards}
    dark = sorted({reader.shards[node] for node in down.nodes if node in reader.shards} - held)
    if dark:
        raise NodesUnread(f"{purpose}: no node of shard(s) {', '.join(map(str, dark))} answered "
                          f"({hosts_text(down.nodes)} did not within {down.seconds:g}s): its rows can be "
                          "neither written nor read; start one of its nodes", down.nodes, down.seconds, down.asked)
    if not live:
        return "every node down"
    todo = sql.load_migrations()
    for node in live:
        status = migration_status(lambda query, node=node: reader.node_rows(node, query), store.database,
                                  migrations=todo, allow_changed=allow_changed)
        if status.refusal:
            raise sql.MigrationRefused(status.refusal)
        if status.pending:
            more = f" and {len(status.pending) - 1} more" if len(status.pending) > 1 else ""
            return f"{status.pending[0].name}{more} on {hosts_text([node])}"
    return None


def unfinished_ddl_nodes(store, reader: ReplicaReader, error: BaseException | None) -> list[tuple[str, int]]:
    """The nodes that have not run the ON CLUSTER task whose wait ``error`` ended (the
    server's distributed_ddl_task_timeout: its message names the task, not the nodes), read
    from the task's entry in ZooKeeper (system.zookeeper); [] for another error, or when
    the entry cannot be read."""
    found = _DDL_TIMEOUT.search(str(error or ""))
    if not found:
        return []
    try:
        finished = {unquote(name) for (name,) in store._rows(
            f"SELECT name FROM system.zookeeper WHERE path = '{found.group(1)}/finished'")}
    except Exception:  # noqa: BLE001 - the error to report is the caller's; this only adds names
        return []
    return [node for node in reader.node_list() if hosts_text([node]) not in finished]
