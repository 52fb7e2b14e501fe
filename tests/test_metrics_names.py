"""Every figure of the worker's /metrics that only grows is a Prometheus counter (`_total`), so
that rate() and increase() can be used on it, and README's 'Operating the worker' lists every
metric an operator alerts on by the name /metrics gives it."""
from __future__ import annotations

import re
from pathlib import Path

from streams.service.metrics import render
from streams.worker_stats import new_stats

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
# Figures of new_stats() that only grow (a worker's counts since its start).
GROWING = {"batches", "events_in", "stored", "duplicates", "dead_letters", "store_failures",
           "released_rumours", "rebalances", "dead_letter_send_failures", "store_write_retries",
           "graph_evictions", "restore_queries", "late_links", "gc_collected", "gc_seconds",
           "store_wait_seconds"}


def test_growing_figures_are_counters():
    text = render(new_stats(), {}, 0, 0, 0.0)
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    for name in GROWING:
        assert types.get(f"rumour_{name}_total") == "counter", name


def test_readme_names_every_worker_metric():
    text = render({**new_stats(), "assigned_partitions": 0, "rumours_in_memory": 0}, {}, 0, 0, 0.0)
    section = README.split("## Operating the worker", 1)[1].split("\n## ", 1)[0]
    for name in re.findall(r"^# TYPE (\S+) ", text, re.M):
        assert f"`{name}`" in section, name
