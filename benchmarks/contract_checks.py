"""Invariants of one `rumour trace --json` answer, checked against the events it was given
(benchmarks/contract_audit.py, tests/test_contract_*.py). Each check returns a list of
violations (empty = fine); nothing here looks at how the engine computed the answer.

>>> evs = [{"event_id": "p", "account_id": "a", "ts": 1_500_000_000_000, "kind": "post",
...         "parent_event_id": None, "parent_account_id": None}]
>>> ok = {"rumour_id": "r", "events": 1, "cutoff": [],
...       "origins": [{"account_id": "a", "event_id": "p", "ts": "2017-07-14T02:40:00.000Z",
...                    "reach": 1, "confidence": 0.9}]}
>>> check_answer(ok, evs, 10, False, False)
[]
>>> [v[:40] for v in check_answer({**ok, "origins": [{**ok["origins"][0], "confidence": float("nan")}]},
...                                evs, 10, False, False)]
['origin p: confidence nan is not a finite', 'not valid JSON: Out of range float value']
"""
from __future__ import annotations

import json
import math

KEYS = {"rumour_id", "events", "origins", "cutoff"}
ORIGIN_KEYS = {"account_id", "event_id", "ts", "reach", "confidence"}


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def missing_parent_shares(evs) -> set:
    """Present shares with no parent: no parent ids, or a parent event that never arrived
    whose account neither it nor a sibling names (the engine's semantics, graph/cascade.py)."""
    first = {}
    for e in evs:
        first.setdefault(e["event_id"], e)
    named: dict = {}
    for e in first.values():
        p = e.get("parent_event_id")
        if p and p not in first and e.get("parent_account_id"):
            named[p] = True
    out = set()
    for e in first.values():
        if e.get("kind", "share") != "share":
            continue
        p, pa = e.get("parent_event_id"), e.get("parent_account_id")
        if not p and not pa:
            out.add(e["event_id"])
        elif p and p not in first and not named.get(p):
            out.add(e["event_id"])
    return out


def check_answer(answer, evs, k: int, parents: bool, observed: bool) -> list:
    """Violations of the contract by ``answer`` for the accepted events ``evs`` of its rumour
    (already cut to the --observe window when ``observed``)."""
    bad = []
    if answer is None:
        return ["no answer"]
    want = KEYS | ({"parents"} if parents else set())
    if set(answer) != want:
        bad.append(f"keys {sorted(answer)} != {sorted(want)}")
    first = {}
    for e in evs:
        first.setdefault(e["event_id"], e)
    if answer.get("events") != len(first):
        bad.append(f"events {answer.get('events')} != {len(first)} distinct events given")
    origins = answer.get("origins") or []
    if first and not origins:
        bad.append("no origin for a rumour with events")
    named_parents = {e.get("parent_event_id") for e in first.values()} - {None}
    for o in origins:
        if set(o) != ORIGIN_KEYS:
            bad.append(f"origin keys {sorted(o)}")
        c = o.get("confidence")
        if not _number(c) or not 0.0 <= c <= 1.0:
            bad.append(f"origin {o.get('event_id')}: confidence {c} is not a finite number in [0, 1]")
        if not isinstance(o.get("reach"), int) or o["reach"] < 1:
            bad.append(f"origin {o.get('event_id')}: reach {o.get('reach')}")
        e = o.get("event_id")
        if e is not None and e not in first and e not in named_parents:
            bad.append(f"origin {e} is no event of the rumour (or outside the window)")
    if sum(o.get("reach", 0) for o in origins if isinstance(o.get("reach"), int)) != len(first):
        bad.append(f"origins' reach sums to {sum(o.get('reach', 0) for o in origins)}, not {len(first)}")
    cut = answer.get("cutoff") or []
    if len(cut) > max(k, 0):
        bad.append(f"{len(cut)} cut-off accounts for k={k}")
    cut_accounts = [c.get("account_id") for c in cut]
    if len(set(cut_accounts)) != len(cut_accounts):
        bad.append("a cut-off account is listed twice")
    if set(cut_accounts) & {o.get("account_id") for o in origins}:
        bad.append(f"cut-off accounts {sorted(set(cut_accounts) & {o['account_id'] for o in origins})} are origins")
    accounts = {e["account_id"] for e in first.values()}
    for c in cut:
        if c.get("account_id") not in accounts:
            bad.append(f"cut-off account {c.get('account_id')} has no event (in the window)")
        if not isinstance(c.get("prevented"), int) or c["prevented"] < 0:
            bad.append(f"cut-off {c.get('account_id')}: prevented {c.get('prevented')}")
        if "forecast" in c and (not _number(c["forecast"]) or c["forecast"] < 0):
            bad.append(f"cut-off {c.get('account_id')}: forecast {c['forecast']}")
    if parents:
        bad.extend(check_parents(answer.get("parents"), first))
    try:
        json.dumps(answer, allow_nan=False)
    except ValueError as exc:
        bad.append(f"not valid JSON: {exc}")
    return bad


def check_parents(par, first: dict) -> list:
    """``parents`` keys are exactly the shares whose parent is missing; each value is null or
    an event id of the rumour (an event or a parent its children name), not the key, and the
    links with the observed ones form no cycle."""
    if not isinstance(par, dict):
        return [f"parents is {type(par).__name__}"]
    bad = []
    want = missing_parent_shares(first.values())
    # A share linked only by parent_account_id may also be a key: the engine resolves such
    # links at query time and makes one of them a root to break a cycle of account links
    # (graph/cascade.py); which one is its rule, not something to re-derive here.
    account_only = {e for e, v in first.items() if v.get("kind", "share") == "share"
                    and not v.get("parent_event_id") and v.get("parent_account_id")}
    if not want <= set(par) or set(par) - want - account_only:
        extra, lost = sorted(set(par) - want - account_only), sorted(want - set(par))
        bad.append(f"parents keys: {len(extra)} extra {extra[:3]}, {len(lost)} missing {lost[:3]}")
    ids = set(first) | {e.get("parent_event_id") for e in first.values()} - {None}
    link = {e: (v.get("parent_event_id")) for e, v in first.items()}
    for key, v in par.items():
        if v is None:
            continue
        if v == key:
            bad.append(f"parent of {key} is itself")
        elif v not in ids:
            bad.append(f"parent {v} of {key} is no event of the rumour")
        link[key] = v
    for key in par:
        seen, x = {key}, link.get(key)
        while x is not None:
            if x in seen:
                bad.append(f"parents close a cycle through {key}")
                break
            seen.add(x)
            x = link.get(x)
    return bad


def same_answers(expected: dict, got: dict) -> list:
    """Differences between two runs' answers by rumour (order invariance, window checks)."""
    bad = []
    for rid in sorted(set(expected) | set(got)):
        a, b = expected.get(rid), got.get(rid)
        if a != b:
            bad.append(f"rumour {rid}: answer differs: {_first_difference(a, b)}")
    return bad


def _first_difference(a, b) -> str:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return f"{str(a)[:120]} vs {str(b)[:120]}"
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            x, y = a.get(key), b.get(key)
            if isinstance(x, dict) and isinstance(y, dict):
                diff = [k for k in sorted(set(x) | set(y)) if x.get(k) != y.get(k)]
                return f"{key}: {len(diff)} entries differ, e.g. {diff[:1]}: {x.get(diff[0])} vs {y.get(diff[0])}"
            return f"{key}: {str(x)[:200]} vs {str(y)[:200]}"
    return "?"
