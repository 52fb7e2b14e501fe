"""Importers: real datasets (folder or .tar.gz) -> v1 share events, with an :class:`ImportReport`.

>>> sorted(DATASETS)
['twitter15-16', 'weibo-ced']

``iter_events(dataset, src)`` returns ``(events, report)``: a generator of event dicts and the
report it fills (complete once the generator is exhausted). ``run_import(dataset, src, out)``
writes them as JSONL to a path (``.gz`` compresses, ``-`` is stdout) or a binary file object.
Every event is checked with :func:`streams.events.validate_event` on the way out; one that
fails is reported (``dropped["invalid_event"]``), never written. A source with no cascade of the
dataset (the other dataset's archive, an empty folder) is a :class:`SourceError`, not an empty
import.
"""
from __future__ import annotations

import gzip
import os
import sys
import time
from pathlib import Path

import orjson

from streams.events import EventError, validate_event
from streams.importers.report import ImportReport, Problem
from streams.importers.source import Source, SourceError
from streams.importers.twitter import iter_twitter
from streams.importers.weibo import iter_weibo

DATASETS = {"weibo-ced": iter_weibo, "twitter15-16": iter_twitter}
# What a source of each dataset holds (for the error when it holds none of it).
LAYOUT = {"weibo-ced": "CED_Dataset/original-microblog/*.json and *-repost/*.json",
          "twitter15-16": "twitter15/tree/*.txt, twitter16/tree/*.txt"}

__all__ = ["DATASETS", "ImportReport", "Problem", "SourceError", "iter_events", "run_import"]


def iter_events(dataset: str, src):
    """``(events, report)`` for ``dataset`` read from ``src`` (folder or archive).

    Raises ``ValueError`` for an unknown dataset and :class:`SourceError` for a missing or
    unreadable ``src`` (before any event is produced).
    """
    reader = DATASETS.get(dataset)
    if reader is None:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(sorted(DATASETS))}")
    source = Source(src)
    report = ImportReport(dataset, str(source))
    return _checked(reader(source, report), report), report


def _checked(pairs, report):
    now_ms = int(time.time() * 1000)
    started = time.perf_counter()
    cpu_started = time.process_time()
    try:
        for event, from_record in pairs:
            try:
                validate_event(event, now_ms)
            except EventError as exc:
                if from_record:
                    report.records_used -= 1
                report.drop(event.get("rumour_id", ""), event.get("event_id", ""), "invalid_event",
                            str(exc), 1 if from_record else 0)
                continue
            report.count_event(event["kind"])
            yield event
    finally:
        report.seconds = time.perf_counter() - started
        report.cpu_seconds = time.process_time() - cpu_started


def run_import(dataset: str, src, out) -> ImportReport:
    """Import ``dataset`` from ``src`` into ``out`` (path, ``-`` or binary file); the report.

    A path is written whole or not at all: the events go to ``<out>.partial`` beside it, renamed
    to ``out`` once the import is complete, so a failed import (a truncated archive, no cascade
    of ``dataset`` in ``src``) leaves no half file and keeps an earlier ``out``.
    """
    if not hasattr(out, "write") and str(out) != "-" and not Path(out).parent.is_dir():
        raise ValueError(f"output folder {Path(out).parent} does not exist")
    if not hasattr(out, "write") and str(out) != "-" and Path(out).is_dir():
        # Found only at the final rename, after the whole import: a traceback, exit 1, and
        # FOLDER.partial left beside it.
        raise ValueError(f"output {out} is a folder; name the file to write (-o {Path(out) / 'events.jsonl'})")
    events, report = iter_events(dataset, src)
    if hasattr(out, "write"):
        _write(events, out)
    elif str(out) == "-":
        _write(events, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        path = Path(out)
        partial = path.with_name(path.name + ".partial")
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(partial, "wb") as fh:
                _write(events, fh)
            _require_cascades(dataset, src, report)
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return report
    _require_cascades(dataset, src, report)
    return report


def _require_cascades(dataset: str, src, report: ImportReport) -> None:
    if report.cascades == 0:
        raise SourceError(f"{src}: no {dataset} cascade in it (expected {LAYOUT[dataset]}); "
                          f"is it the right dataset?")


def _write(events, fh, chunk: int = 4096) -> None:
    buf = []
    dumps = orjson.dumps
    for event in events:
        buf.append(dumps(event))
        if len(buf) >= chunk:
            buf.append(b"")
            fh.write(b"\n".join(buf))
            buf = []
    if buf:
        buf.append(b"")
        fh.write(b"\n".join(buf))
