"""``rumour worker``'s stop, bounded by ``shutdown_write_seconds``.

Faust's stop waits for the batch being written (a revocation first settles it), and that write
retried for ``store_retry_seconds`` (minutes) against an unreachable store, so a SIGTERM during
an outage took over five minutes to end (310 s measured, session 16) and Docker's SIGKILL came
first. On SIGTERM or SIGINT, :meth:`BoundedStop.begin` gives the pipeline and the store a
deadline ``shutdown_write_seconds`` away (a write still failing then raises, the agent logs one
error line with the counts and exits with :data:`EXIT_UNSTORED`), writes the pending summary of
refused requests at once (its own bound; else its counts are one error line), and arms a
watchdog: whatever still runs ``STOP_GRACE_SECONDS`` after the deadline (a server that accepted
the connection and never answers, Faust's own stop on a broker that is gone) ends the process
the same way when messages are left unstored, and with :data:`EXIT_CLEAN` when the stop was only
slow (every message taken was stored: nothing to come again for, so systemd and compose must not
read it as a failure).

Nothing is lost by exiting so: a batch's messages are acked only after its write succeeded and
Faust commits acked offsets only, so the events of every batch not stored are delivered again at
the next start (the store ignores a re-delivered event: ReplacingMergeTree keyed on the event id).
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

log = logging.getLogger(__name__)

# EX_TEMPFAIL: stopped with taken messages not stored; they come back at the next start.
EXIT_UNSTORED = 75
# A stop that ended with every message taken stored: Faust's own clean stop exits 0 too. Offsets
# of stored batches not committed yet come again and are counted as duplicates, never stored twice.
EXIT_CLEAN = 0

# After the store's deadline, for Faust's own stop (commit, leave the group, flush the producer):
# a few seconds on a healthy broker. shutdown_write_seconds (5 s) + this stays well inside
# docker-compose.yml's stop_grace_period (30 s).
STOP_GRACE_SECONDS = 5.0


class BoundedStop:
    """The worker's stop: begun by a signal, ended by the agent or by a watchdog thread.

    ``app``: the Faust app of :func:`streams.app.create_app` (its ``pipeline``, its
    ``unstored_messages()`` and, when the web API is mounted, its ``rumour_service``)."""

    def __init__(self, app, seconds: float, grace: float = STOP_GRACE_SECONDS):
        self.app, self.seconds, self.grace = app, float(seconds), float(grace)
        self.deadline: float | None = None  # time.monotonic() when the store is given up
        self.summary: asyncio.Future | None = None  # the refusal summary's write, once begun
        self._woken: asyncio.Event | None = None

    @property
    def begun(self) -> bool:
        return self.deadline is not None

    def begin(self) -> None:
        """On the event loop, when SIGTERM or SIGINT arrives (again: nothing more)."""
        if self.begun:
            return
        self.deadline = time.monotonic() + self.seconds
        self.app.pipeline.give_up_by(self.deadline)
        service = getattr(self.app, "rumour_service", None)
        if service is not None:  # aiohttp's on_shutdown runs it again later: nothing left then
            self.summary = asyncio.ensure_future(service.on_shutdown())
        if self._woken is not None:
            self._woken.set()
        threading.Thread(target=self._watchdog, daemon=True, name="bounded-stop").start()

    async def pause(self, seconds: float) -> None:
        """Sleep ``seconds`` between two attempts at a write, ended early by :meth:`begin` (an
        outage's pause is up to 30 s: the stop's bound would pass during it)."""
        if self.begun:
            return
        if self._woken is None:
            self._woken = asyncio.Event()
        try:
            await asyncio.wait_for(self._woken.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def exit_unstored(self, exc: BaseException) -> None:
        """The agent's end when a write (or prepare) fails while stopping: wait for the refusal
        summary's own bounded write (its error line), log one line with the counts, exit
        without commit."""
        if self.summary is not None:
            await asyncio.wait({self.summary}, timeout=self.seconds)
        self._exit(lambda n: f"stopping with {n} message(s) taken and not stored ({exc})")

    def _watchdog(self) -> None:
        time.sleep(max(0.0, self.deadline + self.grace - time.monotonic()))
        self._exit(lambda n: f"stop not finished {self.seconds + self.grace:g}s after the signal, "
                             f"with {n} message(s) taken and not stored")

    def _exit(self, line_of) -> None:
        """Exit at once: :data:`EXIT_UNSTORED` with an error line when messages taken are not
        stored, else :data:`EXIT_CLEAN` with a warning (the stop was slow, nothing is left).
        ``line_of(n)``: the line, given the count of messages taken and not stored."""
        unstored = self.app.unstored_messages()  # read once: the line and the code agree
        line = line_of(unstored)
        writes = getattr(self.app, "kafka_writes", None)
        if writes is not None:
            # Alerts handed to Kafka and not acknowledged (a broker gone with the stop): kept in
            # the data folder, sent first at the next start (streams/worker_kafka_writes.py).
            try:
                kept = writes.spool.write()
            except OSError as exc:
                log.error("alerts not acknowledged by Kafka could not be kept in %s: %s", writes.spool.path, exc)
            else:
                if kept:
                    line += f"; {kept} alert(s) not acknowledged by Kafka kept in {writes.spool.path}"
        if unstored:
            log.error("%s: exiting without commit, they are delivered again at the next start", line)
        else:
            log.warning("%s: every message taken was stored, exiting %d (offsets not committed yet come "
                        "again, counted as duplicates)", line, EXIT_CLEAN)
        for handler in logging.getLogger().handlers:  # os._exit skips logging's own flush
            handler.flush()
        os._exit(EXIT_UNSTORED if unstored else EXIT_CLEAN)
