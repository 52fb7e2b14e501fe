"""Reading share events from files: JSONL, JSON arrays, gzip; one message per line or element.

A line that is a JSON array is one message carrying a batch, as on Kafka. A file whose whole content
is one JSON array (possibly pretty-printed over many lines) is split into one message per element.
A file that cannot be read (a folder, no permission, a truncated or corrupt ``.gz``) is a
``ValueError`` naming the file and the last line read: the command stops with that one-line error
rather than answer from part of the input.
"""
from __future__ import annotations

import gzip
import io
import sys
import zlib
from pathlib import Path
from typing import Iterator

import orjson

from streams.compression import HEAD_BYTES, compression_of, compression_of_head


def open_binary(path) -> io.BufferedIOBase:
    """Open a file (or ``-`` for stdin) for binary reading, decompressing ``.gz`` and any
    gzip content whatever its name (a gzip file read as text would be all dead letters)."""
    if str(path) == "-":
        stdin = sys.stdin.buffer
        packed = compression_of_head(stdin.peek(HEAD_BYTES)) == "gzip"
        return gzip.GzipFile(fileobj=stdin, mode="rb") if packed else stdin
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such input file: {p}")
    if p.is_dir():
        raise ValueError(f"{p} is a folder, not an input file (name the files in it)")
    try:
        packed = compression_of(p) == "gzip" or p.suffix == ".gz"
        return gzip.open(p, "rb") if packed else open(p, "rb")
    except OSError as exc:
        raise ValueError(f"cannot read input file {p}: {exc.strerror or exc}") from None


class OversizedLine(bytes):
    """The first bytes of an input line longer than the limit, with the line's whole length in
    ``size``: the rest was read past, never held (the decoder makes it a dead letter)."""

    size: int

    def __new__(cls, head: bytes, size: int):
        obj = super().__new__(cls, head)
        obj.size = size
        return obj


def iter_messages(paths, chunk_lines: int = 0, max_line_bytes: int | None = None) -> Iterator[tuple[bytes, str]]:
    """An iterator of ``(raw message, source)`` for every message in ``paths``; source is
    ``file:line``. Every path is opened once first, so that a missing or unreadable second file
    is an error before the first one is replayed (or sent), not after. With ``max_line_bytes``,
    a line longer than that is yielded as an :class:`OversizedLine` (its first bytes and its
    length), so a file with no newline in gigabytes does not have to fit in memory.
    """
    paths = list(paths)
    for path in paths:
        if str(path) != "-":
            open_binary(path).close()
    return _messages(paths, max_line_bytes)


def _messages(paths, max_line_bytes) -> Iterator[tuple[bytes, str]]:
    for path in paths:
        yield from _file_messages(path, max_line_bytes)


def _lines(fh, limit: int | None) -> Iterator[bytes]:
    """The lines of ``fh``; one longer than ``limit`` comes as an :class:`OversizedLine`.

    >>> import io
    >>> [bytes(x) for x in _lines(io.BytesIO(b"ab\\n" + b"x" * 10 + b"\\ncd"), 5)]
    [b'ab\\n', b'xxxxxx', b'cd']
    >>> [x.size for x in _lines(io.BytesIO(b"ab\\n" + b"x" * 10 + b"\\ncd"), 5) if isinstance(x, OversizedLine)]
    [10]
    """
    if limit is None:
        yield from fh
        return
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        size = len(line)  # read past the rest of the line in bounded pieces
        while True:
            more = fh.readline(1 << 20)
            size += len(more)
            if not more or more.endswith(b"\n"):
                size -= bool(more)  # the newline is not part of the message
                break
        yield OversizedLine(line, size)


def _file_messages(path, max_line_bytes=None) -> Iterator[tuple[bytes, str]]:
    name = str(path)
    lineno = 0
    fh = open_binary(path)
    try:
        head = _peek_nonspace(fh)
        if head == b"[":
            data = fh.read()
            whole = _try_whole_array(data)
            if whole is not None:
                for pos, item in enumerate(whole):
                    yield orjson.dumps(item), f"{name}[{pos}]"
                return
            lines = io.BytesIO(data)
        else:
            lines = fh
        for lineno, line in enumerate(_lines(lines, max_line_bytes), 1):
            if isinstance(line, OversizedLine):
                yield line, f"{name}:{lineno}"
                continue
            line = line.strip()
            if line:
                yield line, f"{name}:{lineno}"
    except (OSError, EOFError, zlib.error) as exc:
        # gzip raises EOFError on a truncated file, BadGzipFile (an OSError) on a file that is
        # not gzip, zlib.error on corrupt blocks.
        where = f" after line {lineno}" if lineno else ""
        raise ValueError(f"cannot read {name}{where}: {exc} (truncated or corrupt file?)") from None
    finally:
        if fh is not sys.stdin.buffer:  # a GzipFile over stdin leaves stdin open when closed
            fh.close()


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
