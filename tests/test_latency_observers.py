"""Observers off the path to queryable: inside ``observers_deferred`` the store write does not run
the governance observers; ``observe_prepared`` runs them, in order, on the stored batch."""
from __future__ import annotations

import threading

import orjson

from streams.events import Decoder
from streams.pipeline import Pipeline
from streams.synthetic import synthetic_events
from tests.test_prepare_equivalence import StubStore


def _messages(seed: int, n: int = 60) -> list[bytes]:
    events = list(synthetic_events(n_rumours=2, shares_per_rumour=n // 2, seed=seed, prefix=f"o{seed}"))
    return [orjson.dumps(e) for e in events]


def _pipeline() -> tuple[Pipeline, StubStore, list]:
    store = StubStore()
    pipe = Pipeline(store, Decoder())
    seen: list = []

    def observe(batch):
        # what the observer sees, and how many rows the store already holds at that moment
        seen.append((list(batch.event_id), sum(len(b) for b in store.batches)))

    pipe.observers.append(observe)
    return pipe, store, seen


def test_default_write_runs_observers_after_the_store_write():
    pipe, store, seen = _pipeline()
    prepared = pipe.prepare(_messages(1))
    pipe.write_prepared(prepared)
    assert len(seen) == 1
    ids, stored_before = seen[0]
    assert ids == list(prepared.decoded.event_id)
    assert stored_before == len(prepared.batch) > 0  # the observer ran after the write


def test_deferred_write_leaves_observers_to_observe_prepared():
    pipe, store, seen = _pipeline()
    first = pipe.prepare(_messages(2))
    with pipe.observers_deferred():
        pipe.write_prepared(first)
    assert seen == []  # stored, not yet observed
    assert sum(len(b) for b in store.batches) == len(first.batch) > 0
    second = pipe.prepare(_messages(3))
    done = threading.Event()

    def other_thread():
        # another thread (an embedded replay) is not deferred: nothing to see here yet
        assert not getattr(pipe._deferring, "on", False)
        done.set()

    with pipe.observers_deferred():
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        pipe.write_prepared(second)
    assert done.is_set() and seen == []
    assert pipe.observe_prepared(first) >= 0.0
    pipe.observe_prepared(second)
    assert [ids for ids, _ in seen] == [list(first.decoded.event_id), list(second.decoded.event_id)]


def test_deferred_and_inline_observers_see_the_same_batches():
    inline, _, seen_inline = _pipeline()
    deferred, _, seen_deferred = _pipeline()
    for seed in (4, 5, 6):
        msgs = _messages(seed)
        inline.write_prepared(inline.prepare(msgs))
        p = deferred.prepare(msgs)
        with deferred.observers_deferred():
            deferred.write_prepared(p)
        deferred.observe_prepared(p)
    inline.write_prepared(inline.prepare(_messages(7)))  # outside the block: observed inline
    deferred.write_prepared(deferred.prepare(_messages(7)))
    assert [ids for ids, _ in seen_inline] == [ids for ids, _ in seen_deferred]
