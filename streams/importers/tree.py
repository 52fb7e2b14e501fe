"""Make one cascade a proper tree rooted at its source post (plus the shares whose parent is
unknown, each a root of its own), and order it for output.

Both datasets end here once their records are parsed into :class:`Node` objects with one chosen
parent each. Guarantees of :func:`settle` (each repair is reported, never silent):

* every event's parent chain ends at the root or at a share whose parent is unknown: a parent
  the record names but the cascade lacks is left unknown (noted ``parent_missing``, the id it
  named in the detail: as a parent id it would make the share a dead letter, "parent in
  another rumour", wherever that id is an event of another cascade), and a loop is cut by
  leaving its earliest member's parent unknown (``parent_cycle``). Neither is attached to the
  source post: the dataset says the event belongs to this cascade, not where, and a link to
  the post would be a hop nobody observed, which a trace's evidence chain would then show as
  if the platform had. A share with no known parent
  is a root of its own in a trace (low confidence; ``rumour trace --parents`` infers a parent,
  as a lead);
* timestamps never decrease along a parent link (a child dated before its parent is moved to
  its parent's time; the original time is in the problem's detail), and no share is dated
  before the source post (``ts_before_source``);
* the output lists parents before children (sorted by time, then depth), the source post first.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from streams.events import format_ts


@dataclass(slots=True)
class Node:
    """One event of a cascade before output; ``parent`` is a key in the same cascade."""

    key: str
    account: str
    ts_ms: int
    parent: str | None = None
    kind: str = "share"
    text: str | None = None
    item: str = ""  # how problems name it (record id, line number)
    depth: int = 0


def node_event(node: Node, nodes: dict, rumour_id: str, ts: str, platform: str,
               region: str | None = None, text: str | None = None) -> dict:
    """A settled ``node`` as a v1 event (fields in the format's order); ``ts`` is its time as
    the dataset writes it.

    >>> ns = {"r": Node("r", "a", 0), "x": Node("x", "b", 1000, "r")}
    >>> e = node_event(ns["x"], ns, "r", "1970-01-01T00:00:01.000Z", "weibo")
    >>> e["parent_event_id"], e["parent_account_id"], e["kind"], e["region"]
    ('r', 'a', 'share', None)
    >>> lost = node_event(Node("y", "c", 9, "gone"), ns, "r", "1970-01-01T00:00:00.009Z", "weibo")
    >>> lost["parent_event_id"], lost["parent_account_id"]
    ('gone', None)
    """
    return {
        "event_id": node.key,
        "rumour_id": rumour_id,
        "account_id": node.account,
        "ts": ts,
        "parent_event_id": node.parent,
        # A parent the cascade lacks keeps its id and no account: no record says whose it was.
        "parent_account_id": nodes[node.parent].account if node.parent in nodes else None,
        "kind": node.kind,
        "platform": platform,
        "region": region,
        "text": text,
    }


def settle(nodes: dict, root_key: str, report, file: str) -> list:
    """Repair ``nodes`` (key -> Node) in place as described above and return them in order.

    >>> ns = {"r": Node("r", "a", 10), "x": Node("x", "b", 5, "r"), "y": Node("y", "c", 7, "gone"),
    ...       "z": Node("z", "d", 12, "y")}
    >>> from streams.importers.report import ImportReport
    >>> rep = ImportReport("demo", "-")
    >>> [(n.key, n.ts_ms, n.parent) for n in settle(ns, "r", rep, "f")]
    [('r', 10, None), ('x', 10, 'r'), ('y', 10, None), ('z', 12, 'y')]
    >>> sorted(rep.repaired.items()), dict(rep.notes)
    ([('ts_before_parent', 1), ('ts_before_source', 1)], {'parent_missing': 1})
    """
    root = nodes[root_key]
    root.parent = None
    _break_cycles(nodes, root_key, report, file)
    children: dict = {}
    orphans = []  # shares whose parent is unknown (None) or not in the cascade: roots of their own
    for node in nodes.values():
        if node.key == root_key:
            continue
        if node.parent in nodes:
            children.setdefault(node.parent, []).append(node)
            continue
        orphans.append(node)
        if node.parent is not None:
            report.note(file, node.item or node.key, "parent_missing",
                        f"parent {node.parent!r} is not in the cascade; left unknown: a trace stops at "
                        "this share (rumour trace --parents infers a parent)")
            node.parent = None
    root.depth = 0
    for node in orphans:
        node.depth = 1  # somewhere below the source post; where is not known
        if node.ts_ms < root.ts_ms:
            report.repair(file, node.item or node.key, "ts_before_source",
                          f"{format_ts(node.ts_ms)} is {(root.ts_ms - node.ts_ms) / 60000:.2f} "
                          f"min before the source post {root_key}; set to the source post's time")
            node.ts_ms = root.ts_ms
    queue = deque([root, *orphans])
    seen = len(queue)
    while queue:
        parent = queue.popleft()
        for child in children.get(parent.key, ()):
            child.depth = parent.depth + 1
            if child.ts_ms < parent.ts_ms:
                report.repair(file, child.item or child.key, "ts_before_parent",
                              f"{format_ts(child.ts_ms)} is {(parent.ts_ms - child.ts_ms) / 60000:.2f} "
                              f"min before its parent {parent.key}; set to the parent's time")
                child.ts_ms = parent.ts_ms
            queue.append(child)
            seen += 1
    if seen != len(nodes):  # cannot happen after _break_cycles; a guard, not a code path
        raise AssertionError(f"{file}: {len(nodes) - seen} events unreachable from the roots")
    return sorted(nodes.values(), key=lambda n: (n.ts_ms, n.depth, n.key))


def _break_cycles(nodes: dict, root_key: str, report, file: str) -> None:
    # 0 = not visited, 1 = on the walk in progress, 2 = known to end at a root (the source post,
    # or a share whose parent is unknown or outside the cascade).
    state = dict.fromkeys(nodes, 0)
    state[root_key] = 2
    for start in nodes:
        if state[start]:
            continue
        path = []
        x = start
        while x in state and state[x] == 0:
            state[x] = 1
            path.append(x)
            x = nodes[x].parent
        if x in state and state[x] == 1:
            cycle = path[path.index(x):]
            # The earliest member is the likeliest to have come from outside the loop; where it
            # came from is not known, so its parent is left unknown rather than guessed.
            cut = min(cycle, key=lambda k: (nodes[k].ts_ms, k))
            report.repair(file, nodes[cut].item or cut, "parent_cycle",
                          f"parent links loop through {len(cycle)} events; the link to "
                          f"{nodes[cut].parent!r} dropped, its parent left unknown")
            nodes[cut].parent = None
        for k in path:
            state[k] = 2
