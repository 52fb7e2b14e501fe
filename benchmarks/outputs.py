"""Output helpers of the benchmarks: progress on stderr, results on stdout and in
benchmarks/out/<name>.json (with the command line, the options, the commit, the time and the
load average), every JSON file written whole or not at all."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import orjson

OUT_DIR = Path(__file__).resolve().parent / "out"
ROOT = Path(__file__).resolve().parent.parent
STARTED = time.time()  # every benchmark imports this module before it starts: its wall time counts from here


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


def git_commit() -> str | None:
    """The checkout's commit, with ``-dirty`` when tracked files differ from it (None outside git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("-dirty" if dirty else "")) or None


# the packages whose version can change a figure: the interpreter's, the numeric stack, the
# reference implementations compared against
VERSIONED = ("numpy", "numba", "llvmlite", "networkx", "cosasi", "faust-streaming", "aiokafka",
             "clickhouse-driver", "chdb")


def versions() -> dict:
    """Python's and each of ``VERSIONED``'s version (None when not installed).

    >>> v = versions(); v["python"].count(".") == 2 and v["numpy"] is not None
    True
    """
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine() -> dict:
    """What the figures ran on: OS and architecture, CPU model, logical CPUs, memory.

    >>> m = machine(); m["cpus"] >= 1 and bool(m["platform"])
    True
    """
    cpu, mem_kb = platform.processor() or None, None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
        with open("/proc/meminfo") as f:
            mem_kb = next((int(line.split()[1]) for line in f if line.startswith("MemTotal:")), None)
    except OSError:  # not Linux: platform's answer stands
        pass
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": cpu,
            "cpus": os.cpu_count(), "memory_gb": round(mem_kb / 2**20, 1) if mem_kb else None}


def run_record(command: list[str], options: dict) -> dict:
    """What reproduces a run: the command as typed, every option's value (defaults included,
    so a later change of a default does not change what the file says was run), the commit, the
    package versions and the machine, and how long it took (wall since the benchmark modules were
    loaded; CPU of this process and its finished children, such as --jobs workers)."""
    t = os.times()
    return {"command": " ".join(command), "options": options, "git_commit": git_commit(),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "load_average": load_average(),
            "wall_seconds": round(time.time() - STARTED, 1),
            "cpu_seconds": round(t.user + t.system + t.children_user + t.children_system, 1),
            "versions": versions(), "machine": machine()}


def write_json(path, doc) -> Path:
    """Write ``doc`` to ``path`` through a temporary file in the same folder and a rename, so an
    interrupted run (Ctrl-C, a crash in the middle) leaves the old file or none, never half a file.
    Numpy scalars and arrays become numbers and lists; anything else unknown is refused.

    >>> import json, tempfile; p = Path(tempfile.mkdtemp()) / "r.json"
    >>> json.loads(write_json(p, {"a": [1, 2.5]}).read_text())
    {'a': [1, 2.5]}
    >>> sorted(q.name for q in p.parent.iterdir())
    ['r.json']
    """
    path = Path(path)
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY
                        | orjson.OPT_NON_STR_KEYS, default=_plain)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _plain(value):
    # numpy scalars that orjson does not take by itself (np.bool_, np.float32 subclasses, ...)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")


def save(name: str, results, command: list[str], options: dict | None = None) -> Path:
    """Write ``run_record``'s keys and ``"results"`` to benchmarks/out/<name>.json."""
    OUT_DIR.mkdir(exist_ok=True)
    path = write_json(OUT_DIR / f"{name}.json", {**run_record(command, options or {}), "results": results})
    progress(f"wrote {path}")
    return path
