"""The live update as the worker takes it: one columnar Kafka message of 1,000 shares, from bytes
to graph through the worker's own functions (`rumour bench trace`'s ``update_1000_message_ms``).

    python -m benchmarks.profile_update --message [--shares 1000000] [--shape hawkes] [--rounds 15]

``update_1000_ms`` times ``CascadeGraph.add_batch`` of old ``str`` objects sliced from the bench's
columns. The worker never does that: it decodes a message (streams/decoder.py), checks it
column-wise (streams/events_columnar.py), encodes the batch's ids once, refuses parents of
another rumour (streams/crossref.py) and hands each rumour's graph its encoded rows
(streams/rumour_graphs.py -> ``CascadeGraph.add_encoded``), all inside ``Pipeline.prepare``,
which is what :func:`apply_message` calls, as streams/app.py does (the store write is not timed:
the pipeline here has no store). The message is built untimed by :func:`message_of` with the
producer's own packing (``rumour produce --format columns``).

The split (``--message`` of benchmarks/profile_update.py): the same functions one stage at a time
(:data:`STAGES`): ``decode`` (orjson parse, the columnar envelope's checks), ``validate`` (every
column checked, the EventBatch built; the id columns are UTF-8 encoded there, once, and checked
on those bytes), ``encode`` (the batch's ids as the graphs take them: the rumours numbered, the
decoder's encoding reused), ``crossref`` (parents of another rumour, the late-parent notes),
``add`` (grouping by rumour and the graph's ``add_encoded``). The pipeline's bookkeeping around them (dropping refused rows, late links,
memory budget) is the difference between ``whole`` and ``stages_sum``.
"""
from __future__ import annotations

import statistics
import time

import numpy as np
import orjson

from benchmarks import trace_shapes
from benchmarks.outputs import load_average, progress
from benchmarks.profile_update import STEP, _between
from graph import CascadeGraph
from streams import events_columnar as ec
from streams.crossref import refuse_cross_rumour_parents
from streams.pipeline import Pipeline
from streams.produce import pack_messages
from streams.rumour_graphs import batch_ids

STAGES = ("decode", "validate", "encode", "crossref", "add")
SOURCE = "shares/0@0"  # the worker's source name of a message (topic/partition@offset)


def message_of(cols, sl: slice, rumour_id: str) -> bytes:
    """The columnar message `rumour produce --format columns` sends for the rows ``sl`` of the
    bench's columns (one rumour, every share one JSON event as in a shares file).

    >>> eid, aid, ts, pe, pa = trace_shapes.columns(trace_shapes.make("hawkes", 50, 0))
    >>> raw = message_of((eid, aid, ts, pe, pa), slice(10, 13), "r")
    >>> orjson.loads(raw)["columns"]["event_id"], orjson.loads(raw)["columns"]["rumour_id"]
    (['e10', 'e11', 'e12'], 'r')
    """
    eid, aid, ts, pe, pa = cols
    lines = [(orjson.dumps({"event_id": e, "rumour_id": rumour_id, "account_id": a, "ts": t,
                            "parent_event_id": p, "parent_account_id": q}), "")
             for e, a, t, p, q in zip(eid[sl], aid[sl], ts[sl].tolist(), pe[sl], pa[sl])]
    (_, raw), = pack_messages(lines, len(lines), "columns")
    return raw


def worker_pipeline(graph: CascadeGraph) -> Pipeline:
    """A worker's pipeline without a store that holds ``graph`` as its rumour's shares."""
    pipeline = Pipeline(store=None)
    pipeline.graphs[graph.rumour_id] = graph
    return pipeline


def apply_message(pipeline: Pipeline, raw: bytes):
    """One message from bytes to graph as the worker prepares it (streams/app.py); the Prepared."""
    return pipeline.prepare([raw], [SOURCE], [0])


def checked(prepared, n: int):
    """``prepared`` after checking every one of the message's ``n`` shares was stored: a figure
    of a message that went down the per-event path (a dead letter) would time something else."""
    stats = prepared.stats
    if stats.stored != n or stats.dead_letters or stats.duplicates:
        raise RuntimeError(f"message path: {stats.stored} of {n} shares stored, "
                           f"{stats.duplicates} duplicates, {stats.dead_letters} dead letters")
    return prepared


def apply_stages(pipeline: Pipeline, raw: bytes, out: dict, modules=None,
                 clock=time.perf_counter) -> None:
    """:func:`apply_message`'s work one stage at a time (no partitions: one rumour, owned).
    ``modules``: the ``streams`` modules of the tree to time by name (benchmarks/ab_update.py
    imports several trees apart), else this tree's."""
    if modules is None:
        columns_of, fast_batch, ids_of, refuse = (ec.columns_of, ec.fast_batch, batch_ids,
                                                  refuse_cross_rumour_parents)
    else:
        tree_ec = modules["streams.events_columnar"]
        columns_of, fast_batch = tree_ec.columns_of, tree_ec.fast_batch
        ids_of = modules["streams.rumour_graphs"].batch_ids
        refuse = modules["streams.crossref"].refuse_cross_rumour_parents
    dead: list = []
    t0 = clock()
    columns, n = columns_of(orjson.loads(raw))
    t1 = clock()
    batch = fast_batch(columns, n, int(time.time() * 1000))
    t2 = clock()
    if batch is None:
        raise RuntimeError("message path: a share failed the column checks")
    ids = ids_of(batch)
    t3 = clock()
    batch, ids = refuse(batch, dead, pipeline.memory.registries(), None, ids=ids,
                        late=pipeline.late_parents)
    t4 = clock()
    status = pipeline.memory.apply(batch, dead, ids)
    t5 = clock()
    if dead or int(np.count_nonzero(status)):
        raise RuntimeError(f"message path: {len(dead)} dead letters, "
                           f"{int(np.count_nonzero(status))} rows not added")
    for name, a, b in zip(STAGES, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5)):
        out.setdefault(name, []).append((b - a) * 1e3)


def profile_message(shape: str, shares: int, rounds: int, batch: int, seed: int):
    """(the medians row, the graph at the end): ``rounds`` whole messages and ``rounds`` staged
    ones taken in turn, each after the bench's queries (its cold caches), on a graph built as
    the bench builds it."""
    eid, aid, ts, pe, pa = cols = trace_shapes.columns(
        trace_shapes.make(shape, shares + 2 * rounds * batch, seed))
    g = CascadeGraph("profile")
    for i in range(0, shares, STEP):
        j = min(i + STEP, shares)
        g.add_batch(eid[i:j], aid[i:j], ts[i:j], pe[i:j], pa[i:j])
    pipeline = worker_pipeline(g)
    rng = np.random.default_rng(seed + 1)
    probes = [eid[int(i)] for i in rng.integers(0, shares, 10)]
    progress(f"profile_update --message {shape}: {shares} shares built; {2 * rounds} rounds ...")
    times: dict = {}
    for r in range(2 * rounds):
        raw = message_of(cols, slice(shares + r * batch, shares + (r + 1) * batch), g.rumour_id)
        _between(g, probes)
        if r % 2 == 0:
            t0 = time.perf_counter()
            prepared = apply_message(pipeline, raw)
            times.setdefault("whole", []).append((time.perf_counter() - t0) * 1e3)
            checked(prepared, batch)
        else:
            apply_stages(pipeline, raw, times)
    med = {k: round(statistics.median(v), 4) for k, v in times.items()}
    med["stages_sum"] = round(sum(med[k] for k in STAGES), 4)
    return {"shape": shape, "shares": shares, "batch": batch, "rounds": rounds, "path": "message",
            "ms": med, "load_average": load_average()}, g
