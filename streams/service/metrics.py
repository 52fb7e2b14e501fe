"""Prometheus metrics in the text exposition format 0.0.4, written by hand (no dependency).

Sources: the worker's ``app.stats`` (ingest counters, last batch latency, consumer lag, ...;
``rumour serve`` passes its replay totals) and the service's own request and audit counters.
"""
from __future__ import annotations

# Counters among the worker's stats (every other numeric stat is a gauge): each only grows, so
# Prometheus' rate() and increase() apply (on a gauge they ignore the restarts' resets).
COUNTERS = {"batches", "events_in", "stored", "duplicates", "dead_letters", "store_failures",
            "released_rumours", "rebalances", "read", "dead_letter_send_failures",
            "store_write_retries", "graph_evictions", "restore_queries", "late_links",
            "gc_collected", "gc_seconds", "store_wait_seconds"}


def render(stats: dict, requests: dict, audit_rows: int, graphs: int, started: float) -> str:
    """The metrics page.

    >>> text = render({"events_in": 5, "last_batch_ms": 20.0}, {("trace", 200): 2}, 2, 1, 0.0)
    >>> "rumour_events_in_total 5" in text, "rumour_batch_latency_seconds 0.02" in text
    (True, True)
    >>> "# TYPE rumour_late_links_total counter" in render({"late_links": 1}, {}, 0, 0, 0.0)
    True
    """
    lines = []

    def metric(name, kind, help_text, samples):
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            label = "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""
            lines.append(f"{name}{label} {value}")

    for key in sorted(stats):
        value = stats[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if key == "last_batch_ms":
            metric("rumour_batch_latency_seconds", "gauge", "Wall time of the last batch", [({}, value / 1000.0)])
        elif key == "lag":
            metric("rumour_consumer_lag", "gauge", "Messages in this worker's partitions not processed yet",
                   [({}, value)])
        elif key in COUNTERS:
            metric(f"rumour_{key}_total", "counter", f"Ingest counter {key}", [({}, value)])
        else:
            metric(f"rumour_{key}", "gauge", f"Worker gauge {key}", [({}, value)])
    metric("rumour_http_requests_total", "counter", "HTTP requests by route and status",
           [({"route": r, "status": s}, n) for (r, s), n in sorted(requests.items())])
    metric("rumour_audit_rows_written_total", "counter", "Audit rows written by this process", [({}, audit_rows)])
    metric("rumour_graphs_in_memory", "gauge", "Rumour graphs held by this process", [({}, graphs)])
    metric("rumour_process_start_time_seconds", "gauge", "Start time (epoch seconds)", [({}, round(started, 3))])
    return "\n".join(lines) + "\n"
