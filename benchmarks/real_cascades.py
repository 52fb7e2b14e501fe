"""Real cascades from ../shared/data as compact per-rumour records (read from the tar, never copied).

``load(dataset, path, limit=None)`` -> list of :class:`RealCascade` in file order; events keep
the importer's order (parents before children). ``shelve(dataset, path, keep)``: those ``keep``
accepts, the same in file order, held in a temporary file and read back one by one (:class:`Shelf`).
"""
from __future__ import annotations

import hashlib
import pickle
from collections.abc import Sequence
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
    src = Path(path) if path is not None else SHARED_DATA / FILES[dataset]
    out = list(_cascades(dataset, src, limit))
    if not out:
        _none_in(dataset, src)
    return out


def shelve(dataset: str = "weibo-ced", path=None, keep=lambda c: True, limit: int | None = None) -> "Shelf":
    """The cascades of ``dataset`` that ``keep`` accepts, as :func:`load` reads them, in a
    :class:`Shelf`: memory holds one cascade at a time instead of the archive (1.4 GB for the
    Weibo one); ``Shelf.read`` counts every cascade read."""
    src = Path(path) if path is not None else SHARED_DATA / FILES[dataset]
    shelf = Shelf.of(_cascades(dataset, src, limit), keep)
    if not shelf.read:
        _none_in(dataset, src)
    return shelf


class Shelf(Sequence):
    """Cascades kept in an unnamed temporary file (gone when the shelf is), one read back per
    ``shelf[i]``: a list of them for code that draws cascades by index, in bounded memory.

    >>> c = RealCascade("r", ["p", "s"], ["a", "b"], np.array([1, 2]), np.array([-1, 0]),
    ...                 ["post", "share"], [None, None], None)
    >>> shelf = Shelf.of([c, c._replace(rumour_id="q")], keep=lambda c: c.rumour_id == "q")
    >>> len(shelf), shelf.read, shelf[0].rumour_id, shelf[-1].accounts, [x.rumour_id for x in shelf]
    (1, 2, 'q', ['a', 'b'], ['q'])
    """

    def __init__(self):
        import tempfile

        self._file = tempfile.TemporaryFile(prefix="rumour-cascades-")
        self._offsets = [0]
        self.read = 0
        self.keep = None  # what chose the cascades (Shelf.of)

    @classmethod
    def of(cls, cascades, keep=lambda c: True) -> "Shelf":
        shelf = cls()
        shelf.keep = keep
        for c in cascades:
            shelf.read += 1
            if keep(c):
                shelf._file.write(pickle.dumps(c, protocol=pickle.HIGHEST_PROTOCOL))
                shelf._offsets.append(shelf._file.tell())
        return shelf

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self))[i]  # an IndexError out of range, negatives from the end
        self._file.seek(self._offsets[i])
        return pickle.loads(self._file.read(self._offsets[i + 1] - self._offsets[i]))


def _cascades(dataset: str, src: Path, limit: int | None = None):
    """The cascades of the archive ``src`` one at a time, in file order (``limit``: the first)."""
    from streams.importers import iter_events

    events, _ = iter_events(dataset, src)
    cur, rid, made = [], None, 0
    for e in events:
        if e["rumour_id"] != rid:
            if cur:
                yield _pack(cur)
                made += 1
                if limit is not None and made >= limit:
                    return
            cur, rid = [], e["rumour_id"]
        cur.append(e)
    if cur:
        yield _pack(cur)


def _none_in(dataset: str, src: Path):
    from streams.importers.source import SourceError

    raise SourceError(f"{src}: no {dataset} cascade in it; is it the right dataset?")


def load_or_exit(ap, dataset: str, path=None, limit: int | None = None, keep=None):
    """``load`` for a command line (``shelve`` with ``keep``): a missing, unreadable or
    wrong-dataset file is one ``ap.error`` line (exit 2), not a traceback; a missing one names
    the option to give."""
    from streams.importers.source import SourceError

    try:
        return load(dataset, path, limit) if keep is None else shelve(dataset, path, keep, limit)
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
