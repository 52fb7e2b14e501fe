"""The worker process's set-up (streams.worker_setup): its Faust ``Worker`` keeps the root logger at the
asked level (Faust's spinner would set it to DEBUG for any level from WARNING up, and every
library debug call then builds a record); ``tune_gc`` freezes the start-up heap and raises the
young-generation threshold, and cyclic garbage is still collected."""
from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = r"""
import logging, os, sys
import faust
from faust.worker import Worker
from streams.worker_setup import faust_worker
app = faust.App("log-test", broker="kafka://127.0.0.1:9", store="memory://")
make = faust_worker if sys.argv[1] == "ours" else (lambda a, level: Worker(a, loglevel=level))
w = make(app, sys.argv[2])
w._setup_logging()
os.write(1, b"%d\n" % logging.root.getEffectiveLevel())  # stdout may be redirected to the log
"""


def _root_level(which: str, level: str) -> int:
    # A subprocess: setting up a worker's logging changes the process's root logger.
    out = subprocess.run([sys.executable, "-c", SCRIPT, which, level], capture_output=True,
                         text=True, timeout=120, check=True)
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("level,expected", [("warning", 30), ("error", 40), ("info", 20)])
def test_root_logger_stays_at_the_asked_level(level, expected):
    assert _root_level("ours", level) == expected


def test_faust_default_worker_would_log_debug():
    # What faust_worker avoids (if Faust stops doing this, the workaround can go).
    assert _root_level("faust", "warning") == 10


GC_SCRIPT = r"""
import gc, os, weakref
from streams.worker_setup import GC_YOUNG_THRESHOLD, tune_gc
before = gc.get_threshold()
tune_gc()
after = gc.get_threshold()
class Node:
    pass
refs = []
for _ in range(3 * GC_YOUNG_THRESHOLD):  # cycles only the collector can free
    a, b = Node(), Node()
    a.other, b.other = b, a
    refs.append(weakref.ref(a))
    del a, b
alive = sum(r() is not None for r in refs)
os.write(1, b"%d %d %d %d %d\n" % (before[0], after[0], after[1], gc.get_freeze_count() > 0, alive))
"""


def test_tune_gc_raises_the_young_threshold_and_still_collects_cycles():
    out = subprocess.run([sys.executable, "-c", GC_SCRIPT], capture_output=True, text=True,
                         timeout=120, check=True)
    before0, after0, after1, frozen, alive = map(int, out.stdout.split())
    from streams.worker_setup import GC_YOUNG_THRESHOLD

    assert before0 != after0 == GC_YOUNG_THRESHOLD
    assert frozen == 1
    # Without collections all 150,000 cycles would be alive; at most about one threshold's worth
    # (plus the weakrefs' own allocations counted against it) may wait for the next collection.
    assert alive < 2 * GC_YOUNG_THRESHOLD


WARM_SCRIPT = r"""
import os
from graph.kernels_ingest import parents_outside
from streams.governance import divisions
from streams.governance.alert_kernels import _judge_kernel
from streams.service.sha256_kernel import _hmac_first_words
from streams.worker_setup import warm_up_worker
def loaded():
    return (len(parents_outside.overloads), len(_judge_kernel.overloads),
            divisions._table.cache_info().currsize, len(_hmac_first_words.overloads))
before = loaded()
warm_up_worker()
os.write(1, b"%d %d %d %d %d %d %d %d\n" % (before + loaded()))
"""


def test_warm_up_worker_loads_what_a_first_batch_would():
    out = subprocess.run([sys.executable, "-c", WARM_SCRIPT], capture_output=True, text=True,
                         timeout=300, check=True)
    b_cross, b_judge, b_div, b_hmac, a_cross, a_judge, a_div, a_hmac = map(int, out.stdout.split())
    assert (b_cross, b_judge, b_div, b_hmac) == (0, 0, 0, 0)  # nothing loaded by the imports alone
    assert a_cross >= 1 and a_judge >= 1 and a_div == 1 and a_hmac >= 1


PACKER_SCRIPT = """
import os
from graph.kernels_rows import _pack
from streams.worker_setup import warm_up_worker
warm_up_worker()
after_warm_up = len(_pack.overloads)
from benchmarks import ingest_kit as kit
from benchmarks.bench_ingest import columnar_pairs
from streams.decoder import Decoder
from streams.store.clickhouse_rows import event_rows_columns
for take in (1, 3, 20):  # one message, and takes of several (their encodings concatenated)
    msgs = [v for _, v in columnar_pairs(kit.stream_messages(500 * take, 500, take, "wp"))]
    event_rows_columns(Decoder().decode(msgs)[0])
os.write(1, b"%d %d\\n" % (after_warm_up, len(_pack.overloads)))
"""


def test_warm_up_loads_every_signature_of_the_row_packer_a_take_uses():
    # A take of several columnar messages packs from a writable buffer, one message from a
    # read-only one: two numba signatures; the first real take compiled the second (~0.6 s).
    out = subprocess.run([sys.executable, "-c", PACKER_SCRIPT], capture_output=True, text=True,
                         timeout=300, check=True)
    after_warm_up, after_takes = map(int, out.stdout.split())
    assert after_warm_up >= 1 and after_takes == after_warm_up
