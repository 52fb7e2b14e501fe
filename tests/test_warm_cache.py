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


def _image_cpu_name() -> str:
    """The NUMBA_CPU_NAME the image builds with (deploy/Dockerfile's ARG default)."""
    dockerfile = (PROJECT_ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    return re.search(r"^ARG NUMBA_CPU_NAME=(\S*)$", dockerfile, re.M).group(1)


def _run(cache, *args) -> str:
    # As the image runs it: kernels compiled for the image's CPU name.
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), NUMBA_CPU_NAME=_image_cpu_name(),
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


KEY = r"""
from numba.core.registry import cpu_target
import llvmlite.binding as ll
triple, name, features = cpu_target.target_context.codegen().magic_tuple()
print(name, features == "", ll.get_host_cpu_name())
"""


def test_the_images_kernels_are_cached_under_a_key_no_host_cpu_is_in():
    # numba keys a cached kernel by (triple, CPU name, CPU features): compiled for the build
    # host's CPU, the image's cache missed on any host with another CPU (35 s of CPU compiling)
    dockerfile = (PROJECT_ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    assert "\nENV NUMBA_CPU_NAME=${NUMBA_CPU_NAME} " in dockerfile  # the build's value, kept at run time
    assert _image_cpu_name() == "generic"
    env = dict(os.environ, NUMBA_CPU_NAME=_image_cpu_name())
    out = subprocess.run([sys.executable, "-c", KEY], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out[:2] == ["generic", "True"] and out[2] != "generic"
