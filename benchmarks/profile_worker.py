"""Where the ingest worker's CPU goes: per thread, and (optionally) per function with py-spy.

    python -m benchmarks.profile_worker --events 200000 --per-message 2000 --take-events 20000 \
        [--tree /work/main] [--pyspy out.txt] [--runs 3] [--mode ours --mode noop]
    python -m benchmarks.profile_worker --per-message 1 --events 20000 --take-single 5000 \
        --mode ours --mode noop --runs 3                   # one event per message

Produces columnar messages (the bench's seeded stream; with ``--per-message 1`` one JSON event
per message, as the bench's single-event topic) to a fresh topic, starts the bench worker
(``benchmarks.ingest_worker --mode ours``, or ``noop``: alternated with ``--mode`` repeated) from
``--tree`` (its cwd and PYTHONPATH,
so an A/B can run another checkout's engine with this script), waits until it is up, then reads
every thread's user+system ticks from /proc/<pid>/task/*/stat before and after the drain.
Prints one JSON line per run: worker CPU us/event, per thread (by name), events/s, load average;
with ``--server-pid`` (a private clickhouse-server at ``--clickhouse``) also that server's CPU per
event and the parts its INSERTs wrote per table (system.parts).
With ``--perf`` it is sampled by ``perf record -g`` (CPU time only: kernel, libc, libpython,
numba code; thread ids map to names through the JSON's ``tids``). With ``--pyspy`` the drain is sampled by ``py-spy record --native --idle -f raw`` (collapsed
stacks; costs the worker some CPU, so its figures are not the A/B's).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import orjson

from benchmarks import ingest_kit as kit
from benchmarks.bench_ingest import columnar_pairs, shares_per_rumour

ROOT = Path(__file__).resolve().parent.parent


def thread_ticks(pid: int) -> dict[str, int]:
    """user+system clock ticks per thread id."""
    out: Counter = Counter()
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                head, tail = f.read().rsplit(")", 1)
        except OSError:
            continue
        fields = tail.split()
        out[tid] += int(fields[11]) + int(fields[12])
    return dict(out)


def server_inserts(url: str) -> dict:
    """Per table of the run's database: parts written by INSERTs (level 0, active or already
    merged away: system.parts keeps merged parts for minutes) and parts active now."""
    from clickhouse_driver import Client

    base, name = url.rsplit("/", 1)
    host, _, port = base.split("://", 1)[1].partition(":")
    rows = Client(host, port=int(port or 9000)).execute(
        f"SELECT table, countIf(level = 0), countIf(active) FROM system.parts WHERE database = '{name}' "
        "GROUP BY table ORDER BY table")
    return {t: {"inserted_parts": int(n), "active_parts": int(a)} for t, n, a in rows}


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def one_run(args, topic: str, n_events: int, run: int) -> dict:
    tree = Path(args.tree).resolve()
    port = kit.free_port()
    app_id = f"prof-{uuid.uuid4().hex[:8]}"
    db = f"{args.clickhouse.rstrip('/')}/prof_{uuid.uuid4().hex[:8]}"
    batch = args.take_single if args.per_message <= 1 else max(1, args.take_events // args.per_message)
    cmd = [sys.executable, "-m", "benchmarks.ingest_worker", "--mode", args.mode, "--topic", topic,
           "--app-id", app_id, "--web-port", str(port), "--batch-size", str(batch),
           "--batch-wait", "0.5", "--events-per-message", str(args.per_message),
           "--partitions", "4", "--clickhouse", db, "--data-dir", f"/tmp/prof-run/{app_id}"]
    for option in (args.variant or "").split(","):
        if option == "noop-path=ours":
            cmd += ["--noop-path", "ours"]
        elif option.startswith("fetch_max_wait_ms="):
            cmd += ["--fetch-max-wait-ms", option.partition("=")[2]]
        elif option.startswith("paused_fetch_timeout="):
            cmd += ["--paused-fetch-timeout", option.partition("=")[2]]
        elif option:
            cmd += ["--faust-option", option]
    if args.pace:
        cmd += ["--pace-trace"]
    log = open(f"/tmp/prof-{app_id}.log", "wb")
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, cwd=tree, stdout=log, stderr=subprocess.STDOUT, env=env)
    w = kit.Worker.__new__(kit.Worker)  # reuse its HTTP polling on our own process
    w.port, w.proc, w.log, w.log_path = port, proc, log, log.name
    spy = None
    try:
        w.wait_ready()
        t0 = thread_ticks(proc.pid)
        gc0 = (w.bench() or {}).get("gc")
        services = kit.service_pids(kit.service_ports(args.broker, db))
        services_since = kit.services_cpu_meter(services)
        p0 = proc_cpu_s(args.server_pid) if args.server_pid else None
        if args.pyspy:
            spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--native", "--threads", "-r", str(args.rate),
                                    "-p", str(proc.pid), "-o", f"{args.pyspy}.{Path(args.tree).name}.{args.mode}.{run}", "-f", "raw"]
                                   + (["--gil"] if args.gil else []),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if args.perf:
            spy = subprocess.Popen(["perf", "record", "-F", str(args.rate), "-g", "-p", str(proc.pid),
                                    "-o", f"{args.perf}.{run}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        b = w.wait_events(n_events)
        t1 = thread_ticks(proc.pid)
        with open(f"/proc/{proc.pid}/statm") as f:
            rss_mb = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        services_cpu = services_since()
        if args.server_pid:
            # The server's background merges of this run's parts go on after the drain: wait
            # for them (a private server: nothing else runs there) before reading its clock.
            time.sleep(args.settle)
            p1 = proc_cpu_s(args.server_pid)
        inserts = server_inserts(db) if args.server_pid else None
    finally:
        if spy is not None:
            spy.send_signal(2)
            spy.wait(60)
        w.stop()
        kit.drop_database(db)
        kit.delete_topics(args.broker, app_id)  # the worker's Faust topics (named after its app id)
    hz = os.sysconf("SC_CLK_TCK")
    n = b["events"]
    # Python thread names from the worker's /bench page (main's worker has none: ids then).
    names = b.get("threads") or {}
    per_thread: Counter = Counter()
    for tid in t1:
        name = names.get(tid, "pid" if tid == str(proc.pid) else f"tid{tid}")
        per_thread[name] += round((t1[tid] - t0.get(tid, 0)) / hz / n * 1e6, 2)
    per_thread = {k: v for k, v in sorted(per_thread.items(), key=lambda kv: -kv[1]) if v}
    rate = kit.rate_of(b)
    out = {"tree": str(tree), "mode": args.mode, "variant": args.variant, "run": run, "events": n, "eps": round(rate) if rate else None,
            "worker_us": round(sum(per_thread.values()), 2), "threads_us": per_thread,
            "services_us": {k: round(v / n * 1e6, 2) for k, v in services_cpu.items()},
            "steps_s": {k: round(b[k], 3) for k in ("decode_s", "restore_s", "refuse_s", "graph_s", "store_s")},
            "tids": names, "rss_mb": round(rss_mb), "load_average": load_average()}
    if b.get("pace"):
        from benchmarks.pace_trace import summary

        out["pace"] = summary(b["pace"])
    if args.server_pid:
        out["server_us"] = round((p1 - p0) / n * 1e6, 2)
        out["inserts"] = inserts
    if gc0 and b.get("gc"):  # this tree's worker clocks its garbage collector
        out["gc_us"] = [round((b["gc"]["seconds"][g] - gc0["seconds"][g]) / n * 1e6, 3) for g in range(3)]
        out["gc_runs"] = [b["gc"]["runs"][g] - gc0["runs"][g] for g in range(3)]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--per-message", type=int, default=2000)
    ap.add_argument("--take-events", type=int, default=20_000)
    ap.add_argument("--form", choices=("columnar", "array"), default="columnar",
                    help="message form when --per-message > 1: columnar batch messages (default) or "
                         "JSON arrays of event objects (the bench's batched_eps stream)")
    ap.add_argument("--take-single", type=int, default=5000,
                    help="messages per take() when --per-message is 1 (the bench's default)")
    ap.add_argument("--mode", action="append", choices=("ours", "noop"), default=None,
                    help="bench worker mode (repeat to alternate: ours, noop)")
    ap.add_argument("--tree", action="append", default=None,
                    help="checkout whose engine the worker runs (repeat to alternate trees)")
    ap.add_argument("--runs", type=int, default=1, help="runs per tree, alternated")
    ap.add_argument("--variant", action="append", default=None,
                    help="Faust settings of the worker, KEY=VALUE[,KEY=VALUE] ('' = defaults; "
                         "'noop-path=ours' = the no-op agent on the engine's streams/faust_path.py; "
                         "'paused_fetch_timeout=1.0' = Faust's fetch wait while paused); "
                         "repeat to alternate variants")
    ap.add_argument("--pace", action="store_true",
                    help="the worker records its fetch/pause timeline (benchmarks.pace_trace); "
                         "only trees that have it")
    ap.add_argument("--pyspy", default=None, help="py-spy raw output prefix")
    ap.add_argument("--gil", action="store_true",
                    help="with --pyspy: sample only the thread holding the GIL (py-spy --gil), so a "
                         "thread's share is its GIL-holding time; compare with a run without it")
    ap.add_argument("--perf", default=None, help="perf record output prefix (CPU samples, -g)")
    ap.add_argument("--rate", type=int, default=250, help="samples/s of py-spy or perf")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--broker", default="127.0.0.1:9092")
    ap.add_argument("--clickhouse", default="clickhouse://127.0.0.1:9000")
    ap.add_argument("--server-pid", type=int, default=None,
                    help="pid of a private clickhouse-server at --clickhouse: its CPU per event (merges "
                         "included, after --settle seconds) and its INSERTs per table")
    ap.add_argument("--settle", type=float, default=5.0)
    args = ap.parse_args(argv)
    from streams.settings import Settings
    from streams.topics import ensure_topics, topic_replication

    trees = args.tree or [str(ROOT)]
    run_id = uuid.uuid4().hex[:8]
    single = args.per_message <= 1
    topic = f"prof-{'single' if single else args.form}-{run_id}"
    ensure_topics(args.broker, {topic: 4}, **topic_replication(Settings.load()))
    pairs = kit.stream_messages(args.events, args.per_message, args.seed + (not single),
                                f"p{run_id}", shares_per_rumour(args.per_message))
    kit.produce(args.broker, topic,
                pairs if single or args.form == "array" else columnar_pairs(pairs))
    modes = args.mode or ["ours"]
    variants = args.variant or [""]
    try:
        for run in range(args.runs):
            for tree, mode, variant in [(t, m, v) for t in trees for m in modes for v in variants]:
                args.tree, args.mode, args.variant = tree, mode, variant
                print(orjson.dumps(one_run(args, topic, args.events, run)).decode(), flush=True)
                time.sleep(1)
    finally:
        kit.delete_topics(args.broker, topic)
    return 0


if __name__ == "__main__":
    sys.exit(main())
