"""The worker names its messages lazily (streams/message_sources.py): a batch of valid events
formats no ``topic/partition@offset`` at all, and the dead letters carry the same names as with
the list of strings the worker built before, through the decoder and the pipeline's split of a
batch by partition."""
from __future__ import annotations

import orjson

from streams.decoder import Decoder
from streams.message_sources import MessageSources
from streams.pipeline import Pipeline
from tests.test_decoder_singles import NOW, events


class CountingSources(MessageSources):
    """MessageSources that counts the names it formats (take() keeps the count)."""

    __slots__ = ("made",)

    def __init__(self, topic, partitions, offsets, made=None):
        super().__init__(topic, partitions, offsets)
        self.made = made if made is not None else []

    def __getitem__(self, i):
        name = super().__getitem__(i)
        if isinstance(name, str):
            self.made.append(name)
        return name

    def take(self, indices):
        return CountingSources(self.topic, [self.partitions[i] for i in indices],
                               [self.offsets[i] for i in indices], self.made)


def messages_and_names(n=40, bad=(7, 31)):
    msgs = [orjson.dumps(e) for e in events(n)]
    for i in bad:
        msgs[i] = orjson.dumps(dict(orjson.loads(msgs[i]), kind="like"))
    partitions = [i % 3 for i in range(n)]
    offsets = [1000 + i for i in range(n)]
    return msgs, partitions, offsets


def test_a_batch_of_valid_events_formats_no_name():
    msgs, partitions, offsets = messages_and_names(bad=())
    names = CountingSources("shares", partitions, offsets)
    batch, dead = Decoder().decode(msgs, names, now_ms=NOW)
    assert len(batch) == len(msgs) and dead == [] and names.made == []


def test_dead_letters_carry_the_names_the_eager_list_gave():
    msgs, partitions, offsets = messages_and_names()
    eager = [f"shares/{p}@{o}" for p, o in zip(partitions, offsets)]
    lazy = MessageSources("shares", partitions, offsets)
    assert list(lazy) == eager
    want = Decoder().decode(msgs, eager, now_ms=NOW)
    got = Decoder().decode(msgs, lazy, now_ms=NOW)
    assert [(d.source, d.reason) for d in got[1]] == [(d.source, d.reason) for d in want[1]]
    assert [d.source for d in got[1]] == ["shares/1@1007", "shares/1@1031"]
    assert got[0].event_id == want[0].event_id


def test_the_pipeline_split_by_partition_keeps_the_names_lazy_and_right(monkeypatch):
    msgs, partitions, offsets = messages_and_names(120)  # 40 a partition: column-wise unless bad
    dead_of = []
    real = Pipeline.prepare_batch

    def prepare_batch(self, batch, dead):
        dead_of.append(sorted(d.source for d in dead))
        return real(self, batch, dead)

    monkeypatch.setattr(Pipeline, "prepare_batch", prepare_batch)
    names = CountingSources("shares", partitions, offsets)
    Pipeline(store=None).prepare(msgs, [f"shares/{p}@{o}" for p, o in zip(partitions, offsets)], partitions)
    Pipeline(store=None).prepare(msgs, names, partitions)
    assert dead_of[0] == dead_of[1] == ["shares/1@1007", "shares/1@1031"]
    # Partition 1 went message by message (it has the bad ones): only its messages were named.
    assert 2 <= len(names.made) <= partitions.count(1)
