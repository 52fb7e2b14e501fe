"""The serve's warm-up (streams/service/warm.py) compiles every kernel an origin trace with inferred
parents and an evidence package use: after it, the service's trace (a clear and a pseudonymised
caller) and the package load no kernel more. A kernel the warm-up missed would be compiled by the
first liaison's export (23 s on a fresh numba cache under load). Run in a subprocess: a kernel
already used by this test process would hide a miss."""
from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from tests.conftest import PROJECT_ROOT

SCRIPT = r"""
import gc, os, sys
import orjson
from numba.core.registry import CPUDispatcher
from streams.settings import Settings
from streams.embedded import make_pipeline, replay_messages
from streams.store import open_store
from tests.test_service_trace_parents import masked_events

settings = Settings.load({})
store = open_store("chdb://"); store.migrate()
pipeline = make_pipeline(store, settings)
replay_messages(((orjson.dumps(e), f"x:{i}") for i, e in enumerate(masked_events())), pipeline, settings.batch_size)
from streams.service.http import Service
from streams.service.access import Principal
from streams.service import evidence
svc = Service(pipeline, store, sys.argv[1], 5)

def overloads():  # a kernel compiled or loaded from numba's cache adds one
    return {f"{d.py_func.__module__}.{d.__name__}": len(d.overloads) for d in gc.get_objects()
            if isinstance(d, CPUDispatcher)}

if sys.argv[2] == "warm":
    from streams.service.warm import warm_kernels
    warm_kernels(5)
before = overloads()
for who in (Principal("t1", "a", "admin", "000000"), Principal("t2", "b", "analyst", "370000")):
    trace = svc.views.trace("jn-1", who, 5, parents=True)
    assert trace["parents"], trace
    inferred = {k: trace.pop(k) for k in ("parents", "parent_probability", "parents_method")}
    meta = {"case_id": "P-1", "generated_at": "2026-12-01T00:00:00Z",
            "generated_by": {"token_id": who.token_id, "name": who.name, "role": who.role,
                             "jurisdiction": who.jurisdiction, "token_expires": "never"}}
    evidence.build(meta, trace, svc.evidence_key, "Asia/Shanghai", inferred)
after = overloads()
print(orjson.dumps(sorted(k for k, v in after.items() if v > before.get(k, 0))).decode())
"""


def _loaded_by_the_trace(tmp_path, mode: str) -> list:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "tokens.json"), mode], env=env,
                         capture_output=True, text=True, cwd=str(PROJECT_ROOT), timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return orjson.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_after_the_warm_up_a_trace_with_parents_and_its_package_load_no_kernel(tmp_path):
    # Without it they do (the test would not see a miss otherwise): the reconstruction's among them.
    cold = _loaded_by_the_trace(tmp_path, "cold")
    assert "graph.reconstruct_kernels.pair_features" in cold, cold
    assert _loaded_by_the_trace(tmp_path, "warm") == []
