"""ClickHouse fixtures (real clickhouse-server through clickhouse-driver, and chDB).

- ``clickhouse_server`` (session): the server URL (env ``RUMOUR_CLICKHOUSE_URL``, default
  ``clickhouse://127.0.0.1:9000``, no database part) after a ``SELECT 1``; skips (fails under
  CI=true) when the server is not there. Start it with ``scripts/services.sh start``.
- ``ch_store`` / ``chdb_store``: a migrated store on a fresh database ``rt_test_<hex>``,
  dropped at teardown; ``ch_store`` waits for a slow server (:func:`patient`).
- ``store``: the same, parametrized over both backends.
"""
from __future__ import annotations

import os
import uuid

import pytest

DEFAULT_URL = "clickhouse://127.0.0.1:9000"


def clickhouse_url() -> str:
    return os.environ.get("RUMOUR_CLICKHOUSE_URL", DEFAULT_URL)


# On a loaded 2-core machine clickhouse-server 18.16 may take seconds to accept a connection:
# the stores of the tests wait for it rather than give up after the defaults (5 s per connect,
# 30 s in all). Waiting costs nothing when the server is quick.
PATIENT_OPTIONS = "connect_timeout=30&retry_seconds=300"


def patient(url: str) -> str:
    """``url`` (``clickhouse://host:port[/db][?options]``) with :data:`PATIENT_OPTIONS` added
    (options the URL sets itself win).

    >>> patient("clickhouse://127.0.0.1:9000/db")
    'clickhouse://127.0.0.1:9000/db?connect_timeout=30&retry_seconds=300'
    >>> patient("clickhouse://h/db?retry_seconds=5")
    'clickhouse://h/db?retry_seconds=5&connect_timeout=30'
    """
    base, _, query = url.partition("?")
    have = {kv.split("=", 1)[0] for kv in query.split("&") if kv}
    extra = [kv for kv in PATIENT_OPTIONS.split("&") if kv.split("=", 1)[0] not in have]
    return base + "?" + "&".join(([query] if query else []) + extra)


def database_url(server: str, database: str) -> str:
    """The patient URL of ``database`` on the server at ``server`` (a URL without a database).

    >>> database_url("clickhouse://127.0.0.1:9000/", "rt_x")
    'clickhouse://127.0.0.1:9000/rt_x?connect_timeout=30&retry_seconds=300'
    """
    return patient(server.rstrip("/") + "/" + database)


def fresh_database() -> str:
    """A database name no other run uses (names only, not data: uuid is fine here)."""
    return f"rt_test_{uuid.uuid4().hex[:16]}"


def probe_rows(url: str, query: str) -> list | None:
    """The rows of ``query`` on the server at ``url``, or None when it cannot be reached."""
    from streams.store.clickhouse import ClickHouseStore
    from tests.conftest import in_ci

    probe = None
    try:
        probe = ClickHouseStore(patient(url), database="default")
        # Locally a missing server should skip fast; under CI (where it fails every ClickHouse
        # test) a server that is merely slow on a loaded machine gets a minute.
        probe.retry_seconds = 60.0 if in_ci() else 3.0
        return probe._rows(query)
    except Exception:  # any failure to reach it means "not available"
        return None
    finally:
        if probe is not None:
            probe.close()


@pytest.fixture(scope="session")
def clickhouse_server() -> str:
    from tests.conftest import unavailable

    url = clickhouse_url()
    if probe_rows(url, "SELECT 1") != [(1,)]:
        unavailable(f"clickhouse-server at {url}")
    return url


def _migrated(store):
    try:
        store.migrate()
    except BaseException:
        store.drop()
        store.close()
        raise
    return store


def dropped_after(store):
    """Yield ``store`` migrated, then drop its database and close it (a fixture's body)."""
    store = _migrated(store)
    yield store
    try:
        store.drop()
    finally:
        store.close()


@pytest.fixture
def ch_store(clickhouse_server):
    from streams.store.clickhouse import ClickHouseStore

    yield from dropped_after(ClickHouseStore(patient(clickhouse_server), database=fresh_database()))


@pytest.fixture
def chdb_store():
    from streams.store.embedded import ChdbStore

    store = _migrated(ChdbStore("chdb://", database=fresh_database()))
    yield store
    try:
        store.drop()
    finally:
        store.close()


@pytest.fixture(params=[pytest.param("clickhouse", marks=pytest.mark.clickhouse), "chdb"])
def store(request):
    """A migrated store on a fresh database, once per backend."""
    return request.getfixturevalue("ch_store" if request.param == "clickhouse" else "chdb_store")
