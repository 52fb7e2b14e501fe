"""Result types and status codes of the cascade graph (plain data, no behaviour)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

ADDED = 0
DUPLICATE = 1
REJECTED = 2

# Reason codes written by the ingest kernel, mapped to text by the wrapper.
REASON_TEXT = {
    1: "parent cycle",
    2: "empty event_id",
    3: "empty account_id",
}

# Node flag bits, stored with the kind (low 3 bits) in one uint8 per node.
KIND_MASK = 0x07
FLAG_ACCOUNT_PLACEHOLDER = 0x40  # an account's unobserved stand-in (no event id)
FLAG_PRESENT = 0x80  # the event itself was observed (else: placeholder)

DEFAULT_KIND = 1  # "share", as in streams.events.KINDS


class AddResult(NamedTuple):
    """Outcome of :meth:`CascadeGraph.add_batch`: a status per input row, reasons for rejects."""

    status: np.ndarray
    reasons: dict

    @property
    def added(self) -> int:
        return int(np.count_nonzero(self.status == ADDED))

    @property
    def duplicates(self) -> int:
        return int(np.count_nonzero(self.status == DUPLICATE))

    @property
    def rejected(self) -> int:
        return int(np.count_nonzero(self.status == REJECTED))


class Origin(NamedTuple):
    """A root of the cascade forest; ``reach`` = present events in its tree."""

    account_id: str
    event_id: str | None
    ts_ms: int | None
    reach: int
    observed: bool


class Hop(NamedTuple):
    """One step of an evidence chain."""

    event_id: str | None
    account_id: str | None
    ts_ms: int | None
    observed: bool


class Cutoff(NamedTuple):
    """An account to suspend and the present shares (by others) that it would have prevented."""

    account_id: str
    prevented: int
