"""The depth bound of the dashboard's cascade tree (``GET /api/rumours/{id}/tree``).

The tree is nested JSON, two levels (a node and its ``children``) per event of a path. The JSON
encoder refuses nesting past 254 levels, so a cascade with a reshare chain about 127 events
deep answered 500 (a chain of 1,500 reposts did). A path is cut at :data:`MAX_TREE_DEPTH`
events: the last node kept has no children in the answer and its ``more`` counts the events
under it, as for any node whose children are not all shown.
"""
from __future__ import annotations

# Events on a path from a root, the root included (well below the encoder's 254 levels; a
# person cannot read a deeper tree on the dashboard either).
MAX_TREE_DEPTH = 100


def cap_depth(roots: list[dict], max_depth: int = MAX_TREE_DEPTH) -> int:
    """Drop the children of every node ``max_depth`` events from its root (in place); the
    number of nodes left in the tree.

    >>> leaf = {"children": []}
    >>> chain = {"children": [{"children": [leaf]}]}
    >>> cap_depth([chain], 2), chain["children"][0]["children"]
    (2, [])
    >>> cap_depth([{"children": [{"children": []}, {"children": []}]}], 1)
    1
    """
    kept = 0
    stack = [(node, 1) for node in roots]
    while stack:  # no recursion: the tree may be deeper than Python's stack
        node, depth = stack.pop()
        kept += 1
        if depth >= max_depth:
            node["children"] = []
        else:
            stack.extend((child, depth + 1) for child in node["children"])
    return kept
