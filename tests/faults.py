"""Fault injection helpers: private Kafka / ClickHouse instances and worker processes.

The shared services (127.0.0.1:9092 and :9000) are never stopped here: every test that breaks
a service starts its own instance through scripts/services/*.sh with other ports and its own
run folder (RUMOUR_RUN_DIR), and stops or kills only that instance.

- :class:`Service` (``private_kafka`` / ``private_clickhouse`` build one): start, stop, kill -9.
- :class:`Worker`: ``rumour worker`` as a subprocess with its own app id, web port and data dir;
  ``stats()`` reads /healthz (``app.stats``), ``trace()`` and ``rumours()`` the API.
- :func:`produce`, :func:`create_topic`, :func:`wait_until`, :func:`embedded_traces`.
- :class:`FlakyStore`: a store whose next writes fail, for an embedded pipeline (no service).
- On a loaded CI machine: :func:`fresh_stats` (the timer-refreshed /healthz fields from a tick
  after a given moment, by the tick's ``stats_at_ms``), :func:`sentinels` (one event per partition: once they are processed,
  every message before them was too), :func:`wait_committed` (the group's committed offsets reach
  the end of the topic). Waits are generous: they cost nothing when things are fast, and
  ``RUMOUR_TEST_SLOWDOWN`` (default 1) multiplies every wait for a machine slower still.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
# Multiplies every wait: a wait ends as soon as its condition holds, so only a failing run pays.
SLOWDOWN = max(1.0, float(os.environ.get("RUMOUR_TEST_SLOWDOWN", "1") or 1))


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


# ---- Kafka client helpers ---------------------------------------------------------------------

async def _create_topic(bootstrap: str, name: str, partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=name, num_partitions=partitions,
                                            replication_factor=1)], timeout_ms=30000)
        # Metadata propagates asynchronously; a loaded broker may take a while to list it.
        deadline = time.monotonic() + 120 * SLOWDOWN
        while time.monotonic() < deadline:
            if name in await admin.list_topics():
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"topic {name} not listed after {120 * SLOWDOWN:g} s")
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


class Producing:
    """:func:`produce` in a background thread; :meth:`join` waits for it and raises what it
    raised (a plain thread would only print it, and the test would time out on a wait)."""

    def __init__(self, bootstrap: str, topic: str, pairs, rate: float | None = None):
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(bootstrap, topic, list(pairs), rate),
                                       daemon=True)
        self.thread.start()

    def _run(self, bootstrap, topic, pairs, rate):
        try:
            produce(bootstrap, topic, pairs, rate)
        except BaseException as exc:  # noqa: BLE001 - re-raised in join()
            self.error = exc

    def join(self, timeout: float = 600) -> None:
        self.thread.join(timeout * SLOWDOWN)
        if self.thread.is_alive():
            raise AssertionError(f"producer still sending after {timeout * SLOWDOWN:g}s")
        if self.error is not None:
            raise self.error


def keyed(events) -> list[tuple[bytes, bytes]]:
    """Events as Kafka messages keyed by rumour (what `rumour produce` sends)."""
    return [(e["rumour_id"].encode(), orjson.dumps(e)) for e in events]


# ---- waiting and answers ----------------------------------------------------------------------

def wait_until(predicate, timeout: float, what: str, workers=(), interval: float = 0.5):
    """Poll ``predicate`` until it returns True; its last other value is shown on time-out.
    ``timeout`` is scaled by ``RUMOUR_TEST_SLOWDOWN``."""
    timeout = timeout * SLOWDOWN
    deadline = time.monotonic() + timeout
    last = None
    while True:
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
        # The predicate itself may take long on a loaded machine: it gets one last try after
        # the deadline rather than the deadline passing during a sleep.
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    tails = "\n".join(w.log_tail() for w in workers)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last: {last}\n{tails}")


def fresh_stats(worker: "Worker", since: float) -> dict:
    """/healthz with its timer-refreshed fields computed after ``since`` (``time.monotonic()``).

    Those fields (lag, graph_bytes, ...) are copies the worker's 2-s timer makes; read right after
    a condition they may predate it. The timer stamps each tick in ``stats_at_ms`` (wall clock)
    before it reads them, so an answer stamped after ``since`` holds values from after it."""
    after_ms = (time.time() - (time.monotonic() - since)) * 1000
    found: dict = {}

    def ticked():
        s = found["stats"] = worker.stats()
        return s.get("stats_at_ms", 0) > after_ms or {"stats_at_ms": s.get("stats_at_ms")}

    wait_until(ticked, 60, "a stats tick after the condition", [worker], interval=0.1)
    return found["stats"]


def sentinels(n_partitions: int, prefix: str, ts_ms: int = 1_764_547_200_000) -> list[dict]:
    """One valid post per partition of a topic with ``n_partitions`` (rumour ids chosen with the
    producer's keyed partitioner, murmur2). Kafka keeps order within a partition: once all of
    them are processed, so is every message produced before them."""
    from streams.app import _partitioner

    partition = _partitioner(n_partitions)
    found: dict[int, dict] = {}
    i = 0
    while len(found) < n_partitions:
        rid = f"{prefix}-sentinel-{i}"
        part = partition(rid)
        found.setdefault(part, {"event_id": f"{rid}-e0", "rumour_id": rid, "account_id": f"{prefix}-sentinel",
                                "ts": ts_ms, "kind": "post", "parent_event_id": None,
                                "parent_account_id": None, "platform": "weibo", "region": None,
                                "text": "sentinel"})
        i += 1
    return [found[p] for p in sorted(found)]


async def _offsets(bootstrap: str, group: str, topic: str, partitions: int) -> tuple[dict, dict]:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.structs import TopicPartition

    tps = [TopicPartition(topic, p) for p in range(partitions)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)  # aiokafka's stop() of a consumer that never had partitions raises
        ends = await consumer.end_offsets(tps)
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        return ({tp.partition: ends[tp] for tp in tps},
                {tp.partition: (committed[tp].offset if tp in committed else -1) for tp in tps})
    finally:
        await consumer.stop()
        await admin.close()


def committed_and_end(bootstrap: str, group: str, topic: str, partitions: int) -> tuple[dict, dict]:
    """(end offsets, the group's committed offsets) per partition of ``topic``."""
    return asyncio.run(_offsets(bootstrap, group, topic, partitions))


def wait_committed(bootstrap: str, group: str, topic: str, partitions: int, timeout: float,
                   workers=()) -> None:
    """Until the consumer group (a worker's app id) has committed every partition of ``topic``
    up to its end: every message produced so far was processed, stored and acked."""
    def done():
        ends, committed = committed_and_end(bootstrap, group, topic, partitions)
        # -1: nothing committed, which is all there is to commit in an empty partition
        caught_up = all(max(committed[p], 0) == end for p, end in ends.items())
        return caught_up or {"end": ends, "committed": committed}

    wait_until(done, timeout, f"group {group} committed {topic} to its end", workers)


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


class FlakyStore:
    """A store whose writes raise ConnectionError while ``failures`` > 0 (each one counts down);
    everything else is the ``inner`` store's: an outage seen by an embedded pipeline."""

    def __init__(self, inner, failures: int):
        self.inner, self.failures = inner, failures

    def write(self, batch, dead=()):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("store down")
        self.inner.write(batch, dead)

    def __getattr__(self, name):
        return getattr(self.inner, name)


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

    def wait_ready(self, timeout: float = 300) -> "Worker":
        """Until the web server answers and the consumer holds partitions (ownership is read
        live by /healthz). A worker that lost its web port to another process between
        :func:`free_port` and its bind is started again on another port."""
        for attempt in range(3):
            try:
                wait_until(lambda: self.stats().get("assigned_partitions", 0) > 0 or self.stats(),
                           timeout, "worker ready", [self])
                return self
            except AssertionError:
                if attempt == 2 or self.proc.poll() is None or "address already in use" not in \
                        self.log_tail(20_000).lower():
                    raise
            self.stop()
            self.port = free_port()
            self.env["RUMOUR_WEB_PORT"] = str(self.port)
            self.start()
        return self

    def stats(self) -> dict:
        # 503 while something is wrong (a store outage): the body still carries the counters.
        status, body = self.get_status("/healthz")
        assert status in (200, 503), (status, body)
        return body

    def trace(self, rumour_id: str, k: int = 10) -> dict:
        """The service's trace answer in :func:`comparable` form."""
        return comparable(self.get_json(f"/api/rumours/{urllib.request.quote(rumour_id, safe='')}/trace?k={k}"))

    def _request(self, path: str) -> urllib.request.Request:
        return urllib.request.Request(f"http://127.0.0.1:{self.port}{path}",
                                      headers={"Authorization": "Bearer " + self.token,
                                               "X-Case-Id": "FAULT-1"})

    def get_json(self, path: str, timeout: float = 180):
        with urllib.request.urlopen(self._request(path), timeout=timeout) as r:
            return orjson.loads(r.read())

    def get_status(self, path: str) -> tuple[int, dict]:
        """(HTTP status, JSON body) of a GET, 4xx/5xx included."""
        try:
            with urllib.request.urlopen(self._request(path), timeout=180) as r:
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
