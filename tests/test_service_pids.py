"""scripts/lib/pids.sh, the process helpers kafka.sh, clickhouse.sh and clickhouse-cluster.sh
share: a pid file is believed only for a live process whose command line names what was started,
and a stop returns once the process is gone (KILL after the grace time for one ignoring TERM)."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

PIDS = Path(__file__).resolve().parents[1] / "scripts" / "lib" / "pids.sh"


def bash(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"set -euo pipefail; source {PIDS}; {script}"],
                          capture_output=True, text=True, timeout=60)


def sleeper(tmp_path: Path, ignore_term: bool = False) -> subprocess.Popen:
    """A process whose command line ends ``Main <tmp>/app.cfg``, as a JVM's names its config."""
    code = ("import signal, sys, time\n"
            + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if ignore_term else "")
            + "print('up', flush=True)\ntime.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, "Main", str(tmp_path / "app.cfg")],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "up\n"  # its signal handler is set
    # Reaped as soon as it exits (a zombie still answers kill -0), as init reaps a service.
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc


def test_pid_of_believes_a_pid_file_only_for_the_process_it_names(tmp_path):
    proc = sleeper(tmp_path)
    try:
        pidfile = tmp_path / "app.pid"
        pidfile.write_text(f"{proc.pid}\n")
        found = bash(f'pid_of {pidfile} "Main {tmp_path}/app.cfg"')
        assert found.returncode == 0 and found.stdout.strip() == str(proc.pid)
        # another config (a server of another folder), no pid file, a dead pid: not ours
        assert bash(f'pid_of {pidfile} "Main {tmp_path}/other.cfg"').returncode == 1
        assert bash(f'pid_of {tmp_path}/none.pid "Main"').returncode == 1
    finally:
        proc.kill()
        proc.wait()
    assert bash(f'pid_of {pidfile} "Main {tmp_path}/app.cfg"').returncode == 1


def test_stop_pid_returns_once_the_process_is_gone_killing_one_that_ignores_term(tmp_path):
    polite = sleeper(tmp_path)
    started = time.monotonic()
    assert bash(f"stop_pid {polite.pid} 30").returncode == 0  # gone on TERM: no KILL needed
    assert time.monotonic() - started < 10 and not Path(f"/proc/{polite.pid}").exists()
    stubborn = sleeper(tmp_path, ignore_term=True)
    started = time.monotonic()
    # returns 1: it took a KILL, after the grace (2 s of bash's whole-second clock: over 1 s)
    assert bash(f"stop_pid {stubborn.pid} 2").returncode == 1
    assert 1 <= time.monotonic() - started < 15
    assert not Path(f"/proc/{stubborn.pid}").exists()  # gone when it returned, not just signalled
    assert stubborn.wait(timeout=5) == -9
