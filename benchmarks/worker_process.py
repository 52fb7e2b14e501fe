"""Worker processes and what runs beside them, for the fault tests (tests/faults.py) and the
soak run (benchmarks/soak.py).

- :class:`Worker`: ``rumour worker`` as a subprocess with its own app id, web port and data dir;
  ``stats()`` reads /healthz (``app.stats``), ``trace()`` and ``get_json()`` the API.
- :func:`create_topic` (:func:`create_named_topic`), :func:`wait_until`; :func:`embedded_traces` (the answers of a worker
  that never crashed) and :func:`comparable` (the service's answer in the same form).

Waits are generous: they cost nothing when things are fast, and ``RUMOUR_TEST_SLOWDOWN``
(default 1) multiplies every wait for a machine slower still.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import orjson

from benchmarks.ingest_kit import free_port

ROOT = Path(__file__).resolve().parent.parent
# Multiplies every wait: a wait ends as soon as its condition holds, so only a failing run pays.
SLOWDOWN = max(1.0, float(os.environ.get("RUMOUR_TEST_SLOWDOWN", "1") or 1))


def _error_code(entry) -> int:
    # Response entries are tuples: (name, error_code, ...) for CreateTopics.
    return int(entry[1])


async def _create_topic(bootstrap: str, name: str, partitions: int, replication_factor: int,
                        min_insync_replicas: int | None) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from streams.topics import INVALID_REPLICATION_FACTOR, created_topic_config, replication_refused

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        config = created_topic_config({}, min_insync_replicas)
        response = await admin.create_topics([NewTopic(name=name, num_partitions=partitions,
                                                       replication_factor=replication_factor,
                                                       topic_configs=config)], timeout_ms=30000)
        # aiokafka returns the broker's refusal (a name taken, a bad partition count) without
        # raising: without this check the wait below found the old topic, or timed out.
        errors = [e for e in response.topic_errors if _error_code(e) != 0]
        if any(_error_code(e) == INVALID_REPLICATION_FACTOR for e in errors):
            # The product's one line naming the setting, not Kafka's bare error 38.
            brokers = [b["node_id"] for b in (await admin.describe_cluster())["brokers"]]
            raise replication_refused(replication_factor, brokers, bootstrap, [name])
        if errors:
            raise RuntimeError(f"creating topic {name} failed: {errors}")
        # Metadata propagates asynchronously; a loaded broker may take a while to list it (the
        # wait ends as soon as it is listed).
        deadline = time.monotonic() + 120 * SLOWDOWN
        while time.monotonic() < deadline:
            if name in await admin.list_topics():
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"topic {name} created but not listed after {120 * SLOWDOWN:g} s")
    finally:
        await admin.close()


def create_named_topic(bootstrap: str, name: str, partitions: int, replication_factor: int | None = None,
                       min_insync_replicas: int | None = None) -> str:
    """Create topic ``name`` and wait until the broker lists it; RuntimeError if the broker
    refuses it or never lists it. Also the tests' ``kafka_topic`` fixture (tests/plugins/kafka.py).

    Its replicas and ``min.insync.replicas`` are those the engine gives its own topics
    (``topic_replication_factor``, ``topic_min_insync_replicas``: their environment variables, so
    a benchmark against a three-broker cluster runs on topics like the product's), unless given;
    too few live brokers for them: the product's :class:`streams.topics.ReplicationRefused`."""
    if replication_factor is None or min_insync_replicas is None:
        from streams.settings import Settings
        from streams.topics import topic_replication

        configured = topic_replication(Settings.load())
        replication_factor = replication_factor or configured["replication_factor"]
        min_insync_replicas = min_insync_replicas or min(configured["min_insync_replicas"], replication_factor)
    asyncio.run(_create_topic(bootstrap, name, partitions, replication_factor, min_insync_replicas))
    return name


def create_topic(bootstrap: str, partitions: int, prefix: str = "rel") -> str:
    """A fresh topic ``prefix-<random>``: :func:`create_named_topic`."""
    return create_named_topic(bootstrap, f"{prefix}-{uuid.uuid4().hex[:10]}", partitions)


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
