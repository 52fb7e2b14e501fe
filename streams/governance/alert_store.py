"""Alerts on their way to the store, gathered into few INSERTs (:class:`AlertBuffer`).

The router raises a few dozen alerts per batch of 20,000 events. Written one INSERT per batch
(as before), that was a second INSERT beside the batch's events: on clickhouse-server 18.16
each INSERT has a fixed server cost (a new part of the alerts table: its files, later its
merges) of milliseconds to tens of milliseconds, the same order as the events' INSERT itself.
The buffer writes the alerts of many batches in one INSERT: when ``max_alerts`` are waiting,
when the oldest has waited ``max_seconds`` (a timer thread, so a quiet stream's last alerts
are not held), and at :meth:`AlertBuffer.flush` / :meth:`AlertBuffer.close` (the hub's flush,
the worker's shutdown, interpreter exit).

Promises (tests/test_alert_buffer.py): every alert handed to :meth:`AlertBuffer.add` is
written once, in the order raised; a failed INSERT keeps its alerts for the next flush (the
old path logged them as lost); at most ``max_alerts`` wait unless the store is failing, so the
router's in-memory history (its newest ``history`` alerts, at least ``max_alerts``) always
holds every alert the store does not have yet. The alerts table is a ReplacingMergeTree keyed
on the alert id and read with FINAL, so a retried INSERT that had in fact reached the server
shows each alert once. A process killed without its exit handlers (SIGKILL, power) loses at
most ``max_seconds`` of alerts from the store (they were already on the alerts topic) until a
worker rebuilds their rumours: its catch-up finds them missing from the store and raises them
again, late, with the same ids (streams/governance/alert_restore.py). :meth:`AlertBuffer.pending`
includes an INSERT under way, so that check never misses an alert that is only in flight.
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
MAX_ALERTS = 1024
# Kept while the store is failing; beyond it the oldest are logged and dropped (the old path
# dropped every alert of a failed INSERT).
MAX_PENDING = 10_000  # ~1 KB of JSON each, a few KB as dicts


class AlertBuffer:
    """Alerts waiting for one INSERT into ``store`` (``insert_alerts(list of dicts)``).

    >>> written = []
    >>> class Store:
    ...     def insert_alerts(self, alerts): written.append(list(alerts))
    >>> buf = AlertBuffer(Store(), max_alerts=3, max_seconds=60)
    >>> buf.add([{"alert_id": "a"}, {"alert_id": "b"}]); written, len(buf.pending())
    ([], 2)
    >>> buf.add([{"alert_id": "c"}]); [[a["alert_id"] for a in w] for w in written]
    [['a', 'b', 'c']]
    >>> buf.add([{"alert_id": "d"}]); buf.close(); [len(w) for w in written], buf.inserts
    ([3, 1], 2)
    """

    def __init__(self, store, max_alerts: int = MAX_ALERTS, max_seconds: float = FLUSH_SECONDS,
                 clock=time.monotonic):
        self.store = store
        self.max_alerts = max(1, int(max_alerts))
        self.max_seconds = float(max_seconds)
        self.clock = clock
        self._pending: list[dict] = []
        # The alerts of the INSERT under way: not in the store yet, no longer in _pending, and
        # maybe gone from the router's history; pending() still shows them (a catch-up asks).
        self._writing: list[dict] = []
        self._since: float | None = None  # clock() when the oldest pending alert arrived
        self._lock = threading.Lock()  # guards _pending / _since
        self._write_lock = threading.Lock()  # one INSERT at a time: alerts stay in order
        self._wake = threading.Condition(self._lock)
        self._timer: threading.Thread | None = None
        self._closed = False
        self.inserts = 0  # INSERTs made
        self.written = 0  # alerts written
        self.failures = 0  # failed INSERTs (their alerts were kept)
        self.dropped = 0  # alerts given up beyond MAX_PENDING while the store failed

    def add(self, alerts) -> None:
        """Queue ``alerts``; writes them (with the waiting ones) when the buffer is full."""
        alerts = list(alerts)
        if not alerts:
            return
        with self._lock:
            if not self._pending:
                self._since = self.clock()
            self._pending.extend(alerts)
            full = len(self._pending) >= self.max_alerts
            due = self.max_seconds <= 0 or self.clock() - self._since >= self.max_seconds
            if not (full or due) and not self._closed:
                self._ensure_timer()
                self._wake.notify()
                return
        self.flush()

    def pending(self) -> list[dict]:
        """The alerts not written yet (an INSERT under way included), oldest first."""
        with self._lock:
            return self._writing + self._pending

    def flush(self) -> int:
        """Write every waiting alert in one INSERT; returns how many were written (0 when
        there were none or the INSERT failed: they then stay for the next flush)."""
        with self._write_lock:
            with self._lock:
                batch, self._pending, since, self._since = self._pending, [], self._since, None
                self._writing = batch
            if not batch:
                return 0
            try:
                self.store.insert_alerts(batch)
            except Exception:  # the store may be down: keep them, oldest first
                self.failures += 1
                log.exception("writing %d alerts to the store failed; kept for the next flush", len(batch))
                with self._lock:
                    self._writing = []
                    self._pending[:0] = batch
                    self._since = since
                    over = len(self._pending) - MAX_PENDING
                    if over > 0:
                        del self._pending[:over]
                        self.dropped += over
                        log.error("%d alerts dropped: the store refused them for too long", over)
                return 0
            with self._lock:
                self._writing = []
            self.inserts += 1
            self.written += len(batch)
            return len(batch)

    def close(self) -> None:
        """Write what waits and stop the timer (later adds are written at once)."""
        with self._lock:
            self._closed = True
            self._wake.notify()
        timer = self._timer
        if timer is not None and timer is not threading.current_thread():
            timer.join(5.0)
        self.flush()

    # -- timer --------------------------------------------------------------------------------
    def _ensure_timer(self) -> None:
        """(lock held) Start the thread that flushes alerts older than ``max_seconds``."""
        if self._timer is not None:
            return
        ref = weakref.ref(self)
        self._timer = threading.Thread(target=_timer_loop, args=(ref,), name="alert-store", daemon=True)
        self._timer.start()
        # A normal exit writes what waits (the worker's shutdown hook does it earlier).
        atexit.register(_flush_at_exit, ref)


def _timer_loop(ref) -> None:
    # A weak reference: a buffer nobody holds any more is collected and its thread ends.
    while True:
        buf = ref()
        if buf is None:
            return
        with buf._lock:
            if buf._closed:
                return
            if buf._since is None:
                wait = buf.max_seconds
            else:
                wait = buf._since + buf.max_seconds - buf.clock()
            if wait > 0:
                buf._wake.wait(min(wait, buf.max_seconds))
                due = buf._since is not None and buf.clock() - buf._since >= buf.max_seconds
            else:
                due = True
            closed = buf._closed
        if closed:
            return
        if due:
            buf.flush()
        del buf


def _flush_at_exit(ref) -> None:
    buf = ref()
    if buf is not None:
        try:
            buf.close()
        except Exception:  # at exit there is nobody left to tell but the log
            log.exception("writing the last alerts at exit failed")
