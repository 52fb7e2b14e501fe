"""Pieces shared by `rumour bench ingest` and `rumour bench scale`: the seeded message stream,
producing it into Kafka, a plain getmany consumer, and worker processes with their /bench page."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson

from streams.synthetic import synthetic_events

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stream_messages(n_events: int, per_message: int, seed: int, prefix: str,
                    shares_per_rumour: int = 5000):
    """``(key, value)`` pairs: ``n_events`` seeded v1 events, one per message or JSON arrays of
    ``per_message`` events of one rumour; each rumour's events in time order, keyed by rumour."""
    n_rumours = max(1, -(-n_events // shares_per_rumour))
    events = synthetic_events(n_rumours, shares_per_rumour, seed=seed, prefix=prefix,
                              debunk_fraction=0.0)
    out, group, key, count = [], [], None, 0
    for ev in events:
        if count == n_events:
            break
        count += 1
        k = ev["rumour_id"].encode()
        if per_message <= 1:
            out.append((k, orjson.dumps(ev)))
            continue
        if group and (k != key or len(group) == per_message):
            out.append((key, orjson.dumps(group)))
            group = []
        key = k
        group.append(ev)
    if group:
        out.append((key, orjson.dumps(group)))
    return out


async def _produce(bootstrap: str, topic: str, pairs, rate_msgs: float | None, sent_at: list | None):
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_request_size=32 << 20,
                                acks=1, max_batch_size=1 << 20)
    await producer.start()
    try:
        pending = []
        t0 = time.perf_counter()
        for i, (key, value) in enumerate(pairs):
            if rate_msgs:
                due = t0 + i / rate_msgs
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            if sent_at is not None:
                sent_at.append(time.time())
            pending.append(await producer.send(topic, key=key, value=value))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def produce(bootstrap: str, topic: str, pairs, rate_msgs: float | None = None,
            sent_at: list | None = None) -> float:
    """Send every pair (flat out, or ``rate_msgs`` messages per second); returns seconds taken.
    ``sent_at`` receives each message's send time (time.time())."""
    t0 = time.perf_counter()
    asyncio.run(_produce(bootstrap, topic, pairs, rate_msgs, sent_at))
    return time.perf_counter() - t0


async def _getmany(bootstrap: str, topic: str, n_messages: int, timeout_s: float) -> dict:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=16 << 20, fetch_max_bytes=64 << 20)
    await consumer.start()
    try:
        got = first_n = 0
        first = time.perf_counter()  # after start: metadata known, no group to join
        last = None
        deadline = time.monotonic() + timeout_s
        while got < n_messages and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            n = sum(len(v) for v in batch.values())
            if not n:
                continue
            last = time.perf_counter()
            got += n
        return {"messages": got, "seconds": (last - first) if last else 0.0, "first_messages": first_n}
    finally:
        await consumer.stop()


def getmany_rate(bootstrap: str, topic: str, n_messages: int, timeout_s: float = 120) -> dict:
    """Messages/s of a plain aiokafka consumer that decodes nothing (from its start to the last fetch)."""
    r = asyncio.run(_getmany(bootstrap, topic, n_messages, timeout_s))
    r["msgs_per_s"] = (r["messages"] - r["first_messages"]) / r["seconds"] if r["seconds"] else None
    return r


class Worker:
    """A benchmarks.ingest_worker process (started and stopped by us, by pid)."""

    def __init__(self, mode: str, topic: str, app_id: str, clickhouse: str | None = None,
                 batch_size: int = 5000, batch_wait: float = 0.5, events_per_message: int = 1,
                 partitions: int = 4, log_path: Path | None = None):
        self.port = free_port()
        cmd = [sys.executable, "-m", "benchmarks.ingest_worker", "--mode", mode, "--topic", topic,
               "--app-id", app_id, "--web-port", str(self.port), "--batch-size", str(batch_size),
               "--batch-wait", str(batch_wait), "--events-per-message", str(events_per_message),
               "--partitions", str(partitions)]
        if clickhouse:
            cmd += ["--clickhouse", clickhouse]
        self.log_path = log_path or Path(f"/tmp/rumour-bench-{app_id}-{self.port}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def bench(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/bench", timeout=2) as r:
                return orjson.loads(r.read())
        except OSError:
            return None

    def get(self, path: str):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as r:
            return orjson.loads(r.read())

    def wait_ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited ({self.proc.returncode}); log {self.log_path}")
            if self.bench() is not None:
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not up after {timeout_s}s; log {self.log_path}")

    def wait_events(self, n_events: int, timeout_s: float = 600, poll_s: float = 0.2) -> dict:
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited ({self.proc.returncode}); log {self.log_path}")
            last = self.bench() or last
            if last and last["events"] >= n_events:
                return last
            time.sleep(poll_s)
        raise TimeoutError(f"worker saw {last and last['events']} of {n_events} events; log {self.log_path}")

    def cpu_s(self) -> float:
        from benchmarks.ingest_worker import cpu_seconds

        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def rate_of(b: dict) -> float | None:
    """Events/s from /bench counters, the first batch excluded (it carries the start-up)."""
    span = (b["last_end"] or 0) - (b["first_end"] or 0)
    return (b["events"] - b["first_events"]) / span if span > 0 else None


SERVICE_PATTERNS = {"clickhouse": b"clickhouse-server", "kafka": b"kafka.Kafka"}


def listening_pids(port: int) -> list[int]:
    """The pids of this user's processes that listen on TCP ``port`` (any address), from
    /proc/net/tcp{,6} and each process's open sockets; [] when none is found or readable."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    # local_address is HEXADDR:HEXPORT; state 0A is LISTEN
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(f"socket:[{fields[9]}]")
        except OSError:
            continue
    if not inodes:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
            if any(os.readlink(f"/proc/{entry}/fd/{fd}") in inodes for fd in fds):
                pids.append(int(entry))
        except OSError:  # another user's process, or one that ended
            continue
    return pids


def service_ports(broker: str | None = None, clickhouse: str | None = None) -> dict[str, int]:
    """The ports the bench's broker (``host:port`` or ``kafka://host:port``, the first of
    several) and ClickHouse (``clickhouse://`` URL) listen on, for :func:`service_pids`.

    >>> service_ports("kafka://127.0.0.1:19092;127.0.0.1:19093", "clickhouse://127.0.0.1:9101/db")
    {'kafka': 19092, 'clickhouse': 9101}
    """
    from streams.store.clickhouse import parse_url

    out = {}
    if broker:
        first = broker.split("://", 1)[-1].replace(";", ",").split(",")[0]
        out["kafka"] = int(first.rsplit(":", 1)[1]) if ":" in first else 9092
    if clickhouse:
        out["clickhouse"] = parse_url(clickhouse)["port"]
    return out


def service_pids(ports: dict[str, int] | None = None) -> dict[str, list[int]]:
    """The pids of the clickhouse-server and Kafka broker processes whose CPU the worker's rate
    also costs the box: for a service in ``ports`` (:func:`service_ports`), the process that
    listens on its port, so that the other servers of the machine (the three-node test
    cluster, another checkout's private broker) are not counted; otherwise, or when no listener
    is found, every process whose command line names it."""
    ports = ports or {}
    by_port = {name: listening_pids(ports[name]) for name in SERVICE_PATTERNS if name in ports}
    found: dict[str, list[int]] = {name: [] for name in SERVICE_PATTERNS}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        for name, pattern in SERVICE_PATTERNS.items():
            if pattern in cmdline:
                found[name].append(int(entry))
    for name, pids in by_port.items():
        if pids:
            found[name] = [pid for pid in found[name] if pid in pids] or pids
    return found


def _cpu_by_pid(pids: dict[str, list[int]]) -> dict[str, dict[int, float]]:
    from benchmarks.ingest_worker import cpu_seconds

    out: dict[str, dict[int, float]] = {}
    for name, group in pids.items():
        out[name] = {}
        for pid in group:
            try:
                out[name][pid] = cpu_seconds(pid)
            except OSError:  # ended (another checkout's private server, stopped meanwhile)
                pass
    return out


def services_cpu_meter(pids: dict[str, list[int]]):
    """Start counting the CPU of each service's processes (``pids``: :func:`service_pids`);
    the function returned gives each one's CPU seconds since, summed over the processes alive
    at both readings. A process that ends between them is left out rather than counted as 0,
    which made the difference negative when another checkout stopped its own broker mid-run; a
    service with no process is left out."""
    before = _cpu_by_pid({name: group for name, group in pids.items() if group})

    def since() -> dict[str, float]:
        now = _cpu_by_pid({name: list(group) for name, group in before.items()})
        return {name: round(sum(cpu - before[name][pid] for pid, cpu in group.items()), 2)
                for name, group in now.items()}
    return since


def require_services(ap, broker: str, clickhouse: str) -> None:
    """Refuse in one line, exit 3 (a service cannot be reached, as the other ``rumour`` commands
    say it), when clickhouse-server or Kafka does not answer, before any topic or worker: it was
    a traceback, after 50 s of worker start-up when only ClickHouse was down."""
    import asyncio
    import logging

    from aiokafka.admin import AIOKafkaAdminClient
    from clickhouse_driver import Client

    from streams.store.clickhouse import parse_url

    hint = "start the services (bash scripts/services.sh start) or give"
    try:
        # The store's own reading of the URL: its user and password too, not only host and port.
        c = parse_url(clickhouse)
        client = Client(c["host"], port=c["port"], user=c["user"], password=c["password"],
                        connect_timeout=5)
        client.execute("SELECT 1")
        client.disconnect()
    except Exception as exc:  # any failure to answer: refused, unknown host, timeout
        ap.exit(3, f"{ap.prog}: error: clickhouse-server at {clickhouse} cannot be reached ({exc}); "
                   f"{hint} --clickhouse URL\n")

    async def ping() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker, request_timeout_ms=10_000)
        await admin.start()
        await admin.close()

    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # its own "Unable connect" log line would precede ours
    try:
        asyncio.run(ping())
    except Exception as exc:
        ap.exit(3, f"{ap.prog}: error: Kafka at {broker} cannot be reached ({exc}); {hint} --broker HOST:PORT\n")
    finally:
        quiet.setLevel(level)


def drop_database(url: str) -> None:
    """Each worker run writes its own database (``clickhouse://host:port/name``); drop it once
    the run is measured: left behind, thousands of tables slow the shared server's background
    work and every later run."""
    from clickhouse_driver import Client

    base, name = url.rsplit("/", 1)
    host, _, port = base.split("://", 1)[1].partition(":")
    try:
        Client(host, port=int(port or 9000)).execute(f"DROP DATABASE IF EXISTS {name}")
    except Exception as exc:  # a leftover database costs disk only
        print(f"could not drop {name}: {exc}", file=sys.stderr)


async def _delete_topics(bootstrap: str, marker: str) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics() if marker in t)
        if names:
            await admin.delete_topics(names, timeout_ms=30000)
        return names
    finally:
        await admin.close()


def delete_topics(bootstrap: str, marker: str) -> list[str]:
    """Delete every topic whose name contains ``marker`` (a run's id: the topics it produced to
    and its Faust workers' internal ones, whose names start with the app id); the names deleted.
    Left behind, a run's events stay on the broker's disk for the retention time (7 days): 14 GB
    and 850 partitions after a day of runs, which the broker keeps working over and which slowed
    every later run's latency (benchmarks/RESULTS.md, "Session 23")."""
    if len(marker) < 6:  # never a prefix that could match another's topics
        raise ValueError(f"marker too short to delete by: {marker!r}")
    try:
        return asyncio.run(_delete_topics(bootstrap, marker))
    except Exception as exc:  # a leftover topic costs disk only
        print(f"could not delete the topics of {marker}: {exc}", file=sys.stderr)
        return []
