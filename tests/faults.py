"""Fault injection helpers: private Kafka / ClickHouse instances and worker processes.

The shared services (127.0.0.1:9092 and :9000) are never stopped here: every test that breaks
a service starts its own instance through scripts/services/*.sh with other ports and its own
run folder (RUMOUR_RUN_DIR), and stops or kills only that instance.

- :class:`Service` (``private_kafka`` / ``private_clickhouse`` build one): start, stop, kill -9.
- :class:`Worker`: ``rumour worker`` as a subprocess with its own app id, web port and data dir;
  ``stats()`` reads /healthz (``app.stats``), ``trace()`` and ``rumours()`` the API.
- :func:`produce`, :func:`create_topic`, :func:`wait_until`, :func:`embedded_traces`.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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

    def _run(self, action: str, timeout: float = 240) -> None:
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
    svc = Service("kafka", base, {"RUMOUR_KAFKA_PORT": str(port),
                                  "RUMOUR_KAFKA_CONTROLLER_PORT": str(controller)},
                  port, base / "kafka" / "kafka.pid")
    svc.bootstrap = f"127.0.0.1:{port}"
    return svc


def private_clickhouse(base: Path) -> Service:
    port, http = free_port(), free_port()
    svc = Service("clickhouse", base, {"RUMOUR_CLICKHOUSE_PORT": str(port),
                                       "RUMOUR_CLICKHOUSE_HTTP_PORT": str(http)},
                  port, base / "clickhouse" / "clickhouse.pid")
    svc.url = f"clickhouse://127.0.0.1:{port}"
    return svc


# ---- Kafka client helpers ---------------------------------------------------------------------

async def _create_topic(bootstrap: str, name: str, partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=name, num_partitions=partitions,
                                            replication_factor=1)], timeout_ms=30000)
        for _ in range(100):
            if name in await admin.list_topics():
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"topic {name} not listed after 10 s")
    finally:
        await admin.close()


def create_topic(bootstrap: str, partitions: int, prefix: str = "rel") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    asyncio.run(_create_topic(bootstrap, name, partitions))
    return name


async def _produce(bootstrap, topic, pairs, rate=None):
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=32 << 20,
                                request_timeout_ms=60000, linger_ms=5)
    await producer.start()
    try:
        started = time.monotonic()
        for n, (key, value) in enumerate(pairs):
            await producer.send(topic, key=key, value=value)
            if rate and n % 100 == 99:
                ahead = (n + 1) / rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await producer.flush()
    finally:
        await producer.stop()


def produce(bootstrap: str, topic: str, pairs, rate: float | None = None) -> int:
    """Send ``(key, value)`` pairs with acks=all; ``rate`` caps messages per second."""
    pairs = list(pairs)
    asyncio.run(_produce(bootstrap, topic, pairs, rate))
    return len(pairs)


def keyed(events) -> list[tuple[bytes, bytes]]:
    """Events as Kafka messages keyed by rumour (what `rumour produce` sends)."""
    return [(e["rumour_id"].encode(), orjson.dumps(e)) for e in events]


# ---- waiting and answers ----------------------------------------------------------------------

def wait_until(predicate, timeout: float, what: str, workers=(), interval: float = 0.5):
    """Poll ``predicate`` until it returns True; its last other value is shown on time-out."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for w in workers:
            if w.proc is not None and w.proc.poll() is not None:
                raise AssertionError(f"worker exited ({w.proc.returncode}) while waiting for {what}:\n"
                                     f"{w.log_tail()}")
        try:
            last = predicate()
        except Exception as exc:  # a service may be down on purpose: keep polling
            last = f"{type(exc).__name__}: {exc}"
        if last is True:
            return
        time.sleep(interval)
    tails = "\n".join(w.log_tail() for w in workers)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last}\n{tails}")


def embedded_traces(events, k: int = 10) -> dict:
    """Trace answers of a worker that never crashed: the same events through an embedded
    pipeline (no store), in the order given; in :func:`comparable` form."""
    from streams.events import format_ts
    from streams.pipeline import Pipeline

    pipeline = Pipeline(None)
    pipeline.process([orjson.dumps(e) for e in events])
    out = {}
    for rid in pipeline.rumour_ids():
        answer = pipeline.trace(rid, k)
        origins = [(o.account_id, o.event_id, None if o.ts_ms is None else format_ts(int(o.ts_ms)),
                    int(o.reach)) for o in pipeline.graphs[rid].origins(20)]
        out[rid] = {"events": answer["events"], "origins": origins,
                    "cutoff": [(c["account_id"], c["prevented"]) for c in answer["cutoff"]]}
    return out


def comparable(answer: dict) -> dict:
    """The parts of the service's trace answer an embedded pipeline computes too."""
    return {"events": answer["events"],
            "origins": [(o["account_id"], o["event_id"], o["ts"], o["reach"]) for o in answer["origins"]],
            "cutoff": [(c["account_id"], c["prevented"]) for c in answer["cutoff"]]}


# ---- workers ----------------------------------------------------------------------------------

class Worker:
    """``python -m streams.cli worker`` with its environment; one per call of start()."""

    def __init__(self, tmp: Path, name: str, broker: str, clickhouse_url: str, topic: str,
                 partitions: int, app_id: str, **extra):
        self.port = free_port()
        self.log_path = tmp / f"worker-{name}.log"
        self.env = dict(os.environ,
                        RUMOUR_KAFKA_BROKER="kafka://" + broker,
                        RUMOUR_CLICKHOUSE_URL=clickhouse_url,
                        RUMOUR_TOPIC=topic,
                        RUMOUR_DEAD_LETTER_TOPIC=topic + "-dead",
                        RUMOUR_TOPIC_PARTITIONS=str(partitions),
                        RUMOUR_APP_ID=app_id,
                        RUMOUR_WEB_PORT=str(self.port),
                        RUMOUR_DATA_DIR=str(tmp / f"data-{name}"),
                        RUMOUR_BATCH_SIZE="200",
                        RUMOUR_BATCH_WAIT="0.2",
                        RUMOUR_LOG_LEVEL="warning")
        self.env.update({k: str(v) for k, v in extra.items()})
        # The API needs a bearer token: a liaison of the whole country sees clear account ids.
        from streams.service.tokens import TokenStore

        tokens = tmp / "tokens.json"
        self.token = TokenStore(tokens).issue("liaison", "000000", f"fault-{name}")[0]
        self.env["RUMOUR_TOKENS_FILE"] = str(tokens)
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> "Worker":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env=self.env,
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT)
        return self

    def wait_ready(self, timeout: float = 120) -> "Worker":
        """Until the web server answers and the consumer holds partitions."""
        wait_until(lambda: self.stats().get("assigned_partitions", 0) > 0 or self.stats(),
                   timeout, "worker ready", [self])
        return self

    def stats(self) -> dict:
        return self.get_json("/healthz")

    def trace(self, rumour_id: str, k: int = 10) -> dict:
        """The service's trace answer in :func:`comparable` form."""
        return comparable(self.get_json(f"/api/rumours/{urllib.request.quote(rumour_id, safe='')}/trace?k={k}"))

    def _request(self, path: str) -> urllib.request.Request:
        return urllib.request.Request(f"http://127.0.0.1:{self.port}{path}",
                                      headers={"Authorization": "Bearer " + self.token,
                                               "X-Case-Id": "FAULT-1"})

    def get_json(self, path: str, timeout: float = 60):
        with urllib.request.urlopen(self._request(path), timeout=timeout) as r:
            return orjson.loads(r.read())

    def get_status(self, path: str) -> tuple[int, dict]:
        """(HTTP status, JSON body) of a GET, 4xx/5xx included."""
        try:
            with urllib.request.urlopen(self._request(path), timeout=60) as r:
                return r.status, orjson.loads(r.read())
        except urllib.error.HTTPError as exc:
            body = exc.read()
            try:
                return exc.code, orjson.loads(body)
            except orjson.JSONDecodeError:
                return exc.code, {"raw": body[:200].decode("utf-8", "replace")}

    def kill(self) -> None:
        """SIGKILL: no shutdown, no commit."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def stop(self, timeout: float = 60) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        if self._log:
            self._log.close()
            self._log = None

    def rss_bytes(self) -> int:
        try:
            with open(f"/proc/{self.proc.pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, AttributeError):
            return 0

    def log_tail(self, n: int = 3000) -> str:
        try:
            return f"--- {self.log_path.name} ---\n" + self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""
