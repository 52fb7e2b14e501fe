"""A node of the cluster restarting, seen by the rumour list (streams/service/rumour_summary.py).

The change buffer (sql/017) is each shard's on a cluster: a node that restarts may lose its
rows, so the list recomputes everything when the start it reads moves. It read the start of the
node the store is connected to; a restart of another shard's node went unseen. This test starts
a private cluster (scripts/services/clickhouse-cluster.sh on free ports: the shared one is never
restarted), restarts the node of shard 2 and checks the next refresh is a whole one.
"""
from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.plugins.clickhouse import patient

pytestmark = [pytest.mark.clickhouse, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "services" / "clickhouse-cluster.sh"


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports() -> tuple[int, int]:
    """A base port whose nine ports (native, HTTP, interserver of three nodes) are free, and a
    free ZooKeeper port."""
    rng = random.Random()
    for _ in range(50):
        base, zk = rng.randrange(21000, 29000, 10), rng.randrange(30000, 31000)
        ports = [p + n for p in (base, base - 900, base + 100) for n in (1, 2, 3)] + [zk]
        if all(_free(p) for p in ports):
            return base, zk
    pytest.skip("no free ports for a private cluster")


@pytest.fixture
def private_cluster(tmp_path):
    from tests.conftest import unavailable

    cache = Path(os.environ.get("RUMOUR_CACHE_DIR") or ROOT / ".cache")  # scripts/lib/maven.sh's
    if shutil.which("clickhouse-server") is None or not (cache / "zookeeper").is_dir():
        unavailable("clickhouse-server and ZooKeeper's jars (.cache/zookeeper) for a private cluster")
    base, zk = _ports()
    env = {**os.environ, "RUMOUR_CLUSTER_BASE_PORT": str(base), "RUMOUR_ZOOKEEPER_PORT": str(zk),
           "RUMOUR_RUN_DIR": str(tmp_path)}

    def script(command: str) -> None:
        subprocess.run(["bash", str(SCRIPT), command], env=env, check=True, capture_output=True, timeout=300)

    try:
        script("start")
        yield {"base": base, "run": tmp_path / "clickhouse-cluster", "script": script}
    finally:
        script("stop")


def _migrate_when_the_nodes_take_ddl(store, attempts: int = 3) -> None:
    # A just-started private cluster on two busy cores once answered the first ON CLUSTER
    # statement with "distributed_ddl_task_timeout ... 0 of them are currently active" (the
    # nodes' DDL workers not yet registered in ZooKeeper); the migration is idempotent, so it is
    # tried again rather than failing a test about restarts.
    for attempt in range(attempts):
        try:
            store.migrate()
            return
        except Exception as exc:  # noqa: BLE001 - retried only for the DDL queue's start-up
            if attempt == attempts - 1 or "currently active" not in str(exc):
                raise
            time.sleep(5)


def test_a_restart_of_another_shards_node_makes_the_next_refresh_a_whole_one(private_cluster):
    from streams.service.rumour_summary import RumourSummaries
    from streams.store.clickhouse import ClickHouseStore
    from tests.test_store import make_batch, seeded_rows

    store = ClickHouseStore(patient(f"clickhouse://127.0.0.1:{private_cluster['base'] + 1}/rt_restart"),
                            cluster="rumour")
    try:
        _migrate_when_the_nodes_take_ddl(store)
        store.write(make_batch(seeded_rows(seed=5, n=200, rumours=6)), [])
        summaries = RumourSummaries(store)
        assert len(summaries.refresh()["rumours"]) == 6
        _, started, _ = store.rumours_changed_since(0)
        # node 3, the only node of shard 2 (the store talks to node 1): stopped and started again
        pid = int((private_cluster["run"] / "node3" / "clickhouse.pid").read_text())
        time.sleep(3)  # a start at least 3 s later than every node's first (the check allows 2)
        os.kill(pid, 15)
        deadline = time.monotonic() + 60
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        private_cluster["script"]("start")  # starts the stopped node only
        _, started_again, _ = store.rumours_changed_since(0)
        assert started_again > started + 2
        summaries.refresh()
        assert summaries.recomputed == 6  # the whole list, as after the server's own restart
    finally:
        store._command("DROP DATABASE IF EXISTS rt_restart ON CLUSTER rumour")
        store.close()
