"""``rumour serve`` logs at the ``log_level`` setting (RUMOUR_LOG_LEVEL, default info), as the
worker does: a refused token's INFO line (route, where from, why) shows by default and not at
``warning``. Before, the CLI had set the root logger to WARNING and serve's own set-up was a
no-op, so the INFO lines never showed, whatever the setting said."""
from __future__ import annotations

import signal

import pytest

from tests.service_helpers import get
from tests.test_audit_refusals import BAD_TOKEN, start_serve


def _stderr_after_a_refusal(tmp_path, **environ) -> str:
    proc, base = start_serve(tmp_path, f"chdb://{tmp_path / 'store'}", **environ)
    try:
        assert get(base + "/api/rumours/jn-1/trace", BAD_TOKEN, case="C-1")[0] == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    return err


@pytest.mark.parametrize("level, shown", [("info", True), ("warning", False), (None, True)])
def test_serve_logs_a_refused_token_at_the_log_level(tmp_path, level, shown):
    environ = {"RUMOUR_LOG_LEVEL": level} if level else {}
    err = _stderr_after_a_refusal(tmp_path, **environ)
    lines = [ln for ln in err.splitlines() if "streams.service.authn" in ln]
    expected = ["INFO streams.service.authn: 401 trace from 127.0.0.1 (unknown)"] if shown else []
    assert lines == expected, err[-2000:]
