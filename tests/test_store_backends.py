"""Backend specifics: open_store URLs, connection retries, chDB data paths."""
from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from streams.events import DeadLetter
from streams.store import StoreUnavailable, open_store
from streams.store.clickhouse import ClickHouseStore, parse_url
from streams.store.embedded import ChdbPathConflict, ChdbStore
from tests.plugins.clickhouse import fresh_database
from tests.test_store import T0, make_batch, seeded_rows


def test_open_store_picks_the_backend_from_the_url():
    s = open_store("clickhouse://10.1.2.3:9123/analytics")
    assert isinstance(s, ClickHouseStore)
    assert (s.settings["host"], s.settings["port"], s.database) == ("10.1.2.3", 9123, "analytics")
    s.close()
    s = open_store("clickhouse://127.0.0.1", database="other")
    assert s.database == "other" and s.settings["port"] == 9000
    s.close()
    s = open_store("chdb://?database=x1")
    assert isinstance(s, ChdbStore) and s.database == "x1"
    s.close()
    with pytest.raises(ValueError):
        open_store("postgres://localhost/db")
    with pytest.raises(ValueError):
        open_store("clickhouse://127.0.0.1/bad-name")
    with pytest.raises(ValueError):
        parse_url("clickhouse://127.0.0.1/db?no_such_option=1")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_raises_after_bounded_retries():
    store = ClickHouseStore(f"clickhouse://127.0.0.1:{_free_port()}/db?retry_seconds=1.5&connect_timeout=0.5")
    start = time.monotonic()
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.count_events()
    elapsed = time.monotonic() - start
    assert 0.5 < elapsed < 6, elapsed  # retried for a while, then gave up
    store.close()


class FlakyProxy:
    """A loopback TCP proxy to the server that drops the first ``drops`` connections; after
    :meth:`close` the server looks gone (the port refuses connections, open ones are cut)."""

    def __init__(self, target_port: int, drops: int):
        self.target_port, self.drops, self.accepted = target_port, drops, 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.relayed: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted <= self.drops:
                conn.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.relayed += [conn, upstream]
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        # shutdown wakes the accept() under way: close alone leaves the port listening until it returns
        for s in [self.sock] + self.relayed:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def test_store_retries_through_dropped_connections(ch_store):
    ch_store.write(make_batch(seeded_rows(seed=5, n=10)), [])
    proxy = FlakyProxy(ch_store.settings["port"], drops=3)
    try:
        via = ClickHouseStore(f"clickhouse://127.0.0.1:{proxy.port}/{ch_store.database}?retry_seconds=20&connect_timeout=30")
        assert via.count_events() == 10
        assert proxy.accepted == 4  # three dropped, the fourth served
        via.close()
    finally:
        proxy.close()


def test_chdb_data_path_persists_and_conflicts_are_refused(tmp_path):
    path = tmp_path / "chdb-data"
    rows = seeded_rows(seed=4, n=30)
    with ChdbStore(f"chdb://{path}?database=persist") as first:
        first.migrate()
        first.write(make_batch(rows), [DeadLetter(b"\x00\xff", "bad", "s", T0)])
        with pytest.raises(ChdbPathConflict):
            ChdbStore("chdb://")  # a temp engine while one is bound to a path
        with pytest.raises(ChdbPathConflict):
            ChdbStore(f"chdb://{tmp_path / 'elsewhere'}")
        with ChdbStore(f"chdb://{path}?database=persist") as second:  # same path: shared
            assert second.count_events() == 30
    with ChdbStore(f"chdb://{path}?database=persist") as reopened:
        assert reopened.migrate() == []
        assert reopened.count_events() == 30
        assert reopened.dead_letters(5)[0]["raw"] == b"\x00\xff"


def test_chdb_data_survives_a_new_process(tmp_path):
    path = tmp_path / "chdb-proc"
    code = textwrap.dedent(f"""
        from streams.store import open_store
        from tests.test_store import make_batch, seeded_rows
        s = open_store("chdb://{path}?database=p")
        s.migrate(); s.write(make_batch(seeded_rows(seed=6, n=25)), []); s.close()
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    with ChdbStore(f"chdb://{path}?database=p") as s:
        assert s.count_events() == 25


def test_temporary_chdb_folder_is_removed_at_close():
    import os
    s = ChdbStore("chdb://", database=fresh_database())
    path = s.path
    assert os.path.isdir(path)
    s.close()
    assert not os.path.exists(path)
