"""Share-event format, version 1: validation, `EventBatch` columns, dead letters (the
:class:`~streams.decoder.Decoder` that turns raw messages into them is in streams/decoder.py).

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
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import orjson

from graph.ids_encode import concat_encoded

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


class EventError(ValueError):
    """An event that cannot be accepted; the message is the dead-letter reason."""


@dataclass(slots=True)
class DeadLetter:
    """A message or event refused by the decoder or the pipeline, kept with its reason.

    ``reason`` is a kind, then ``": "`` and details: the kind (what precedes the first ``:``) is a
    fixed phrase or the name of the field at fault, never a value from the input; the details may
    quote it. Readers that must not see the input get the kind only
    (sql/014_dead_letter_hour_counts.sql, read by Grafana). A reason without ``:`` is all kind.
    """

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
    # Not a field (no annotation: the ten columns stay the dataclass's fields): (buf, starts,
    # ends), graph.ids.encode_batch of event_id, account_id, parent_event_id, parent_account_id,
    # set on a batch the decoder checked on that encoding (streams/events_columnar.py), so the
    # graphs do not encode the same ids again; None otherwise. take makes a new batch without it;
    # concat keeps it when every part has one.
    encoded = None

    def __len__(self) -> int:
        return len(self.event_id)

    @classmethod
    def from_columns(cls, cols) -> "EventBatch":
        """A batch of the ten columns in field order (a store's SELECT, the decoder's rows
        transposed), each any sequence: ids and texts become lists, ``ts_ms`` and ``kind`` arrays.

        >>> b = EventBatch.from_columns([("e",), ("r",), ("a",), (5,), (None,), (None,), (0,),
        ...                              ("weibo",), ("370102",), (None,)])
        >>> len(b), b.ts_ms.dtype, b.platform
        (1, dtype('int64'), ['weibo'])
        """
        return cls(event_id=list(cols[0]), rumour_id=list(cols[1]), account_id=list(cols[2]),
                   ts_ms=np.asarray(cols[3], dtype=np.int64), parent_event_id=list(cols[4]),
                   parent_account_id=list(cols[5]), kind=np.asarray(cols[6], dtype=np.uint8),
                   platform=list(cols[7]), region=list(cols[8]), text=list(cols[9]))

    def take(self, index) -> "EventBatch":
        """The rows at ``index`` (a sequence of ints or a boolean mask), as a new batch; an empty
        ``index`` gives an empty batch (numpy reads ``[]`` as floats, which index nothing).

        >>> b = EventBatch.from_columns([("e",), ("r",), ("a",), (5,), (None,), (None,), (0,), ("w",), (None,), (None,)])
        >>> len(b.take([])), len(b.take(np.zeros(1, bool))), b.take([0]).event_id
        (0, 0, ['e'])
        """
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        elif idx.size == 0:
            idx = idx.astype(np.int64)
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
        # A worker's take() of many columnar messages: their ids were encoded when decoded.
        if all(b.encoded is not None for b in batches):
            out.encoded = concat_encoded([b.encoded for b in batches], 4)
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


_DAY_MS = 86_400_000
_EPOCH_ORDINAL = _EPOCH.toordinal()
# Years 1000-9999: the date part as strftime's %Y-%m-%d writes it (4-digit years only).
_FAST_MS = (datetime(1000, 1, 1, tzinfo=timezone.utc) - _EPOCH) // timedelta(milliseconds=1), \
    (datetime(9999, 12, 31, tzinfo=timezone.utc) - _EPOCH) // timedelta(milliseconds=1)
_DATES: dict[int, str] = {}  # day number since the epoch -> "YYYY-MM-DD"


def format_ts(ms: int) -> str:
    """RFC 3339 in UTC with milliseconds.

    >>> format_ts(1347557095000), format_ts(-1)
    ('2012-09-13T17:24:55.000Z', '1969-12-31T23:59:59.999Z')
    """
    if _FAST_MS[0] <= ms < _FAST_MS[1]:
        # Integer arithmetic and one date string per day: datetime + strftime cost about 2 us
        # a call, and an alert's trace formats every origin's time (the governance observers).
        day, rest = divmod(int(ms), _DAY_MS)
        date = _DATES.get(day)
        if date is None:
            if len(_DATES) > 4096:
                _DATES.clear()
            date = _DATES[day] = datetime.fromordinal(_EPOCH_ORDINAL + day).strftime("%Y-%m-%d")
        hours, rest = divmod(rest, 3_600_000)
        minutes, rest = divmod(rest, 60_000)
        return f"{date}T{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}Z"
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


def encode_event(row: dict) -> bytes:
    """Serialise one event dict (v1) as a JSON line without the newline."""
    return orjson.dumps(row)


def __getattr__(name: str):
    # The decoder lives in streams/decoder.py (it builds on this module and the columnar one);
    # ``from streams.events import Decoder`` keeps working.
    if name == "Decoder":
        from streams.decoder import Decoder

        return Decoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
