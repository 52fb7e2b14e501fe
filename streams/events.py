"""Share-event format, version 1: decoding and validation.

One JSON object per Kafka message or JSONL line; a message (or line) may also carry a batch of
events, in one of two forms:

- a JSON array of event objects, ``[{"event_id": ...}, ...]``;
- a columnar batch, ``{"v": 1, "columns": {"event_id": [...], "rumour_id": [...], ...}}``: one
  array per field, element ``i`` of each is event ``i``; required columns ``event_id``,
  ``rumour_id``, ``account_id``, ``ts``; another column may be left out when all its values are
  null (``kind``: ``share``). Cheaper to decode (no per-event objects); rules and the
  :func:`~streams.events_columnar.encode_columns` encoder in streams/events_columnar.py.

Every event either becomes a row of an :class:`EventBatch` or a :class:`DeadLetter` with the
raw bytes and a reason: nothing is dropped silently. An event is judged the same whichever form
carried it; a malformed columnar message (columns of unequal length, not arrays, a required
column missing, ``v`` not 1) is one dead letter.

Fields (unknown fields are ignored):

=====================  ====================================================================
``event_id``           string, required, unique within its rumour
``rumour_id``          string, required
``account_id``         string, required
``ts``                 RFC 3339 with offset, or epoch milliseconds (integer); required
``parent_event_id``    string or null: the share this one came from
``parent_account_id``  string or null: the account this one came from
``kind``               ``post`` | ``share`` | ``comment`` | ``debunk`` (default ``share``)
``platform``           string or null
``region``             administrative division code, or null
``text``               string or null
=====================  ====================================================================
"""
from __future__ import annotations

import time
from itertools import repeat
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import orjson

FORMAT_VERSION = 1
KINDS = ("post", "share", "comment", "debunk")
KIND_CODE = {name: code for code, name in enumerate(KINDS)}

MAX_ID_CHARS = 256
MAX_SHORT_CHARS = 64  # platform, region
MAX_TEXT_CHARS = 100_000
MAX_EVENT_BYTES = 1 << 20  # one event
MAX_MESSAGE_BYTES = 16 << 20  # one message or line, possibly a batch

# Timestamps outside this window are refused as absurd. The lower bound predates every
# platform the centre watches; the upper bound allows a day of clock skew.
MIN_TS_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
FUTURE_SLACK_MS = 86_400_000

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_STRING_FIELDS_REQUIRED = ("event_id", "rumour_id", "account_id")
_OPTIONAL_IDS = ("parent_event_id", "parent_account_id")
_FIELDS = ("event_id", "rumour_id", "account_id", "ts", "parent_event_id", "parent_account_id",
           "kind", "platform", "region", "text")
_DICT = {dict}


class EventError(ValueError):
    """An event that cannot be accepted; the message is the dead-letter reason."""


@dataclass(slots=True)
class DeadLetter:
    """A message or event refused by the decoder or the pipeline, kept with its reason."""

    raw: bytes
    reason: str
    source: str = ""
    received_ms: int = 0
    rumour_id: str = ""
    event_id: str = ""


@dataclass
class EventBatch:
    """Valid events in columns, in arrival order: what the store and the graph consume.

    String columns are Python lists (what clickhouse-driver's columnar insert takes);
    numeric columns are numpy arrays. ``None`` marks a null optional field.
    """

    event_id: list = field(default_factory=list)
    rumour_id: list = field(default_factory=list)
    account_id: list = field(default_factory=list)
    ts_ms: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    parent_event_id: list = field(default_factory=list)
    parent_account_id: list = field(default_factory=list)
    kind: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint8))
    platform: list = field(default_factory=list)
    region: list = field(default_factory=list)
    text: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.event_id)

    def take(self, index) -> "EventBatch":
        """The rows at ``index`` (a sequence of ints or a boolean mask), as a new batch."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        pick = idx.tolist()
        return EventBatch(
            event_id=[self.event_id[i] for i in pick],
            rumour_id=[self.rumour_id[i] for i in pick],
            account_id=[self.account_id[i] for i in pick],
            ts_ms=self.ts_ms[idx],
            parent_event_id=[self.parent_event_id[i] for i in pick],
            parent_account_id=[self.parent_account_id[i] for i in pick],
            kind=self.kind[idx],
            platform=[self.platform[i] for i in pick],
            region=[self.region[i] for i in pick],
            text=[self.text[i] for i in pick],
        )

    def rows(self):
        """Yield each event as a dict in the v1 format (``ts`` as epoch ms)."""
        for i in range(len(self)):
            yield {
                "event_id": self.event_id[i],
                "rumour_id": self.rumour_id[i],
                "account_id": self.account_id[i],
                "ts": int(self.ts_ms[i]),
                "parent_event_id": self.parent_event_id[i],
                "parent_account_id": self.parent_account_id[i],
                "kind": KINDS[int(self.kind[i])],
                "platform": self.platform[i],
                "region": self.region[i],
                "text": self.text[i],
            }

    @classmethod
    def concat(cls, batches) -> "EventBatch":
        out = cls()
        batches = [b for b in batches if len(b)]
        if not batches:
            return out
        for name in ("event_id", "rumour_id", "account_id", "parent_event_id",
                     "parent_account_id", "platform", "region", "text"):
            col = getattr(out, name)
            for b in batches:
                col.extend(getattr(b, name))
        out.ts_ms = np.concatenate([b.ts_ms for b in batches])
        out.kind = np.concatenate([b.kind for b in batches])
        return out


def parse_ts(value) -> int:
    """Epoch milliseconds from an RFC 3339 string with offset or an integer of epoch ms.

    >>> parse_ts("2012-09-14T01:24:55+08:00")
    1347557095000
    >>> parse_ts(1347557095000)
    1347557095000
    """
    if isinstance(value, bool):
        raise EventError("ts: boolean is not a timestamp")
    if isinstance(value, int):
        ms = value
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or not value.is_integer():
            raise EventError("ts: epoch milliseconds must be an integer")
        ms = int(value)
    elif isinstance(value, str):
        if len(value) > 40:
            raise EventError("ts: string too long for RFC 3339")
        text = value.strip()
        if text[-1:] in ("z", "Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise EventError(f"ts: not RFC 3339: {value!r}") from None
        if parsed.tzinfo is None:
            raise EventError(f"ts: RFC 3339 needs an offset: {value!r}")
        # Integer arithmetic: float seconds lose the millisecond on some values.
        ms = (parsed - _EPOCH) // timedelta(milliseconds=1)
    elif value is None:
        raise EventError("ts: required")
    else:
        raise EventError(f"ts: expected RFC 3339 string or epoch ms, got {type(value).__name__}")
    return ms


def format_ts(ms: int) -> str:
    """RFC 3339 in UTC with milliseconds.

    >>> format_ts(1347557095000)
    '2012-09-13T17:24:55.000Z'
    """
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _required_id(obj: dict, name: str) -> str:
    value = obj.get(name)
    if value is None:
        raise EventError(f"{name}: required")
    if not isinstance(value, str):
        raise EventError(f"{name}: expected string, got {type(value).__name__}")
    if not value or not value.strip():
        raise EventError(f"{name}: empty")
    if len(value) > MAX_ID_CHARS:
        raise EventError(f"{name}: longer than {MAX_ID_CHARS} characters")
    return value


def _optional_str(obj: dict, name: str, limit: int):
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventError(f"{name}: expected string or null, got {type(value).__name__}")
    if len(value) > limit:
        raise EventError(f"{name}: longer than {limit} characters")
    return value


def validate_event(obj, now_ms: int | None = None) -> tuple:
    """Check one decoded event; return its column values or raise :class:`EventError`.

    The tuple is ``(event_id, rumour_id, account_id, ts_ms, parent_event_id,
    parent_account_id, kind_code, platform, region, text)``.

    >>> validate_event({"event_id": "e1", "rumour_id": "r", "account_id": "a", "ts": 1347557095000})[:4]
    ('e1', 'r', 'a', 1347557095000)
    """
    if not isinstance(obj, dict):
        raise EventError(f"event: expected JSON object, got {type(obj).__name__}")
    event_id = _required_id(obj, "event_id")
    rumour_id = _required_id(obj, "rumour_id")
    account_id = _required_id(obj, "account_id")
    ts_ms = parse_ts(obj.get("ts"))
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    if ts_ms < MIN_TS_MS:
        raise EventError(f"ts: {ts_ms} is before 2000-01-01")
    if ts_ms > now_ms + FUTURE_SLACK_MS:
        raise EventError(f"ts: {ts_ms} is more than a day in the future")
    parent_event_id = _optional_str(obj, "parent_event_id", MAX_ID_CHARS) or None
    parent_account_id = _optional_str(obj, "parent_account_id", MAX_ID_CHARS) or None
    if parent_event_id is not None and parent_event_id == event_id:
        raise EventError("parent_event_id: an event cannot be its own parent")
    kind = obj.get("kind")
    if kind is None:
        kind_code = 1
    else:
        kind_code = KIND_CODE.get(kind) if isinstance(kind, str) else None
        if kind_code is None:
            raise EventError(f"kind: expected one of {', '.join(KINDS)}, got {str(kind)[:40]!r}")
    platform = _optional_str(obj, "platform", MAX_SHORT_CHARS)
    region = _optional_str(obj, "region", MAX_SHORT_CHARS) or None
    text = _optional_str(obj, "text", MAX_TEXT_CHARS)
    return (event_id, rumour_id, account_id, ts_ms, parent_event_id, parent_account_id,
            kind_code, platform, region, text)


class Decoder:
    """Turns raw messages (bytes) into an :class:`EventBatch` plus dead letters.

    >>> d = Decoder()
    >>> batch, dead = d.decode([b'{"event_id":"e1","rumour_id":"r","account_id":"a","ts":1347557095000}', b'not json'])
    >>> len(batch), [x.reason[:12] for x in dead]
    (1, ['invalid JSON'])
    """

    min_array_columns = 16  # shorter JSON arrays go event by event: column set-up costs as much

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
        src_iter = iter(sources) if sources is not None else None
        for raw in messages:
            source = next(src_iter) if src_iter is not None else ""
            self._decode_one(raw, source, now_ms, rows, dead, parts)
        if not parts:
            return _to_batch(rows), dead
        if rows:
            parts.append(_to_batch(rows))
        return (parts[0] if len(parts) == 1 else EventBatch.concat(parts)), dead

    def _decode_one(self, raw, source, now_ms, rows, dead, parts):
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        if len(raw) > self.max_message_bytes:
            dead.append(DeadLetter(raw[:self.max_event_bytes], f"message too large: {len(raw)} bytes "
                                   f"(limit {self.max_message_bytes}); first bytes kept",
                                   source, now_ms))
            return
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            dead.append(DeadLetter(raw, f"invalid JSON: {exc}", source, now_ms))
            return
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

    def _array_columns(self, obj: list, now_ms, rows, parts) -> bool:
        """An array of event objects read field by field into columns and checked column-wise
        (C-level loops, no per-event call); False, touching nothing, unless every event is valid."""
        from streams import events_columnar as ec

        if len(obj) < self.min_array_columns or set(map(type, obj)) != _DICT:
            return False
        columns = {name: list(map(dict.get, obj, repeat(name, len(obj)))) for name in _FIELDS}
        batch = ec.fast_batch(columns, len(obj), now_ms)
        if batch is None:
            return False
        if rows:
            parts.append(_to_batch(rows))
            rows.clear()
        parts.append(batch)
        return True

    def _decode_columns(self, obj, raw, source, now_ms, rows, dead, parts):
        """A columnar batch (streams/events_columnar.py): checked column-wise into a part, or,
        when some event is bad, event by event exactly as the array form would be."""
        from streams import events_columnar as ec  # it builds on the names of this module

        try:
            columns, n = ec.columns_of(obj)
        except EventError as exc:
            dead.append(DeadLetter(raw, str(exc), source, now_ms))
            return
        batch = ec.fast_batch(columns, n, now_ms)
        if batch is not None:
            if rows:
                parts.append(_to_batch(rows))
                rows.clear()
            parts.append(batch)
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


def _to_batch(rows) -> EventBatch:
    if not rows:
        return EventBatch()
    cols = list(zip(*rows))
    return EventBatch(
        event_id=list(cols[0]),
        rumour_id=list(cols[1]),
        account_id=list(cols[2]),
        ts_ms=np.fromiter(cols[3], np.int64, len(rows)),
        parent_event_id=list(cols[4]),
        parent_account_id=list(cols[5]),
        kind=np.fromiter(cols[6], np.uint8, len(rows)),
        platform=list(cols[7]),
        region=list(cols[8]),
        text=list(cols[9]),
    )


def encode_event(row: dict) -> bytes:
    """Serialise one event dict (v1) as a JSON line without the newline."""
    return orjson.dumps(row)
