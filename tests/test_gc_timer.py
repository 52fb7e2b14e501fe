"""The worker's timed collections (streams.worker_setup.TimedCollector, called every
`gc_collect_seconds` by the worker app): with the young threshold at 50,000 a steady trickle of
cyclic garbage (clickhouse-driver's columns: column <-> serialization) stayed for minutes; with
the timer the garbage alive at any moment is bounded by what is made between two calls.

Each check runs in a subprocess: tune_gc() freezes the heap and changes the process's thresholds.
"""
from __future__ import annotations

import subprocess
import sys

PRELUDE = r"""
import gc, os, weakref
from streams.worker_setup import GC_YOUNG_THRESHOLD, TimedCollector, tune_gc
tune_gc()
class Node:
    pass
def cycle():
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)
def alive(refs):
    return sum(r() is not None for r in refs)
"""


def _run(body: str) -> list[int]:
    out = subprocess.run([sys.executable, "-c", PRELUDE + body], capture_output=True, text=True,
                         timeout=120, check=True)
    return [int(x) for x in out.stdout.split()]


def test_trickle_of_cycles_below_the_threshold_waits_without_the_timer_and_is_freed_with_it():
    # 2,000 cycles (8,000 tracked objects with the weakrefs): far below the young threshold, so
    # the allocation-driven rule never looks at them; one timed call frees every one.
    waiting, after = _run(r"""
refs = [cycle() for _ in range(2000)]
waiting = alive(refs)
TimedCollector()()
os.write(1, b"%d %d" % (waiting, alive(refs)))
""")
    assert waiting == 2000
    assert after == 0


def test_garbage_alive_stays_bounded_by_what_one_interval_makes():
    # A steady stream: 200 rounds of 50 new cycles, the timer every 10 rounds. Without it all
    # 10,000 would be alive at the end (far below 50,000 allocations); with it at most one
    # interval's worth (500) plus the round that was just made.
    peak_timed, end_timed, end_untimed = _run(r"""
collect = TimedCollector(full_every=5)
refs, peak = [], 0
for i in range(200):
    refs += [cycle() for _ in range(50)]
    peak = max(peak, alive(refs))
    if i % 10 == 9:
        collect()
end_timed = alive(refs)
untimed = [cycle() for _ in range(10000)]
os.write(1, b"%d %d %d" % (peak, end_timed, alive(untimed)))
""")
    assert peak_timed <= 10 * 50
    assert end_timed == 0
    assert end_untimed == 10000  # what the timer prevents


def test_cycles_promoted_to_the_old_generation_are_freed_by_the_full_call():
    # Objects alive at a young collection move to the old generation; when they later become
    # cyclic garbage only a full collection frees them: every full_every-th call is one.
    after_young, after_full, fulls = _run(r"""
collect = TimedCollector(full_every=3)
keep = []
for _ in range(300):
    a, b = Node(), Node()
    a.other, b.other = b, a
    keep.append(a)
collect()  # they survive (kept): promoted to generation 2
refs = [weakref.ref(a) for a in keep]
del keep, a, b
collect()  # young only: they stay
after_young = alive(refs)
collect()  # third call: full
os.write(1, b"%d %d %d" % (after_young, alive(refs), collect.full_collections))
""")
    assert after_young == 300
    assert after_full == 0
    assert fulls == 1


def test_clickhouse_driver_columns_are_cyclic_garbage():
    # Why the worker needs the timer: every column clickhouse-driver makes for a query or an
    # INSERT refers to its serialization and back, so reference counting never frees it.
    # If a release breaks the cycle this test fails and the reason above is gone (the timer
    # still bounds any other cycle).
    left, after = _run(r"""
from clickhouse_driver.columns.service import get_column_by_spec
from clickhouse_driver.context import Context
ctx = Context()
ctx.client_settings = {"strings_as_bytes": False, "strings_encoding": "utf-8", "use_numpy": False}
refs = []
for spec in ("String", "Int64", "UInt32", "Int8") * 25:
    refs.append(weakref.ref(get_column_by_spec(spec, {"context": ctx})))
left = alive(refs)
TimedCollector()()
os.write(1, b"%d %d" % (left, alive(refs)))
""")
    assert left == 100
    assert after == 0


def test_worker_app_runs_the_timed_collector(tmp_path, chdb_store):
    import gc
    import weakref

    from streams.app import create_app
    from streams.events import Decoder
    from streams.pipeline import Pipeline
    from streams.settings import Settings
    from streams.worker_setup import TimedCollector

    settings = Settings.load({"broker": "127.0.0.1:1", "app_id": "test-gc-timer",
                              "data_dir": str(tmp_path / "worker")})
    app = create_app(settings, pipeline=Pipeline(chdb_store, Decoder()))
    assert isinstance(app.gc_collector, TimedCollector)
    assert 0 < settings.gc_collect_seconds <= 60  # the default: cycles live seconds, not minutes
    # Faust starts the app's timers from this list when the worker starts.
    assert any("collect_garbage_timer" in getattr(t, "__qualname__", "") for t in app._app_tasks)

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    ref = weakref.ref(a)
    del a, b
    enabled = gc.isenabled()
    gc.disable()  # only the timer's call may free the cycle
    try:
        app.collect_garbage()  # what the timer runs every gc_collect_seconds
    finally:
        if enabled:
            gc.enable()
    assert ref() is None
    assert app.stats["gc_collected"] >= 2 and app.gc_collector.calls == 1
