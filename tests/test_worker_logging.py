"""The worker's Faust ``Worker`` keeps the root logger at the asked level (Faust's spinner would
set it to DEBUG for any level from WARNING up, and every library debug call then builds a record)."""
from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = r"""
import logging, os, sys
import faust
from faust.worker import Worker
from streams.app import faust_worker
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
