"""Sinks for share events and dead letters; :func:`open_store` picks one from a URL."""
from __future__ import annotations

from .base import Store, StoreError, StoreUnavailable

__all__ = ["Store", "StoreError", "StoreUnavailable", "open_store"]


def open_store(url: str, database: str | None = None, cluster: str | None = None) -> Store:
    """A store for ``url``: ``chdb://`` or ``chdb:///path`` -> in-process chDB,
    ``clickhouse://host:port/db`` -> a clickhouse-server. ``database`` overrides the URL's.
    ``cluster`` (the clickhouse_cluster setting; empty: one server) spreads a clickhouse://
    store's tables over that cluster; chDB is one process and refuses it.

    The store is not migrated; call ``store.migrate()`` (idempotent) before writing.

    >>> store = open_store("chdb://?database=doctest_db")
    >>> store.database
    'doctest_db'
    >>> store.close()
    """
    scheme = url.split(":", 1)[0].lower()
    if scheme == "chdb":
        if cluster:
            raise ValueError(f"clickhouse_cluster ({cluster!r}) needs a clickhouse:// server URL; "
                             f"{url.split('?')[0]!r} is chDB, one process: unset RUMOUR_CLICKHOUSE_CLUSTER")
        from .embedded import ChdbStore  # chDB loads a large library: import only when used
        return ChdbStore(url, database)
    if scheme == "clickhouse":
        from .clickhouse import ClickHouseStore
        return ClickHouseStore(url, database, cluster=cluster or None)
    raise ValueError(f"unknown store URL scheme {scheme!r} (use chdb:// or clickhouse://)")
