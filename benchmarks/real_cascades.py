"""Real cascades from ../shared/data as compact per-rumour records (read from the tar, never copied).

``load(dataset, path, limit=None)`` -> list of :class:`RealCascade` in file order; events keep
the importer's order (parents before children).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from streams.events import parse_ts

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
FILES = {"weibo-ced": "weibo-ced-dev.tar.gz", "twitter15-16": "twitter15-16-dev.tar.gz"}
FLAGS = {"weibo-ced": "--weibo", "twitter15-16": "--twitter"}  # the benchmarks' option naming each copy


class RealCascade(NamedTuple):
    rumour_id: str
    event_ids: list
    accounts: list
    ts_ms: np.ndarray
    parents: np.ndarray  # index of the parent event, -1 for the source post
    kinds: list
    texts: list
    label: str | None

    @property
    def origin_account(self) -> str:
        return self.accounts[0]

    def split(self) -> int:
        """0 = training half, 1 = evaluation half (a hash of the rumour id, fixed forever)."""
        return hashlib.sha1(self.rumour_id.encode()).digest()[0] & 1


def default_path(dataset: str) -> str:
    """Where ``dataset`` is read from when no path is given (../shared/data/...)."""
    return str(SHARED_DATA / FILES[dataset])


def load(dataset: str = "weibo-ced", path=None, limit: int | None = None) -> list:
    """Every cascade of ``dataset`` (``limit`` stops early), source post first."""
    from streams.importers import iter_events

    src = Path(path) if path is not None else SHARED_DATA / FILES[dataset]
    events, _ = iter_events(dataset, src)
    out, cur, rid = [], [], None
    for e in events:
        if e["rumour_id"] != rid:
            if cur:
                out.append(_pack(cur))
                if limit is not None and len(out) >= limit:
                    cur = []
                    break
            cur, rid = [], e["rumour_id"]
        cur.append(e)
    if cur:
        out.append(_pack(cur))
    if not out:
        from streams.importers.source import SourceError

        raise SourceError(f"{src}: no {dataset} cascade in it; is it the right dataset?")
    return out


def load_or_exit(ap, dataset: str, path=None, limit: int | None = None) -> list:
    """``load`` for a command line: a missing, unreadable or wrong-dataset file is one
    ``ap.error`` line (exit 2), not a traceback; a missing one names the option to give."""
    from streams.importers.source import SourceError

    try:
        return load(dataset, path, limit)
    except SourceError as exc:
        where = Path(path) if path is not None else SHARED_DATA / FILES[dataset]
        if where.exists():
            ap.error(str(exc))
        # a checkout that is not next to the shared folder: say how to point at a copy
        ap.error(f"{exc}; give the {dataset} archive or its unpacked folder with {FLAGS[dataset]} PATH "
                 f"(by default it is read from {SHARED_DATA}, the shared/data folder beside the project)")


def require_halves(ap, cascades, keep=lambda c: True, what: str = "cascades", fix: str = "raise --limit") -> None:
    """Refuse with one ``ap.error`` line when the training or the evaluation half (``split``)
    holds none of the ``cascades`` that ``keep`` accepts: nothing to fit, or nothing to measure."""
    halves = [0, 0]
    for c in cascades:
        if keep(c):
            halves[c.split()] += 1
    if not all(halves):
        ap.error(f"{halves[0]} training and {halves[1]} evaluation {what} in the {len(cascades)} read: "
                 f"both halves need one ({fix})")


def _pack(events) -> RealCascade:
    # The source post goes first; the importer already lists parents before children.
    events = sorted(events, key=lambda e: e["kind"] != "post")
    pos = {e["event_id"]: i for i, e in enumerate(events)}
    parents = np.array([pos.get(e["parent_event_id"], -1) if e["parent_event_id"] else -1
                        for e in events], np.int64)
    ts = np.array([parse_ts(e["ts"]) for e in events], np.int64)
    label = next((e.get("label") for e in events if e["kind"] == "post"), None)
    return RealCascade(events[0]["rumour_id"], [e["event_id"] for e in events],
                       [e["account_id"] for e in events], ts, parents,
                       [e["kind"] for e in events], [e.get("text") for e in events], label)
