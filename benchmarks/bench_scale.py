"""`rumour bench scale`: 1, 2 and 4 worker processes on one 4-partition topic keyed by rumour.

    rumour bench scale [--events 200000] [--per-message 500] [--workers 1,2,4] [--seed 0] [--json]

The same seeded stream (batched messages, 5,000 shares per rumour, 40 rumours for 200,000
events) is used for each worker count: a fresh topic, a fresh consumer group (one app id,
distinct web ports) and a fresh ClickHouse database; the workers start together, and the stream
is produced only once the group has settled (every worker holds its partitions), so the rate is
not one worker's followed by a rebalance. Reported per count:

- ``eps``: events / (last batch end of any worker - first batch end of any worker), the first
  batch of each worker not counted;
- ``identical``: ClickHouse + embedded recomputation: after the drain, every event the run stored
  in its ClickHouse database is loaded and each rumour's trace answer recomputed by the embedded
  pipeline; identical = same answer for every rumour as the first count listed (the one-worker
  run) and every produced event stored exactly once (``stored_events``, read with FINAL). (The
  workers' own HTTP answers are not fetched: the trace API now needs a token and lists rumours
  from the store, not from the worker that holds the graph.)
- ``cpu_s``: CPU seconds each process used from the moment every worker answered (start-up
  excluded) to the end of the drain, from /proc/<pid>/stat: every worker,
  the Kafka broker and clickhouse-server (they share the machine's cores with the workers);
- ``projection``: one machine per worker, with the model stated in the output: a worker is one
  Python process (one core: the GIL), so its rate on a machine of its own is
  events / worker CPU seconds; the broker and ClickHouse costs per event (CPU s per event here)
  say how many cores each needs at that total rate.
"""
from __future__ import annotations

import argparse
import sys
import time
import uuid

from benchmarks import ingest_kit as kit
# Loaded before the drains: importing it (with faust) inside the CPU meter took 2 s of the drain it timed.
from benchmarks.ingest_worker import cpu_seconds  # noqa: F401
from benchmarks.bench_args import add_stream_options, positive_int, size_list
from benchmarks.outputs import emit, load_average, progress, save

PARTITIONS = 4


def answers(clickhouse_db_url: str, k: int = 10) -> tuple[dict, int]:
    """rumour -> trace answer recomputed from what the run stored in ClickHouse (the embedded
    pipeline over the rumour's stored events), and how many events are stored."""
    from streams.pipeline import Pipeline
    from streams.store import open_store

    store = open_store(clickhouse_db_url)
    try:
        events = store.load_events()
        pipe = Pipeline(None)
        pipe.process_batch(events, [])
        return {rid: pipe.trace(rid, k) for rid in pipe.rumour_ids()}, len(events)
    finally:
        store._command(f"DROP DATABASE IF EXISTS {store.database}")
        store.close()


def run_count(n_workers: int, pairs, n_events: int, per_message: int, broker: str, clickhouse: str,
              run_id: str) -> tuple[dict, dict]:
    from streams.settings import Settings
    from streams.topics import ensure_topics, topic_replication

    app_id = f"bench-scale-{run_id}-{n_workers}"
    topic = f"bench-scale-{run_id}-{n_workers}"
    ensure_topics(broker, {topic: PARTITIONS}, **topic_replication(Settings.load()))
    db = f"{clickhouse.rstrip('/')}/bench_scale_{run_id}_{n_workers}"
    services = kit.service_pids(kit.service_ports(broker, clickhouse))
    workers = [kit.Worker("ours", topic, app_id, clickhouse=db, batch_size=max(1, 10_000 // per_message),
                          events_per_message=per_message) for _ in range(n_workers)]
    try:
        for w in workers:
            w.wait_ready()
        _wait_assigned(workers)
        # CPU from here on: start-up (imports, numba warm-up, schema checks) is not per event;
        # the workers drain while the stream is produced, so the meters start before it.
        services_since = kit.services_cpu_meter(services)
        worker_cpu0 = [w.cpu_s() for w in workers]
        s = kit.produce(broker, topic, pairs)
        progress(f"produced {len(pairs)} messages to {topic} in {s:.1f}s")
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            snaps = [w.bench() or {"events": 0} for w in workers]
            if sum(s["events"] for s in snaps) >= n_events:
                break
            time.sleep(0.2)
        svc_cpu = services_since()
        worker_cpu = [round(w.cpu_s() - c0, 2) for w, c0 in zip(workers, worker_cpu0)]
    finally:
        for w in workers:
            w.stop()
        kit.delete_topics(broker, topic)  # the topic and the workers' own (named after the app id)
    got, stored = answers(db)
    active = [s for s in snaps if s.get("first_end")]
    span = max(s["last_end"] for s in active) - min(s["first_end"] for s in active)
    counted = sum(s["events"] - s["first_events"] for s in active)
    events = sum(s["events"] for s in snaps)
    row = {"workers": n_workers, "events": events, "eps": round(counted / span) if span > 0 else None,
           "events_per_worker": [s["events"] for s in snaps], "cpu_s": {"workers": worker_cpu, **svc_cpu},
           "stored_events": stored, "rumours": len(got)}
    return row, got


def _wait_assigned(workers, timeout_s: float = 120) -> None:
    """Until the group has settled: every partition held, and by every worker (n <= partitions),
    so the drain is not a run of one worker followed by a rebalance."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        held = [(w.bench() or {}).get("assigned") or 0 for w in workers]
        if sum(held) == PARTITIONS and all(held[:PARTITIONS]):
            time.sleep(1.0)  # a last joiner may still trigger one more rebalance
            held2 = [(w.bench() or {}).get("assigned") or 0 for w in workers]
            if held2 == held:
                return
        time.sleep(0.3)
    raise TimeoutError(f"consumer group did not settle: partitions held {held}")


def projection(row: dict) -> dict | None:
    """One machine per worker, from the CPU per event of this run; None when the workers' CPU
    over the drain rounds to 0 s (a few --events drained in less than a clock tick), which was a
    ZeroDivisionError traceback after the run."""
    ev = row["events"]
    if not ev or sum(row["cpu_s"]["workers"]) <= 0:
        return None
    per_event = {"worker": sum(row["cpu_s"]["workers"]) / ev,
                 "kafka": row["cpu_s"].get("kafka", 0) / ev, "clickhouse": row["cpu_s"].get("clickhouse", 0) / ev}
    per_worker = 1 / per_event["worker"]  # one core per worker process
    # Today the agent waits for each ClickHouse insert: the server's work per event adds to the
    # worker's time per event unless the write overlaps the next batch (write-behind).
    serial = 1 / (per_event["worker"] + per_event["clickhouse"])
    out = {"model": "worker = one Python process on one core of its own machine: rate = 1 / (worker CPU s "
                    "per event) if the ClickHouse write overlaps the next batch, 1 / (worker + ClickHouse "
                    "CPU s per event) while the agent waits for each insert (today); W machines give W x "
                    "that if the topic has >= W partitions and rumours spread evenly; the broker and "
                    "ClickHouse need (their CPU s per event) x total rate cores",
           "cpu_us_per_event": {k: round(v * 1e6, 2) for k, v in per_event.items()},
           "per_worker_eps": round(per_worker), "per_worker_eps_serial_write": round(serial)}
    for w in (1, 2, 4, 8):
        rate = w * per_worker
        out[f"{w}_machines"] = {"eps": round(rate), "kafka_cores": round(rate * per_event["kafka"], 2),
                                "clickhouse_cores": round(rate * per_event["clickhouse"], 2)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="rumour bench scale", description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=positive_int, default=200_000, help="events of the stream (default 200000)")
    ap.add_argument("--per-message", type=positive_int, default=500, help="events per message (default 500)")
    ap.add_argument("--workers", type=size_list, default="1,2,4",
                    help="comma-separated worker counts, one run each (default 1,2,4)")
    add_stream_options(ap)
    args = ap.parse_args(argv)
    kit.require_services(ap, args.broker, args.clickhouse)
    run_id = uuid.uuid4().hex[:8]
    pairs = kit.stream_messages(args.events, args.per_message, args.seed, f"sc{run_id}")
    rows, reference = [], None
    for n in args.workers:
        progress(f"{n} worker(s) ...")
        row, got = run_count(n, pairs, args.events, args.per_message, args.broker, args.clickhouse,
                             run_id)
        if reference is None:
            reference = got
        diff = sorted(r for r in set(reference) | set(got) if reference.get(r) != got.get(r))
        row.update({"reference_workers": rows[0]["workers"] if rows else n,
                    "identical": not diff and row["stored_events"] == args.events,
                    "rumours_checked": len(set(reference) | set(got)), "mismatches": diff[:10],
                    "projection": projection(row), "load_average": load_average()})
        progress(f"{n} worker(s): {row['eps']} events/s, identical={row['identical']}, cpu {row['cpu_s']}")
        if row["projection"] is None:
            progress(f"{n} worker(s): no projection: the workers' CPU over the drain rounds to 0 s; "
                     f"give more --events (a few seconds of draining)")
        rows.append(row)
        emit(row, args.json)
    save("scale", rows, ["rumour", "bench", "scale", *(argv if argv is not None else sys.argv[1:])], vars(args))
    return 0
