"""The soak run's producer: a steady stream of seeded synthetic shares, with a share of malformed
messages and of re-sent copies, retrying each message through broker outages (benchmarks/soak.py).
"""
from __future__ import annotations

import asyncio
import random
import threading
import time

import orjson

from streams.synthetic import synthetic_events

# Each malformed message is made unique (a counter), so stored dead letters can be counted exactly.
MALFORMED = [b"{not json %d", b"\xff\xfe%d", b"[%d]", b'{"event_id":"x%d","rumour_id":"r"}',
             b'{"event_id":"x%d","rumour_id":"r","account_id":"a","ts":12}']


class Producer(threading.Thread):
    """Sends at a steady rate, retrying each message until the broker takes it (outages)."""

    def __init__(self, bootstrap, topic, rate, seed, malformed=0.01, copies=0.01):
        super().__init__(daemon=True)
        self.malformed_share, self.copies_share = malformed, copies
        self.bootstrap, self.topic, self.rate = bootstrap, topic, rate
        self.rng = random.Random(seed)
        self.seed = seed
        self.stop_flag = threading.Event()
        self.events: list[dict] = []  # every distinct valid event sent
        self.copies = 0
        self.malformed = 0
        self.send_errors = 0

    def _stream(self):
        chunk = 0
        while True:
            for e in synthetic_events(n_rumours=5, shares_per_rumour=400, seed=self.seed + chunk,
                                      prefix=f"soak{chunk}"):
                yield e
            chunk += 1

    def run(self):
        asyncio.run(self._run())

    async def _run(self):
        from aiokafka import AIOKafkaProducer

        producer = None
        started = time.monotonic()
        sent = 0
        stream = self._stream()
        pending = None
        while not self.stop_flag.is_set():
            if pending is None:
                roll = self.rng.random()
                if roll < self.malformed_share:
                    pending = (b"bad", self.rng.choice(MALFORMED) % self.malformed, "malformed")
                elif roll < self.malformed_share + self.copies_share and self.events:
                    e = self.rng.choice(self.events)
                    pending = (e["rumour_id"].encode(), orjson.dumps(e), "copy")
                else:
                    e = next(stream)
                    pending = (e["rumour_id"].encode(), orjson.dumps(e), e)
            try:
                if producer is None:
                    producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                                request_timeout_ms=10000)
                    await asyncio.wait_for(producer.start(), 15)
                await asyncio.wait_for(producer.send_and_wait(self.topic, key=pending[0], value=pending[1]), 15)
            except Exception:  # broker down: keep the message, reconnect, try again
                self.send_errors += 1
                try:
                    if producer is not None:
                        await asyncio.wait_for(producer.stop(), 10)
                except Exception:
                    pass
                producer = None
                await asyncio.sleep(1.0)
                continue
            kind = pending[2]
            if kind == "malformed":
                self.malformed += 1
            elif kind == "copy":
                self.copies += 1
            else:
                self.events.append(kind)
            pending = None
            sent += 1
            ahead = sent / self.rate - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
        if producer is not None:
            await producer.stop()
