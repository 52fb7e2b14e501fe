"""``rumour warm`` (streams/warm_cache.py) fills numba's cache with every kernel the worker's and
the service's warm-ups load: a fresh process over that cache then loads them all and compiles
none (before, a fresh container compiled them all: about 35 s of CPU before its first message).
And the image runs it, as the user that runs the image, into a cache that user owns."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

AFTER = r"""
from streams.service.warm import warm_kernels
from streams.warm_cache import kernel_counts
from streams.worker_setup import warm_up_worker
warm_up_worker(); warm_kernels(5)
print(*kernel_counts())
"""


def _run(cache, *args) -> str:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache),
               PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                         cwd=str(PROJECT_ROOT), timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_after_rumour_warm_a_fresh_process_compiles_no_kernel(tmp_path):
    cache = tmp_path / "numba-cache"
    line = _run(cache, "-m", "streams.cli", "warm")
    m = re.fullmatch(r"kernels in numba's cache \((.+)\): (\d+) compiled, (\d+) already there, [\d.]+ s", line)
    assert m and m.group(1) == str(cache) and int(m.group(2)) > 0, line
    compiled, loaded = map(int, _run(cache, "-c", AFTER).split())
    assert (compiled, loaded > 0) == (0, True), (compiled, loaded)


def test_the_image_warms_its_cache_as_the_user_that_runs_it():
    dockerfile = (PROJECT_ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    cache = re.search(r"NUMBA_CACHE_DIR=(\S+)", dockerfile).group(1)
    user, warm = dockerfile.index("\nUSER rumour\n"), dockerfile.index("\nRUN rumour warm\n")
    assert user < warm, "rumour warm must run as the rumour user: the cache is written there"
    home = re.search(r"useradd .*--home-dir (\S+) --create-home rumour", dockerfile).group(1)
    assert cache.startswith(home + "/"), (cache, home)  # a folder the rumour user can write
