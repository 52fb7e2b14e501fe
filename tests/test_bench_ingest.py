"""Smoke tests of `rumour bench ingest` / `scale`: the message stream reconciles, the helpers'
arithmetic, and (with Kafka + ClickHouse) the JSON contract of a tiny end-to-end run."""
from __future__ import annotations

import json
import time
import uuid

import orjson
import pytest

from benchmarks import bench_scale, ingest_kit
from benchmarks.ingest_worker import cpu_seconds

INGEST_CONTRACT = ("batched_eps", "single_eps", "noop_faust_eps", "getmany_eps",
                   "clickhouse_ceiling_eps", "p50_latency_ms", "p99_latency_ms")


@pytest.mark.parametrize("per_message", [1, 7, 500])
def test_stream_messages_reconcile(per_message):
    pairs = ingest_kit.stream_messages(12_345, per_message, seed=3, prefix="t", shares_per_rumour=1000)
    events = []
    for key, value in pairs:
        obj = orjson.loads(value)
        batch = obj if isinstance(obj, list) else [obj]
        assert 1 <= len(batch) <= per_message
        assert {e["rumour_id"] for e in batch} == {key.decode()}  # keyed by its one rumour
        events.extend(batch)
    assert len(events) == 12_345
    assert len({(e["rumour_id"], e["event_id"]) for e in events}) == 12_345
    if per_message == 1:
        assert len(pairs) == 12_345
    again = ingest_kit.stream_messages(12_345, per_message, seed=3, prefix="t", shares_per_rumour=1000)
    assert again == pairs


def test_cpu_seconds_grow_with_work():
    before = cpu_seconds()
    sum(i * i for i in range(2_000_000))
    assert cpu_seconds() > before >= 0


def test_rate_excludes_the_first_batch():
    b = {"events": 1100, "first_events": 100, "first_end": 10.0, "last_end": 12.0}
    assert ingest_kit.rate_of(b) == 500
    assert ingest_kit.rate_of({**b, "last_end": 10.0}) is None


def test_scale_projection_model():
    row = {"events": 100_000, "cpu_s": {"workers": [4.0, 6.0], "kafka": 2.0, "clickhouse": 5.0}}
    p = bench_scale.projection(row)
    assert p["per_worker_eps"] == 10_000  # 100k events / 10 worker CPU seconds
    assert p["per_worker_eps_serial_write"] == round(100_000 / 15)  # + 5 ClickHouse CPU seconds
    assert p["4_machines"]["eps"] == 40_000
    assert p["4_machines"]["clickhouse_cores"] == pytest.approx(2.0)
    # a drain shorter than a clock tick: no projection (it was a ZeroDivisionError after the run)
    assert bench_scale.projection({"events": 20_000, "cpu_s": {"workers": [0.0], "kafka": 0.01}}) is None


class _DrainingWorker:
    """A worker that had taken 4,000 events before the bench read its CPU, then 6,000 more in
    6 CPU seconds (1,000 us each)."""

    def __init__(self, *args, **kwargs):
        self.cpu = iter([10.0, 16.0])
        self.snaps = iter([{"events": 4000}])

    def wait_ready(self):
        pass

    def cpu_s(self):
        return next(self.cpu)

    def bench(self):
        return next(self.snaps)

    def wait_events(self, n_events):
        return {"events": 10_000, "first_events": 4000, "first_end": 1.0, "last_end": 2.0,
                "batches": 3, "busy_s": 1.0, "decode_s": 0.1, "restore_s": 0.0, "refuse_s": 0.0,
                "graph_s": 0.3, "store_s": 0.4}

    def stop(self):
        pass


def test_drain_counts_cpu_only_for_the_events_taken_after_the_cpu_start(monkeypatch):
    from benchmarks import bench_ingest

    monkeypatch.setattr(ingest_kit, "Worker", _DrainingWorker)
    monkeypatch.setattr(ingest_kit, "service_pids", lambda ports=None: {"kafka": [], "clickhouse": []})
    monkeypatch.setattr(ingest_kit, "services_cpu_meter", lambda pids: lambda: {})
    out = bench_ingest.drain("ours", "t", 10_000, 500, None, "r")
    # 6 CPU s over the 6,000 events after the start (it was 6 s over all 10,000: 600 us)
    assert out["cpu_us_per_event"]["worker"] == 1000.0
    assert out["events_per_cpu_s"] == 1000
    assert out["events_before_cpu_start"] == 4000


def test_machine_ceiling_skips_a_run_without_cpu_per_event(monkeypatch):
    from benchmarks.bench_ingest import machine_ceiling

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    runs = {"ours_batched": [{"cpu_us_per_event": {"worker": None}},
                             {"cpu_us_per_event": {"worker": 10.0, "clickhouse": 2.0}}]}
    assert machine_ceiling(runs)["batched"]["total_us"] == 12.0


def test_machine_ceiling_model(monkeypatch):
    from benchmarks.bench_ingest import machine_ceiling

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    runs = {"ours_columnar": [{"cpu_us_per_event": {"worker": 8.0, "clickhouse": 2.0, "kafka": 0.5}},
                              {"cpu_us_per_event": {"worker": 10.0, "clickhouse": 3.0, "kafka": 0.5}},
                              {"cpu_us_per_event": {"worker": 9.0, "clickhouse": 1.0, "kafka": 1.5}}]}
    out = machine_ceiling(runs)
    # medians per process: 9 + 2 + 0.5 = 11.5 us per event on 2 cores
    assert out["columnar"]["total_us"] == 11.5
    assert out["columnar"]["eps"] == round(2e6 / 11.5)
    assert "batched" not in out


def test_service_pids_find_a_process_by_its_command_line(monkeypatch):
    import subprocess
    import sys

    monkeypatch.setattr(ingest_kit, "SERVICE_PATTERNS", {"probe": b"rumour-probe-9f3a"})
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "rumour-probe-9f3a"])
    try:
        # Until the child has exec'd, /proc/<pid>/cmdline is still pytest's (a loaded CI box
        # caught the scan in that window).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
                if b"rumour-probe-9f3a" in f.read():
                    break
            time.sleep(0.01)
        pids = ingest_kit.service_pids()
        assert pids == {"probe": [proc.pid]}
        assert ingest_kit.services_cpu_meter(pids)()["probe"] >= 0
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.kafka
@pytest.mark.clickhouse
@pytest.mark.slow
def test_bench_ingest_end_to_end_contract(kafka_bootstrap, clickhouse_server, capsys, tmp_path,
                                          monkeypatch):
    from benchmarks.bench_ingest import main

    monkeypatch.setattr("benchmarks.outputs.OUT_DIR", tmp_path)
    # take 500 events (5 messages) at a time: several batches, the first one is not timed
    assert main(["--single-events", "600", "--batched-events", "3000", "--per-message", "100",
                 "--take-events", "500", "--take-single", "100", "--repeat", "1",
                 "--latency-seconds", "1", "--ceiling-rows", "10000", "--broker", kafka_bootstrap,
                 "--clickhouse", clickhouse_server, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    for key in INGEST_CONTRACT:
        assert res[key] is not None and res[key] > 0, key
    assert res["ceiling"]["rows"] == 10_000
    assert res["latency"]["not_seen"] == 0
    assert res["p99_latency_ms"] >= res["p50_latency_ms"]
    shares = res["runs"]["ours_batched"][0]["pipeline_share"]
    assert all(v >= 0 for k, v in shares.items() if k != "other")
    assert sum(shares.values()) == pytest.approx(1.0, abs=0.01)
    saved = json.loads((tmp_path / "ingest.json").read_text())
    assert saved["command"].startswith("rumour bench ingest")
    assert saved["options"]["per_message"] == 100 and saved["options"]["seed"] == 0  # rerunnable from the file
    cpu = res["runs"]["ours_batched"][0]["cpu_us_per_event"]
    assert cpu["worker"] > 0 and cpu["clickhouse"] > 0  # the server did the inserts
    assert res["machine_ceiling"]["batched"]["eps"] > 0
    # every key is explained in benchmarks/README.md (hardly any was); the runs' own names aside
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "benchmarks" / "README.md").read_text()

    def keys(tree):
        if isinstance(tree, dict):
            return [k for key, value in tree.items() for k in (key, *keys(value))]
        return [k for value in tree for k in keys(value)] if isinstance(tree, list) else []

    run_names = re.compile(r"^(ours|noop|getmany)_(single|batched|columnar)$")
    assert sorted({k for k in keys(res) if f"`{k}`" not in readme and not run_names.match(k)}) == []
    # Every database the run wrote is dropped (left behind, they slowed the shared server).
    from clickhouse_driver import Client
    from urllib.parse import urlparse

    url = urlparse(clickhouse_server)
    left = [name for (name,) in Client(url.hostname, port=url.port or 9000).execute("SHOW DATABASES")
            if res["run_id"] in name]
    assert left == []
    # And every topic: the ones produced to, the latency run's and the workers' own (Faust's
    # internal topics are named after the app id, which carries the run id).
    assert topics_named(kafka_bootstrap, res["run_id"]) == []


def topics_named(bootstrap: str, marker: str, wait_s: float = 10.0) -> list[str]:
    """The topics whose name holds ``marker``, once none is left or after ``wait_s`` (a deleted
    topic can stay listed for a moment)."""
    import asyncio
    import time

    from aiokafka.admin import AIOKafkaAdminClient

    async def names():
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            return sorted(t for t in await admin.list_topics() if marker in t)
        finally:
            await admin.close()

    deadline = time.monotonic() + wait_s
    while True:
        left = asyncio.run(names())
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def test_delete_topics_takes_every_topic_of_the_run_and_no_other(kafka_topic, kafka_bootstrap):
    from benchmarks import ingest_kit as kit

    marker = uuid.uuid4().hex[:10]
    mine = [kafka_topic(prefix=f"bench-x-{marker}"), kafka_topic(2, prefix=f"app-{marker}-__assignor")]
    other = kafka_topic(prefix=f"bench-x-{marker[:-1]}")  # a near name, not the run's
    assert topics_named(kafka_bootstrap, marker, wait_s=0) == sorted(mine)
    assert kit.delete_topics(kafka_bootstrap, marker) == sorted(mine)
    assert topics_named(kafka_bootstrap, marker) == []
    assert topics_named(kafka_bootstrap, other, wait_s=0) == [other]
    assert kit.delete_topics(kafka_bootstrap, marker) == []  # nothing left: nothing to do
    with pytest.raises(ValueError):
        kit.delete_topics(kafka_bootstrap, "bench")  # would match every run's topics


@pytest.mark.parametrize("name", ["ingest", "scale"])
def test_clickhouse_that_cannot_be_reached_is_one_line_and_exit_3(name, capsys):
    # it was a traceback ("worker exited (1); log ...") after about 50 s of worker start-up
    from benchmarks.cli import main as bench_main

    with pytest.raises(SystemExit) as info:
        bench_main([name, "--clickhouse", "clickhouse://127.0.0.1:1", "--broker", "127.0.0.1:1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 3 and len(err) == 1 and "Traceback" not in err[0]
    assert err[0].startswith(f"rumour bench {name}: error: clickhouse-server at clickhouse://127.0.0.1:1 "
                             f"cannot be reached") and "--clickhouse URL" in err[0]


def test_the_clickhouse_check_connects_as_the_url_says(monkeypatch):
    # it read host and port by hand and connected as "default": a URL with a user and password
    # was refused by a server that requires them, and said "cannot be reached"
    import argparse

    import clickhouse_driver

    from benchmarks import ingest_kit

    seen = []

    class Refusing:
        def __init__(self, host, **kw):
            seen.append((host, kw["port"], kw["user"], kw["password"]))
            raise OSError("stop here")

    monkeypatch.setattr(clickhouse_driver, "Client", Refusing)
    with pytest.raises(SystemExit):
        ingest_kit.require_services(argparse.ArgumentParser(prog="t"), "127.0.0.1:1",
                                    "clickhouse://ops:s%40cret@ch.example:9440/rumours")
    assert seen == [("ch.example", 9440, "ops", "s@cret")]


@pytest.mark.clickhouse
@pytest.mark.parametrize("name", ["ingest", "scale"])
def test_kafka_that_cannot_be_reached_is_one_line_and_exit_3(name, clickhouse_server, capsys):
    # it was aiokafka's KafkaConnectionError traceback
    from benchmarks.cli import main as bench_main

    with pytest.raises(SystemExit) as info:
        bench_main([name, "--clickhouse", clickhouse_server, "--broker", "127.0.0.1:1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 3 and len(err) == 1
    assert err[0].startswith(f"rumour bench {name}: error: Kafka at 127.0.0.1:1 cannot be reached") and "--broker" in err[0]


def test_a_stream_that_fits_in_one_take_batch_is_said_before_the_run(capsys):
    # --single-events 2000 against --take-single 5000 printed "ours single: None events/s" after
    # minutes and wrote single_eps 0, without a word on why
    from benchmarks.cli import main as bench_main

    with pytest.raises(SystemExit):
        bench_main(["ingest", "--single-events", "2000", "--batched-events", "100000",
                    "--clickhouse", "clickhouse://127.0.0.1:1", "--broker", "127.0.0.1:1"])
    err = capsys.readouterr().err.splitlines()
    notes = [line for line in err if "note: " in line]
    assert len(notes) == 1 and "note: single: its 2000 messages fit in one take() batch of 5000" in notes[0]
    assert "--take-single" in notes[0] and err[-1].startswith("rumour bench ingest: error: clickhouse-server")


def test_scale_counts_the_services_cpu_found_by_command_line(monkeypatch):
    # it asked `scripts/services.sh status` of the checkout it ran from: in any other checkout it
    # found no broker or clickhouse-server, and the projection took their cost as 0
    import subprocess
    import sys

    monkeypatch.setattr(ingest_kit, "SERVICE_PATTERNS", {"kafka": b"rumour-probe-5c1e", "clickhouse": b"rumour-none"})
    proc = subprocess.Popen([sys.executable, "-c", "import sys\nwhile True: pass", "rumour-probe-5c1e"])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the child has exec'd (its cmdline is pytest's before)
            with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
                if b"rumour-probe-5c1e" in f.read():
                    break
            time.sleep(0.01)
        since = ingest_kit.services_cpu_meter(ingest_kit.service_pids())
        time.sleep(0.5)
        used = since()
    finally:
        proc.kill()
        proc.wait()
    assert set(used) == {"kafka"} and used["kafka"] > 0  # a service with no process is left out


def test_a_service_process_that_ends_during_the_run_is_left_out_not_counted_negative(monkeypatch):
    import subprocess
    import sys

    monkeypatch.setattr(ingest_kit, "SERVICE_PATTERNS", {"kafka": b"rumour-probe-77d2"})
    busy = [sys.executable, "-c", "import sys\nwhile True: pass", "rumour-probe-77d2"]
    procs = [subprocess.Popen(busy) for _ in range(2)]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until both have exec'd (their cmdline is pytest's before)
            if len(ingest_kit.service_pids()["kafka"]) == 2:
                break
            time.sleep(0.01)
        time.sleep(0.5)  # the one that ends has used CPU before the meter starts
        since = ingest_kit.services_cpu_meter(ingest_kit.service_pids())
        procs[0].kill()
        procs[0].wait()
        time.sleep(0.3)
        used = since()
    finally:
        for p in procs:
            p.kill()
            p.wait()
    # the survivor's CPU since the start; the ended one neither subtracts its earlier CPU nor fails
    assert 0 < used["kafka"] < 2


def test_the_services_are_the_processes_listening_on_the_bench_ports(monkeypatch):
    """Two processes look like the service by command line; only the one on the bench's port
    is counted (the three-node test cluster's servers were counted as the bench's ClickHouse)."""
    import socket
    import subprocess
    import sys

    monkeypatch.setattr(ingest_kit, "SERVICE_PATTERNS", {"clickhouse": b"rumour-probe-3b8e"})
    port = ingest_kit.free_port()
    serve = ("import socket, time\ns = socket.socket()\n"
             f"s.bind(('127.0.0.1', {port}))\ns.listen()\ntime.sleep(30)")
    listening = subprocess.Popen([sys.executable, "-c", serve, "rumour-probe-3b8e"])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "rumour-probe-3b8e"])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until it listens (and both have exec'd)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                if len(ingest_kit.service_pids()["clickhouse"]) == 2:
                    break
            except OSError:
                pass
            time.sleep(0.02)
        assert sorted(ingest_kit.service_pids()["clickhouse"]) == sorted([listening.pid, idle.pid])
        ports = ingest_kit.service_ports(None, f"clickhouse://127.0.0.1:{port}/db")
        assert ingest_kit.service_pids(ports)["clickhouse"] == [listening.pid]
        assert ingest_kit.listening_pids(port) == [listening.pid]
    finally:
        for p in (listening, idle):
            p.kill()
            p.wait()
