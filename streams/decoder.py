"""Decoding raw messages (bytes) of the v1 share-event format into an :class:`EventBatch` plus
dead letters: single events, JSON arrays of events and columnar batches (streams/events.py
describes the format, streams/events_columnar.py the columnar form)."""
from __future__ import annotations

import time
from itertools import repeat

import orjson

from streams import events_columnar as ec
from streams.events import (MAX_EVENT_BYTES, MAX_MESSAGE_BYTES, DeadLetter, EventBatch, EventError,
                            validate_event)
from streams.json_columns import FIELDS as _FIELDS
from streams.json_columns import array_batch_columns
_DICT = {dict}
_BYTES = {bytes}


def json_error_reason(raw: bytes, exc: Exception) -> str:
    """The dead-letter reason of a message orjson refused. orjson reports any invalid UTF-8 as
    "str is not valid UTF-8: surrogates not allowed", which names neither the byte nor where it is.

    >>> json_error_reason(b'{"a": 1', ValueError("unexpected end of data"))
    'invalid JSON: unexpected end of data'
    >>> json_error_reason(b'{"account_id": "' + bytes([0xff]) + b'"}', ValueError("surrogates not allowed"))
    'invalid JSON: not UTF-8 (byte 0xff at offset 16)'
    """
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"invalid JSON: not UTF-8 (byte 0x{raw[bad.start]:02x} at offset {bad.start})"
    return f"invalid JSON: {exc}"


class Decoder:
    """Turns raw messages (bytes) into an :class:`EventBatch` plus dead letters.

    >>> d = Decoder()
    >>> batch, dead = d.decode([b'{"event_id":"e1","rumour_id":"r","account_id":"a","ts":1347557095000}', b'not json'])
    >>> len(batch), [x.reason[:12] for x in dead]
    (1, ['invalid JSON'])
    """

    min_array_columns = 16  # shorter JSON arrays go event by event: column set-up costs as much
    # JSON arrays of events read into columns from their bytes (streams/json_columns.py) before
    # orjson; False only in tests, to compare with orjson's path.
    scan_bytes = True

    def __init__(self, max_message_bytes: int = MAX_MESSAGE_BYTES,
                 max_event_bytes: int = MAX_EVENT_BYTES):
        self.max_message_bytes = max_message_bytes
        self.max_event_bytes = max_event_bytes

    def decode(self, messages, sources=None, now_ms: int | None = None):
        """Decode ``messages`` (an iterable of bytes); ``sources`` names each (e.g. file:line).

        Returns ``(batch, dead_letters)``; every event of every message is in one or the other
        (a message that cannot be parsed is one dead letter).
        """
        if now_ms is None:
            now_ms = int(time.time() * 1000)
        rows: list = []  # validated events (tuples) not yet in a part
        parts: list = []  # EventBatch parts in arrival order (columnar messages come as one)
        dead: list = []
        if type(messages) is list and len(messages) >= self.min_array_columns:
            # With sources too (the worker's topic/partition@offset): only dead letters carry one.
            batch, objs = self._singles_as_columns(messages, now_ms)
            if batch is not None:
                return batch, []
            if objs is not None:  # parsed already: judged one by one without parsing again
                names = repeat("") if sources is None else sources
                for raw, obj, source in zip(messages, objs, names):
                    self._decode_obj(obj, raw, source, now_ms, rows, dead, parts)
                return self._finish(rows, dead, parts)
        src_iter = iter(sources) if sources is not None else None
        for raw in messages:
            source = next(src_iter) if src_iter is not None else ""
            self._decode_one(raw, source, now_ms, rows, dead, parts)
        return self._finish(rows, dead, parts)

    @staticmethod
    def _finish(rows, dead, parts):
        if not parts:
            return _to_batch(rows), dead
        if rows:
            parts.append(_to_batch(rows))
        return (parts[0] if len(parts) == 1 else EventBatch.concat(parts)), dead

    def _decode_one(self, raw, source, now_ms, rows, dead, parts):
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        size = getattr(raw, "size", len(raw))  # an OversizedLine of streams.inputs: its whole length
        if size > self.max_message_bytes:
            dead.append(DeadLetter(bytes(raw[:self.max_event_bytes]), f"message too large: {size} bytes "
                                   f"(limit {self.max_message_bytes}); first bytes kept",
                                   source, now_ms))
            return
        if self.scan_bytes and type(raw) is bytes and self._scanned(raw, now_ms, rows, parts):
            return
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            dead.append(DeadLetter(raw, json_error_reason(raw, exc), source, now_ms))
            return
        self._decode_obj(obj, raw, source, now_ms, rows, dead, parts)

    def _scanned(self, raw: bytes, now_ms, rows, parts) -> bool:
        """A JSON array of events read into columns from its bytes and
        checked column-wise into a part: what orjson's path gives when every event is valid
        (the same ``fast_batch``). False, touching nothing, when the scanner does not read the
        message exactly or some event is invalid: orjson's path then judges it as before."""
        if raw[:1] != b"[":  # a columnar batch: orjson reads it faster (~0.16 us per event
            return False      # against the scanner's ~0.39, session 22: str objects dominate)
        got = array_batch_columns(raw)
        if got is None or got[1] < self.min_array_columns:
            return False
        batch = ec.fast_batch(*got[:2], now_ms, got[2])
        if batch is None:
            return False
        _append_part(parts, rows, batch)
        return True

    def _decode_obj(self, obj, raw, source, now_ms, rows, dead, parts):
        """One parsed message: an array of events, a columnar batch or one event."""
        if isinstance(obj, list):
            if not obj:
                dead.append(DeadLetter(raw, "empty batch: a JSON array with no events", source, now_ms))
            elif self._array_columns(obj, now_ms, rows, parts):
                return
            for pos, item in enumerate(obj):
                self._accept(item, None, f"{source}[{pos}]" if source else f"[{pos}]",
                             now_ms, rows, dead)
        elif type(obj) is dict and "columns" in obj and "event_id" not in obj:
            self._decode_columns(obj, raw, source, now_ms, rows, dead, parts)
        else:
            self._accept(obj, raw, source, now_ms, rows, dead)

    def _singles_as_columns(self, messages: list, now_ms):
        """Many one-event messages (Kafka's one event per message) checked column-wise like one
        JSON array of them: the per-event ``validate_event`` call is most of their decode cost.

        Returns ``(batch, None)`` when every message is bytes, within both size limits, parses
        on its own (each is parsed alone: joining them into one array would let two broken
        messages pass as one valid pair) and is a valid event. Otherwise ``(None, objs)`` with
        the parsed messages when all of them parsed (the caller judges them one by one without
        parsing again), or ``(None, None)``; dead letters and their reasons stay those of the
        message-by-message path. Arrays (``[`` first) never get here."""
        limit = min(self.max_event_bytes, self.max_message_bytes)
        if (set(map(type, messages)) != _BYTES or max(map(len, messages)) > limit
                or any(m[:1] != b"{" for m in messages)):
            return None, None
        try:
            objs = list(map(orjson.loads, messages))
        except orjson.JSONDecodeError:
            return None, None
        if set(map(type, objs)) != _DICT or any("event_id" not in o and "columns" in o for o in objs):
            return None, objs  # e.g. a columnar batch among them
        n = len(objs)
        columns = {name: list(map(dict.get, objs, repeat(name, n))) for name in _FIELDS}
        return ec.fast_batch(columns, n, now_ms), objs

    def _array_columns(self, obj: list, now_ms, rows, parts) -> bool:
        """An array of event objects read field by field into columns and checked column-wise
        (C-level loops, no per-event call); False, touching nothing, unless every event is valid."""
        if len(obj) < self.min_array_columns or set(map(type, obj)) != _DICT:
            return False
        columns = {name: list(map(dict.get, obj, repeat(name, len(obj)))) for name in _FIELDS}
        batch = ec.fast_batch(columns, len(obj), now_ms)
        if batch is None:
            return False
        _append_part(parts, rows, batch)
        return True

    def _decode_columns(self, obj, raw, source, now_ms, rows, dead, parts):
        """A columnar batch (streams/events_columnar.py): checked column-wise into a part, or,
        when some event is bad, event by event exactly as the array form would be."""
        try:
            columns, n = ec.columns_of(obj)
        except EventError as exc:
            dead.append(DeadLetter(raw, str(exc), source, now_ms))
            return
        batch = ec.fast_batch(columns, n, now_ms)
        if batch is not None:
            _append_part(parts, rows, batch)
            return
        for pos, item in enumerate(ec.event_dicts(columns, n)):
            self._accept(item, None, f"{source}[{pos}]" if source else f"[{pos}]",
                         now_ms, rows, dead)

    def _accept(self, obj, raw, source, now_ms, rows, dead):
        try:
            if raw is not None and len(raw) > self.max_event_bytes:
                raise EventError(f"event too large: {len(raw)} bytes (limit {self.max_event_bytes})")
            rows.append(validate_event(obj, now_ms))
        except EventError as exc:
            if raw is None:
                raw = orjson.dumps(obj)
                if len(raw) > self.max_event_bytes:
                    exc = EventError(f"event too large: {len(raw)} bytes (limit {self.max_event_bytes})")
                    raw = raw[: self.max_event_bytes]
            rumour_id = obj.get("rumour_id") if isinstance(obj, dict) else None
            event_id = obj.get("event_id") if isinstance(obj, dict) else None
            dead.append(DeadLetter(raw, str(exc), source, now_ms,
                                   rumour_id if isinstance(rumour_id, str) else "",
                                   event_id if isinstance(event_id, str) else ""))


def _append_part(parts: list, rows: list, batch: EventBatch) -> None:
    """Add a column-checked ``batch`` to ``parts`` after the rows accepted one by one before it
    (emptied), so the decoded events keep their arrival order."""
    if rows:
        parts.append(_to_batch(rows))
        rows.clear()
    parts.append(batch)


def _to_batch(rows) -> EventBatch:
    return EventBatch.from_columns(list(zip(*rows))) if rows else EventBatch()
