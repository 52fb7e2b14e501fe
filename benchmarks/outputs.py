"""Output helpers of the speed benchmarks: progress on stderr, results on stdout and in
benchmarks/out/<name>.json (with the command line, the time and the load average)."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import orjson

OUT_DIR = Path(__file__).resolve().parent / "out"


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages: the machine is shared, so every figure carries them."""
    return [round(x, 2) for x in os.getloadavg()]


def emit(obj: dict, as_json: bool) -> None:
    """One result: a JSON line (--json) or ``key: value`` lines for a person."""
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(obj) + b"\n")
    else:
        for key, value in obj.items():
            sys.stdout.write(f"{key:>24}: {value}\n")
        sys.stdout.write("\n")
    sys.stdout.flush()


def save(name: str, results, command: list[str]) -> Path:
    """Write ``{"command", "finished", "load_average", "results"}`` to benchmarks/out/<name>.json."""
    OUT_DIR.mkdir(exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    doc = {"command": " ".join(command), "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "load_average": load_average(), "results": results}
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    progress(f"wrote {path}")
    return path
