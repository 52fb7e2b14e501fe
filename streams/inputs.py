"""Reading share events from files: JSONL, JSON arrays, gzip; one message per line or element.

A line that is a JSON array is one message carrying a batch, as on Kafka. A file whose whole content
is one JSON array (possibly pretty-printed over many lines) is split into one message per element.
"""
from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path
from typing import Iterator

import orjson


def open_binary(path) -> io.BufferedIOBase:
    """Open a file (or ``-`` for stdin) for binary reading, decompressing ``.gz``."""
    if str(path) == "-":
        return sys.stdin.buffer
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such input file: {p}")
    if p.suffix == ".gz":
        return gzip.open(p, "rb")
    return open(p, "rb")


def iter_messages(paths, chunk_lines: int = 0) -> Iterator[tuple[bytes, str]]:
    """Yield ``(raw message, source)`` for every message in ``paths``; source is ``file:line``."""
    for path in paths:
        name = str(path)
        with open_binary(path) as fh:
            head = _peek_nonspace(fh)
            if head == b"[":
                data = fh.read()
                whole = _try_whole_array(data)
                if whole is not None:
                    for pos, item in enumerate(whole):
                        yield orjson.dumps(item), f"{name}[{pos}]"
                    continue
                lines = io.BytesIO(data)
            else:
                lines = fh
            for lineno, line in enumerate(lines, 1):
                line = line.strip()
                if line:
                    yield line, f"{name}:{lineno}"


def _peek_nonspace(fh) -> bytes:
    peek = getattr(fh, "peek", None)
    if peek is None:
        return b""
    head = peek(4096)[:4096].lstrip()
    return head[:1]


def _try_whole_array(data: bytes):
    # A file that is one JSON array (not JSONL of arrays) parses as a whole; JSONL with
    # several lines of arrays does not, and falls back to one message per line.
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, list) else None


def chunked(iterable, size: int):
    """Group ``(message, source)`` pairs into lists of at most ``size``."""
    msgs, srcs = [], []
    for msg, src in iterable:
        msgs.append(msg)
        srcs.append(src)
        if len(msgs) >= size:
            yield msgs, srcs
            msgs, srcs = [], []
    if msgs:
        yield msgs, srcs
