"""Cold lookup of an event pseudonym (``pev_...``) in a big rumour: hashing the rumour's events
before and after streams/service/event_ids.py hashed from HMAC's keyed SHA-256 states
(diagnostic; not CI).

    PYTHONPATH=. nice -n 10 .venv/bin/python -m benchmarks.bench_event_pseudonyms --events 200000 1000000 --repeat 5

Builds a rumour's graph (:class:`graph.CascadeGraph`) of ``--events`` events each (ids like a
platform's post ids, every event a share of a random earlier one), then times, alternately and
``--repeat`` times each, a first lookup of its last event's pseudonym by a fresh index that did
not give the pseudonym out: "before" hashes as the index did before (an HMAC object copied per
event, :meth:`~streams.service.pseudonym.Pseudonymiser.event_number`), "after" is
:meth:`streams.service.event_ids.EventPseudonymIndex.resolve`. Prints the medians (seconds, and
microseconds an event) and the index's bytes per event; both must find the event.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np

from graph import CascadeGraph
from streams.service.event_ids import EventPseudonymIndex
from streams.service.pseudonym import EVENT_PREFIX, Pseudonymiser

BATCH = 100_000


def rumour(n: int, seed: int = 7) -> CascadeGraph:
    """A graph of ``n`` events, each (but the first) a share of a random earlier one."""
    rng = random.Random(seed)
    g = CascadeGraph("bench")
    ids = [f"weibo:{rng.randrange(10**15, 10**16)}" for _ in range(n)]
    for lo in range(0, n, BATCH):
        hi = min(lo + BATCH, n)
        parents = [None if i == 0 else ids[rng.randrange(i)] for i in range(lo, hi)]
        g.add_batch(ids[lo:hi], [f"acct:{i % 50_000}" for i in range(lo, hi)],
                    np.arange(lo, hi, dtype=np.int64) * 1000, parents, [None] * (hi - lo))
    return g


def before(pseudo: Pseudonymiser, graph, pseudonym: str) -> str | None:
    """The lookup as streams/service/event_ids.py did it at main 2d82253 (no memo hit)."""
    ids = graph.ev.strings(np.arange(0, graph.n_nodes))
    values = np.fromiter((0 if e is None else pseudo.event_number(e) for e in ids),
                         dtype=np.uint64, count=len(ids))
    value = int(pseudonym[len(EVENT_PREFIX):], 16)
    for node in np.flatnonzero(values == np.uint64(value)).tolist():
        event_id = graph.ev.strings(np.array([node]))[0]
        if event_id is not None and pseudo.event_number(event_id) == value:
            return event_id
    return None


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, nargs="+", default=[200_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    key = b"k" * 32
    for n in args.events:
        graph = rumour(n)
        last = graph.ev.strings(np.array([graph.n_nodes - 1]))[0]
        pseudonym = Pseudonymiser(key).event(last)  # given out by another process
        times = {"before": [], "after": []}
        nbytes = 0
        for _ in range(args.repeat):
            pseudo = Pseudonymiser(key)
            t = time.perf_counter()
            assert before(pseudo, graph, pseudonym) == last
            times["before"].append(time.perf_counter() - t)
            index = EventPseudonymIndex(Pseudonymiser(key))
            t = time.perf_counter()
            assert index.resolve(graph, pseudonym) == last
            times["after"].append(time.perf_counter() - t)
            nbytes = index._values.get("bench")[1].nbytes
        for name, ts in times.items():
            m = statistics.median(ts)
            print(f"{n:>9} events  {name:6}  median {m:6.3f} s  {m / n * 1e6:5.2f} us/event  "
                  f"(runs: {', '.join(f'{x:.3f}' for x in ts)})")
        print(f"{n:>9} events  index {nbytes / graph.n_nodes:.1f} bytes/event ({graph.n_nodes} nodes)")


if __name__ == "__main__":
    main()
