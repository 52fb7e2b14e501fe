"""The names of a worker batch's Kafka messages (``topic/partition@offset``, as
sql/003_dead_letters.sql says), made only for the messages that need one.

Only a dead letter carries its message's name, but the worker used to format one per message of
every batch (about 0.6 ms a 1,000-message batch on this 2-core box), almost all thrown away: the
decoder's column-wise path, which takes a batch of valid events, never reads them.
"""
from __future__ import annotations

from collections.abc import Sequence


class MessageSources(Sequence):
    """``topic/partition@offset`` of message ``i``, formatted when asked for.

    >>> names = MessageSources("shares", [0, 1, 1], [7, 3, 4])
    >>> len(names), names[1], list(names.take([2, 0]))
    (3, 'shares/1@3', ['shares/1@4', 'shares/0@7'])
    """

    __slots__ = ("topic", "partitions", "offsets")

    def __init__(self, topic: str, partitions: list, offsets: list):
        if len(partitions) != len(offsets):
            raise ValueError(f"{len(partitions)} partitions for {len(offsets)} offsets")
        self.topic, self.partitions, self.offsets = topic, partitions, offsets

    def __len__(self) -> int:
        return len(self.offsets)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return MessageSources(self.topic, self.partitions[i], self.offsets[i])
        return f"{self.topic}/{self.partitions[i]}@{self.offsets[i]}"

    def take(self, indices) -> MessageSources:
        """The names of messages ``indices``, still unformatted."""
        return MessageSources(self.topic, [self.partitions[i] for i in indices],
                              [self.offsets[i] for i in indices])


def picked_sources(sources, indices):
    """``[sources[i] for i in indices]``, left unformatted when ``sources`` is lazy.

    >>> picked_sources(["a", "b", "c"], [2, 0]), picked_sources(None, [0])
    (['c', 'a'], None)
    """
    if sources is None:
        return None
    if isinstance(sources, MessageSources):
        return sources.take(indices)
    return [sources[i] for i in indices]
