"""Private Kafka and ClickHouse instances for runs that stop, kill or outlive a service: the
fault tests (tests/faults.py) and the soak run (benchmarks/soak.py).

The shared services (127.0.0.1:9092 and :9000) are never stopped here: each instance is started
through scripts/services/*.sh with other ports and its own run folder (RUMOUR_RUN_DIR), and only
that instance is stopped or killed.

- :class:`Service` (``private_kafka`` / ``private_clickhouse`` build one): start, stop, kill -9;
  :func:`start_private` retries on fresh ports.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from benchmarks.ingest_kit import free_port

ROOT = Path(__file__).resolve().parent.parent


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Service:
    """One private instance of a scripts/services/<name>.sh service."""

    def __init__(self, name: str, run_dir: Path, env: dict, port: int, pidfile: Path):
        self.name, self.run_dir, self.port, self.pidfile = name, run_dir, port, pidfile
        self.env = dict(os.environ, RUMOUR_RUN_DIR=str(run_dir), **env)
        self.script = ROOT / "scripts" / "services" / f"{name}.sh"

    def _run(self, action: str, timeout: float = 900) -> None:
        proc = subprocess.run(["bash", str(self.script), action], env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        if proc.returncode not in (0, 3):
            raise RuntimeError(f"{self.name} {action} failed ({proc.returncode}): "
                               f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")

    def start(self) -> None:
        self._run("start")

    def stop(self) -> None:
        """Graceful stop (SIGTERM, waits for exit)."""
        self._run("stop")

    def kill(self) -> None:
        """SIGKILL the server process, then wait until its port is closed."""
        pid = int(self.pidfile.read_text().strip())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (Path(f"/proc/{pid}").exists() or port_open(self.port)):
            time.sleep(0.2)

    @property
    def running(self) -> bool:
        return port_open(self.port)


def private_kafka(base: Path) -> Service:
    port, controller = free_port(), free_port()
    # A JVM starting on a loaded machine: its script waits up to 5 minutes (default 2).
    svc = Service("kafka", base, {"RUMOUR_KAFKA_PORT": str(port),
                                  "RUMOUR_KAFKA_CONTROLLER_PORT": str(controller),
                                  "RUMOUR_KAFKA_START_TIMEOUT": "300"},
                  port, base / "kafka" / "kafka.pid")
    svc.bootstrap = f"127.0.0.1:{port}"
    return svc


def private_clickhouse(base: Path) -> Service:
    port, http = free_port(), free_port()
    svc = Service("clickhouse", base, {"RUMOUR_CLICKHOUSE_PORT": str(port),
                                       "RUMOUR_CLICKHOUSE_HTTP_PORT": str(http),
                                       "RUMOUR_CLICKHOUSE_WAIT": "300"},  # default 60
                  port, base / "clickhouse" / "clickhouse.pid")
    svc.url = f"clickhouse://127.0.0.1:{port}"
    return svc


def start_private(make, base: Path, attempts: int = 3) -> Service:
    """``make(folder)`` (:func:`private_kafka` or :func:`private_clickhouse`) started; tried again
    on fresh ports when a start fails: a port :func:`free_port` found free may be taken (another
    process's outgoing connection, say) before the server binds it."""
    error: Exception | None = None
    for attempt in range(attempts):
        folder = base / f"try{attempt}"
        folder.mkdir(parents=True, exist_ok=True)
        svc = make(folder)
        try:
            svc.start()
            return svc
        except Exception as exc:  # noqa: BLE001 - the last one is raised
            error = exc
            try:
                svc.stop()
            except Exception:  # noqa: BLE001 - nothing may be running
                pass
    raise error
