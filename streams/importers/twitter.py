"""Twitter15/16 propagation trees -> v1 share events.

Each ``<dir>/tree/<source tweet id>.txt`` holds one edge a line,
``['uid', 'tweet id', 'delay']->['uid', 'tweet id', 'delay']`` (delay in minutes after the
file's tweet); the child of ``['ROOT', 'ROOT', '0.0']`` is the source post, whatever line it
is on (the whole file is read before anything is decided, so a parent may appear after its
children). Labels come from ``<dir>/label.txt`` (``label:tweet id``) and are put on the post
event as an extra field ``label``.

Identity and ids. A node is ``(uid, tweet id, delay)``: retweets reuse the source tweet's id, so
the tweet id alone is not an event. The post's ``event_id`` is its tweet id, every other
event's is ``"<tweet id>:<uid>:<delay>"`` (deterministic, unique within the rumour, and never
equal to a plain tweet id). ``rumour_id`` is the file's tweet id; events are namespaced by
rumour, so a tweet in two trees is an event of each.

Times. ``ts`` = creation time of the file's tweet + delay. Tweet ids from 2010-11-04 on are
Snowflake ids: ``ms = (id >> 22) + 1288834974657``. For an older (sequential) id the base is
taken from the tree's own Snowflake tweets (``snowflake(tid) - delay``, median); a tree with
neither is dropped and reported.

Repairs (each reported, see :mod:`.report`): self-loops and repeated lines are dropped; a node
given several parents keeps the first whose delay is not later than its own (else the first);
edges into the source post other than ROOT's are dropped; nodes only named as parents are
synthesised with their parent unknown, as is a node whose only lines are self-loops or extra
ROOT lines (never attached to the source post: that would be a hop nobody observed, shown as
evidence by a trace; ``rumour trace --parents`` infers such a parent as a lead); loops are cut
and times made monotone by :mod:`.tree`.
A tree repeated under the same id (twitter15 and twitter16 share some) is imported once.
"""
from __future__ import annotations

import math
import re
import statistics

from streams.events import format_ts
from streams.importers.tree import Node, node_event, settle

PLATFORM = "twitter"
TWITTER_EPOCH_MS = 1288834974657
# Ids at or below the last sequential (pre-Snowflake) tweet id carry no time. Any real
# Snowflake id is far larger (ms since the epoch << 22), so the exact cut is not delicate.
LAST_SEQUENTIAL_ID = 29_700_859_247
ROOT = ("ROOT", "ROOT", "0.0")

_TREE = re.compile(r"(?:^|/)([^/]+)/tree/([^/]+)\.txt$")
_LABELS = re.compile(r"(?:^|/)([^/]+)/label\.txt$")
_NODE = r"\[\s*'([^']*)'\s*,\s*'([^']*)'\s*,\s*'([^']*)'\s*\]"
_EDGE = re.compile(_NODE + r"\s*->\s*" + _NODE)


def snowflake_ms(tweet_id: int) -> int | None:
    """Creation time (epoch ms) of a Snowflake tweet id, None for an older sequential id.

    The tweet in Twitter's API documentation example, created "Wed Oct 10 20:19:24 +0000 2018":

    >>> format_ts(snowflake_ms(1050118621198921728))
    '2018-10-10T20:19:24.211Z'
    >>> snowflake_ms(20) is None
    True
    """
    if tweet_id <= LAST_SEQUENTIAL_ID:
        return None
    return (tweet_id >> 22) + TWITTER_EPOCH_MS


def iter_twitter(source, report):
    """Yield ``(event, from_record)`` for every tree of ``source`` (a :class:`Source`)."""
    labels: dict = {}
    trees = []
    for rel, data in source.files():
        m = _TREE.search(rel)
        if m:
            trees.append((m.group(1), m.group(2), rel, data))
            continue
        m = _LABELS.search(rel)
        if m:
            labels[m.group(1)] = _read_labels(rel, data, report)
    seen: dict = {}
    for part, tree_id, rel, data in sorted(trees, key=lambda t: (t[0], t[1])):
        lines = data.decode("utf-8", "replace").splitlines()
        lines = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
        report.records_in += len(lines)
        if tree_id in seen:
            first_rel, first_data = seen[tree_id]
            same = "identical to" if first_data == data else "differs from"
            report.drop(rel, "*", "duplicate_tree", f"same tweet id as {first_rel} ({same} it); "
                        "imported once", len(lines))
            continue
        seen[tree_id] = (rel, data)
        label = labels.get(part, {}).get(tree_id)
        if label is None:
            report.note(rel, tree_id, "label_missing", f"{tree_id} is not in {part}/label.txt")
        yield from _tree(tree_id, rel, lines, label, report)


def _read_labels(rel, data, report) -> dict:
    out = {}
    for i, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        label, sep, tweet = line.partition(":")
        if not sep or not tweet.strip():
            report.note(rel, f"line {i}", "bad_label_line", line[:80])
            continue
        out[tweet.strip()] = label.strip()
    return out


def _parse(tree_id, rel, lines, report):
    """Edges as ``(line_no, parent, child)`` with nodes as tuples; bad lines dropped."""
    edges = []
    for no, line in lines:
        m = _EDGE.fullmatch(line.strip())
        if not m:
            report.drop(rel, f"line {no}", "unparseable_line", line[:120])
            continue
        p, c = m.groups()[:3], m.groups()[3:]
        if p[0] == "ROOT" and p[1] == "ROOT":
            p = ROOT  # whatever its delay is spelt as
        try:
            bad = [n for n in (p, c) if n != ROOT and (not n[0] or not n[1].isdigit()
                                                      or not math.isfinite(float(n[2])))]
        except ValueError:
            bad = [1]
        if bad or c == ROOT:
            report.drop(rel, f"line {no}", "unparseable_line", line[:120])
            continue
        edges.append((no, p, c))
    return edges


def _tree(tree_id, rel, lines, label, report):
    edges = _parse(tree_id, rel, lines, report)
    root_lines = [(no, c) for no, p, c in edges if p == ROOT]
    if not root_lines:
        report.drop(rel, "*", "no_root", "no ['ROOT', ...] line", len(edges))
        return
    root = root_lines[0][1]
    base = _time_base(tree_id, edges, rel, report)
    if base is None:
        report.drop(rel, "*", "no_time_base", "pre-Snowflake id and no Snowflake tweet in the tree",
                    len(edges))
        return
    if root[1] != tree_id:
        report.note(rel, root[1], "root_not_file_tweet",
                    f"ROOT's child is tweet {root[1]} by {root[0]}, not {tree_id}; it is the source post")
    incoming: dict = {}
    for no, p, c in edges:
        incoming.setdefault(c, []).append((no, p))
    nodes = {}
    key_of = {}

    def key(n):
        k = key_of.get(n)
        if k is None:
            k = key_of[n] = n[1] if n == root else f"{n[1]}:{n[0]}:{n[2]}"
        return k

    def new_node(n, item):
        ms = base + round(float(n[2]) * 60000)
        nodes[key(n)] = Node(key(n), n[0], ms, None, "post" if n == root else "share", None, item)
        return nodes[key(n)]

    used = 0
    for child, ins in incoming.items():
        node = new_node(child, f"line {ins[0][0]}")
        if child == root:
            used += 1  # the first ROOT line; every other line into the source is dropped
            for no, p in ins:
                if no != root_lines[0][0]:
                    reason = ("duplicate_edge" if p == ROOT else "self_loop" if p == child
                              else "edge_into_source")
                    report.drop(rel, f"line {no}", reason, f"{p} -> source post")
            continue
        used += _choose_parent(node, child, ins, key, key(root), rel, report)
    for no, p, c in edges:  # parents never seen as a child: the data names them, so keep them
        if p != ROOT and key(p) not in nodes:
            node = new_node(p, f"line {no}")
            node.parent = None
            report.synthesised += 1
            report.repair(rel, f"line {no}", "implied_node",
                          f"{p} appears only as a parent; synthesised with its parent unknown")
    report.records_used += used
    report.cascades += 1
    if label is not None:
        report.labels[label] += 1
    root_key = key(root)
    for node in settle(nodes, root_key, report, rel):
        event = node_event(node, nodes, tree_id, format_ts(node.ts_ms), PLATFORM)
        if node.key == root_key:
            event["label"] = label
        yield event, True


def _choose_parent(node, child, ins, key, root_key, rel, report) -> int:
    """Set ``node.parent`` from its incoming lines; report the others; return lines used (1)."""
    delay = float(child[2])
    real = [(no, p) for no, p in ins if p != child and p != ROOT]
    if real:
        fits = [(no, p) for no, p in real if float(p[2]) <= delay]
        keep_no, keep = (fits or real)[0]
        node.parent = key(keep)
    else:
        # Only self-loops and/or extra ROOT lines: the node is in the tree, its parent unknown.
        keep_no, keep = ins[0]
        node.parent = None
        report.repair(rel, f"line {keep_no}", "no_parent_edge",
                      f"{child} has only self-loop or extra ROOT lines; its parent left unknown")
    for no, p in ins:
        if no == keep_no:
            continue
        if p == child:
            reason = "self_loop"
        elif p == keep:
            reason = "duplicate_edge"
        elif p == ROOT:
            reason = "extra_root"
        else:
            reason = "extra_parent"
        report.drop(rel, f"line {no}", reason, f"{p} -> {child}; kept {keep}")
    return 1


def _time_base(tree_id, edges, rel, report):
    base = snowflake_ms(int(tree_id)) if tree_id.isdigit() else None
    if base is not None:
        return base
    estimates = []
    for _, p, c in edges:
        for n in (p, c):
            if n != ROOT:
                ms = snowflake_ms(int(n[1]))
                if ms is not None:
                    estimates.append(ms - round(float(n[2]) * 60000))
    if not estimates:
        return None
    base = int(statistics.median(estimates))
    report.repair(rel, tree_id, "pre_snowflake_id",
                  f"time base {format_ts(base)} estimated from {len(estimates)} Snowflake tweets")
    return base
