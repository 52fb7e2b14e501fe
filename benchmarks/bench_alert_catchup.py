"""Cost of the alert catch-up at a rebalance (streams/governance/hub.py ``Governance.catch_up``):
a fresh worker's hub rebuilds N recently written rumours from the store in one go.

    .venv/bin/python -m benchmarks.bench_alert_catchup --rumours 1000 --shares 50 \\
        [--url clickhouse://127.0.0.1:9000] [--repeat 3]

The store is filled once (events through a pipeline with a hub attached, so every alert is
stored), then each repeat builds a new pipeline + hub (a restarted worker) and times
``catch_up()``; its queries are timed apart (the rumour list, the recent rumours, the events of
all of them, the alert ids of all of them) and, for comparison, one alert-id query per rumour
(what a per-rumour check would cost). With ``--unobserved N`` the last N batches are stored
without being observed, so the first repeat raises their alerts late (``first_run``); the
later repeats find them in the store. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import time
import uuid

import orjson


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rumours", type=int, default=1000)
    ap.add_argument("--shares", type=int, default=50)
    ap.add_argument("--url", default="clickhouse://127.0.0.1:9000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--unobserved", type=int, default=0,
                    help="the last N batches of 5,000 events are stored without being observed (a kill)")
    args = ap.parse_args(argv)

    from streams.embedded import make_pipeline
    from streams.governance.config import GovernanceConfig
    from streams.governance.hub import Governance
    from streams.settings import Settings
    from streams.store import open_store
    from streams.store.governance import governance_store
    from streams.synthetic import synthetic_events

    database = "rt_bench_catchup_" + uuid.uuid4().hex[:8]
    url = args.url.rstrip("/") + "/" + database if not args.url.startswith("chdb") else args.url
    store = governance_store(open_store(url) if not args.url.startswith("chdb") else _chdb(database))
    store.migrate()
    # The worker's defaults, but thresholds low enough that the synthetic cascades raise alerts.
    config = GovernanceConfig(alert_window_minutes=5, alert_window_shares=8, alert_growth_min_shares=4,
                              alert_growth_ratio=2.0, alert_burst_min_shares=3, alert_burst_warmup_minutes=2)
    settings = Settings.load({})
    try:
        events = list(synthetic_events(args.rumours, args.shares, seed=args.seed, prefix="cu"))
        pipeline = make_pipeline(store, settings)
        hub = Governance(pipeline, store=store, config=config, alert_store_seconds=0)
        hub.attach()
        t0 = time.perf_counter()
        starts = list(range(0, len(events), 5000))
        for k, i in enumerate(starts):
            messages = [orjson.dumps(e) for e in events[i:i + 5000]]
            if k >= len(starts) - args.unobserved:
                with pipeline.observers_deferred():
                    pipeline.process(messages)
            else:
                pipeline.process(messages)
        hub.close()
        fill_s = time.perf_counter() - t0
        rumour_ids = sorted({e["rumour_id"] for e in events})
        n_alerts = len(store.alert_ids(rumour_ids))
        runs = []
        for _ in range(args.repeat):
            fresh = make_pipeline(store, settings)
            worker = Governance(fresh, store=store, config=config, alert_store_seconds=0)
            worker.attach()
            t = time.perf_counter()
            late = worker.catch_up()
            total = time.perf_counter() - t
            q = {}
            t = time.perf_counter()
            store.rumour_ids()
            q["rumour_list_s"] = time.perf_counter() - t
            t = time.perf_counter()
            recent = store.rumours_ingested_since(900)
            q["recent_rumours_s"] = time.perf_counter() - t
            t = time.perf_counter()
            store.load_events(rumour_ids=recent)
            q["load_events_s"] = time.perf_counter() - t
            t = time.perf_counter()
            store.alert_ids(recent)
            q["alert_ids_one_query_s"] = time.perf_counter() - t
            t = time.perf_counter()
            for r in recent[:100]:
                store.alert_ids([r])
            q["alert_ids_per_rumour_s_x100"] = time.perf_counter() - t
            runs.append({"catch_up_s": total, "late": len(late), "rebuilt": worker.alerts.restores,
                         "recent": len(recent), **q})
        best = {k: min(r[k] for r in runs) for k in runs[0]}
        out = {"rumours": args.rumours, "events": len(events), "alerts_stored": n_alerts, "fill_s": fill_s,
               "store": args.url, "unobserved_batches": args.unobserved, "best_of": args.repeat, **best,
               "first_run": runs[0],
               "alert_ids_per_rumour_s_est": best["alert_ids_per_rumour_s_x100"] * len(rumour_ids) / 100}
        print(json.dumps(out, indent=1))
        return out
    finally:
        store.drop()
        store.close()


def _chdb(database):
    from streams.store.embedded import ChdbStore

    return ChdbStore("chdb://", database=database)


if __name__ == "__main__":
    main()
