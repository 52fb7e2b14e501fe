"""Variants of real cascades for the contract audit (benchmarks/contract_audit.py): observation
models of issue 3 and hostile input. Each takes ``{rumour_id: [event dict, ...]}`` and a seeded
``random.Random`` and returns a new dict of new event dicts (the input is never modified).

>>> import random
>>> c = {"r": [{"event_id": "p", "rumour_id": "r", "account_id": "a", "ts": 1_500_000_000_000,
...             "parent_event_id": None, "parent_account_id": None, "kind": "post"},
...            {"event_id": "s", "rumour_id": "r", "account_id": "b", "ts": 1_500_000_060_000,
...             "parent_event_id": "p", "parent_account_id": "a", "kind": "share"}]}
>>> [e["event_id"] for e in VARIANTS["origin_removed_anon"](c, random.Random(1))["r"]]
['s']
>>> VARIANTS["origin_removed_anon"](c, random.Random(1))["r"][0]["parent_account_id"] is None
True
"""
from __future__ import annotations


import orjson

from streams.events import MAX_ID_CHARS, parse_ts
from streams.masking import drop_origin_post
from streams.masking import unlink as _unlink


def _copy(cascades) -> dict:
    return {r: [dict(e) for e in evs] for r, evs in cascades.items()}


def _ms(e) -> int:
    return parse_ts(e["ts"])


def mask(cascades, rng, fraction: float = 0.3) -> dict:
    """``fraction`` of the shares lose both parent ids."""
    out = _copy(cascades)
    for evs in out.values():
        for e in evs:
            if e["kind"] == "share" and rng.random() < fraction:
                _unlink(e)
    return out


def origin_removed(cascades, rng, named: bool) -> dict:
    """The source post is gone. ``named``: its direct shares still name its account (not its
    event), and 30% of the other shares' parents are masked (issue 3's headline model);
    otherwise its direct shares carry no parent at all."""
    out = {}
    for r, evs in (mask(cascades, rng) if named else _copy(cascades)).items():
        kept, _ = drop_origin_post(evs, "account" if named else "none")
        if kept:
            out[r] = kept
    return out


def sample(cascades, rng, fraction: float = 0.2) -> dict:
    """The post and ``fraction`` of the shares observed; links to unobserved shares stay (their
    parents become placeholders known from their children)."""
    out = {}
    for r, evs in _copy(cascades).items():
        out[r] = [e for e in evs if e["kind"] != "share" or rng.random() < fraction]
    return out


def one_event(cascades, rng, kind: str) -> dict:
    """Each rumour is one event: its post, or its first share with no parent."""
    out = {}
    for r, evs in _copy(cascades).items():
        pick = [e for e in evs if e["kind"] == kind]
        if pick:
            e = min(pick, key=lambda x: (_ms(x), x["event_id"]))
            _unlink(e)
            out[r] = [e]
    return out


def shares_only(cascades, rng) -> dict:
    """No post and no parent ids at all: every event is a share to reconstruct."""
    out = {}
    for r, evs in _copy(cascades).items():
        kept = [e for e in evs if e["kind"] == "share"]
        for e in kept:
            _unlink(e)
        if kept:
            out[r] = kept
    return out


def equal_ts(cascades, rng) -> dict:
    """Every event of a rumour at its first event's time (ties everywhere)."""
    out = _copy(cascades)
    for evs in out.values():
        first = min(_ms(e) for e in evs)
        for e in evs:
            e["ts"] = first
    return out


def reversed_ts(cascades, rng) -> dict:
    """Timestamps out of order: the latest time goes to the first event, and so on (children
    come before their parents in time)."""
    out = _copy(cascades)
    for evs in out.values():
        times = sorted(_ms(e) for e in evs)
        for e, t in zip(evs, reversed(times)):
            e["ts"] = t
    return out


def long_ids(cascades, rng) -> dict:
    """Non-ASCII ids of exactly the longest allowed length (256 characters), every id field."""
    def big(tag: str, x):
        if x is None:
            return None
        head = f"{tag}·{x}·"
        return head + "谣" * (MAX_ID_CHARS - len(head))

    out = {}
    for r, evs in _copy(cascades).items():
        rid = big("传言", r)
        for e in evs:
            e["rumour_id"] = rid
            e["event_id"] = big("事件", e["event_id"])
            e["account_id"] = big("账号", e["account_id"])
            e["parent_event_id"] = big("事件", e["parent_event_id"])
            e["parent_account_id"] = big("账号", e["parent_account_id"])
        out[rid] = evs
    return out


VARIANTS = {
    "masked30": mask,
    "origin_removed_named": lambda c, rng: origin_removed(c, rng, True),
    "origin_removed_anon": lambda c, rng: origin_removed(c, rng, False),
    "sampled20": sample,
    "one_event_post": lambda c, rng: one_event(c, rng, "post"),
    "one_event_share": lambda c, rng: one_event(c, rng, "share"),
    "shares_only": shares_only,
    "equal_ts": equal_ts,
    "reversed_ts": reversed_ts,
    "long_ids": long_ids,
}

# Malformed lines: each must become exactly one dead letter; the rest is answered as without them.
_GOOD = {"event_id": "bad-x", "rumour_id": "bad-r", "account_id": "a", "ts": 1_500_000_000_000}
BAD_LINES = [
    b"{oops",
    b"null",
    b"42",
    b"[]",
    b'{"event_id": "x"}',
    b"\xff\xfe not utf-8",
    orjson.dumps({**_GOOD, "account_id": 5}),
    orjson.dumps({**_GOOD, "ts": "yesterday"}),
    orjson.dumps({**_GOOD, "ts": 0}),
    orjson.dumps({**_GOOD, "event_id": "e" * (MAX_ID_CHARS + 1)}),
    orjson.dumps({**_GOOD, "kind": "retweet"}),
    orjson.dumps({**_GOOD, "parent_event_id": "bad-x"}),
    orjson.dumps({**_GOOD, "ts": 1_500_000_000_000.5}),
    b'{"event_id": "bad-y", "rumour_id": "bad-r", "account_id": "a", "ts": NaN}',
    b"[" * 5000 + b"]" * 5000,
]


def with_bad_lines(lines: list, rng) -> list:
    """``lines`` with every :data:`BAD_LINES` entry inserted at a random place."""
    out = list(lines)
    for bad in BAD_LINES:
        out.insert(rng.randrange(len(out) + 1), bad)
    return out


def truncate(cascades, seconds: float) -> dict:
    """The events within ``seconds`` of their rumour's first event (what --observe keeps).

    >>> c = {"r": [{"ts": 1_500_000_000_000}, {"ts": 1_500_003_600_001}]}
    >>> len(truncate(c, 3600)["r"])
    1
    """
    out = {}
    limit = int(seconds * 1000)
    for r, evs in cascades.items():
        first = min(_ms(e) for e in evs)
        out[r] = [e for e in evs if _ms(e) - first <= limit]
    return out
