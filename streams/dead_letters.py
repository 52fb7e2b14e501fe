"""``rumour dead-letters``: what the worker refused, read from its store, and the refused
messages written back out as a file that ``rumour produce`` (or ``rumour replay``) sends again
once the cause is fixed (a producer's bug, a setting such as ``max_event_bytes``)."""
from __future__ import annotations

import base64
import sys

import orjson


def dead_letter_line(dead: dict) -> dict:
    """One dead letter as ``rumour dead-letters`` prints it (the dead-letter topic's fields,
    with the raw bytes whole).

    >>> dead_letter_line({"raw": b"{bad", "reason": "invalid JSON", "source": "kafka:p0:7",
    ...                   "received_ms": 5, "rumour_id": "", "event_id": ""})["raw_base64"]
    'e2JhZA=='
    """
    raw = dead["raw"]
    return {"received_ms": dead["received_ms"], "reason": dead["reason"], "source": dead["source"],
            "rumour_id": dead["rumour_id"], "event_id": dead["event_id"], "raw_bytes": len(raw),
            "raw_base64": base64.b64encode(raw).decode("ascii")}


def one_line(raw: bytes) -> bytes | None:
    """``raw`` as one line of a JSONL file: as it is, or re-serialised when it is JSON written over
    several lines; None when neither (a line break in what is not JSON).

    >>> one_line(b'{"a":\\n 1}'), one_line(b"\\xff{"), one_line(b"not\\njson")
    (b'{"a":1}', b'\\xff{', None)
    """
    if b"\n" not in raw and b"\r" not in raw:
        return raw
    try:
        return orjson.dumps(orjson.loads(raw))
    except orjson.JSONDecodeError:
        return None


def cmd_dead_letters(args) -> int:
    from streams.cli import _settings
    from streams.store import open_store

    if args.limit < 1:
        raise ValueError(f"--limit must be at least 1, got {args.limit}")
    settings = _settings(args)
    url = args.url or settings.clickhouse_url
    store = open_store(url, cluster=settings.clickhouse_cluster)
    try:
        store.require_store(url)
        # Filtered in the query: the newest N of that reason, not those among the newest N.
        letters = store.dead_letters(args.limit, args.reason)
    finally:
        store.close()
    for dead in letters:
        sys.stdout.buffer.write(orjson.dumps(dead_letter_line(dead)) + b"\n")
    if args.raw:
        skipped = 0
        with open(args.raw, "wb") as out:
            for dead in reversed(letters):  # oldest first: sent again in the order received
                line = one_line(dead["raw"])
                if line is None:
                    skipped += 1
                else:
                    out.write(line + b"\n")
        print(f"rumour: {len(letters) - skipped} messages written to {args.raw}"
              + (f"; {skipped} with a line break in what is not JSON left out" if skipped else ""),
              file=sys.stderr)
    return 0


def add_parser(sub, add_setting_flags) -> None:
    p = sub.add_parser("dead-letters", help="list the dead letters of the worker's store; --raw writes "
                                            "their messages to a file to send again")
    p.add_argument("--url", default=None, help="store URL (default: the clickhouse_url setting)")
    p.add_argument("--limit", type=int, default=100, help="the newest N dead letters (default 100)")
    p.add_argument("--reason", default=None, metavar="TEXT",
                   help="only those whose reason starts with TEXT (e.g. 'event too large'): "
                        "the newest N of them")
    p.add_argument("--raw", default=None, metavar="FILE",
                   help="also write their raw messages, oldest first, one a line, to FILE "
                        "(for `rumour produce FILE` once the cause is fixed)")
    add_setting_flags(p, {"clickhouse_url"})
    p.set_defaults(func=cmd_dead_letters)
