"""Prototype (not used by the engine): a faster decode and grouping for batched messages, to
measure what a patch to streams/events.py and streams/pipeline.py would gain.

- :class:`FastDecoder`: parse every message, then check whole *columns* at once (``all()`` over
  C-level iterators, numpy for timestamps) instead of calling ``validate_event`` per event. When
  every event passes, the batch equals what :class:`streams.events.Decoder` returns; when anything
  fails (or a timestamp is an RFC 3339 string), the whole batch is decoded by the exact per-event
  path, so dead letters and their reasons never differ.
- The prototype's grouping (dict + stable argsort + ``itemgetter``) and its vectorised
  out-of-batch parent lookup are now the engine's (streams/rumour_graphs.py, streams/crossref.py),
  so both rows run the engine's Pipeline; they differ only in the decoder.

    .venv/bin/python -m benchmarks.proto_pipeline [--events 200000] [--per-message 500]

prints us/event of each step for both versions (the store is a fresh ClickHouse database each).

    .venv/bin/python -m benchmarks.proto_pipeline --decode-only [--events 200000] [--per-message 2000]

times only the engine's ``Decoder.decode`` on the same events sent as JSON arrays (event by
event through ``validate_event``, as before; and read into columns) and as columnar messages
(streams/events_columnar.py): us/event of CPU time (``process_time``, steadier than the
wall clock on a shared machine) and of wall time, median and best of ``--runs`` runs.

    .venv/bin/python -m benchmarks.proto_pipeline --prepare [--events 500000] [--runs 5]

times the prepare side of the engine's Pipeline on columnar messages of 2,000 events grouped 25
to a batch (50,000 events): CPU us/event (``thread_time``) of decode, restore, cross-rumour
check, graphs and the whole ``prepare`` call, median over ``--runs`` runs (each a fresh
Pipeline over a store stub that accepts writes, so the write-behind bookkeeping runs too).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import orjson

from streams.events import (FUTURE_SLACK_MS, KIND_CODE, MAX_ID_CHARS, MAX_SHORT_CHARS,
                            MAX_TEXT_CHARS, MIN_TS_MS, Decoder, EventBatch)

_KIND = {**KIND_CODE, None: 1}
_FIELDS = ("event_id", "rumour_id", "account_id", "ts", "parent_event_id", "parent_account_id",
           "kind", "platform", "region", "text")


def _ids_ok(col) -> bool:
    return (all(type(x) is str for x in col) and all(map(str.strip, col))
            and max(map(len, col)) <= MAX_ID_CHARS)


def _opt_ok(col, limit: int) -> bool:
    if not all(x is None or type(x) is str for x in col):
        return False
    lens = [len(x) for x in col if x is not None]
    return not lens or max(lens) <= limit


class FastDecoder(Decoder):
    def decode(self, messages, sources=None, now_ms: int | None = None):
        if now_ms is None:
            now_ms = int(time.time() * 1000)
        messages = list(messages)
        fast = sources is None and self._fast(messages, now_ms)
        if fast is None:
            return super().decode(messages, sources, now_ms)
        return fast, []

    def _fast(self, messages, now_ms):
        objs = []
        try:
            for raw in messages:
                if type(raw) is not bytes or len(raw) > self.max_message_bytes:
                    return None
                obj = orjson.loads(raw)
                if type(obj) is list:
                    if not obj:
                        return None
                    objs.extend(obj)
                else:
                    if len(raw) > self.max_event_bytes:
                        return None
                    objs.append(obj)
        except orjson.JSONDecodeError:
            return None
        if not objs or not all(type(o) is dict for o in objs):
            return None
        cols = [[o.get(f) for o in objs] for f in _FIELDS]
        eid, rid, aid, ts, pe, pa, kind, platform, region, text = cols
        if not (_ids_ok(eid) and _ids_ok(rid) and _ids_ok(aid)):
            return None
        if not all(type(x) is int for x in ts):
            return None
        ts_ms = np.array(ts, np.int64)
        if ts_ms.min() < MIN_TS_MS or ts_ms.max() > now_ms + FUTURE_SLACK_MS:
            return None
        if not (_opt_ok(pe, MAX_ID_CHARS) and _opt_ok(pa, MAX_ID_CHARS)
                and _opt_ok(platform, MAX_SHORT_CHARS) and _opt_ok(region, MAX_SHORT_CHARS)
                and _opt_ok(text, MAX_TEXT_CHARS)):
            return None
        pe = [x or None for x in pe]
        if any(map(str.__eq__, (x or "" for x in pe), eid)):
            return None  # an event its own parent: the exact path names the reason
        try:
            codes = [_KIND.get(k, 99) for k in kind]
        except TypeError:  # an unhashable kind
            return None
        if max(codes) > 3:
            return None
        return EventBatch(event_id=eid, rumour_id=rid, account_id=aid, ts_ms=ts_ms,
                          parent_event_id=pe, parent_account_id=[x or None for x in pa],
                          kind=np.array(codes, np.uint8), platform=platform,
                          region=[x or None for x in region], text=text)


def _time_pipeline(pipe, batches) -> dict:
    from benchmarks.ingest_worker import Counters, TimedDecoder, TimedPipeline

    c = Counters(1)
    pipe.counters = c
    pipe.decoder.counters = c
    for b in batches:
        pipe.process(b)
    d = c.snapshot()
    del TimedDecoder, TimedPipeline
    return d


def compare(n_events: int, per_message: int, batch_messages: int, clickhouse: str | None) -> dict:
    """us/event per step for the engine's Pipeline and this prototype on the same messages."""
    import uuid

    from benchmarks import ingest_kit
    from benchmarks.ingest_worker import TimedDecoder, TimedPipeline
    from streams.pipeline import warm_up
    from streams.store import open_store

    class FastTimedDecoder(TimedDecoder, FastDecoder):
        pass

    warm_up()
    msgs = [v for _, v in ingest_kit.stream_messages(n_events, per_message, 0, "proto")]
    batches = [msgs[i:i + batch_messages] for i in range(0, len(msgs), batch_messages)]
    out = {}
    for name, pcls, dcls in (("engine", TimedPipeline, TimedDecoder),
                             ("prototype", TimedPipeline, FastTimedDecoder)):
        store = None
        if clickhouse:
            store = open_store(clickhouse, database=f"proto_{uuid.uuid4().hex[:10]}")
            store.migrate()
        pipe = pcls(store, dcls())
        t0 = time.perf_counter()
        d = _time_pipeline(pipe, batches)
        wall = time.perf_counter() - t0
        if store is not None:
            store._command(f"DROP DATABASE IF EXISTS {store.database}")
            store.close()
        us = lambda s: round(s * 1e6 / n_events, 2)  # noqa: E731
        out[name] = {"us_per_event": us(wall), "decode_us": us(d["decode_s"]),
                     "restore_us": us(d["restore_s"]), "refuse_us": us(d["refuse_s"]),
                     "graph_us": us(d["graph_s"]), "store_us": us(d["store_s"]),
                     "other_us": us(d["busy_s"] - d["decode_s"] - d["graph_s"] - d["store_s"]
                                    - d["restore_s"] - d["refuse_s"]),
                     "events_per_s": round(n_events / wall)}
    return out


def decode_only(n_events: int, per_message: int, batch_messages: int, runs: int) -> dict:
    """us/event of ``Decoder.decode`` on JSON-array vs columnar messages (same events)."""
    import statistics

    from benchmarks import ingest_kit
    from streams.events_columnar import encode_columns

    arrays = [v for _, v in ingest_kit.stream_messages(n_events, per_message, 0, "proto")]
    forms = {"array_event_by_event": arrays, "array": arrays,
             "columns": [encode_columns(orjson.loads(v)) for v in arrays]}
    decoders = {name: Decoder() for name in forms}
    decoders["array_event_by_event"].min_array_columns = 1 << 62  # validate_event per event
    now_ms = int(time.time() * 1000)
    times: dict = {name: {"cpu": [], "wall": []} for name in forms}
    for _ in range(runs):
        for name, msgs in forms.items():  # interleaved: every form sees the same machine load
            decoder = decoders[name]
            c0, w0 = time.process_time(), time.perf_counter()
            events = 0
            for i in range(0, len(msgs), batch_messages):
                batch, dead = decoder.decode(msgs[i:i + batch_messages], now_ms=now_ms)
                events += len(batch) + len(dead)
            times[name]["cpu"].append(time.process_time() - c0)
            times[name]["wall"].append(time.perf_counter() - w0)
            assert events == n_events and not dead
    us = lambda s: round(s * 1e6 / n_events, 3)  # noqa: E731
    out = {name: {"cpu_us_per_event_median": us(statistics.median(t["cpu"])),
                  "cpu_us_per_event_best": us(min(t["cpu"])),
                  "wall_us_per_event_median": us(statistics.median(t["wall"])),
                  "message_bytes_mean": round(sum(map(len, forms[name])) / len(forms[name]))}
           for name, t in times.items()}
    out["columns_speedup_cpu_median"] = round(out["array"]["cpu_us_per_event_median"]
                                              / out["columns"]["cpu_us_per_event_median"], 2)
    out.update(events=n_events, per_message=per_message, batch_messages=batch_messages, runs=runs)
    return out


class _StubStore:
    """Accepts every write; holds nothing (no restore query, no stored parent)."""

    def write(self, batch, dead):
        pass

    def rumour_ids(self):
        return []

    def load_events(self, rumour_ids=None):
        from streams.events import EventBatch
        return EventBatch()


def prepare_clocks(n_events: int, per_message: int, batch_messages: int, runs: int) -> dict:
    """CPU us/event of each prepare step (median of ``runs`` fresh pipelines, same batches)."""
    import statistics

    from benchmarks import ingest_kit
    from streams.events_columnar import encode_columns
    from streams.pipeline import Pipeline, warm_up

    warm_up()
    arrays = [v for _, v in ingest_kit.stream_messages(n_events, per_message, 0, "prep")]
    msgs = [encode_columns(orjson.loads(v)) for v in arrays]
    batches = [msgs[i:i + batch_messages] for i in range(0, len(msgs), batch_messages)]
    steps = ("decode", "restore", "refuse", "graph")

    class Clocked(Pipeline):
        def _clock(self, name, fn, *args):
            t0 = time.thread_time()
            try:
                return fn(*args)
            finally:
                self.clocks[name] += time.thread_time() - t0

        def _restore_from_store(self, batch):
            return self._clock("restore", super()._restore_from_store, batch)

        def _refuse_cross_rumour_parents(self, batch, dead):
            return self._clock("refuse", super()._refuse_cross_rumour_parents, batch, dead)

        def _apply_to_graphs(self, batch, dead):
            return self._clock("graph", super()._apply_to_graphs, batch, dead)

    per_run: dict = {k: [] for k in (*steps, "prepare")}
    for _ in range(runs):
        pipe = Clocked(_StubStore())
        pipe.clocks = dict.fromkeys(steps, 0.0)
        decode = pipe.decoder.decode
        pipe.decoder.decode = lambda m, s=None, now_ms=None: pipe._clock("decode", decode, m, s, now_ms)
        total = 0.0
        for b in batches:
            t0 = time.thread_time()
            prepared = pipe.prepare(b, None, [0] * len(b))
            total += time.thread_time() - t0
            pipe.write_prepared(prepared)
        for k in steps:
            per_run[k].append(pipe.clocks[k])
        per_run["prepare"].append(total)
    us = lambda s: round(s * 1e6 / n_events, 3)  # noqa: E731
    out = {f"{k}_us": us(statistics.median(v)) for k, v in per_run.items()}
    out["prepare_us_best"] = us(min(per_run["prepare"]))
    out.update(events=n_events, per_message=per_message, batch_messages=batch_messages, runs=runs)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--per-message", type=int, default=500)
    ap.add_argument("--batch-messages", type=int, default=20)
    ap.add_argument("--clickhouse", default="clickhouse://127.0.0.1:9000", help="'none': no store")
    ap.add_argument("--decode-only", action="store_true",
                    help="time Decoder.decode on JSON-array vs columnar messages of the same events")
    ap.add_argument("--runs", type=int, default=7, help="runs of each form with --decode-only")
    ap.add_argument("--prepare", action="store_true",
                    help="CPU us/event of the engine's prepare steps on columnar messages")
    args = ap.parse_args(argv)
    if args.prepare:
        print(orjson.dumps(prepare_clocks(args.events, args.per_message, args.batch_messages,
                                          args.runs)).decode())
        return
    if args.decode_only:
        print(orjson.dumps(decode_only(args.events, args.per_message, args.batch_messages,
                                       args.runs)).decode())
        return
    url = None if args.clickhouse == "none" else args.clickhouse
    print(orjson.dumps(compare(args.events, args.per_message, args.batch_messages, url)).decode())


if __name__ == "__main__":
    main()
