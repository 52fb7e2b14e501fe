"""streams.kernel_cache: a cached numba kernel is recompiled when a graph module it calls changes.

The end-to-end case runs real numba in subprocesses on a throwaway ``graph`` package: a cached
caller whose callee (in another file) changes keeps the old machine code under numba alone, and
returns the new answer once ``drop_stale`` has run.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from streams.kernel_cache import drop_stale, module_digests

CALLER = textwrap.dedent("""
    import numba
    from graph.callee import g

    @numba.njit(cache=True)
    def f():
        return g() + 100
""")
CALLEE = textwrap.dedent("""
    import numba

    @numba.njit(cache=True)
    def g():
        return {value}
""")


def _package(root: Path, value: int) -> Path:
    pkg = root / "graph"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "caller.py").write_text(CALLER)
    (pkg / "callee.py").write_text(CALLEE.format(value=value))
    return pkg


def _run(root: Path, guard: bool) -> int:
    code = "from graph.caller import f; print(f())"
    if guard:
        code = f"from streams.kernel_cache import drop_stale; drop_stale({str(root / 'graph')!r}); " + code
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("NUMBA_DISABLE_JIT", None)
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                         timeout=300, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def test_a_changed_callee_reaches_a_cached_caller(tmp_path):
    pkg = _package(tmp_path, value=1)
    assert _run(tmp_path, guard=True) == 101
    assert any(p.suffix == ".nbi" for p in (pkg / "__pycache__").iterdir())  # numba cached it
    (pkg / "callee.py").write_text(CALLEE.format(value=2))
    # numba alone keeps the caller's stale machine code (the reason for the guard) ...
    assert _run(tmp_path, guard=False) == 101
    # ... and with the guard the caller is recompiled against the new callee
    assert _run(tmp_path, guard=True) == 102
    # and stays cached afterwards: the next check drops nothing
    assert drop_stale(pkg) == []


def test_only_modules_that_reach_the_change_are_dropped(tmp_path):
    pkg = tmp_path / "graph"
    (pkg / "__pycache__").mkdir(parents=True)
    (pkg / "top.py").write_text("from graph.mid import m\n")
    (pkg / "mid.py").write_text("import graph.low\n")
    (pkg / "low.py").write_text("x = 1\n")
    (pkg / "other.py").write_text("y = 1\n")
    cached = ("top.f-1.py311.nbi", "top.f-1.py311.1.nbc", "mid.m-2.py311.nbi", "low.l-3.py311.nbi",
              "other.o-4.py311.nbi", "other.o-4.py311.1.nbc")

    def fill():
        for name in cached:
            (pkg / "__pycache__" / name).write_bytes(b"")

    fill()
    assert drop_stale(pkg) == ["low", "mid", "other", "top"]  # nothing recorded yet
    fill()
    assert drop_stale(pkg) == []
    (pkg / "low.py").write_text("x = 2\n")
    assert drop_stale(pkg) == ["low", "mid", "top"]  # transitive: top -> mid -> low
    left = sorted(p.name for p in (pkg / "__pycache__").iterdir() if p.suffix in (".nbi", ".nbc"))
    assert left == ["other.o-4.py311.1.nbc", "other.o-4.py311.nbi"]


def test_the_real_graph_package_has_its_import_edges(tmp_path):
    # The parse must see the real cross-file calls, or the guard protects nothing.
    root = Path(__file__).resolve().parent.parent / "graph"
    before = module_digests(root)
    copy = tmp_path / "graph"
    copy.mkdir()
    for path in root.glob("*.py"):
        (copy / path.name).write_bytes(path.read_bytes())
    with open(copy / "ids_slots.py", "a") as out:  # the probe helpers every id kernel calls
        out.write("\n# changed\n")
    after = module_digests(copy)
    changed = {name for name in after if after[name] != before[name]}
    assert {"ids_slots", "ids", "kernels_ingest", "kernels_resolve", "kernels_rehash",
            "kernels_cutoff"} <= changed
    assert "rng" not in changed and "sources" not in changed


def test_a_fresh_tree_records_before_anything_is_cached(tmp_path):
    # A fresh clone: no __pycache__ yet. The first process records the digests, so the caches it
    # then writes are not dropped by the next process as being of unknown age.
    pkg = tmp_path / "graph"
    pkg.mkdir()
    (pkg / "a.py").write_text("x = 1\n")
    assert drop_stale(pkg) == []
    (pkg / "__pycache__" / "a.f-1.py311.nbi").write_bytes(b"")
    assert drop_stale(pkg) == []
    assert (pkg / "__pycache__" / "a.f-1.py311.nbi").exists()
