"""Per-request cost of the report desk on a desk with many rumours and reports (diagnostic; not CI).

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_report_desk --rumours 20000 --calls 300

Builds an embedded pipeline (no store) with ``--rumours`` rumours of one source post (a made-up
Chinese text) and four shares each, the governance hub attached (so the desk sees every batch),
then gives the desk one status row and one linked report per rumour. It then times, one call at
a time (median and 90th percentile over ``--calls`` calls): a report naming a post of a random
rumour, one naming a post no rumour has, one whose text is a random rumour's source text, and
the reads ``latest_status``, ``status_history`` and ``reports_of`` of a random rumour. Only the
desk's public methods are used, so the same script times any version of the desk: run it with
``PYTHONPATH`` set to the tree to time.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

import orjson

T0 = 1_759_276_800_000
_CHARS = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def _text(i: int) -> str:
    rng = random.Random(i)
    return "".join(rng.choice(_CHARS) for _ in range(rng.randint(40, 120)))


def build(rumours: int, shares: int = 4):
    from streams.governance.config import GovernanceConfig
    from streams.governance.hub import Governance
    from streams.pipeline import Pipeline

    pipeline = Pipeline(None)
    hub = Governance(pipeline, config=GovernanceConfig())
    hub.attach()
    for lo in range(0, rumours, 1000):
        messages = []
        for i in range(lo, min(rumours, lo + 1000)):
            messages.append(orjson.dumps({"event_id": f"m{i}", "rumour_id": f"r{i}", "account_id": f"a{i}",
                                          "ts": T0 + i, "kind": "post", "text": _text(i)}))
            messages += [orjson.dumps({"event_id": f"s{i}_{j}", "rumour_id": f"r{i}", "account_id": f"b{i}_{j}",
                                       "ts": T0 + i + j + 1, "parent_event_id": f"m{i}"}) for j in range(shares)]
        pipeline.process(messages)
    desk = hub.desk
    for i in range(rumours):
        desk.set_status(f"r{i}", "verified", "analyst", at_ms=T0 + i)
        desk.submit({"reporter": f"seed{i}", "post_id": f"m{i}"}, "http:bench", now_ms=T0 + i)
    return hub


def timed(fn, calls: int) -> tuple[float, float]:
    took = []
    for k in range(calls):
        start = time.perf_counter()
        fn(k)
        took.append(time.perf_counter() - start)
    took.sort()
    return statistics.median(took) * 1e6, took[int(len(took) * 0.9)] * 1e6


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rumours", type=int, default=20_000)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    start = time.perf_counter()
    hub = build(args.rumours)
    desk = hub.desk
    print(f"desk: {args.rumours} rumours, {len(desk.reports)} reports, {len(desk.history)} status rows "
          f"(built in {time.perf_counter() - start:.1f} s)")
    rng = random.Random(args.seed)
    pick = [rng.randrange(args.rumours) for _ in range(args.calls)]
    now = T0 + args.rumours

    def by_post(k):
        desk.submit({"reporter": f"p{k}", "post_id": f"s{pick[k]}_2"}, "http:bench", now_ms=now + k)

    def unknown_post(k):
        desk.submit({"reporter": f"u{k}", "post_id": f"nowhere{k}"}, "http:bench", now_ms=now + k)

    def by_text(k):
        desk.submit({"reporter": f"t{k}", "text": "举报：" + _text(pick[k])}, "http:bench", now_ms=now + k)

    cases = [("submit, post id of a rumour", by_post), ("submit, post id of no rumour", unknown_post),
             ("submit, text of a rumour", by_text),
             ("latest_status", lambda k: desk.latest_status(f"r{pick[k]}")),
             ("status_history", lambda k: desk.status_history(f"r{pick[k]}")),
             ("reports_of", lambda k: desk.reports_of(f"r{pick[k]}"))]
    for name, fn in cases:
        median, p90 = timed(fn, args.calls)
        print(f"{name:32s} median {median:9.1f} us   p90 {p90:9.1f} us")


if __name__ == "__main__":
    main()
