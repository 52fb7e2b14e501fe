"""`rumour demo`: the embedded engine on a synthetic cascade and on real Weibo cascades."""
from __future__ import annotations

import itertools
import time
from pathlib import Path

from streams.synthetic import synthetic_events
from streams.embedded import replay_events
from streams.trace import chain_answer


def _open_store(settings):
    if settings.embedded_store in ("", "none"):
        return None
    from streams.store import open_store

    store = open_store(settings.embedded_store)
    store.migrate()
    return store


def _print_trace(answer: dict, truth_account: str | None = None) -> None:
    origin = answer["origins"][0] if answer["origins"] else None
    verdict = ""
    if truth_account is not None and origin is not None:
        verdict = "  [matches the source post's author]" if origin["account_id"] == truth_account \
            else f"  [source author was {truth_account}]"
    print(f"  rumour {answer['rumour_id']}: {answer['events']} shares, "
          f"{len(answer['origins'])} origin(s)")
    if origin:
        print(f"    origin: account {origin['account_id']} (event {origin['event_id']}, {origin['ts']}, "
              f"reach {origin['reach']}){verdict}")
    for c in answer["cutoff"][:5]:
        print(f"    cut-off: suspend {c['account_id']:<24} prevents {c['prevented']} shares")


def run_demo(settings, shared_data: Path, seed: int = 7, weibo_cascades: int = 5) -> int:
    k = settings.cutoff_k
    store = _open_store(settings)
    print("== Synthetic cascade (seeded preferential-attachment cascade with Hawkes-like delays)")
    started = time.perf_counter()
    events = list(synthetic_events(n_rumours=2, shares_per_rumour=2000, seed=seed, prefix="demo"))
    pipeline, stats = replay_events(events, store, settings)
    elapsed = time.perf_counter() - started
    print(f"  replayed {stats.read} events in {elapsed:.2f}s: {stats.summary()}")
    for rid in pipeline.rumour_ids():
        answer = pipeline.trace(rid, k)
        _print_trace(answer)
    rid = pipeline.rumour_ids()[0]
    graph = pipeline.graphs[rid]
    deepest = int(graph.depths().argmax())
    hops = chain_answer(graph.chain(graph.event_ids()[deepest]))
    print(f"  evidence chain of the deepest share in {rid} ({len(hops)} hops, share first):")
    for hop in hops:
        print(f"    {hop['event_id']:<16} account {hop['account_id']:<12} {hop['ts']}")
    if store is not None:
        counts = store.minute_counts(rid)
        print(f"  ClickHouse (chDB): {store.count_events(rid)} shares stored for {rid}, "
              f"{len(counts)} per-minute rows")

    weibo = shared_data / "weibo-ced-dev.tar.gz"
    if not weibo.exists():
        print(f"\n(no real data at {shared_data}: skipping the Weibo cascades)")
        return 0
    from streams.importers import iter_events

    print(f"\n== Real Weibo cascades from {weibo} (first {weibo_cascades} rumours)")
    started = time.perf_counter()
    stream, _report = iter_events("weibo-ced", weibo)
    chosen: list[str] = []
    authors: dict[str, str] = {}

    def first_cascades():
        for event in stream:
            rid = event["rumour_id"]
            if rid not in authors:
                if len(chosen) >= weibo_cascades:
                    return
                chosen.append(rid)
            if event.get("kind") == "post":
                authors[rid] = event["account_id"]
            else:
                authors.setdefault(rid, None)
            yield event

    real_pipeline, real_stats = replay_events(first_cascades(), store, settings)
    print(f"  replayed {real_stats.read} events in {time.perf_counter() - started:.2f}s: "
          f"{real_stats.summary()}")
    matched = 0
    for rid in itertools.islice(chosen, weibo_cascades):
        answer = real_pipeline.trace(rid, k)
        _print_trace(answer, authors.get(rid))
        matched += bool(answer["origins"]) and answer["origins"][0]["account_id"] == authors.get(rid)
    print(f"  first origin = source post's author in {matched} of {len(chosen)} cascades")
    if store is not None:
        store.close()
    return 0
