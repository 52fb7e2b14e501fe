"""A timeline of what the bench worker's consumer waits on (``ingest_worker --pace-trace``).

Records, with time.time(), every fetch hand-off (`Consumer._getmany`: start, end, records,
active partitions asked for), every "stream buffer under pressure" pause of a partition
(`on_buffer_full`) and its resumption (`on_buffer_drop`), and every 1 s idle sleep Faust takes
when no partition is active. Patched on Faust's classes before the app starts (the conductor
binds these methods at start-up); per fetch or per pause, never per message.
"""
from __future__ import annotations

import time


class PaceTrace:
    def __init__(self, limit: int = 20_000):
        self.limit = limit
        self.fetches: list = []  # (start, end, records, active partitions)
        self.full: list = []  # (time, partition)
        self.drop: list = []  # (time, partition)
        self.idle: list = []  # (start, end) of sleeps with no active partition

    def install(self) -> None:
        from faust.transport import consumer as fc
        from faust.transport.drivers import aiokafka as fa

        trace = self
        inner_getmany = fa.Consumer._getmany

        async def _getmany(self, active_partitions, timeout):
            t0 = time.time()
            records = await inner_getmany(self, active_partitions, timeout)
            if len(trace.fetches) < trace.limit:
                trace.fetches.append((t0, time.time(), sum(len(v) for v in records.values()),
                                      -1 if active_partitions is None else len(active_partitions)))
            return records

        fa.Consumer._getmany = _getmany
        full, drop = fc.Consumer.on_buffer_full, fc.Consumer.on_buffer_drop

        def on_buffer_full(self, tp):
            if len(trace.full) < trace.limit:
                trace.full.append((time.time(), tp.partition))
            return full(self, tp)

        def on_buffer_drop(self, tp):
            if len(trace.drop) < trace.limit:
                trace.drop.append((time.time(), tp.partition))
            return drop(self, tp)

        fc.Consumer.on_buffer_full, fc.Consumer.on_buffer_drop = on_buffer_full, on_buffer_drop
        wait_next = fc.Consumer._wait_next_records

        async def _wait_next_records(self, timeout):
            t0 = time.time()
            records, active = await wait_next(self, timeout)
            if not active and not self.app.client_only and len(trace.idle) < trace.limit:
                trace.idle.append((t0, time.time()))
            return records, active

        fc.Consumer._wait_next_records = _wait_next_records

    def snapshot(self) -> dict:
        return {"fetches": list(self.fetches), "full": list(self.full), "drop": list(self.drop),
                "idle": list(self.idle)}


def summary(pace: dict, long_s: float = 0.5) -> dict:
    """The timeline in a few figures: fetches, partition pauses (buffer over 80%), and the
    fetches that waited ``long_s`` or more (with their total seconds) between the first and the
    last records: the stalls (start-up before the first records and the idle wait after the
    last are not).

    >>> summary({"fetches": [(-2, -0.5, 0, 4), (0, 0.01, 10, 4), (1, 2.0, 5, 4), (3, 4.1, 0, 4)],
    ...          "full": [(0.5, 0)], "drop": [], "idle": []})
    {'fetches': 4, 'records': 15, 'pauses': 1, 'long_waits': 1, 'long_wait_s': 1.0}
    """
    first = min((end for _, end, n, _ in pace["fetches"] if n), default=0.0)
    last = max((end for _, end, n, _ in pace["fetches"] if n), default=0.0)
    waits = [(s, e) for s, e, _, _ in pace["fetches"]] + [tuple(w) for w in pace.get("idle", ())]
    long = [e - s for s, e in waits if e - s >= long_s and first <= s and e <= last]
    return {"fetches": len(pace["fetches"]), "records": sum(f[2] for f in pace["fetches"]),
            "pauses": len(pace["full"]), "long_waits": len(long), "long_wait_s": round(sum(long), 3)}
