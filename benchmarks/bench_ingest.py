"""`rumour bench ingest`: one worker, Kafka -> Faust agent -> graph + real ClickHouse, beside the
limits around it, all in the same run.

    rumour bench ingest [--single-events 20000] [--batched-events 500000] [--per-message 500]
        [--columnar-events N (default: as batched; 0 skips)]
        [--repeat 1] [--latency-seconds 10] [--seed 0] [--json]
        [--broker 127.0.0.1:9092] [--clickhouse clickhouse://127.0.0.1:9000]

1. A seeded synthetic stream (streams/synthetic.py, 5,000 shares per rumour, or the nearest
   multiple of ``--per-message``: every message is full, as the no-op agent counts
   ``per_message`` events per message) is produced flat
   out into fresh 4-partition topics, keyed by rumour: one event per message (``single``), JSON
   arrays of ``--per-message`` events of one rumour (``batched``), and the same batches as
   columnar messages (``columnar``: ``{"v":1,"columns":{...}}``, streams/events_columnar.py).
   Every message must fit Kafka's default 1 MB limit (``--per-message 2000`` does).
2. Each topic is drained, one after the other (never two at once), by worker *processes*
   (benchmarks/ingest_worker.py, a real Faust worker each): ``ours`` = streams.app.create_app,
   the production agent, writing to a fresh ClickHouse database; ``noop`` = a Faust agent with the
   same ``take()`` batching that only counts; the two alternate (noop, ours, noop, ...). ``take()`` batch: 5,000 messages for single,
   ``--take-events / per_message`` messages (10,000 events) for batched and columnar; 0.5 s wait. Rate = events after
   the first batch / time from the first batch's end to the last's (start-up excluded). Beside:
   a plain aiokafka ``getmany`` consumer (decodes nothing) on the same topics (the no-op and
   getmany baselines run on the columnar topic too, so each form has its own ratio).
3. ClickHouse's own insert ceiling: ``INSERT INTO share_events (...) SELECT ... FROM
   system.numbers LIMIT N`` into a freshly migrated database (same engine, same materialized
   view), with ids and columns shaped like the synthetic events.
4. Latency: a fresh 1-partition topic, our worker already running on it, batched messages produced
   at 50% of the measured batched rate for ``--latency-seconds``; a poller (every 20 ms) reads the
   worker's /bench event count (it moves once a batch is in the graph *and* ClickHouse) and
   ``count()`` of the worker's ClickHouse table; message i is queryable when the count covers
   every event up to it (one partition: processed in produce order). p50/p99 over messages.

Every rate also comes as events per CPU second of the worker (``*_per_cpu_s``): the machine is
shared, and the CPU a process got is steadier than the wall clock.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid

import orjson

from benchmarks import ingest_kit as kit
from benchmarks.bench_args import add_stream_options, non_negative_int, positive_float, positive_int
from benchmarks.outputs import emit, load_average, progress, save
from streams.events_columnar import encode_columns
from streams.settings import setting

KAFKA_DEFAULT_MAX_MESSAGE = 1_000_000  # message.max.bytes is 1,048,588 by default; keep clear of it


# Events per take() of the batched drains, which is the rows of each INSERT. The engine's
# worker cuts a take at batch_size messages (5,000) or batch_wait (0.25 s), whichever comes
# first, so near the target rate its takes hold 50,000-60,000 events; a bench cap of 10,000
# (before session 22) measured INSERTs five times smaller than the engine makes, and
# clickhouse-server's CPU per row grows as INSERTs shrink (RESULTS.md, "Session 22: the contract
# command at its new defaults": 10,000 -> 6.96 us of server CPU per event, 50,000 -> 2.9).
TAKE_EVENTS = 50_000


def shares_per_rumour(per_message: int) -> int:
    """5,000, or the nearest multiple of ``per_message`` (so no message of a rumour is short).

    >>> shares_per_rumour(500), shares_per_rumour(2000), shares_per_rumour(1)
    (5000, 4000, 5000)
    """
    if per_message <= 1 or 5000 % per_message == 0:
        return 5000
    return per_message * max(1, round(5000 / per_message))


def columnar_pairs(pairs):
    """The same batches (JSON arrays of one rumour's events) as columnar messages."""
    return [(key, encode_columns(orjson.loads(value))) for key, value in pairs]


def take_batch(per_message: int, take_events: int, take_single: int) -> int:
    """Messages per ``take()`` batch of a worker: ``take_single`` for one event per message,
    ``take_events / per_message`` (at least 1) for batches.

    >>> take_batch(1, 10_000, 5000), take_batch(500, 10_000, 5000), take_batch(20_000, 10_000, 5000)
    (5000, 20, 1)
    """
    return take_single if per_message <= 1 else max(1, take_events // per_message)


def one_batch_notes(counts: dict, take_events: int, take_single: int) -> list[str]:
    """A note for each stream (``{form: (events, per_message)}``) that fits in one ``take()``
    batch: a rate leaves the first batch out (start-up), so its worker rates come out 0 (null in
    ``runs``), as ``--single-events 2000`` against ``--take-single 5000`` gave without a word.

    >>> one_batch_notes({"single": (2000, 1), "batched": (20_000, 500)}, 10_000, 5000)
    ['single: its 2000 messages fit in one take() batch of 5000, which a rate leaves out (start-up): its worker rates will likely be 0; give more than 5000 (--single-events), or a smaller --take-single']
    """
    notes = []
    for form, (events, per_message) in counts.items():
        messages = -(-events // per_message)
        batch = take_batch(per_message, take_events, take_single)
        if messages <= batch:
            more, knob = ((f"{batch} (--single-events)", "--take-single") if per_message <= 1 else
                          (f"{batch * per_message} (--{form}-events)", "--take-events"))
            notes.append(f"{form}: its {messages} messages fit in one take() batch of {batch}, which a rate "
                         f"leaves out (start-up): its worker rates will likely be 0; give more than {more}, "
                         f"or a smaller {knob}")
    return notes


def drain(mode: str, topic: str, n_events: int, per_message: int, clickhouse: str | None,
          run_id: str, take_events: int = TAKE_EVENTS, take_single: int = 5000,
          service_ports: dict[str, int] | None = None) -> dict:
    batch = take_batch(per_message, take_events, take_single)
    app_id = f"bench-{mode}-{run_id}-{uuid.uuid4().hex[:6]}"
    w = kit.Worker(mode, topic, app_id, clickhouse=clickhouse, batch_size=batch,
                   events_per_message=per_message)
    services = kit.service_pids(service_ports)
    try:
        w.wait_ready()
        cpu0 = w.cpu_s()  # start-up (imports, numba warm-up, schema) is not per event
        services_since = kit.services_cpu_meter(services)
        # The worker may have taken events before cpu0 (its page answers before the agent is
        # assigned, but not always long before): CPU per event counts only the events after it.
        events0 = (w.bench() or {"events": 0})["events"]
        b = w.wait_events(n_events)
        rate = kit.rate_of(b)
        cpu = w.cpu_s() - cpu0
        services_cpu = services_since()
    finally:
        w.stop()
    measured = b["events"] - events0
    out = {"eps": round(rate) if rate else None, "batches": b["batches"], "cpu_s": round(cpu, 2),
           "events_per_cpu_s": round(measured / cpu) if cpu and measured else None,
           "events_before_cpu_start": events0}
    # CPU per event of the worker and of the servers it drives, over the same span (the
    # servers' share includes whatever else they did meanwhile: nothing else runs in the bench).
    out["cpu_us_per_event"] = {"worker": round(cpu / measured * 1e6, 2) if measured else None}
    for name, seconds in services_cpu.items():
        if measured:
            out["cpu_us_per_event"][name] = round(seconds / measured * 1e6, 2)
    if mode == "ours":
        busy = b["busy_s"] or 1e-9
        steps = ("decode_s", "restore_s", "refuse_s", "graph_s", "store_s")
        out["pipeline_s"] = {k: round(b[k], 3) for k in ("busy_s", *steps)}
        out["pipeline_share"] = {k[:-2]: round(b[k] / busy, 3) for k in steps}
        out["pipeline_share"]["other"] = round(1 - sum(out["pipeline_share"].values()), 3)
        span = (b["last_end"] or 0) - (b["first_end"] or 0)
        out["pipeline_busy_fraction"] = round(busy / span, 3) if span > 0 else None
    return out


def machine_ceiling(runs: dict) -> dict:
    """What this machine could give one worker's pipeline at most, per message form: all its
    cores busy with nothing but the worker, clickhouse-server and the broker, at the CPU per
    event each used in our runs (medians): cores / sum of CPU us per event."""
    cores = os.cpu_count() or 1
    out = {"cores": cores}
    for mode in ("batched", "columnar"):
        rows = [r.get("cpu_us_per_event") or {} for r in runs.get(f"ours_{mode}", [])]
        names = sorted({k for r in rows for k, v in r.items() if v is not None})
        if not names:
            continue
        per = {k: statistics.median([r[k] for r in rows if r.get(k) is not None]) for k in names}
        total = sum(per.values())
        out[mode] = {"cpu_us_per_event": per, "total_us": round(total, 2),
                     "eps": round(cores * 1e6 / total) if total else None}
    return out


def pair_ratios(runs: dict, mode: str, field: str) -> list:
    """ours / no-op for each alternated pair of runs of ``mode``.

    >>> pair_ratios({"ours_single": [{"eps": 90}, {"eps": 50}], "noop_single": [{"eps": 100}, {"eps": 0}]}, "single", "eps")
    [0.9, None]
    """
    return [round(o[field] / n[field], 3) if o.get(field) and n.get(field) else None
            for o, n in zip(runs.get(f"ours_{mode}", []), runs.get(f"noop_{mode}", []))]


def ratio_of_medians(runs: dict, mode: str, field: str) -> float | None:
    """median of ours / median of the no-op's ``field`` over the runs of ``mode``."""
    ours = [r[field] for r in runs.get(f"ours_{mode}", []) if r.get(field)]
    noop = [r[field] for r in runs.get(f"noop_{mode}", []) if r.get(field)]
    if not ours or not noop:
        return None
    return round(statistics.median(ours) / statistics.median(noop), 3)


def clickhouse_ceiling(url: str, n: int, repeat: int) -> dict:
    from streams.store import open_store

    db = f"bench_ceiling_{uuid.uuid4().hex[:10]}"
    store = open_store(url, database=db)
    store.migrate()
    q = (f"INSERT INTO {db}.share_events (event_id, rumour_id, account_id, ts_ms, parent_event_id, "
         "parent_account_id, kind, platform, region, text) "
         "SELECT concat('syn-r', toString(intDiv(number, 5000)), '-e', toString(number)), "
         "concat('syn-r', toString(intDiv(number, 5000))), concat('syn-u', toString(number % 250000)), "
         "1764547200000 + number * 7, "
         "if(number % 5000 = 0, NULL, concat('syn-r', toString(intDiv(number, 5000)), '-e', "
         "toString(number - 1 - number % 13))), "
         "if(number % 5000 = 0, NULL, concat('syn-u', toString((number * 7) % 250000))), "
         "if(number % 5000 = 0, 'post', 'share'), 'weibo', concat('3701', toString(number % 10)), NULL "
         f"FROM system.numbers LIMIT {int(n)}")
    times = []
    try:
        for _ in range(repeat):
            store._command(f"TRUNCATE TABLE {db}.share_events")
            t0 = time.perf_counter()
            store._command(q)
            times.append(time.perf_counter() - t0)
        rows = store._rows(f"SELECT count() FROM {db}.share_events")[0][0]
    finally:
        store._command(f"DROP DATABASE IF EXISTS {db}")
        store.close()
    return {"eps": round(n / statistics.median(times)), "rows": int(rows), "runs_s": [round(t, 3) for t in times]}


def median_latency(runs: list[dict]) -> dict:
    """The latency runs as one: ``p50_ms`` and ``p99_ms`` the medians of the runs' own (a single
    10 s run's p99 is its few slowest messages: on these shared cores it was 600-1,245 ms for
    the same code in one hour, session 22), the other fields of the run whose p99 is that
    median, ``not_seen`` summed, and every run's figures under ``runs``.

    >>> r = median_latency([{"p50_ms": 300.0, "p99_ms": 900.0, "not_seen": 0},
    ...                     {"p50_ms": 350.0, "p99_ms": 1200.0, "not_seen": 1},
    ...                     {"p50_ms": 320.0, "p99_ms": 600.0, "not_seen": 0}])
    >>> r["p50_ms"], r["p99_ms"], r["not_seen"], [x["p99_ms"] for x in r["runs"]]
    (320.0, 900.0, 1, [900.0, 1200.0, 600.0])
    """
    timed = [x for x in runs if x.get("p99_ms") is not None]
    if not timed:
        return {**runs[0], "runs": runs}
    p99 = statistics.median(x["p99_ms"] for x in timed)
    middle = min(timed, key=lambda x: abs(x["p99_ms"] - p99))
    brief = [{k: v for k, v in x.items() if not isinstance(v, (list, dict))} for x in runs]
    return {**middle, "p50_ms": statistics.median(x["p50_ms"] for x in timed), "p99_ms": p99,
            "not_seen": sum(x.get("not_seen", 0) for x in runs), "runs": brief}


def latency(broker: str, clickhouse: str, rate_eps: float, per_message: int, seconds: float,
            seed: int, run_id: str, take_events: int = TAKE_EVENTS, batch_wait: float = 0.25) -> dict:
    from clickhouse_driver import Client

    from streams.store.clickhouse import parse_url
    from streams.settings import Settings
    from streams.topics import ensure_topics, topic_replication

    topic = f"bench-lat-{run_id}"
    ensure_topics(broker, {topic: 1}, **topic_replication(Settings.load()))
    db = f"bench_lat_{run_id}"
    n_events = max(per_message * 10, int(rate_eps * seconds))
    pairs = kit.stream_messages(n_events + per_message, per_message, seed + 7, f"lat{run_id}",
                                shares_per_rumour(per_message))
    warm, pairs = pairs[:1], pairs[1:]
    w = kit.Worker("ours", topic, f"bench-lat-{run_id}", clickhouse=f"{clickhouse.rstrip('/')}/{db}",
                   batch_size=max(1, take_events // per_message), events_per_message=per_message,
                   batch_wait=batch_wait, partitions=1)
    s = parse_url(clickhouse)
    ch = Client(host=s["host"], port=s["port"], user=s["user"], password=s["password"])
    try:
        w.wait_ready()
        kit.produce(broker, topic, warm)  # the worker is assigned and warm before the clock runs
        base = w.wait_events(1, timeout_s=120)["events"]
        base_ch = ch.execute(f"SELECT count() FROM {db}.share_events")[0][0]
        sizes = [len(v) for v in (__import__("orjson").loads(p[1]) for p in pairs)]
        cum, total = [], 0
        for k in sizes:
            total += k
            cum.append(total)
        seen_graph, seen_ch = [], []  # (time, count) polls
        stop = threading.Event()

        def poll():
            while not stop.is_set():
                t = time.time()
                b = w.bench()
                if b:
                    seen_graph.append((t, b["events"] - base))
                t = time.time()
                seen_ch.append((t, ch.execute(f"SELECT count() FROM {db}.share_events")[0][0] - base_ch))
                time.sleep(0.02)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        sent_at: list = []
        kit.produce(broker, topic, pairs, rate_msgs=rate_eps / per_message, sent_at=sent_at)
        deadline = time.monotonic() + 180  # a wait: costs nothing when the worker keeps up
        while time.monotonic() < deadline and (not seen_ch or seen_ch[-1][1] < total
                                               or seen_graph[-1][1] < total):
            time.sleep(0.1)
        stop.set()
        poller.join(5)
    finally:
        w.stop()
        ch.execute(f"DROP DATABASE IF EXISTS {db}")
        ch.disconnect()
        kit.delete_topics(broker, topic)  # the topic and the worker's own (named after its app id)

    def lat(seen):
        out, j = [], 0
        for i, need in enumerate(cum):
            while j < len(seen) and seen[j][1] < need:
                j += 1
            if j == len(seen):
                return out, len(cum) - i
            out.append((seen[j][0] - sent_at[i]) * 1000)
        return out, 0

    g, g_missing = lat(seen_graph)
    c, c_missing = lat(seen_ch)
    both = [max(a, b) for a, b in zip(g, c)]

    def pct(xs, q):
        if not xs:
            return None
        xs = sorted(xs)
        return round(xs[min(len(xs) - 1, int(q * len(xs)))], 1)

    return {"rate_eps": round(rate_eps), "messages": len(cum), "events": total,
            "p50_ms": pct(both, 0.5), "p99_ms": pct(both, 0.99),
            "graph_p50_ms": pct(g, 0.5), "graph_p99_ms": pct(g, 0.99),
            "clickhouse_p50_ms": pct(c, 0.5), "clickhouse_p99_ms": pct(c, 0.99),
            "not_seen": max(g_missing, c_missing)}


def main(argv=None) -> int:
    # the docstring's first paragraph (its first line stopped mid-sentence: "..., beside the")
    ap = argparse.ArgumentParser(prog="rumour bench ingest", description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--single-events", type=positive_int, default=20_000,
                    help="events sent one per message (default 20000)")
    ap.add_argument("--batched-events", type=positive_int, default=500_000,
                    help="events sent as JSON-array messages (default 500000)")
    ap.add_argument("--per-message", type=positive_int, default=500,
                    help="events per JSON-array or columnar message (default 500)")
    ap.add_argument("--columnar-events", type=non_negative_int, default=None,
                    help="events sent as columnar batch messages (default: --batched-events; 0 skips)")
    ap.add_argument("--repeat", type=positive_int, default=3,
                    help="runs of each consumer, median reported (default 3: one run on these shared "
                         "cores can be 20-30%% off its neighbours)")
    ap.add_argument("--ceiling-rows", type=positive_int, default=1_000_000,
                    help="rows of ClickHouse's own INSERT ... SELECT ceiling (default 1000000)")
    ap.add_argument("--latency-seconds", type=positive_float, default=10.0,
                    help="length of the latency run (default 10)")
    ap.add_argument("--take-events", type=positive_int, default=TAKE_EVENTS,
                    help="events per take() batch for batched and columnar messages, i.e. rows per "
                         "INSERT (take(n) counts messages: --take-events / --per-message of them; "
                         f"default {TAKE_EVENTS}, about what the engine's batch_wait of 0.25 s "
                         "gathers at 200,000 events/s)")
    ap.add_argument("--take-single", type=positive_int, default=5000,
                    help="messages per take() batch for one event per message (default 5000, the engine's)")
    ap.add_argument("--batch-wait", type=positive_float, default=setting("batch_wait").default,
                    help="take(within=) of the latency run's worker (default: the engine's batch_wait)")
    add_stream_options(ap)
    args = ap.parse_args(argv)
    n_columnar = args.batched_events if args.columnar_events is None else args.columnar_events
    counts = {"single": (args.single_events, 1), "batched": (args.batched_events, args.per_message)}
    if n_columnar:
        counts["columnar"] = (n_columnar, args.per_message)
    for note in one_batch_notes(counts, args.take_events, args.take_single):  # said before the minutes of a run
        progress(f"note: {note}")
    kit.require_services(ap, args.broker, args.clickhouse)
    from streams.settings import Settings
    from streams.topics import ensure_topics, topic_replication

    run_id = uuid.uuid4().hex[:8]
    res: dict = {"run_id": run_id, "load_average_start": load_average()}
    topics = {mode: f"bench-{mode}-{run_id}" for mode in counts}
    try:
        ensure_topics(args.broker, {t: 4 for t in topics.values()}, **topic_replication(Settings.load()))
        n_msgs = {}
        for mode, (n, k) in counts.items():
            pairs = kit.stream_messages(n, k, args.seed + (k > 1), f"{mode[0]}{run_id}", shares_per_rumour(k))
            if mode == "columnar":
                pairs = columnar_pairs(pairs)
            biggest = max(len(v) for _, v in pairs)
            if biggest > KAFKA_DEFAULT_MAX_MESSAGE:
                raise SystemExit(f"rumour bench ingest: a {mode} message is {biggest} bytes, over Kafka's "
                                 f"default limit; use a smaller --per-message")
            n_msgs[mode] = len(pairs)
            s = kit.produce(args.broker, topics[mode], pairs)
            progress(f"produced {n} events in {len(pairs)} messages to {topics[mode]} in {s:.1f}s")
            res[f"produce_{mode}_eps"] = round(n / s)
        runs: dict = {}
        for mode, (n, k) in counts.items():
            # noop, ours, noop, ours, ...: each pair runs in the same minutes, so a change of load
            # on the shared cores moves both sides of a ratio alike.
            for r, who in [(r, who) for r in range(args.repeat) for who in ("noop", "ours")]:
                db = f"{args.clickhouse.rstrip('/')}/bench_{who}_{mode}_{run_id}_{r}" if who == "ours" else None
                progress(f"{who} worker on {mode} (run {r + 1}/{args.repeat}) ...")
                try:
                    out = drain(who, topics[mode], n, k, db, run_id, args.take_events, args.take_single,
                                kit.service_ports(args.broker, args.clickhouse))
                finally:
                    if db is not None:
                        kit.drop_database(db)
                out["load_average"] = load_average()
                progress(f"{who} {mode}: {out['eps']} events/s, {out['events_per_cpu_s']} per CPU s" if out["eps"] else
                         f"{who} {mode}: no rate (its events came in {out['batches']} take() batch(es), the first "
                         f"left out as start-up), {out['events_per_cpu_s']} per CPU s")
                runs.setdefault(f"{who}_{mode}", []).append(out)
            g = [kit.getmany_rate(args.broker, topics[mode], n_msgs[mode]) for _ in range(args.repeat)]
            rate = statistics.median([x["msgs_per_s"] or 0 for x in g]) * n / n_msgs[mode]
            runs[f"getmany_{mode}"] = [{"eps": round(rate), "msgs_per_s": round(rate * n_msgs[mode] / n)}]
            progress(f"getmany {mode}: {round(rate)} events/s")
        progress("ClickHouse insert ceiling ...")
        ceiling = clickhouse_ceiling(args.clickhouse, args.ceiling_rows, max(args.repeat, 3))
        med = lambda key, f="eps": statistics.median([x[f] or 0 for x in runs[key]])  # noqa: E731
        res.update({
            "batched_eps": round(med("ours_batched")), "single_eps": round(med("ours_single")),
            "noop_faust_eps": round(med("noop_single")), "noop_faust_batched_eps": round(med("noop_batched")),
            "getmany_eps": round(med("getmany_single")), "getmany_batched_eps": round(med("getmany_batched")),
            "clickhouse_ceiling_eps": ceiling["eps"],
            "batched_per_cpu_s": round(med("ours_batched", "events_per_cpu_s")),
            "single_per_cpu_s": round(med("ours_single", "events_per_cpu_s")),
        })
        if "columnar" in counts:
            res.update({
                "batched_columnar_eps": round(med("ours_columnar")),
                "batched_columnar_per_cpu_s": round(med("ours_columnar", "events_per_cpu_s")),
                "noop_faust_columnar_eps": round(med("noop_columnar")),
                "getmany_columnar_eps": round(med("getmany_columnar")),
            })
        lats = []
        for r in range(args.repeat):
            progress(f"latency at 50% of {res['batched_eps']} events/s for {args.latency_seconds}s "
                     f"(run {r + 1}/{args.repeat}) ...")
            lats.append(latency(args.broker, args.clickhouse, res["batched_eps"] * 0.5, args.per_message,
                                args.latency_seconds, args.seed, f"{run_id}_{r}", args.take_events,
                                args.batch_wait))
        lat = median_latency(lats)
        res.update({"p50_latency_ms": lat["p50_ms"], "p99_latency_ms": lat["p99_ms"], "latency": lat})
        target_batched = min(250_000, 0.6 * ceiling["eps"])
        res["targets"] = {
            "batched_target_eps": round(target_batched),
            "batched_met": res["batched_eps"] >= target_batched,
            "single_vs_noop": round(res["single_eps"] / res["noop_faust_eps"], 3) if res["noop_faust_eps"] else None,
            "single_met": bool(res["noop_faust_eps"]) and res["single_eps"] >= 0.8 * res["noop_faust_eps"],
            # The same ratio per alternated pair (ours / the no-op run just before it) and per CPU
            # second: how much of the ratio's spread is the machine's.
            "single_vs_noop_pairs": pair_ratios(runs, "single", "eps"),
            "single_vs_noop_per_cpu": ratio_of_medians(runs, "single", "events_per_cpu_s"),
            "p99_met": lat["p99_ms"] is not None and lat["p99_ms"] < 1000,
        }
        if "columnar" in counts:
            res["targets"]["batched_columnar_met"] = res["batched_columnar_eps"] >= target_batched
        res["machine_ceiling"] = machine_ceiling(runs)
        res.update({"runs": runs, "ceiling": ceiling, "per_message": args.per_message,
                    "take_events": args.take_events, "batch_wait": args.batch_wait,
                    "single_events": args.single_events, "batched_events": args.batched_events,
                    "columnar_events": n_columnar,
                    "load_average": load_average()})
    finally:
        # Every topic of the run (its producers' and its Faust workers' internal ones carry the
        # run id), as each worker's database is dropped after its run.
        kit.delete_topics(args.broker, run_id)
    emit(res, args.json)
    save("ingest", res, ["rumour", "bench", "ingest", *(argv if argv is not None else sys.argv[1:])], vars(args))
    return 0
