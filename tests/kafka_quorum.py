"""A real three-node KRaft Kafka quorum on this machine, configured as docker-compose.yml's
kafka-1..3 are (their KAFKA_* environment turned into server.properties, as the apache/kafka
image does), from the jars scripts/services/kafka.sh collects; only the addresses, the data
folders and the heap differ (loopback ports, a temporary folder, a heap small enough for CI).
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import PROJECT_ROOT

# Environment variables of the image that are not broker properties, and those replaced here by
# local values (addresses, folders, the node's id).
NOT_PROPERTIES = {"KAFKA_HEAP_OPTS", "KAFKA_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_LOG4J_OPTS",
                  "KAFKA_JMX_OPTS"}
LOCAL = {"node.id", "listeners", "advertised.listeners", "controller.quorum.voters", "log.dirs"}

# The heap of each node here: compose gives each 512 MB-1 GB; three of those would not fit CI.
TEST_HEAP = ["-Xms128m", "-Xmx320m"]


def kafka_nodes(compose: dict) -> dict[str, dict]:
    """The compose services running the apache/kafka image, by name."""
    return {name: s for name, s in compose["services"].items()
            if str(s.get("image", "")).startswith("apache/kafka:")}


def interpolate(value) -> str:
    """A compose value with its ``${VAR:-default}`` references replaced by their defaults.

    >>> interpolate("${RUMOUR_TOPIC_PARTITIONS:-8}")
    '8'
    >>> interpolate(3)
    '3'
    """
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", str(value))


def property_name(variable: str) -> str:
    """The broker property a KAFKA_* variable sets (the image's rule: ``_`` is ``.``, ``__`` is
    ``_``, ``___`` is ``-``).

    >>> property_name("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR")
    'transaction.state.log.min.isr'
    """
    name = variable.removeprefix("KAFKA_")
    return name.replace("___", "-").replace("__", "\0").replace("_", ".").replace("\0", "_").lower()


def broker_properties(environment: dict) -> dict[str, str]:
    """server.properties of one compose Kafka service, from its environment."""
    return {property_name(k): interpolate(v) for k, v in environment.items()
            if k.startswith("KAFKA_") and k not in NOT_PROPERTIES}


def kafka_libs(version: str) -> Path | None:
    """The jars scripts/services/kafka.sh collected for ``version`` (None: not collected), in its
    cache (RUMOUR_CACHE_DIR, default <project>/.cache: scripts/lib/maven.sh)."""
    libs = Path(os.environ.get("RUMOUR_CACHE_DIR") or PROJECT_ROOT / ".cache") / "kafka" / version / "libs"
    return libs if (libs.parent / ".complete").exists() else None


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@dataclass
class Quorum:
    libs: Path
    folder: Path
    broker_ports: dict[int, int]  # node id -> client port
    controller_ports: dict[int, int]
    processes: dict[int, subprocess.Popen] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        """Every broker, in the project's ``broker`` setting form."""
        return ";".join(f"kafka://127.0.0.1:{p}" for p in self.broker_ports.values())

    def _java(self, *args, log: Path, wait: bool):
        command = ["java", *TEST_HEAP, "-XX:+UseG1GC", "-Djava.awt.headless=true",
                   f"-Dlog4j2.configurationFile={self.folder / 'log4j2.properties'}",
                   "-cp", f"{self.libs}/*", *args]
        out = open(log, "ab")
        if wait:
            with out:
                return subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=120)
        # A session of its own: a Ctrl-C meant for pytest must not reach the brokers first.
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)

    def configure(self, compose: dict) -> None:
        voters = ",".join(f"{n}@127.0.0.1:{p}" for n, p in self.controller_ports.items())
        (self.folder / "log4j2.properties").write_text(
            "status = warn\nappender.console.type = Console\nappender.console.name = STDOUT\n"
            "appender.console.layout.type = PatternLayout\nappender.console.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = INFO\nrootLogger.appenderRef.stdout.ref = STDOUT\n"
            "logger.statechange.name = state.change.logger\nlogger.statechange.level = WARN\n")
        cluster_id = None
        for service in kafka_nodes(compose).values():
            env = service["environment"]
            props = broker_properties(env)
            node = int(props["node.id"])
            assert node in self.broker_ports, f"compose node id {node} has no test port"
            cluster_id = interpolate(env["CLUSTER_ID"])
            data = self.folder / f"node-{node}" / "data"
            data.mkdir(parents=True)
            props.update({
                "listeners": f"PLAINTEXT://127.0.0.1:{self.broker_ports[node]},"
                             f"CONTROLLER://127.0.0.1:{self.controller_ports[node]}",
                "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.broker_ports[node]}",
                "controller.quorum.voters": voters,
                "log.dirs": str(data),
            })
            config = self.folder / f"node-{node}" / "server.properties"
            config.write_text("".join(f"{k}={v}\n" for k, v in sorted(props.items())))
            # Static voters (controller.quorum.voters): every node formatted with the one id.
            done = self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config),
                              log=config.parent / "format.log", wait=True)
            if done.returncode:
                raise RuntimeError(f"formatting node {node} failed: {(config.parent / 'format.log').read_text()[-2000:]}")

    def start(self, node: int) -> None:
        config = self.folder / f"node-{node}" / "server.properties"
        self.processes[node] = self._java("kafka.Kafka", str(config), log=config.parent / "server.log", wait=False)

    def restart(self, node: int) -> None:
        """Start a killed node again on its data; its earlier log is set aside, so
        :meth:`wait_started` waits for this start's "Kafka Server started"."""
        log = self.folder / f"node-{node}" / "server.log"
        log.rename(log.with_suffix(f".log.{time.time_ns()}"))
        self.start(node)

    def wait_started(self, nodes, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        for node in nodes:
            log = self.folder / f"node-{node}" / "server.log"
            while b"Kafka Server started" not in (log.read_bytes() if log.exists() else b""):
                if self.processes[node].poll() is not None:
                    raise RuntimeError(f"Kafka node {node} exited: {log.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kafka node {node} not started within {timeout:.0f}s: "
                                       f"{log.read_text()[-3000:]}")
                time.sleep(0.25)

    def kill(self, node: int) -> None:
        """A crash: SIGKILL, no controlled shutdown (no leadership handed over first)."""
        process = self.processes.pop(node)
        process.send_signal(signal.SIGKILL)
        process.wait(30)

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for node, process in list(self.processes.items()):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
            del self.processes[node]

    def resident_mb(self) -> float:
        """Resident memory of the running nodes (MB), from /proc."""
        total = 0
        for process in self.processes.values():
            status = Path(f"/proc/{process.pid}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
        return total / 1024


def free_ports(base: int, count: int) -> list[int]:
    ports = [p for p in range(base, base + 200) if port_free(p)][:count]
    if len(ports) < count:
        raise RuntimeError(f"no {count} free ports from {base}")
    return ports


def start_quorum(compose: dict, libs: Path, folder: Path, base_port: int = 19610) -> Quorum:
    """Format and start the compose file's Kafka nodes on loopback ports from ``base_port``;
    returns once each has logged "Kafka Server started" (the caller stops it)."""
    nodes = sorted(int(s["environment"]["KAFKA_NODE_ID"]) for s in kafka_nodes(compose).values())
    ports = free_ports(base_port, 2 * len(nodes))
    quorum = Quorum(libs, folder, dict(zip(nodes, ports[:len(nodes)])), dict(zip(nodes, ports[len(nodes):])))
    quorum.configure(compose)
    try:
        for node in nodes:
            quorum.start(node)
        quorum.wait_started(nodes)
    except BaseException:
        quorum.stop()
        raise
    return quorum


@contextlib.contextmanager
def compose_quorum(folder: Path, base_port: int = 19610):
    """docker-compose.yml's Kafka nodes started from the Maven jars of its image's version
    (skipped, or failed under CI=true, without them or java), stopped on exit; the running
    quorum carries ``start_seconds``."""
    from tests.conftest import unavailable
    from tests.test_deploy_compose import compose

    spec = compose()
    version = next(iter(kafka_nodes(spec).values()))["image"].split(":", 1)[1]
    libs = kafka_libs(version)
    if libs is None or shutil.which("java") is None:
        unavailable(f"Kafka {version} jars or java (bash scripts/services/kafka.sh start collects them)")
    started = time.monotonic()
    running = start_quorum(spec, libs, folder, base_port=base_port)
    running.start_seconds = time.monotonic() - started
    try:
        yield running
    finally:
        running.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"

