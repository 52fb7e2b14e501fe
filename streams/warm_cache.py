"""``rumour warm``: compile every numba kernel the worker and the service load into numba's
on-disk cache (``NUMBA_CACHE_DIR``), ahead of the first start.

Why: the kernels are compiled on first use (``cache=True``) and a fresh container starts with
an empty cache, so a worker started from it compiled for 35 s of CPU (61 s wall on 2 loaded
cores, session 21) before it took its first message, and then the service's trace kernels for
23 s more beside the first batches (streams/service/warm.py). Those are the moments a worker is
started in a hurry: a deployment, a worker added to take a partition, a container re-created
after a crash. From a filled cache the same warm-ups take 1.3 s and 0.1 s. deploy/Dockerfile
runs ``rumour warm`` when the image is built, as the ``rumour`` user that runs it.

What it runs is the two warm-ups themselves (:func:`streams.worker_setup.warm_up_worker`,
:func:`streams.service.warm.warm_kernels`), so whatever they load is cached; tests/test_warm_cache.py
checks that after it both load every kernel from the cache and compile none. numba keys a cached
kernel by its source file and the machine's CPU: on a host whose CPU differs from the build
host's, a kernel is compiled again at first use (into the same writable cache), as before.
"""
from __future__ import annotations

import gc
import time


def kernel_counts() -> tuple[int, int]:
    """``(compiled, loaded)``: kernel versions this process compiled and those it loaded from
    numba's cache so far (every cached dispatcher's counters).

    >>> compiled, loaded = kernel_counts()
    >>> compiled >= 0 and loaded >= 0
    True
    """
    from numba.core.registry import CPUDispatcher

    compiled = loaded = 0
    for d in gc.get_objects():
        # issubclass(type(d)), not isinstance(d): the heap holds weak proxies, and isinstance on
        # one whose object is gone raises ReferenceError (seen in the whole suite's process).
        if issubclass(type(d), CPUDispatcher) and getattr(d, "_cache", None) is not None and hasattr(d, "stats"):
            compiled += sum(d.stats.cache_misses.values())
            loaded += sum(d.stats.cache_hits.values())
    return compiled, loaded


def fill_cache(cutoff_k: int = 10) -> dict:
    """Run the worker's and the service's warm-ups: ``{"seconds", "compiled", "loaded",
    "cache_dir"}`` (``cache_dir`` None: numba's default, ``__pycache__`` beside the sources)."""
    from numba.core import config

    from streams.service.warm import warm_kernels
    from streams.worker_setup import warm_up_worker

    started = time.perf_counter()
    warm_up_worker()
    warm_kernels(cutoff_k)
    compiled, loaded = kernel_counts()
    return {"seconds": time.perf_counter() - started, "compiled": compiled, "loaded": loaded,
            "cache_dir": config.CACHE_DIR or None}
