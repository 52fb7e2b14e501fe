"""Where produce-to-queryable time goes: ``bench_ingest.latency()`` at a fixed rate, with the
worker's per-batch trace (RUMOUR_BATCH_TRACE, streams/app.py) and ClickHouse's system.events
deltas summarised beside p50/p99.

    python -m benchmarks.latency_trace [--rate 48000] [--seconds 8] [--runs 3] [--take-events 10000]
        [--batch-wait 0.25] [--label X] [--json]

Runs are sequential (never two workers at once); each line gives the load average at its start.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import orjson

from benchmarks.bench_ingest import latency

EVENTS = ("InsertQuery", "InsertedRows", "Merge", "MergedRows", "MergesTimeMilliseconds",
          "DelayedInserts", "DelayedInsertsMilliseconds", "FileOpen", "WriteBufferFromFileDescriptorWrite")


def server_events(url: str) -> dict:
    from clickhouse_driver import Client

    from streams.store.clickhouse import parse_url

    s = parse_url(url)
    ch = Client(host=s["host"], port=s["port"], user=s["user"], password=s["password"])
    try:
        return {k: v for k, v in ch.execute("SELECT event, value FROM system.events") if k in EVENTS}
    finally:
        ch.disconnect()


def summarise(rows: list) -> dict:
    """Medians / p90 / max of the per-batch trace (seconds, events per batch)."""
    def stats(xs):
        if not xs:
            return None
        xs = sorted(xs)
        return {"p50": round(xs[len(xs) // 2], 3), "p90": round(xs[int(0.9 * len(xs))], 3),
                "max": round(xs[-1], 3)}

    rows = [r for r in rows if "acked" in r]
    gaps = [b["taken"] - a["taken"] for a, b in zip(rows, rows[1:])]
    return {"batches": len(rows),
            "events_per_batch": stats([r["events"] for r in rows]),
            "take_gap_s": stats(gaps),
            "prepare_s": stats([r["prepared"] - r["taken"] for r in rows]),
            "wait_previous_s": stats([r["previous_done"] - r["prepared"] for r in rows]),
            "store_s": stats([r["store_s"] for r in rows]),
            "observe_s": stats([r["observe_s"] for r in rows if r.get("observe_s") is not None]),
            "taken_to_acked_s": stats([r["acked"] - r["taken"] for r in rows])}


def run_once(args, run_id: str) -> dict:
    fd, path = tempfile.mkstemp(prefix="rumour-batch-trace-", suffix=".jsonl")
    os.close(fd)
    os.environ["RUMOUR_BATCH_TRACE"] = path  # inherited by the worker process only
    load = os.getloadavg()[0]
    before = server_events(args.clickhouse)
    try:
        res = latency(args.broker, args.clickhouse, args.rate, args.per_message, args.seconds,
                      args.seed, run_id, args.take_events, args.batch_wait)
    finally:
        os.environ.pop("RUMOUR_BATCH_TRACE", None)
    after = server_events(args.clickhouse)
    with open(path, "rb") as f:
        rows = [orjson.loads(line) for line in f if line.strip()]
    os.unlink(path)
    return {"label": args.label, "load": round(load, 2), **res, "trace": summarise(rows),
            "server": {k: after.get(k, 0) - before.get(k, 0) for k in EVENTS}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.latency_trace")
    ap.add_argument("--rate", type=float, default=48_000)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--per-message", type=int, default=2000)
    ap.add_argument("--take-events", type=int, default=10_000)
    ap.add_argument("--batch-wait", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--label", default="")
    ap.add_argument("--broker", default="127.0.0.1:9092")
    ap.add_argument("--clickhouse", default="clickhouse://127.0.0.1:9000")
    args = ap.parse_args(argv)
    out = []
    for i in range(args.runs):
        r = run_once(args, f"t{int(time.time())}{i}")
        out.append(r)
        print(orjson.dumps(r).decode(), flush=True)
    p99 = [r["p99_ms"] for r in out if r["p99_ms"] is not None]
    if p99:
        print(f"# {args.label}: p99 median {statistics.median(p99)} ms over {len(p99)} runs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
