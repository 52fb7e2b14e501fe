"""Inferred parents in the rumour trace over HTTP (``?parents=1``): the links `rumour trace
--json --parents` gives (:func:`graph.reconstruct.reconstruct_parents`), for the shares of one
rumour whose parent is missing, from what the service holds.

Signals: the rumour's graph (times, observed children, candidates between, depths); the
account interaction graph of every rumour whose graph this process holds in memory (the counts
of :func:`streams.trace.interactions_of` over the held graphs, as the CLI builds them from the
file's rumours; a worker holds only its partitions' rumours and an evicted graph is not counted,
so there the counts can differ from the CLI's over the whole file), kept current by ingest
(streams/held_interactions.py) so a request reads only its rumour's accounts of it; and the
repost texts of the rumour as the store keeps them (the CLI reads them from the file). The links are kept apart from the chains, whose
hops stay observed links only: an inferred link is never a hop.
"""
from __future__ import annotations

from streams.api import ApiError

PARENT_KEYS = ("parents", "parent_probability", "parents_method")  # what parents=1 adds to a trace
PARENTS_METHOD = (
    "inferred, not observed: for each share of the rumour whose parent is missing, the most "
    "likely earlier event of the rumour by a conditional logit (graph/reconstruct.py, weights "
    "fitted on observed Weibo links) of the time gap, the candidate's observed children, how many "
    "candidates came between, its depth, how often its account was reposted and how often the "
    "share's account reposted it (the interaction graph of the rumours this service holds in "
    "memory), and whether the share's text quotes the candidate's after @name: (texts from the "
    "store); null when no earlier candidate exists or the best one is an account known only "
    "from its children; the same links `rumour trace --json --parents` gives for the same "
    "input. parent_probability: the model's probability of that candidate among the share's "
    "candidates (null when no parent is given, or the choice was replaced to break a cycle)")


def parse_parents(value) -> bool:
    """The ``parents`` query parameter: ``1`` adds the inferred parents, ``0`` or absent not.

    >>> parse_parents("1"), parse_parents(None), parse_parents("0")
    (True, False, False)
    >>> parse_parents("yes")
    Traceback (most recent call last):
    ...
    streams.api.ApiError: parents: expected 0 or 1
    """
    if value is None or value == "":
        return False
    if value not in ("0", "1"):
        raise ApiError("parents: expected 0 or 1")
    return value == "1"


def read_parents(query, audit_params: dict) -> bool:
    """The request's ``parents`` (:func:`parse_parents`; absent: False), recorded in the audit
    row's ``audit_params`` as read (1 or 0, whatever the spelling) when the request gave it, so
    the trace and the evidence routes record it alike.

    >>> params = {}; read_parents({"parents": "1"}, params), params
    (True, {'parents': 1})
    >>> params = {}; read_parents({"parents": ""}, params), params
    (False, {'parents': 0})
    >>> params = {}; read_parents({}, params), params
    (False, {})
    """
    if "parents" not in query:
        return False
    parents = parse_parents(query["parents"])
    audit_params["parents"] = int(parents)
    return parents


def stored_texts(store, rumour_id: str) -> dict:
    """``{event_id: text}`` of the rumour's stored events that carry a text (the reconstruction's
    quote signal). Read before the pipeline's lock is taken: a store query."""
    from streams.trace import batch_texts

    return batch_texts(store.load_events(rumour_id=rumour_id)).get(rumour_id, {})


def inferred_links(interactions, graph, texts: dict) -> list[tuple]:
    """``(share event, its account, parent event or None, the parent's account, probability or
    None)`` of every share of ``graph`` whose parent is missing; ``interactions``: the
    interaction graph of every graph held, or its part among ``graph``'s accounts
    (:meth:`streams.held_interactions.HeldInteractions.view`). Under the pipeline's lock."""
    import numpy as np

    from graph.reconstruct import reconstruct_scored

    scored = reconstruct_scored(graph, interactions, texts=texts)
    if not scored:
        return []
    events = list(scored)
    events += [p for p, _ in scored.values() if p is not None]
    nodes = np.array([graph.node(e) for e in events], np.int64)
    account = dict(zip(events, graph.ac.strings(graph.acct[nodes])))  # None: account unknown
    return [(e, account[e], p, None if p is None else account[p], prob) for e, (p, prob) in scored.items()]


def named_parents(links: list[tuple], name) -> dict:
    """The answer's ``parents``, ``parent_probability`` and ``parents_method`` with every event
    id as the caller's namer (:class:`streams.service.identities.Namer`) shows it: an event in
    clear exactly where its account is, as everywhere else in the answer."""
    parents, probability = {}, {}
    for share, share_account, parent, parent_account, prob in sorted(links, key=lambda x: x[0]):
        shown = name.event(share, share_account)
        parents[shown] = name.event(parent, parent_account)
        probability[shown] = prob
    return {"parents": parents, "parent_probability": probability, "parents_method": PARENTS_METHOD}
