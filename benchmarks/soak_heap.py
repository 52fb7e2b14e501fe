"""Readers of a process's memory for the soak probe (benchmarks/soak_probe.py): glibc's counters
(``mallinfo2``, per-arena ``malloc_info``), pymalloc's totals, RSS split by mapping, and a cheap
sub-second sampler of RSS and malloc's counters. Linux + glibc only; each returns empty values
where the call is missing.
"""
from __future__ import annotations

import ctypes
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def mallinfo2() -> dict:
    """glibc's heap counters summed over all arenas (in use, free inside the arenas, mmapped)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        m = libc.mallinfo2()
        return {"arena_bytes": m.arena, "in_use": m.uordblks, "free_in_arenas": m.fordblks,
                "mmapped": m.hblkhd, "mmapped_blocks": m.hblks, "top_releasable": m.keepcost}
    except (OSError, AttributeError):
        return {}


def malloc_arenas() -> list:
    """glibc's ``malloc_info`` per arena (heap 0 = the main, brk heap; the others are the
    threads' arenas): bytes in use by the heap (``current``), free bytes in small-bin fast
    chunks and in the rest, and the free bytes in chunks of at least 64 KiB (whole pages that
    ``malloc_trim`` could give back) -- where the free space sits and whether it is fragments."""
    import re
    import tempfile

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.fdopen.restype = ctypes.c_void_p
        with tempfile.TemporaryFile() as tmp:
            fp = libc.fdopen(os.dup(tmp.fileno()), b"w")
            libc.malloc_info(0, ctypes.c_void_p(fp))
            libc.fclose(ctypes.c_void_p(fp))
            tmp.seek(0)
            xml = tmp.read().decode("ascii", "replace")
    except (OSError, AttributeError):
        return []
    out = []
    for number, body in re.findall(r'<heap nr="(\d+)">(.*?)</heap>', xml, re.S):
        sizes = [tuple(map(int, m)) for m in re.findall(r'<size from="(\d+)" to="(\d+)" total="(\d+)" count="(\d+)"/>', body)]
        total = {k: int(v) for k, v in re.findall(r'<total type="(\w+)" count="\d+" size="(\d+)"/>', body)}
        system = {k: int(v) for k, v in re.findall(r'<system type="(\w+)" size="(\d+)"/>', body)}
        out.append({"heap": int(number), "current": system.get("current"), "max": system.get("max"),
                    "free_fast": total.get("fast"), "free_rest": total.get("rest"),
                    "free_ge_64k": sum(t for lo, hi, t, c in sizes if lo >= 65536),
                    "free_lt_4k": sum(t for lo, hi, t, c in sizes if hi < 4096),
                    "free_chunks": sum(c for lo, hi, t, c in sizes)})
    return out


def rss_bytes() -> int:
    """This process's resident set size."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def rss_by_mapping() -> dict:
    """Resident kB per kind of mapping: the brk heap, anonymous mappings (malloc's thread
    arenas and large blocks, pymalloc arenas, numba/LLVM), and files."""
    out: Counter = Counter()
    name = None
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split(None, 5)
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                name = head[5].strip() if len(head) > 5 else "[anon]"
                if name.startswith("/"):
                    name = "file:" + name.rsplit("/", 1)[-1]
            elif head[0] == "Rss:":
                out[name] += int(head[1])
    return dict(out.most_common(25))


def pymalloc_stats() -> dict:
    """The totals of sys._debugmallocstats() (pymalloc's arenas are mmaps that mallinfo2 does not
    count). It writes to C stderr: fd 2 points at a file for the moment of the call."""
    import tempfile

    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode("utf-8", "replace")
    out = {}
    for line in text.splitlines():
        if line.startswith("# arenas allocated current") or line.startswith("# bytes "):
            key, _, value = line.rpartition("=")
            try:
                out[key.strip("# ").strip()] = int(value.strip().replace(",", ""))
            except ValueError:
                pass
    return out


def sample_fast(out: Path, every: float) -> None:
    """Every ``every`` seconds one line of ``fast.jsonl``: time, RSS, glibc's bytes in use, its
    arenas' size and their free bytes. Cheap enough for sub-second sampling (no heap walk): it
    shows whether RSS rises when the bytes in use reach a new peak (a high-water mark) or
    while they are flat (growth of something else)."""
    t0 = time.monotonic()
    with open(out / "fast.jsonl", "a", buffering=1) as f:
        while True:
            m = mallinfo2()
            f.write(json.dumps({"t": round(time.monotonic() - t0, 2), "rss": rss_bytes(),
                                "in_use": m.get("in_use"), "arena": m.get("arena_bytes"),
                                "free": m.get("free_in_arenas"), "mmapped": m.get("mmapped"),
                                "blocks": sys.getallocatedblocks()}) + "\n")
            time.sleep(every)
