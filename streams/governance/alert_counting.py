"""Counting for the alert router: the state of a rumour and of its units (:class:`_Rumour`,
:class:`_Unit`), and :class:`AlertCounting`, which adds a batch's new shares to it, summed per
(rumour, unit, minute) by one numpy group-by (Python runs per group, not per event).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from streams.governance.alert_kernels import IdHashes
from streams.governance.batchview import BatchView
from streams.governance.divisions import normalise_region, unit_of

MINUTE_MS = 60_000


@dataclass
class _Unit:
    # (minute, count) rows judged, ascending, the last 2w minutes only (the rules read no more)
    minutes: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    counts: dict = field(default_factory=dict)  # minute -> count, minutes not yet judged only
    evaluated_to: int = -1  # last minute judged
    first_minute: int | None = None
    rate: float = 0.0
    total: int = 0
    last_alert: dict = field(default_factory=dict)  # rule -> minute


@dataclass
class _Rumour:
    watermark: int = -1  # latest minute seen
    units: dict = field(default_factory=dict)  # unit -> _Unit
    seen: "IdHashes" = field(default_factory=lambda: IdHashes())  # view_kernels.hashes_of their event ids
    # After a rebuild: ids of alerts raised before for minutes the replay left open (a flush
    # judged the last minute): judged again live, they are not raised twice. Usually None.
    raised_ahead: set | None = None


def _mark(st: _Rumour, view: BatchView, rows: np.ndarray) -> np.ndarray:
    """The rows (ascending) whose events the rumour had not counted, now marked counted; of
    events repeated inside the batch, the first in time order. Ids are known by the view's
    hashes of their bytes (made once per batch, in numba)."""
    return rows[st.seen.insert_new(view.event_hash[rows], np.argsort(view.ts[rows], kind="stable"))]


class AlertCounting:
    """The counting half of :class:`~streams.governance.alerts.AlertRouter` (reads its
    ``config``, ``_rumours`` and ``_units_of_region``)."""

    def _count(self, batch, view: BatchView, only=None) -> set:
        """Count the batch's shares not counted before (``only``: of these rumours); the
        rumours that got new events. New events are summed per (rumour, unit, minute) by one
        numpy group-by, so the Python below runs once per group, not per event (sums: the order
        does not matter, and no minute is judged before the batch is all counted)."""
        minutes = view.ts // MINUTE_MS
        touched, states, parts = set(), [], []
        for rumour_id, rows in view.groups:
            rows = rows[~view.debunk[rows]]
            if not len(rows) or (only is not None and rumour_id not in only):
                continue
            st = self._rumours.get(rumour_id)
            if st is None:
                st = self._rumours[rumour_id] = _Rumour()
            rows = _mark(st, view, rows)
            if not len(rows):
                continue
            touched.add(rumour_id)
            top = int(minutes[rows].max())
            if top > st.watermark:
                st.watermark = top
            states.append(st)
            parts.append(rows)
        if parts:
            self._add_groups(states, parts, minutes, view)
        return touched

    def _add_groups(self, states: list, parts: list, minutes: np.ndarray, view: BatchView) -> None:
        """Add the new rows (``parts[k]``: rows of ``states[k]``) to their units' minutes."""
        units, unit_map = self._unit_map(view.regions)
        if not units:
            return
        rows = np.concatenate(parts)
        part = np.repeat(np.arange(len(parts), dtype=np.int64), [len(p) for p in parts])
        unit = unit_map[:, view.region[rows]]  # (levels, rows): a share counts for each level's unit
        minute = minutes[rows]
        keep = unit >= 0
        lo = int(minute.min())
        span, n_units = int(minute.max()) - lo + 1, len(units)
        key = ((np.broadcast_to(part, unit.shape)[keep] * n_units + unit[keep]) * span
               + np.broadcast_to(minute - lo, unit.shape)[keep])
        space = len(parts) * n_units * span
        if space <= 8 * len(key) + 4096:  # dense keys: counting beats sorting
            count = np.bincount(key, minlength=space)
            key = np.flatnonzero(count)
            count = count[key]
        else:
            key, count = np.unique(key, return_counts=True)
        minute_of = (key % span + lo).tolist()
        last, u = -1, None
        for pu, m, n in zip((key // span).tolist(), minute_of, count.tolist()):
            if pu != last:  # keys sorted: one (rumour, unit) after the other
                last = pu
                st, name = states[pu // n_units], units[pu % n_units]
                u = st.units.get(name)
                if u is None:
                    u = st.units[name] = _Unit()
            if m > u.evaluated_to:  # a judged minute is never judged again
                u.counts[m] = u.counts.get(m, 0) + n
            u.total += n
            if u.first_minute is None or m < u.first_minute:
                u.first_minute = m

    def _unit_map(self, regions: list) -> tuple[list, np.ndarray]:
        """The units of a batch's distinct regions: their codes, and per level (row) and region
        (column) the unit's index, -1 for none."""
        levels = self.config.levels
        cache = self._units_of_region
        if len(cache) > 65536:  # arbitrary region texts must not grow it without bound
            cache.clear()
        units: dict[str, int] = {}
        out = np.full((len(levels), len(regions)), -1, np.int64)
        for k, region in enumerate(regions):
            found = cache.get(region)
            if found is None:
                code = normalise_region(region) if region else None
                found = cache[region] = tuple(None if code is None else unit_of(code, lv) for lv in levels)
            for lv, name in enumerate(found):
                if name is not None:
                    out[lv, k] = units.setdefault(name, len(units))
        return list(units), out
