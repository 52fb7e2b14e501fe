"""Masked and origin-removed variants of a cascade: the observation models the benchmarks measure
(issue 3), in one place for `rumour mask`, benchmarks/parents_real.py and
benchmarks/contract_variants.py.

A *share* here is an event whose ``parent_event_id`` names an event of its rumour. Masking
removes both parent ids of a share; removing the origin drops the rumour's post(s), and their
direct shares then keep both ids (``origin_link="event"``: the post survives as a placeholder
named by its children), only the account they reposted (``"account"``), or nothing (``"none"``).
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import orjson

ORIGIN_LINKS = ("event", "account", "none")


def unlink(e: dict) -> None:
    """Remove both parent ids of event ``e`` (in place)."""
    e["parent_event_id"] = None
    e["parent_account_id"] = None


def drop_origin_post(events: list, origin_link: str = "event") -> tuple:
    """``(kept, relinked)``: ``events`` without the post(s); the direct shares of a post keep
    what ``origin_link`` says of their link (changed in place); ``relinked`` counts them.

    >>> evs = [{"event_id": "p", "kind": "post", "parent_event_id": None, "parent_account_id": None},
    ...        {"event_id": "s", "kind": "share", "parent_event_id": "p", "parent_account_id": "a"}]
    >>> kept, n = drop_origin_post(evs, "account")
    >>> [(e["event_id"], e["parent_event_id"], e["parent_account_id"]) for e in kept], n
    ([('s', None, 'a')], 1)
    """
    if origin_link not in ORIGIN_LINKS:
        raise ValueError(f"origin_link must be one of {', '.join(ORIGIN_LINKS)}, got {origin_link!r}")
    posts = {e["event_id"] for e in events if e.get("kind") == "post"}
    kept, relinked = [], 0
    for e in events:
        if e["event_id"] in posts:
            continue
        if e.get("parent_event_id") in posts:
            relinked += 1
            if origin_link != "event":
                e["parent_event_id"] = None
            if origin_link == "none":
                e["parent_account_id"] = None
        kept.append(e)
    return kept, relinked


def mask_rumour(events, fraction: float, rng: np.random.Generator, drop_origin: bool = False,
                origin_link: str = "event") -> tuple:
    """``(events, counts)`` of one rumour's variant: copies of ``events``, the post first,
    without the post when ``drop_origin``; exactly ``round(fraction * shares)`` of the shares,
    chosen with ``rng``, lose both parent ids. ``counts``: shares, masked, posts_dropped,
    origin_shares (direct shares of a dropped post not masked). ``events`` is not modified.

    >>> evs = [{"event_id": "p", "kind": "post", "parent_event_id": None, "parent_account_id": None}]
    >>> evs += [{"event_id": f"s{i}", "kind": "share", "parent_event_id": "p", "parent_account_id": "a"}
    ...         for i in range(4)]
    >>> out, counts = mask_rumour(evs, 0.5, np.random.default_rng(1), drop_origin=True)
    >>> len(out), sum(e["parent_event_id"] is None for e in out), counts["origin_shares"]
    (4, 2, 2)
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"mask fraction must be between 0 and 1, got {fraction}")
    evs = [dict(e) for e in sorted(events, key=lambda e: e.get("kind") != "post")]
    ids = {e["event_id"] for e in evs}
    posts = sum(e.get("kind") == "post" for e in evs) if drop_origin else 0
    kept = evs[posts:]  # the posts sort first
    shares = np.array([i for i, e in enumerate(kept) if e.get("parent_event_id") in ids], np.int64)
    size = int(round(fraction * len(shares)))
    for i in rng.choice(shares, size=size, replace=False).tolist() if len(shares) else ():
        unlink(kept[i])
    relinked = 0
    if drop_origin:
        kept, relinked = drop_origin_post(evs, origin_link)
    return kept, {"shares": len(shares), "masked": size, "posts_dropped": posts,
                  "origin_shares": relinked}


def mask_file(path, out_path, fraction: float, seed: int, drop_origin: bool = False,
              origin_link: str = "event") -> dict:
    """Write the variant of every rumour in ``path`` (JSONL, JSON array or .gz) to ``out_path``
    as JSONL; rumour number ``i`` (in the order of first appearance) is masked with
    ``default_rng((seed, i))``, as benchmarks/parents_real.py does. Returns the summed counts
    and ``rumours``, ``events_in``, ``events_out``. A line that is not a share event with
    ``rumour_id`` and ``event_id`` is refused (ValueError naming it) before anything is written.

    Memory holds one rumour at a time, not the file: the input is read once, each event checked
    and its bytes set aside in a temporary file beside ``out_path`` (unlinked at once, so nothing
    is left behind), with where each rumour's runs of lines lie; then each rumour is read back
    whole, masked and written, in the order of first appearance (the events of a rumour that
    comes back later in the file join it, as when the file was held whole)."""
    if not 0 <= fraction <= 1:  # before reading a large file
        raise ValueError(f"--mask-parents must be a fraction between 0 and 1, got {fraction}")
    if origin_link not in ORIGIN_LINKS:
        raise ValueError(f"--origin-link must be one of {', '.join(ORIGIN_LINKS)}, got {origin_link!r}")
    with _spill_file(Path(out_path)) as spill:
        runs, events_in = _set_aside(path, spill)
        counts = {"rumours": len(runs), "events_in": events_in, "events_out": 0, "shares": 0,
                  "masked": 0, "posts_dropped": 0, "origin_shares": 0}
        with open(out_path, "wb") as out:
            for i, where in enumerate(runs.values()):
                kept, c = mask_rumour(_read_back(spill, where), fraction,
                                      np.random.default_rng((seed, i)), drop_origin, origin_link)
                for k, v in c.items():
                    counts[k] += v
                counts["events_out"] += len(kept)
                out.write(b"".join(orjson.dumps(e) + b"\n" for e in kept))
    return counts


def _spill_file(out: Path):
    """An unnamed temporary file beside ``out`` (where room for the output is), or in the
    temporary folder when ``out`` is no file there (``/dev/stdout``, a pipe) or the folder
    refuses it."""
    import tempfile

    if not out.exists() or out.is_file():
        try:
            return tempfile.TemporaryFile(prefix=".rumour-mask-", dir=out.parent)
        except OSError:
            pass
    return tempfile.TemporaryFile(prefix="rumour-mask-")


_LEN = struct.Struct("<I")  # each event set aside as its length and its bytes


def _set_aside(path, spill) -> tuple:
    """Check every message of ``path`` (the errors of :func:`mask_file`) and write it to
    ``spill``; returns ``({rumour_id: [[offset, bytes], ...]}, events)``, the runs of
    consecutive events of each rumour, rumours in order of first appearance."""
    from streams.inputs import iter_messages

    runs: dict = {}
    events = 0
    last = None  # the run the previous event went to
    last_rid = None
    for raw, source in iter_messages([path]):
        try:
            e = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{source}: not JSON ({exc}); nothing written") from None
        if not isinstance(e, dict) or not isinstance(e.get("rumour_id"), str) \
                or not isinstance(e.get("event_id"), str):
            raise ValueError(f"{source}: not a share event (needs string rumour_id and event_id); "
                             "nothing written")
        rid = e["rumour_id"]
        record = _LEN.pack(len(raw)) + raw
        if rid != last_rid:
            last = [spill.tell(), 0]
            runs.setdefault(rid, []).append(last)
            last_rid = rid
        spill.write(record)
        last[1] += len(record)
        events += 1
    return runs, events


def _read_back(spill, where) -> list:
    """The events of one rumour set aside by :func:`_set_aside` (its runs), parsed again."""
    events = []
    for offset, size in where:
        spill.seek(offset)
        data = memoryview(spill.read(size))
        pos = 0
        while pos < size:
            (n,) = _LEN.unpack_from(data, pos)
            events.append(orjson.loads(data[pos + 4:pos + 4 + n]))
            pos += 4 + n
    return events
