"""CPU per event of the governance observers a worker runs after every stored batch
(``Governance.observe``: report desk, debunk tracker, alert router), without Kafka or a store.

A seeded synthetic stream (streams/synthetic.py, 10% debunk events, one source post with text
per rumour) is cut into batches of ``--batch`` events and fed to a fresh hub; the figure is
process-time per event over the whole stream (median of ``--repeat`` runs), with each
observer's own share. Two arrival shapes:

* ``rumour``: each rumour's events arrive together, in time order (the ingest benchmark's
  stream: Kafka messages keyed by rumour), so a batch holds a few whole cascades;
* ``messages``: each rumour's events in messages of 2,000 (keyed by rumour, as the ingest
  benchmark produces them), the messages of all rumours interleaved by their first event's
  time, so a batch holds runs of many rumours;
* ``time``: every rumour's events interleaved by time, so a batch holds a time slice of all
  (the worst case: no run of one rumour).

    python -m benchmarks.bench_governance --events 500000 --batch 50000 --repeat 5
    python -m benchmarks.bench_governance --events 300000 --shapes messages --pipeline

``--pipeline`` puts the hub over a memory-only pipeline that applies each batch first (not
timed), as in the worker: the report desk then indexes the events of the graphs it covers and
alerts carry traces, which the hub alone (no pipeline) never does (session 21: the desk's index
was the worker's largest observer cost and this benchmark did not see it).

The engine of another commit (the figures before this work) runs under the same script:

    mkdir /tmp/before && git archive <commit> streams graph | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before python benchmarks/bench_governance.py ...
"""
from __future__ import annotations

import argparse
import gc
import inspect
import json
import statistics
import time

import orjson

from streams.decoder import Decoder
from streams.events import EventBatch
from streams.governance.config import GovernanceConfig
from streams.governance.hub import Governance
from streams.synthetic import synthetic_events

PER_MESSAGE = 2000  # events per Kafka message of one rumour (the ingest benchmark's columnar run)


def stream_batches(n_events: int, batch: int, seed: int, shape: str = "rumour",
                   shares_per_rumour: int = 5000) -> list[EventBatch]:
    """The seeded stream cut into decoded batches of ``batch`` events.

    >>> [len(b) for b in stream_batches(1200, 500, seed=1, shares_per_rumour=200)]
    [500, 500, 200]
    """
    n_rumours = max(1, -(-n_events // shares_per_rumour))
    events = list(synthetic_events(n_rumours, shares_per_rumour, seed=seed, prefix=f"g{seed}"))[:n_events]
    for e in events:  # the source post carries the rumour's text (the report desk indexes it)
        if e["kind"] == "post":
            e["text"] = f"rumour {e['rumour_id']}: the bridge on route {e['event_id'][-3:]} collapsed"
    if shape == "time":
        events.sort(key=lambda e: e["ts"])
    elif shape == "messages":
        by_rumour: dict[str, list] = {}
        for e in events:
            by_rumour.setdefault(e["rumour_id"], []).append(e)
        messages = [evs[i:i + PER_MESSAGE] for evs in by_rumour.values() for i in range(0, len(evs), PER_MESSAGE)]
        messages.sort(key=lambda m: m[0]["ts"])  # stable: a rumour's messages keep their order
        events = [e for m in messages for e in m]
    elif shape != "rumour":
        raise ValueError(f"shape: {shape!r}")
    out = []
    decoder = Decoder()
    for i in range(0, len(events), batch):
        b, dead = decoder.decode([orjson.dumps(events[i:i + batch])])
        assert not dead, dead[:1]
        out.append(b)
    return out


def run_once(batches, config: GovernanceConfig | None = None, pipeline: bool = False) -> dict:
    """Process-time per event of one fresh hub fed ``batches`` by ``Governance.observe`` (what
    the worker runs after each write), the alerts raised and the final flush. ``pipeline``: the
    hub sits over a memory-only pipeline that applies each batch first (not timed), as in the
    worker: the desk then indexes the events of the graphs it covers, and alerts carry traces."""
    pipe = _pipeline() if pipeline else None
    hub = Governance(pipe, config=config)
    n = raised = 0
    spent = 0.0
    for batch in batches:
        if pipe is not None:
            pipe.process_batch(batch, [])
        t0 = time.process_time()
        raised += len(hub.observe(batch))
        spent += time.process_time() - t0
        n += len(batch)
    t0 = time.process_time()
    raised += len(hub.flush())
    return {"us_per_event": spent / n * 1e6, "flush_ms": (time.process_time() - t0) * 1e3,
            "events": n, "alerts": raised}


def _pipeline():
    from streams.pipeline import Pipeline

    return Pipeline(None)


def run_steps(batches, config: GovernanceConfig | None = None, pipeline: bool = False) -> dict:
    """The same feed with each step of ``Governance.observe`` timed on its own: the batch view
    the observers share, then the report desk, the debunk tracker and the alert router (us per
    event). Empty for an engine without the shared view (the code before session 3)."""
    try:
        from streams.governance.batchview import batch_view
    except ImportError:
        return {}
    pipe = _pipeline() if pipeline else None
    hub = Governance(pipe, config=config)
    # The desk takes the shared view since session 21 (an older engine's desk takes the batch only).
    desk_view = "view" in inspect.signature(hub.desk.observe).parameters
    steps = {"view": lambda b, v: batch_view(b),
             "desk": (lambda b, v: hub.desk.observe(b, v)) if desk_view else (lambda b, v: hub.desk.observe(b)),
             "debunks": hub.debunks.observe, "alerts": hub.alerts.observe}
    spent = dict.fromkeys(steps, 0.0)
    n = 0
    for batch in batches:
        if pipe is not None:
            pipe.process_batch(batch, [])
        view = None
        for name, step in steps.items():
            t0 = time.process_time()
            out = step(batch, view)
            spent[name] += time.process_time() - t0
            view = out if name == "view" else view
        n += len(batch)
    return {f"{k}_us": v / n * 1e6 for k, v in spent.items()}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--batch", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--shapes", default="rumour,messages,time")
    ap.add_argument("--pipeline", action="store_true",
                    help="each batch applied to a memory-only pipeline first (not timed), the hub over it, "
                         "as in the worker: the desk's event index and the alerts' traces are measured too")
    args = ap.parse_args(argv)
    result = {"events": args.events, "batch": args.batch, "repeat": args.repeat, "seed": args.seed,
              "pipeline": args.pipeline}
    for shape in args.shapes.split(","):
        batches = stream_batches(args.events, args.batch, args.seed, shape)
        # A worker holds one batch at a time, not the whole stream: the decoded stream is kept
        # out of the garbage collector's passes (which would otherwise be charged to the observers).
        gc.collect()
        gc.freeze()
        run_once(batches[:1], pipeline=args.pipeline)  # warm-up: the division table, numba's cached kernels
        runs = [{**run_once(batches, pipeline=args.pipeline), **run_steps(batches, pipeline=args.pipeline)}
                for _ in range(args.repeat)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        result[shape] = {k: round(v, 3) for k, v in med.items()}
        del batches
        gc.unfreeze()
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
