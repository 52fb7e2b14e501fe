"""Numba's on-disk kernel cache, kept honest about the files a kernel calls into.

Numba checks a cached kernel against the source file that defines it, and nothing else: when
``graph/kernels_ingest.py`` calls a kernel from ``graph/ids_slots.py`` and only ``ids_slots.py``
changes, the old machine code of ``kernels_ingest`` keeps running (numba's documented limitation
for cached functions that call other functions). ``drop_stale`` closes that gap for the in-tree
cache (``graph/__pycache__``): for every module of ``graph/`` it hashes the module and every
``graph`` module it imports, directly or not, and deletes the module's cache files when that
digest differs from the one recorded at the last check. Numba then recompiles on first call.

It runs on import of ``streams`` and ``benchmarks`` and at the start of the tests, before any
kernel is called; with nothing changed it costs one read of ``graph/*.py`` (about 1 ms). It
touches nothing outside ``graph/__pycache__``; a cache that numba puts elsewhere
(``NUMBA_CACHE_DIR``, or a user-wide folder when the tree is read-only) is not checked.

>>> import tempfile, pathlib
>>> pkg = pathlib.Path(tempfile.mkdtemp())
>>> _ = (pkg / "kernels.py").write_text("from graph.ids import f\\n")
>>> _ = (pkg / "ids.py").write_text("def f(): return 1\\n")
>>> (pkg / "__pycache__").mkdir()
>>> _ = (pkg / "__pycache__" / "kernels.k-3.py311.nbi").write_bytes(b"")
>>> drop_stale(pkg)   # first check: nothing recorded, so cached code of unknown age goes
['kernels']
>>> _ = (pkg / "__pycache__" / "kernels.k-3.py311.nbi").write_bytes(b"")
>>> drop_stale(pkg)   # nothing changed since
[]
>>> _ = (pkg / "ids.py").write_text("def f(): return 2\\n")
>>> drop_stale(pkg)   # a callee changed: the caller's cache goes
['kernels']
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

GRAPH_DIR = Path(__file__).resolve().parent.parent / "graph"
STAMP_NAME = "rumour-kernel-deps.json"
_IMPORT = re.compile(r"^\s*(?:from\s+graph\.(\w+)\s+import|import\s+graph\.(\w+))", re.M)
_CACHE_SUFFIXES = (".nbi", ".nbc")


def module_digests(graph_dir: Path) -> dict[str, str]:
    """Per module of ``graph_dir``: a digest of its source and of every graph module it reaches.

    >>> import tempfile, pathlib
    >>> pkg = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (pkg / "a.py").write_text("from graph.b import g\\n")
    >>> _ = (pkg / "b.py").write_text("x = 1\\n")
    >>> _ = (pkg / "c.py").write_text("y = 2\\n")
    >>> before = module_digests(pkg)
    >>> _ = (pkg / "b.py").write_text("x = 3\\n")
    >>> after = module_digests(pkg)
    >>> [name for name in sorted(after) if after[name] != before[name]]
    ['a', 'b']
    """
    sources = {p.stem: p.read_bytes() for p in Path(graph_dir).glob("*.py")}
    imports = {
        name: {a or b for a, b in _IMPORT.findall(text.decode("utf-8", "replace"))} & sources.keys()
        for name, text in sources.items()
    }
    own = {name: hashlib.sha256(text).hexdigest() for name, text in sources.items()}
    digests = {}
    for name in sources:
        reached, todo = {name}, [name]
        while todo:
            for dep in imports[todo.pop()] - reached:
                reached.add(dep)
                todo.append(dep)
        joined = "".join(f"{dep}:{own[dep]}\n" for dep in sorted(reached))
        digests[name] = hashlib.sha256(joined.encode()).hexdigest()
    return digests


def drop_stale(graph_dir: Path | str = GRAPH_DIR) -> list[str]:
    """Delete the cached kernels of every module whose own or callees' source changed.

    Returns the names of the modules whose cache files were deleted (see the module example).
    """
    graph_dir = Path(graph_dir)
    cache_dir = graph_dir / "__pycache__"
    try:
        # Record the digests even before numba caches anything (a fresh clone), or the next
        # process would take the first one's fresh cache for one of unknown age and drop it.
        cache_dir.mkdir(exist_ok=True)
    except OSError:
        return []
    digests = module_digests(graph_dir)
    stamp_path = cache_dir / STAMP_NAME
    try:
        recorded = json.loads(stamp_path.read_text())
    except (OSError, ValueError):
        recorded = {}
    dropped = []
    for name, digest in sorted(digests.items()):
        if recorded.get(name) == digest:
            continue
        files = [p for p in cache_dir.glob(f"{name}.*") if p.suffix in _CACHE_SUFFIXES]
        for path in files:
            try:
                path.unlink()
            except FileNotFoundError:
                pass  # another process dropped it first
        if files:
            dropped.append(name)
    if digests != recorded:
        _write_atomically(stamp_path, json.dumps(digests, sort_keys=True))
    return dropped


def _write_atomically(path: Path, text: str) -> None:
    # Several processes may start at once (a test run's workers): each writes a whole file and
    # renames it into place, so a reader never sees half of one.
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only tree: numba cannot write its cache there either
