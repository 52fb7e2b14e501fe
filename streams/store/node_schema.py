"""A node of the cluster that lacks tables of the store: one added to ``remote_servers`` after the
store was migrated.

A migration's statements run ON CLUSTER, on the nodes the cluster had then; the one table that
reaches a node added later is the migrations record (the run's set-up creates it ON CLUSTER every
time, and it is replicated on every node), so it reads "nothing due" there while the tables
themselves were never made: its shard's Distributed reads and writes fail, and a new replica of a
shard never holds that shard's rows. So after every migration on a cluster each node's
``system.tables`` is read (over its own connection) against the tables the applied files make
(:func:`sql.cluster.cluster_tables`):

- ``rumour migrate`` creates what a node lacks, on that node alone (not ON CLUSTER: the other
  nodes hold them, and no file runs again, so no backfill or other data change is repeated).
  Each table is made from the ``create_table_query`` of a node that holds it, a node of the same
  shard first: its columns are the current ones (files' ALTERs included), and its engine's
  ZooKeeper path keeps the ``{shard}`` and ``{replica}`` macros as written, so the new node's
  own macros place it. A new replica of a shard then fetches the shard's parts from its siblings
  (ReplicatedMergeTree); a node of a new shard starts empty. Tables before the views over them,
  in the order the files made them;
- a worker's start (any other caller of ``migrate``) creates nothing and stops in one line
  (:class:`NodesLackTables`) naming the nodes and the command: bringing a node in (its replicas
  fetch a shard's rows) is the operator's step, run once, not every worker's at its start.
"""
from __future__ import annotations

import logging

import sql
from sql.cluster import cluster_tables
from streams.store.clickhouse_client import hosts_text

log = logging.getLogger(__name__)


class NodesLackTables(sql.MigrationRefused):
    """Nodes of the cluster lack tables of the store; ``lacking``: node -> the table names. A
    refusal (the worker stops at once): waiting does not make the tables."""

    def __init__(self, message: str, lacking: dict):
        super().__init__(message)
        self.lacking = lacking


class NodeTablesError(sql.MigrationError):
    """A table a node lacks could not be made there (no file is involved: none is recorded or
    run again; ``rumour migrate`` again makes what is still missing)."""


def _named(tables: list[str]) -> str:
    """
    >>> _named(["a", "b"]), _named(["a", "b", "c", "d", "e"])
    ('a, b', 'a, b, c and 2 more')
    """
    return ", ".join(tables) if len(tables) <= 3 else f"{', '.join(tables[:3])} and {len(tables) - 3} more"


def node_tables(store, reader, nodes: list) -> dict:
    """node -> {table: create_table_query} of the store's database on each of ``nodes``."""
    query = ("SELECT name, create_table_query FROM system.tables "
             f"WHERE database = '{sql.check_identifier(store.database)}'")
    return {node: dict(reader.node_rows(node, query)) for node in nodes}


def lacking_tables(store, held: dict) -> dict:
    """node -> the tables of the applied files it lacks (in the order to make them), for the
    nodes of ``held`` (:func:`node_tables`) that lack any."""
    applied = set(sql.applied_versions(store._execute, store.database))
    expected = cluster_tables(store.database, store.cluster,
                              [m for m in sql.load_migrations() if m.version in applied])
    out = {}
    for node, tables in held.items():
        lacks = [name for name in expected if name not in tables]
        if lacks:
            out[node] = lacks
    return out


def complete_nodes(store, reader, nodes: list, create: bool) -> dict:
    """Bring each of ``nodes`` (nodes that answer) to the store's schema: with ``create``, make
    the tables a node lacks on it and return ``{"host:port": [tables made]}``; without, raise
    :class:`NodesLackTables` when a node lacks any ({} when none does)."""
    held = node_tables(store, reader, nodes)
    lacking = lacking_tables(store, held)
    if not lacking:
        return {}
    where = "; ".join(f"{hosts_text([node])} lacks {len(tables)} ({_named(tables)})"
                      for node, tables in lacking.items())
    if not create:
        raise NodesLackTables(
            f"cluster {store.cluster}: node(s) lack tables of {store.database} ({where}; added to "
            "remote_servers after the store was migrated?): run `rumour migrate` to create them there",
            lacking)
    shard_of = reader.shards
    made = {}
    for node, tables in lacking.items():
        # a node of the same shard first (the same statement either way: the macros place it)
        sources = sorted((n for n in held if n != node), key=lambda n: shard_of.get(n) != shard_of.get(node))
        statements = []
        for name in tables:
            query = next((held[n][name] for n in sources if name in held[n]), None)
            if query is None:
                raise NodeTablesError(
                    f"cluster {store.cluster}: {hosts_text([node])} lacks {store.database}.{name} and no node "
                    "holds it to copy: restore it from a backup (or drop the database and migrate again)")
            statements.append((name, if_not_exists(query)))
        reader.node_rows(node, f"CREATE DATABASE IF NOT EXISTS {store.database}")
        for name, statement in statements:
            try:
                reader.node_rows(node, statement)
            except Exception as exc:
                raise NodeTablesError(f"creating {store.database}.{name} on {hosts_text([node])}: {exc}"
                                         f"\n-- statement:\n{statement}") from exc
        made[hosts_text([node])] = tables
        log.warning("cluster %s: node %s lacked %d table(s) of %s, created there: %s", store.cluster,
                    hosts_text([node]), len(tables), store.database, ", ".join(tables))
    return made


def if_not_exists(query: str) -> str:
    """A node's ``create_table_query`` made safe to run twice (two ``rumour migrate`` at once).

    >>> if_not_exists("CREATE TABLE db.t (a UInt8) ENGINE = Null")
    'CREATE TABLE IF NOT EXISTS db.t (a UInt8) ENGINE = Null'
    >>> if_not_exists("CREATE MATERIALIZED VIEW db.v TO db.t (a UInt8) AS SELECT 1 AS a")
    'CREATE MATERIALIZED VIEW IF NOT EXISTS db.v TO db.t (a UInt8) AS SELECT 1 AS a'
    """
    for head in ("CREATE TABLE ", "CREATE MATERIALIZED VIEW ", "CREATE VIEW "):
        if query.startswith(head) and not query.startswith(head + "IF NOT EXISTS "):
            return head + "IF NOT EXISTS " + query[len(head):]
    return query


def status_lines(store) -> tuple[list[str], bool]:
    """What ``rumour migrate --status`` says of the nodes (a store on a cluster whose record lists
    applied files), and whether a node lacks tables: one line per such node (a run creates them),
    or one saying the nodes could not all be read (not checked, not counted as lacking)."""
    from streams.store.base import StoreUnavailable

    reader = store._replica_reader()
    try:
        answers = reader.rows("SELECT name, create_table_query FROM system.tables "
                              f"WHERE database = '{sql.check_identifier(store.database)}'")
    except StoreUnavailable as exc:
        return [f"nodes not checked for lacking tables: {exc}"], False
    lacking = lacking_tables(store, {node: dict(rows) for node, rows in zip(reader.nodes, answers)})
    return [f"node {hosts_text([node])} lacks {len(tables)} table(s) ({_named(tables)}): a run creates them there"
            for node, tables in lacking.items()], bool(lacking)
