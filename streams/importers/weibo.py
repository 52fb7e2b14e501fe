"""Weibo CED (thunlp/Chinese_Rumor_Dataset, ``CED_Dataset/``) -> v1 share events.

One cascade per ``original-microblog/<n>_<mid>_<uid>.json`` with its reposts in
``rumor-repost/`` or ``non-rumor-repost/`` (same file name). Mapping:

* ``rumour_id`` = the source post's mid; the source post is a ``post`` event by the uid in the
  file name, with ``region`` = the author's raw ``user.location`` (null when the data has no
  user), ``text`` and an extra ``label`` field (``rumor`` / ``non-rumor``, from the folder).
* every repost record is a ``share`` (the dataset README says it does not tell comments from
  reposts) with ``event_id`` = its mid; parent ``""`` means the source post.

Repairs (each reported): duplicated mids are merged into one event (a specific parent beats
``""``; among specific parents the first one not dated after the record); yearless dates get a
year (:mod:`.weibo_time`); a loop is cut, leaving its earliest member's parent unknown; times
are made monotone along parent links (:mod:`.tree`). A parent mid outside the cascade is left
unknown (noted ``parent_missing`` with the mid): the repost is not attached to the source post,
a hop nobody observed; a trace stops at it and ``rumour trace --parents`` infers its parent as a
lead.
"""
from __future__ import annotations

import re

import orjson

from streams.events import MAX_SHORT_CHARS, MAX_TEXT_CHARS
from streams.importers.tree import Node, node_event, settle
from streams.importers.weibo_time import (_fast_full, format_cn, parse_repost_date, parse_source_time,
                                          resolve_yearless)

PLATFORM = "weibo"
_PART = re.compile(r"(?:^|/)(original-microblog|rumor-repost|non-rumor-repost)/([^/]+\.json)$")
_NAME = re.compile(r"(\d+)_([^_]+)_(.+)\.json")
_LABEL = {"rumor-repost": "rumor", "non-rumor-repost": "non-rumor"}


def iter_weibo(source, report):
    """Yield ``(event, from_record)`` for every cascade of ``source`` (a :class:`Source`)."""
    for name, parts in _cascade_files(source, report):
        yield from _cascade(name, parts, report)


def _cascade_files(source, report):
    """Pair each original with its repost file; a tar is streamed, so pairs are completed as
    members arrive (in the CED archive they are adjacent)."""
    pending: dict = {}
    done: set = set()
    order = lambda rel: (rel.rsplit("/", 1)[-1], rel)  # noqa: E731 - folder: pairs side by side
    for rel, data in source.files(order):
        m = _PART.search(rel)
        if not m:
            continue  # README and other non-data files
        part, name = m.groups()
        if name in done:
            _drop_extra(rel, data, part, report)
            continue
        parts = pending.setdefault(name, {})
        if part in parts or (part != "original-microblog" and any(p in _LABEL for p in parts)):
            _drop_extra(rel, data, part, report)
            continue
        parts[part] = (rel, data)
        if len(parts) == 2:
            done.add(name)
            yield name, pending.pop(name)
    for name in sorted(pending):
        yield name, pending.pop(name)


def _drop_extra(rel, data, part, report):
    n = 0
    if part != "original-microblog":
        try:
            records = orjson.loads(data)
            n = len(records) if isinstance(records, list) else 1
        except orjson.JSONDecodeError:
            n = 1
    report.records_in += n
    report.drop(rel, "*", "extra_file", "a second file for a cascade already read; ignored", n)


def _load(rel, data, report):
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        report.note(rel, "*", "unreadable_json", str(exc))
        return None


def _cascade(name, parts, report):
    m = _NAME.fullmatch(name)
    orig_rel, orig_data = parts.get("original-microblog", (None, None))
    part = next((p for p in parts if p in _LABEL), None)
    rep_rel, rep_data = parts[part] if part else (None, None)
    records = _load(rep_rel, rep_data, report) if rep_rel else []
    if records is None or not isinstance(records, list):
        report.records_in += 1
        report.drop(rep_rel, "*", "unreadable_reposts", "repost file is not a JSON list")
        records = []
    report.records_in += len(records)
    file = rep_rel or orig_rel
    if not m:
        report.drop(file, "*", "bad_file_name", f"{name!r} is not <n>_<mid>_<uid>.json", len(records))
        return
    src_mid, src_uid = m.group(2), m.group(3)
    orig = _load(orig_rel, orig_data, report) if orig_rel else None
    if rep_rel is None:
        report.note(orig_rel, src_mid, "reposts_missing", "no repost file; the cascade is the post alone")
    if not isinstance(orig, dict):
        if orig_rel is None:
            report.repair(file, src_mid, "original_missing",
                          "no original-microblog file; source post rebuilt from the file name")
        orig = {}
    nodes, order, cands, undated = _read_records(records, src_mid, file, report)
    src_ms = _source_time(orig, nodes, undated, file, src_mid, report)
    if src_ms is None:
        report.drop(file, "*", "no_time", "neither the source post nor any repost has a readable time",
                    len(nodes))
        return
    _resolve_dates(nodes, order, cands, undated, src_ms, file, report)
    _choose_parents(nodes, cands, src_mid, file, report)
    region, text = _post_fields(orig, file, src_mid, report)
    root = Node(src_mid, src_uid, src_ms, None, "post", text, src_mid)
    nodes[src_mid] = root
    label = _LABEL.get(part)
    report.cascades += 1
    if label:
        report.labels[label] += 1
    for node in settle(nodes, src_mid, report, file):
        event = node_event(node, nodes, src_mid, format_cn(node.ts_ms), PLATFORM,
                           region if node is root else None, node.text)
        if node is root:
            event["label"] = label
            yield event, False
        else:
            report.records_used += 1
            yield event, True


def _read_records(records, src_mid, file, report):
    """Nodes by mid (first occurrence), file order, every parent each mid was given, and the
    dates still to resolve (mid -> yearless parts or the parse error)."""
    nodes: dict = {}
    undated: dict = {}
    order: list = []
    cands: dict = {}
    for i, rec in enumerate(records):
        if type(rec) is not dict:
            report.drop(file, f"#{i}", "bad_record", "not a JSON object")
            continue
        mid, uid = rec.get("mid"), rec.get("uid")
        if type(mid) is not str or not mid or mid.isspace():
            report.drop(file, f"#{i}", "missing_mid")
            continue
        if type(uid) is not str:
            uid = str(uid) if type(uid) is int else ""
        if not uid or uid.isspace():
            report.drop(file, mid, "missing_uid")
            continue
        if mid == src_mid:
            report.drop(file, mid, "source_repeated", "a repost record with the source post's mid")
            continue
        parent = rec.get("parent")
        if type(parent) is not str or parent == src_mid:
            parent = ""
        if mid in nodes:
            cands[mid].append(parent)
            report.drop(file, mid, "duplicate_record", f"record {i} repeats mid {mid}; merged into the first")
            continue
        date = rec.get("date")
        ms = _fast_full(date) if type(date) is str else None
        if ms is None:  # not the common "YYYY-MM-DD HH:MM:SS"
            try:
                ms, pending = parse_repost_date(date)
            except ValueError as exc:
                pending = exc
            if ms is None:
                undated[mid] = pending
        text = rec.get("text") or None
        if text is not None and (type(text) is not str or len(text) > MAX_TEXT_CHARS):
            text = _long_text(text, file, mid, report)
        nodes[mid] = Node(mid, uid, ms if ms is not None else -1, None, "share", text, mid)
        order.append(mid)
        cands[mid] = [parent]
    return nodes, order, cands, undated


def _long_text(text, file, mid, report):
    if type(text) is not str:
        report.repair(file, mid, "text_not_string", f"{type(text).__name__}; left null")
        return None
    report.repair(file, mid, "text_truncated", f"{len(text)} characters")
    return text[:MAX_TEXT_CHARS]


def _source_time(orig, nodes, undated, file, src_mid, report):
    try:
        return parse_source_time(orig.get("time"))
    except ValueError as exc:
        dated = [n.ts_ms for n in nodes.values() if n.key not in undated]
        if not dated:
            return None
        report.repair(file, src_mid, "source_time_unreadable", f"{exc}; set to the earliest repost")
        return min(dated)


def _resolve_dates(nodes, order, cands, undated, src_ms, file, report):
    """Give yearless and unreadable dates a time, oldest record (end of the file) first."""
    below = src_ms  # the nearest older record already placed; files list newest first
    for mid in reversed(order):
        node = nodes[mid]
        if mid not in undated:  # dated, or resolved earlier in this pass
            below = node.ts_ms
            continue
        lower = max(src_ms, below)
        parent = next((p for p in cands[mid] if p in nodes), None)
        if parent is not None and parent not in undated:
            lower = max(lower, nodes[parent].ts_ms)
        pending = undated.pop(mid)
        if isinstance(pending, tuple):
            node.ts_ms = resolve_yearless(pending, lower)
            report.repair(file, mid, "yearless_date",
                          f"{pending[0]:02d}-{pending[1]:02d} {pending[2]:02d}:{pending[3]:02d} "
                          f"-> {format_cn(node.ts_ms)}")
        else:
            node.ts_ms = lower
            report.repair(file, mid, "date_unreadable", f"{pending}; set to {format_cn(lower)}")
        below = node.ts_ms


def _choose_parents(nodes, cands, src_mid, file, report):
    for mid, options in cands.items():
        node = nodes[mid]
        known = [p for p in options if p and p in nodes and p != mid]
        missing = [p for p in options if p and p not in nodes]
        if known:
            fits = [p for p in known if nodes[p].ts_ms <= node.ts_ms]
            node.parent = (fits or known)[0]
        else:
            # A parent outside the cascade is left for settle to note and leave unknown:
            # attaching the repost to the source post would invent a hop a trace shows as evidence.
            node.parent = missing[0] if missing else src_mid
        if len(set(options)) > 1:
            report.note(file, mid, "duplicate_parents",
                        f"copies name parents {sorted(set(p or '<source>' for p in options))}; "
                        f"kept {node.parent if node.parent != src_mid else '<source>'}")


def _post_fields(orig, file, src_mid, report):
    user = orig.get("user")
    region = None
    if isinstance(user, dict):
        loc = user.get("location")
        if isinstance(loc, str) and loc.strip():
            region = loc.strip()
            if len(region) > MAX_SHORT_CHARS:
                report.repair(file, src_mid, "region_truncated", region)
                region = region[:MAX_SHORT_CHARS]
    else:
        report.note(file, src_mid, "user_missing", f"user is {str(user)[:20]!r}; region left null")
    text = orig.get("text")
    text = text if isinstance(text, str) and text else None
    if text is not None and len(text) > MAX_TEXT_CHARS:
        report.repair(file, src_mid, "text_truncated", f"{len(text)} characters")
        text = text[:MAX_TEXT_CHARS]
    return region, text
