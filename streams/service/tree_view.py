"""The dashboard's cascade tree (``GET /api/rumours/{id}/tree``), whole or under one event
(``?under=``): which events it shows and their nesting (no HTTP, no identities here: the caller
passes the pseudonymiser).

An answer holds at most ``limit`` events picked by the size of their subtree (largest first),
with the path from each up to the top of the answer (an origin, or the event asked for), so an
event shown is always joined to the top; each path is cut :data:`MAX_TREE_DEPTH` events below the
top (:mod:`streams.service.tree_depth`) and a node's ``more`` counts the events under it that are
not shown. A tree under an event answers in the same shape, its one root being that event, plus
the ``path`` from the cascade's origin down to it: an analyst expands a node whose ``more`` is
not 0 and sees past the limit and the depth cut, a step at a time. A node with no event id (the
placeholder of a missing post whose shares name only its account: always a root) is expanded
the same way, named by its account (:class:`Placeholder`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from streams.events import format_ts
from streams.service.tree_depth import MAX_TREE_DEPTH, cap_depth


class Placeholder(NamedTuple):
    """``under`` for the placeholder node of ``account_id`` (no event id to name it by)."""
    account_id: str


def node_key(hop) -> str:
    """A hop's key in ``size_of`` and among the tree's nodes: its event id, or its account for
    an account's placeholder (one per account).

    >>> from graph.types import Hop
    >>> node_key(Hop("e1", "u", 5, True)), node_key(Hop(None, "u", None, False))
    ('e1', 'acct:u')
    """
    return hop.event_id if hop.event_id is not None else "acct:" + (hop.account_id or "")


def picked_events(graph, limit: int, under: str | Placeholder | None = None,
                  path_most: int = MAX_TREE_DEPTH) -> dict:
    """The events to show (read under the pipeline's lock): ``chains`` (per picked event, its
    hops up to the top, the event first), ``size_of`` (:func:`node_key` -> present events of its subtree),
    ``depth`` (edges from the top to the deepest event below it, shown or not), ``path`` (hops
    from the cascade's origin down to ``under``, at most :data:`MAX_TREE_DEPTH`: the origin and
    the last ones; [] for the whole tree) and ``path_omitted`` (the hops between left out).
    KeyError for an ``under`` the graph does not hold (an event id, or a :class:`Placeholder`).

    >>> from graph import CascadeGraph
    >>> g = CascadeGraph()
    >>> _ = g.add_batch(["a", "b", "c", "d"], ["u", "v", "w", "x"], np.arange(4),
    ...                 [None, "a", "b", "b"], [None] * 4)
    >>> p = picked_events(g, 2, under="b")
    >>> [[h.event_id for h in c] for c in p["chains"]], p["depth"], [h.event_id for h in p["path"]]
    ([['b'], ['c', 'b']], 1, ['a', 'b'])
    >>> p = picked_events(g, 2, under="d", path_most=2)
    >>> [h.event_id for h in p["path"]], p["path_omitted"]
    (['a', 'd'], 1)
    >>> _ = g.add_batch(["s1", "s2"], ["v", "w"], np.arange(4, 6), [None, "s1"], ["lost", None])
    >>> p = picked_events(g, 5, under=Placeholder("lost"))
    >>> [[h.event_id for h in c] for c in p["chains"]], p["size_of"]["acct:lost"], p["depth"]
    ([['s1', None], ['s2', 's1', None]], 2, 2)
    """
    sizes = graph.subtree_sizes()
    depths = graph.depths()
    top_hop = None
    if under is None:
        nodes, top_depth, path, omitted = None, 0, [], 0
        ranked = np.argsort(-sizes, kind="stable")
    elif isinstance(under, Placeholder):  # a root: its chains end at it, its path is itself
        top, nodes, top_hop = graph.placeholder_subtree(under.account_id)
        top_depth, path, omitted = int(depths[top]), [top_hop], 0
        ranked = nodes[np.argsort(-sizes[nodes], kind="stable")]
    else:
        nodes = graph.subtree_nodes(under)
        top_depth = int(depths[graph.node(under)])
        up = graph.chain(under)  # the event first
        # A subtree 10^5 reshares deep: its origin and the events just above it say where it is.
        omitted = max(0, len(up) - path_most)
        path = up[-1:] + up[: path_most - 1][::-1] if omitted else up[::-1]
        ranked = nodes[np.argsort(-sizes[nodes], kind="stable")]
    # Twice the limit: an account's placeholder (no event id) is not shown by itself.
    ranked = ranked[: max(limit, 1) * 2]
    picked = [e for e in graph.ev.strings(ranked) if e is not None][:limit]
    up_to = None if top_hop is not None else under
    chains = [graph.chain(e, up_to=up_to) for e in picked]
    # Each event once (a path's events recur in every chain below them; a lookup costs ~30 us).
    shown = {h.event_id for c in chains + [path] for h in c} - {None}
    size_of = {e: int(sizes[graph.node(e)]) for e in shown}
    # An account's placeholder (no event id) has its size too: else its "more" read 0 however
    # many events under it were not shown.
    for hop in {(h.account_id, h) for c in chains + [path] for h in c if h.event_id is None}:
        size_of[node_key(hop[1])] = int(sizes[graph.placeholder_subtree(hop[0])[0]])
    below = depths if nodes is None else depths[nodes]
    return {"chains": chains, "size_of": size_of, "path": path, "path_omitted": omitted,
            "depth": int(below.max(initial=0)) - top_depth}


def nested(picked: dict, pseudo, cut: dict, top_is_origin: bool = True) -> tuple[list, int]:
    """``(roots, shown)``: the picked chains as nested nodes (pseudonyms of accounts and events,
    ``cut``: the cut-off accounts), largest subtrees first, cut :data:`MAX_TREE_DEPTH` deep,
    each with its ``more``. ``top_is_origin``: whether the chains' top hop is an origin (not when
    they stop at the event asked for, unless that event is itself a root of the cascade)."""
    nodes: dict[str, dict] = {}
    roots: list[dict] = []
    for chain in picked["chains"]:
        child = None
        for hop in chain:  # event first, top last
            key = node_key(hop)
            node = nodes.get(key)
            fresh = node is None
            if fresh:
                node = nodes[key] = dict(hop_node(hop, pseudo, picked["size_of"], cut), children=[])
            if child is not None and child not in node["children"]:
                node["children"].append(child)
            child = node
            if not fresh:
                break
        else:  # the chain's top, met for the first time
            if child is not None:
                child["origin"] = top_is_origin
                roots.append(child)
    shown = cap_depth(roots)
    for node in nodes.values():
        node["children"].sort(key=lambda c: (-(c["size"] or 0), c["ts"] or "", c["event_id"] or ""))
        below = sum(c["size"] or 0 for c in node["children"])
        node["more"] = max(0, (node["size"] or below) - (1 if node["observed"] else 0) - below)
    roots.sort(key=lambda c: (-(c["size"] or 0), c["ts"] or ""))
    return roots, shown


def hop_node(hop, pseudo, size_of: dict, cut: dict) -> dict:
    """One event of the tree or of its ``path`` as the answer shows it (no children)."""
    return {"name": pseudo(hop.account_id),
            "event_id": pseudo.event(hop.event_id),
            "ts": None if hop.ts_ms is None else format_ts(int(hop.ts_ms)),
            "size": size_of.get(node_key(hop)),
            "observed": hop.observed,
            "cutoff": hop.account_id in cut,
            "origin": False}
