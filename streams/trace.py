"""Trace answers as the CLI and the web API print them (the contract of `rumour trace --json`)."""
from __future__ import annotations

from streams.events import format_ts


def trace_answer(graph, k: int = 10, parents: dict | None = None, cutoff: list | None = None) -> dict:
    """One rumour's answer: ``{"rumour_id", "events", "origins": [...], "cutoff": [...]}``.

    Origins are ranked most likely first, each ``{"account_id", "event_id", "ts", "reach",
    "confidence"}`` (``ts`` RFC 3339 UTC, or null for an origin known only from its children;
    ``confidence`` in [0, 1], graph/confidence.py); cut-off accounts (origins excluded) are
    ranked by the shares each would have prevented. ``parents`` (reconstructed links, see
    graph/reconstruct.py) adds a ``"parents"`` key: one entry per present share with no parent
    (no parent ids; a parent event that never arrived and whose account nobody named; or a
    parent account link cut to break a cycle of such links, graph/cascade.py); the
    value is an event id of the rumour (an event, or a missing event its children name), or
    null when no parent can be inferred (no earlier candidate) or the best one is an account
    known only from its children (a deleted post without an id); ``cutoff`` replaces the cut-off list (e.g.
    the forecast cut-off at time t of graph/cutoff_time.py).
    """
    # A given cut-off replaces the graph's, so its greedy run (k = 0: none) would be wasted work.
    raw = graph.trace(k if cutoff is None else 0)
    # Kept with the resolved forest (computed once per batch that changes it), read for every
    # origin in one lookup.
    conf = graph.confidence_by_event.lookup([o["account_id"] for o in raw["origins"]],
                                            [o["event_id"] for o in raw["origins"]]).tolist()
    origins = []
    for o, c in zip(raw["origins"], conf):
        ts_ms = o.get("ts_ms")
        origins.append({
            "account_id": o["account_id"],
            "event_id": o["event_id"],
            "ts": None if ts_ms is None else format_ts(int(ts_ms)),
            "reach": int(o["reach"]),
            "confidence": round(c, 4),
        })
    if cutoff is None:
        cutoff = [{"account_id": c["account_id"], "prevented": int(c["prevented"])} for c in raw["cutoff"]]
    answer = {"rumour_id": raw["rumour_id"], "events": int(raw["events"]),
              "origins": origins, "cutoff": cutoff}
    if parents is not None:
        answer["parents"] = parents
    return answer


def trace_without_origins(graph, k: int = 10) -> dict:
    """:func:`trace_answer` without its origins: ``{"rumour_id", "events", "cutoff"}``, the same
    values. For callers that rank their own few origins (the service's trace routes): formatting
    and looking up the confidence of every origin costs 0.2 s on a 10^5-share rumour with
    3*10^4 roots, the cut-off 5 ms.

    >>> import numpy as np
    >>> from graph import CascadeGraph
    >>> g = CascadeGraph("r1")
    >>> _ = g.add_batch(["o", "m", "x"], ["src", "hub", "a"], np.arange(3), [None, "o", "m"], [None] * 3)
    >>> trace_without_origins(g, 1)
    {'rumour_id': 'r1', 'events': 3, 'cutoff': [{'account_id': 'hub', 'prevented': 1}]}
    >>> full = trace_answer(g, 1)
    >>> del full["origins"]
    >>> full == trace_without_origins(g, 1)
    True
    """
    return {"rumour_id": graph.rumour_id, "events": int(graph.n_events),
            "cutoff": [{"account_id": c.account_id, "prevented": int(c.prevented)} for c in graph.cutoff(k)]}

TEXT_ORIGINS = 5  # origins and inferred parents the text form lists; --json has them all
TEXT_PARENTS = 10


def trace_text(answer: dict) -> list[str]:
    r"""``rumour trace`` without ``--json``: the lines a person reads. It says what the JSON says,
    as far as it lists: each origin's confidence beside its reach (ranked by reach, a masked
    share of small reach reads as sure as the post without it), a root known only from its
    children as not observed (its ts is null), how many origins and inferred parents it leaves
    to ``--json``, the inferred parents (``--parents``) as leads, and the forecast of
    ``--observe``.

    >>> print("\n".join(trace_text({"rumour_id": "r", "events": 4, "origins": [
    ...     {"account_id": "a", "event_id": "e1", "ts": "2012-01-01T00:00:00.000Z", "reach": 3,
    ...      "confidence": 0.9971}, {"account_id": "b", "event_id": None, "ts": None, "reach": 1,
    ...      "confidence": 0.1}], "cutoff": [{"account_id": "c", "prevented": 1, "forecast": 2.5}],
    ...     "parents": {"e4": "e1", "e5": None}})))
    rumour r: 4 events, 2 origins
      origin #1: account a event e1 at 2012-01-01T00:00:00.000Z reach 3 confidence 0.9971
      origin #2: account b event - not observed (known only from its children) reach 1 confidence 0.1
      cut-off: account c prevents 1 share so far, 2.5 expected later
      inferred parents (leads, not evidence): 2 shares whose parent is missing
        e4 <- e1
        e5 <- none inferred
    """
    origins = answer["origins"]
    lines = [f"rumour {answer['rumour_id']}: {answer['events']} events, {len(origins)} "
             f"origin{'' if len(origins) == 1 else 's'}"]
    for rank, o in enumerate(origins[:TEXT_ORIGINS], 1):
        when = f"at {o['ts']}" if o["ts"] else "not observed (known only from its children)"
        lines.append(f"  origin #{rank}: account {o['account_id']} event {o['event_id'] or '-'} {when} "
                     f"reach {o['reach']} confidence {o['confidence']}")
    if len(origins) > TEXT_ORIGINS:
        lines.append(f"  ... {len(origins) - TEXT_ORIGINS} more origins (--json lists them all)")
    for c in answer["cutoff"]:
        shares = "share" if c["prevented"] == 1 else "shares"
        if "forecast" in c:
            lines.append(f"  cut-off: account {c['account_id']} prevents {c['prevented']} {shares} so far, "
                         f"{c['forecast']} expected later")
        else:
            lines.append(f"  cut-off: account {c['account_id']} prevents {c['prevented']} {shares}")
    parents = answer.get("parents")
    if parents is not None:
        lines.append(f"  inferred parents (leads, not evidence): {len(parents)} "
                     f"share{'' if len(parents) == 1 else 's'} whose parent is missing")
        for share, parent in list(parents.items())[:TEXT_PARENTS]:
            lines.append(f"    {share} <- {parent if parent is not None else 'none inferred'}")
        if len(parents) > TEXT_PARENTS:
            lines.append(f"    ... {len(parents) - TEXT_PARENTS} more (--json lists them all)")
    return lines


def chain_answer(hops) -> list[dict]:
    """An evidence chain (event first, origin last) as JSON-ready hops."""
    return [{"event_id": h.event_id, "account_id": h.account_id,
             "ts": None if h.ts_ms is None else format_ts(int(h.ts_ms)),
             "observed": bool(h.observed)} for h in hops]


def parse_duration(text: str) -> float:
    """Seconds in '90s', '30m', '1h', '2d' or a bare number of seconds.

    >>> parse_duration("1h"), parse_duration("90s"), parse_duration("15m")
    (3600.0, 90.0, 900.0)
    """
    text = str(text).strip().lower()
    units = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def observe_first(batch, seconds: float):
    """The rows of ``batch`` within ``seconds`` of their rumour's first event (time t cut).

    >>> import numpy as np
    >>> from streams.events import EventBatch
    >>> b = EventBatch(event_id=["a", "b", "c"], rumour_id=["r", "r", "s"], account_id=["u"] * 3,
    ...                ts_ms=np.array([0, 7_200_000, 9_000_000]), parent_event_id=[None] * 3,
    ...                parent_account_id=[None] * 3, kind=np.ones(3, np.uint8), platform=[None] * 3,
    ...                region=[None] * 3, text=[None] * 3)
    >>> observe_first(b, 3600).event_id
    ['a', 'c']
    """
    import numpy as np

    first: dict = {}
    for r, t in zip(batch.rumour_id, batch.ts_ms.tolist()):
        if t < first.get(r, t + 1):
            first[r] = t
    limit = np.array([first[r] for r in batch.rumour_id], np.int64) + int(seconds * 1000)
    return batch.take(batch.ts_ms <= limit)


def account_links(graph):
    """``(child, parent)``: the graph's account numbers (``graph.ac``) of every link of its
    resolved forest whose child and parent have different known accounts: the links the account
    interaction graph counts (:func:`interactions_of`, streams/trace_focus_parents.py).

    >>> import numpy as np
    >>> from graph import CascadeGraph
    >>> g = CascadeGraph("r")
    >>> _ = g.add_batch(["o", "a", "b"], ["src", "u", "u"], np.arange(3), [None, "o", "a"], [None] * 3)
    >>> [c.tolist() for c in account_links(g)]
    [[1], [0]]
    """
    import numpy as np

    n = graph.n_nodes
    if not n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    par = graph._view()[0]
    acct = graph.acct[:n].astype(np.int64)
    ok = np.flatnonzero((par >= 0) & (acct >= 0))
    ok = ok[acct[par[ok]] >= 0]
    child, parent = acct[ok], acct[par[ok]]
    differ = child != parent  # one account shares from itself: no interaction (Interactions.add)
    return child[differ], parent[differ]


def interactions_of(graphs):
    """The account interaction graph (graph.reconstruct.Interactions) of every rumour's links."""
    from graph.reconstruct import Interactions

    inter = Interactions()
    for g in graphs:
        child, parent = account_links(g)
        if child.size:
            inter.add(g.ac.strings(child), g.ac.strings(parent))
    return inter


def run_trace(messages, settings, k: int, observe: float | None = None, parents: bool = False,
              rumour: str | None = None, store=None):
    """The body of ``rumour trace``: ``(dead letters, answers)`` for ``(raw, source)`` messages,
    where ``answers`` yields ``(rumour_id, answer or None, seconds)`` in rumour id order (None:
    no events for an asked-for rumour). ``observe``: seconds after each rumour's first event
    (answer as of then; the cut-off forecasts the future); ``parents``: add reconstructed parents.
    benchmarks/contract_audit.py calls this too, so the audit checks what the command prints.

    >>> import orjson
    >>> from streams.settings import Settings
    >>> msgs = [(orjson.dumps({"event_id": e, "rumour_id": "r", "account_id": a, "ts": t,
    ...                        "parent_event_id": p}), "x") for e, a, t, p in
    ...         [("o", "src", 1_700_000_000_000, None), ("s", "u", 1_700_000_060_000, None), ("bad", "", 0, None)]]
    >>> dead, answers = run_trace(msgs, Settings.load({}), 10, parents=True)
    >>> [(rid, a["origins"][0]["account_id"], a["parents"]) for rid, a, _ in answers], len(dead)
    ([('r', 'src', {'o': None, 's': 'o'})], 1)

    (Both are shares with no parent; ``o`` is the first event, so no parent can be inferred:
    null. See :func:`trace_answer`.)
    """
    import time

    from streams.embedded import make_pipeline, replay_messages

    # --observe/--parents read every graph whole, so no store (whose memory budget could evict
    # one); ``store`` applies to the plain trace, as before.
    pipeline = make_pipeline(store if observe is None and not parents else None, settings)
    # One rumour asked for: only its graph is built (streams/trace_focus.py; with --parents,
    # of the others only the interaction counts it reads, streams/trace_focus_parents.py),
    # unless a store (which takes every event).
    focused = rumour is not None and store is None
    if parents and focused:
        from streams.trace_focus_parents import focused_parents

        dead, texts, inter = focused_parents(messages, pipeline, settings.batch_size, rumour, observe)
        return dead, _answers(pipeline, k, observe, parents, rumour, texts, time.perf_counter, inter)
    if observe is None and not parents:
        # The plain trace needs only the graphs, fed in batches as a replay would.
        if focused:
            from streams.trace_focus import replay_one

            dead = replay_one(messages, pipeline, settings.batch_size, rumour)
        else:
            dead = replay_messages(messages, pipeline, settings.batch_size).dead
    else:
        from streams.decoder import Decoder

        decoder = Decoder(settings.max_message_bytes, settings.max_event_bytes)
        if focused:
            from streams.trace_focus import focus, observed_one

            batch, dead, whole = observed_one(messages, decoder, rumour, observe)
            batch = focus(batch, dead, rumour, (pipeline.graphs, pipeline.debunks), whole)
        else:
            msgs = list(messages)
            batch, dead = decoder.decode([m for m, _ in msgs], [s for _, s in msgs])
            if observe is not None:
                batch = observe_first(batch, observe)
            dead = list(dead)
        dead = pipeline.process_batch(batch, dead).dead
    if parents and rumour is not None:
        from streams.trace_focus import rows_of

        batch = batch.take(rows_of(batch, rumour))  # only its texts are read
    texts = batch_texts(batch) if parents else {}
    return dead, _answers(pipeline, k, observe, parents, rumour, texts, time.perf_counter)


def batch_texts(batch) -> dict:
    """``{rumour_id: {event_id: text}}`` of the events that carry a text (the first copy wins,
    as in the graph)."""
    texts: dict = {}
    for r, e, t in zip(batch.rumour_id, batch.event_id, batch.text):
        if t:
            texts.setdefault(r, {}).setdefault(e, t)
    return texts


def _answers(pipeline, k, observe, parents, rumour, texts, clock, inter=None):
    from graph.cutoff_time import cutoff_at
    from graph.reconstruct import reconstruct_parents

    ids = [rumour] if rumour else pipeline.rumour_ids()
    if parents and inter is None:
        inter = interactions_of(pipeline.graphs.values())
    for rid in ids:
        started = clock()
        if observe is None and not parents:
            answer = pipeline.trace(rid, k)
        else:
            graph = pipeline.graphs.get(rid)
            if graph is None:
                answer = None
            else:
                par = reconstruct_parents(graph, inter, texts=texts.get(rid, {})) if parents else None
                cut = cutoff_at(graph, k) if observe is not None else None
                answer = trace_answer(graph, k, parents=par, cutoff=cut)
        yield rid, answer, clock() - started
