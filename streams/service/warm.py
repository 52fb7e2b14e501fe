"""Compile, when the service starts, the numba kernels an origin trace with inferred parents
(``?parents=1``) and an evidence package use, so that the first one a liaison asks for does not
wait for them.

Why: the kernels are compiled on first use and cached on disk (``cache=True``), but a container
starts with an empty cache (deploy/Dockerfile: ``NUMBA_CACHE_DIR=/tmp/numba-cache``), and the
trace and reconstruction kernels are not used by the replay or by ingest: the first
``/evidence?parents=1`` of a fresh ``rumour serve`` over the Weibo and Twitter sets took 23.2 s
(load 9-10 on 2 cores; 0.46 s the second time), nearly all of it compiling. :func:`warm_kernels`
runs that code once over a tiny cascade of its own (no store, no lock of the service's
pipeline), in a thread beside the serving loop: a request that comes meanwhile compiles what it
needs itself, as before (numba compiles each kernel once, whoever asks first).

What it runs is the service's own code path (:meth:`streams.service.views.Views.trace` step by
step: the graph's trace and origins, confidences, chains, the interaction graph and its view, the
reconstruction) and the event pseudonyms' HMAC kernel; tests/test_warm.py checks that after it
a trace with parents, for a clear and a pseudonymised caller, and an evidence package compile
nothing more.
"""
from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


def _cascade() -> list[dict]:
    """Two small rumours in the v1 format: a post, reposts, a share whose parent is missing (so
    the reconstruction runs) and one that quotes its parent's text after ``//@name:``."""
    base = 1_764_547_200_000
    out = []
    for r in ("warm-a", "warm-b"):
        rows = [("e0", "src", None, None, "原文 text"), ("e1", "hub", "e0", "src", None),
                ("e2", "u2", "e1", "hub", None), ("e3", "u3", None, None, None),
                ("e4", "u4", "e1", "hub", None), ("e5", "u5", None, None, "转发 //@src: 原文 text")]
        for i, (event, account, parent, parent_account, text) in enumerate(rows):
            out.append({"event_id": f"{r}-{event}", "rumour_id": r, "account_id": account,
                        "ts": base + 60_000 * i, "kind": "post" if i == 0 else "share",
                        "parent_event_id": parent and f"{r}-{parent}", "parent_account_id": parent_account,
                        "platform": "weibo", "region": "370102", "text": text})
    return out


def warm_kernels(cutoff_k: int = 10) -> float:
    """Run the trace-with-parents code over :func:`_cascade` (compiling its kernels, or loading
    them from numba's cache); the seconds it took.

    >>> warm_kernels() >= 0
    True
    """
    import orjson

    from graph.reconstruct import reconstruct_scored  # noqa: F401  (imported as the request would)
    from streams.embedded import make_pipeline, replay_messages
    from streams.held_interactions import HeldInteractions
    from streams.service.pseudonym import Pseudonymiser
    from streams.service.trace_parents import inferred_links
    from streams.settings import Settings
    from streams.trace import trace_without_origins

    started = time.perf_counter()
    events = _cascade()
    settings = Settings.load({})
    pipeline = make_pipeline(None, settings)  # graphs only: nothing of the service's is touched
    replay_messages(((orjson.dumps(e), f"warm:{i}") for i, e in enumerate(events)), pipeline,
                    settings.batch_size)
    texts: dict = {}  # as trace_parents.stored_texts gives them from the store
    for e in events:
        if e["text"]:
            texts.setdefault(e["rumour_id"], {})[e["event_id"]] = e["text"]
    held = HeldInteractions()
    for rumour_id, graph in pipeline.graphs.items():
        held.update(rumour_id, graph)
    for rumour_id in sorted(pipeline.graphs):
        graph = pipeline.query_graph(rumour_id)
        answer = trace_without_origins(graph, cutoff_k)
        inferred_links(held.view(graph), graph, texts.get(rumour_id, {}))
        origins = graph.origins(20)
        graph.confidence_by_event.lookup([o.account_id for o in origins], [o.event_id for o in origins])
        graph.chain(f"{rumour_id}-e2")
        for c in answer["cutoff"]:
            graph.account_chains(c["account_id"])
        graph.account_chains("u4")
    # The event pseudonyms of a pseudonymised caller (an analyst's trace): their HMAC kernel.
    Pseudonymiser(b"\0" * 32).event_numbers([e["event_id"] for e in events])
    return time.perf_counter() - started


def warm_in_background(cutoff_k: int = 10, then=None):
    """Start :func:`warm_kernels` in a daemon thread (logged when done), then call ``then()``
    (if given) in it; the thread."""
    import threading

    def run():
        try:
            log.info("trace kernels ready in %.1f s (inferred parents, evidence)", warm_kernels(cutoff_k))
            if then is not None:
                then()
        except Exception:  # a warm-up that fails costs only the first request's compile, as before
            log.exception("warming the trace kernels failed")

    thread = threading.Thread(target=run, name="warm-kernels", daemon=True)
    thread.start()
    return thread
