"""Soak run (not CI): a steady stream of shares for N minutes with faults injected every few
minutes, on PRIVATE Kafka and clickhouse-server instances (own ports and run folder).

    .venv/bin/python -m benchmarks.soak --minutes 30 --rate 200 --fault-every 180 --out soak.json

Faults, in rotation: worker SIGKILL + restart; Kafka stopped for 20 s; ClickHouse stopped for
30 s; a second worker joins for 60 s then leaves (two rebalances); Kafka SIGKILLed + restarted.
The stream carries ~1% malformed messages and ~1% re-sent copies. Samples the worker's stats
(lag, RSS, store retries) every 5 s; at the end waits for the backlog, then reports events
produced, stored, dead-lettered, duplicated in query results, lost, and max lag / memory, and
checks the worker's traces of a sample of rumours against an embedded recomputation.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import uuid
from pathlib import Path

from benchmarks.memory_growth import slope
from benchmarks.soak_producer import Producer
from benchmarks.private_services import private_clickhouse, private_kafka
from benchmarks.worker_process import Worker, create_topic, embedded_traces, wait_until


def memory_trend(samples) -> dict:
    """Least-squares slope of the worker's RSS after its first minute (MB per minute), and the
    RSS of the second minute beside the last: "flat" means the slope stays near 0 while the
    stream goes on (the graphs of finished rumours are evicted, nothing else accumulates).

    >>> memory_trend([{"t": 30, "rss_mb": 50}] + [{"t": t, "rss_mb": 100} for t in range(60, 600, 5)])["rss_slope_mb_per_min"]
    0.0
    >>> filling = [{"t": t, "rss_mb": t // 6, "graph_evictions": 0} for t in range(65, 300, 5)]
    >>> full = [{"t": t, "rss_mb": 50, "graph_evictions": 1} for t in range(300, 600, 5)]
    >>> trend = memory_trend(filling + full)
    >>> trend["graph_budget_full_at_s"], trend["rss_slope_after_budget_full_mb_per_min"]
    (300, 0.0)
    """
    steady = [(s["t"], s["rss_mb"]) for s in samples if s["t"] > 60 and s.get("rss_mb")]
    if len(steady) < 3:
        return {"rss_slope_mb_per_min": None}
    second_minute = [r for t, r in steady if t <= 120]
    # Until the graph budget is reached the worker is meant to grow (graphs, governance state up
    # to its cap); under load that takes 9-10 minutes instead of 4 (session 4), so the slope that
    # says whether anything leaks is the one from the first graph eviction on.
    full_at = next((s["t"] for s in samples if (s.get("graph_evictions") or 0) > 0), None)
    after = [(t, r) for t, r in steady if full_at is not None and t >= full_at]
    return {"rss_slope_mb_per_min": _slope(steady),
            "rss_mb_second_minute": max(second_minute) if second_minute else None,
            "rss_mb_after_first_minute_min": min(r for _, r in steady),
            "rss_mb_after_first_minute_max": max(r for _, r in steady),
            "graph_budget_full_at_s": full_at,
            "rss_slope_after_budget_full_mb_per_min": _slope(after) if len(after) >= 3 else None}


def _slope(points) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per minute."""
    return round(60 * slope(points), 2)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=200.0, help="messages per second")
    ap.add_argument("--fault-every", type=float, default=180.0,
                    help="seconds between faults; 0 = no faults (a steady-rate memory run)")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--malformed", type=float, default=0.01,
                    help="share of malformed messages (each becomes a dead letter)")
    ap.add_argument("--copies", type=float, default=0.01, help="share of re-sent copies of earlier events")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", default=None, help="write the summary JSON here")
    args = ap.parse_args(argv)
    import logging

    # The producer reconnects through every broker outage: aiokafka would log each attempt.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    base = Path(tempfile.mkdtemp(prefix="rumour-soak-"))
    kafka, clickhouse = private_kafka(base), private_clickhouse(base)
    workers = []
    try:
        return _soak(args, base, kafka, clickhouse, workers)
    finally:  # whatever happens (Ctrl-C included), stop what this run started
        for w in workers:
            w.stop()
        kafka.stop()
        clickhouse.stop()


def _soak(args, base, kafka, clickhouse, workers) -> int:
    clickhouse.start()
    kafka.start()
    from streams.store import open_store

    db = "soak_" + uuid.uuid4().hex[:8]
    store = open_store(f"{clickhouse.url}/{db}?retry_seconds=60")
    store.migrate()
    topic = create_topic(kafka.bootstrap, args.partitions, prefix="soak")
    app_id = "soak-" + uuid.uuid4().hex[:6]
    url = f"{clickhouse.url}/{db}?retry_seconds=10&send_receive_timeout=30"
    worker = Worker(base, "main", kafka.bootstrap, url, topic, args.partitions, app_id,
                    RUMOUR_BATCH_SIZE="1000", RUMOUR_BATCH_WAIT="0.5")
    second = Worker(base, "second", kafka.bootstrap, url, topic, args.partitions, app_id,
                    RUMOUR_BATCH_SIZE="1000", RUMOUR_BATCH_WAIT="0.5")
    workers += [worker, second]
    worker.start().wait_ready(180)
    producer = Producer(kafka.bootstrap, topic, args.rate, args.seed, args.malformed, args.copies)
    producer.start()

    samples, faults = [], []
    stop_sampling = threading.Event()

    def sample():
        t0 = time.monotonic()
        while not stop_sampling.is_set():
            row = {"t": round(time.monotonic() - t0, 1), "rss_mb": worker.rss_bytes() >> 20,
                   "produced": len(producer.events)}
            try:
                s = worker.stats()
                row.update({k: s.get(k) for k in ("lag", "stored", "store_write_retries", "store_failures",
                                                  "batch_age_seconds", "rumours_in_memory", "rebalances",
                                                  "graph_evictions")})
            except Exception as exc:  # worker being restarted
                row["error"] = type(exc).__name__
            samples.append(row)
            stop_sampling.wait(5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    def fault_worker_kill():
        worker.kill()
        worker.start().wait_ready(180)

    def fault_kafka_stop():
        kafka.stop()
        time.sleep(20)
        kafka.start()

    def fault_clickhouse_stop():
        clickhouse.stop()
        time.sleep(30)
        clickhouse.start()

    def fault_rebalance():
        second.start().wait_ready(180)
        time.sleep(60)
        second.stop()

    def fault_kafka_kill():
        kafka.kill()
        time.sleep(5)
        kafka.start()

    rotation = [("worker SIGKILL + restart", fault_worker_kill), ("Kafka stopped 20 s", fault_kafka_stop),
                ("ClickHouse stopped 30 s", fault_clickhouse_stop), ("second worker joins 60 s, leaves", fault_rebalance),
                ("Kafka SIGKILL + restart", fault_kafka_kill)]
    started = time.monotonic()
    deadline = started + args.minutes * 60
    n = 0
    try:
        while args.fault_every > 0 and time.monotonic() + args.fault_every < deadline:
            time.sleep(args.fault_every)
            name, action = rotation[n % len(rotation)]
            t = round(time.monotonic() - started)
            print(f"[soak] t={t}s fault: {name}", flush=True)
            action()
            faults.append({"t": t, "fault": name, "took_s": round(time.monotonic() - started - t)})
            n += 1
        time.sleep(max(0.0, deadline - time.monotonic()))
    finally:
        producer.stop_flag.set()
        producer.join(60)
    distinct = {(e["rumour_id"], e["event_id"]) for e in producer.events}
    drained_at = time.monotonic()
    try:
        wait_until(lambda: store.count_events() >= len(distinct) or store.count_events(), 600,
                   "backlog drained", [worker], interval=2)
        drained = True
    except AssertionError:
        drained = False
    drain_s = time.monotonic() - drained_at
    time.sleep(5)
    stop_sampling.set()
    loaded = store.load_events()
    pairs = list(zip(loaded.rumour_id, loaded.event_id))
    raw_rows = store._rows(f"SELECT count() FROM {db}.share_events FINAL")[0][0]
    rumours = sorted({e["rumour_id"] for e in producer.events})
    sample_rumours = set(rumours[:: max(1, len(rumours) // 20)][:20])
    expected = embedded_traces([e for e in producer.events if e["rumour_id"] in sample_rumours
                                and e["kind"] != "debunk"])
    trace_mismatch = [r for r, a in expected.items() if worker.trace(r) != a]
    steady = [s for s in samples if s["t"] > 60 and "error" not in s]
    summary = {
        "minutes": args.minutes, "rate_per_s": args.rate, "fault_every_s": args.fault_every,
        "malformed_share": args.malformed, "copies_share": args.copies,
        "faults": faults,
        "produced_valid_distinct": len(distinct), "produced_copies": producer.copies,
        "produced_malformed": producer.malformed, "producer_send_retries": producer.send_errors,
        "stored_distinct": len(set(pairs)), "rows_in_query_results": len(pairs),
        "duplicated_in_query_results": len(pairs) - len(set(pairs)),
        "rows_final_count": int(raw_rows),
        "lost": len(distinct - set(pairs)), "unexpected": len(set(pairs) - distinct),
        "dead_letters_stored": store.count_dead_letters(),
        "dead_letter_rows_with_redeliveries": int(store._rows(f"SELECT count() FROM {db}.dead_letters")[0][0]),
        "drained": drained, "drain_seconds": round(drain_s, 1),
        "max_lag": max((s.get("lag") or 0) for s in samples) if samples else None,
        "rss_mb_first_minute_max": max((s["rss_mb"] for s in samples if s["t"] <= 60), default=None),
        "rss_mb_max": max((s["rss_mb"] for s in samples), default=None),
        "rss_mb_last": samples[-1]["rss_mb"] if samples else None,
        "rss_mb_steady_min": min((s["rss_mb"] for s in steady if s["rss_mb"]), default=None),
        **memory_trend(samples),
        "traces_checked": len(expected), "trace_mismatches": trace_mismatch,
        "worker_final_stats": worker.stats(),
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "samples": samples}, indent=1))
    store.drop()
    store.close()
    return 0 if drained and not summary["lost"] and not trace_mismatch else 1


if __name__ == "__main__":
    raise SystemExit(main())
