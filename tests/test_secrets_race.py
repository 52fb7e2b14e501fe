"""Replicas starting together on one secrets folder (docker-compose.yml's shared volume) create
the pseudonym and evidence keys at once: every one must end up with the same key, the file whole,
and none may fail. The temporary file was named by process id, which two containers share (each
worker is PID 1 in its own), and so do two threads of one process: one truncated or removed the
other's half-written file (a short key refused at start, or FileNotFoundError)."""
from __future__ import annotations

import multiprocessing
import os
import threading

from streams.service.paths import load_or_create_key
from streams.service.tokens import TokenStore


def _race_threads(path, n: int = 8) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def create(i: int) -> None:
        barrier.wait()
        try:
            results[i] = load_or_create_key(path)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion
            results[i] = exc

    threads = [threading.Thread(target=create, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_threads_creating_one_key_all_get_the_winners_key(tmp_path):
    for round_ in range(20):  # a race: many rounds, each on a fresh file
        path = tmp_path / f"k{round_}" / "pseudonym.key"
        results = _race_threads(path)
        assert all(isinstance(r, bytes) for r in results), results
        assert len(set(results)) == 1 and len(results[0]) == 32
        assert path.read_bytes() == results[0]
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        assert sorted(p.name for p in path.parent.iterdir()) == ["pseudonym.key"]  # no temp file left


def _replica(folder: str, name: str, start, queue) -> None:
    real_getpid = os.getpid
    os.getpid = lambda: 1  # every worker is PID 1 in its own container (multiprocessing needs the real one)
    start.wait()
    try:
        outcome = (load_or_create_key(os.path.join(folder, "pseudonym.key")),
                   load_or_create_key(os.path.join(folder, "evidence.key")),
                   TokenStore(os.path.join(folder, "tokens.json")).issue("admin", "000000", name)[0] != "")
    except Exception as exc:  # noqa: BLE001 - reported by the assertion
        outcome = f"{type(exc).__name__}: {exc}"
    os.getpid = real_getpid
    queue.put(outcome)


def test_replicas_starting_together_share_one_key_each(tmp_path):
    ctx = multiprocessing.get_context("fork")
    for round_ in range(5):
        folder = tmp_path / f"secrets{round_}"
        start, queue = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_replica, args=(str(folder), f"replica-{i}", start, queue))
                 for i in range(4)]
        for p in procs:
            p.start()
        start.set()
        got = [queue.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(30)
        assert all(isinstance(g, tuple) for g in got), got
        assert len({g[0] for g in got}) == 1 and len({g[1] for g in got}) == 1
        assert got[0][0] != got[0][1] and all(g[2] for g in got)
        assert len(TokenStore(folder / "tokens.json").list()) == 4  # every replica's token kept
