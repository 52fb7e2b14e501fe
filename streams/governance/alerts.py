"""Jurisdiction alerts: when a rumour's spread inside a city or county crosses a threshold, an
alert goes to that unit, with the rumour's current trace attached.

Shares are counted per rumour, unit (the city and/or county of each share's ``region``,
:func:`streams.governance.divisions.unit_of`) and minute of *event* time, so a replay raises the
same alerts as the live stream did. A minute is judged once it is closed (a later event of the
same rumour has arrived, or :meth:`AlertRouter.flush`). Three rules, each with a cooldown:

* ``volume``: shares in the last ``alert_window_minutes`` >= ``alert_window_shares``;
* ``growth``: shares in the window >= ``alert_growth_ratio`` x shares in the window before
  (which must be non-zero) and >= ``alert_growth_min_shares``;
* ``burst``: the minute's count c is improbable under the unit's own history: P(X >= c) <
  ``alert_burst_p`` for X ~ Poisson(lambda), lambda = the EWMA (weight ``alert_ewma_alpha``)
  of the earlier per-minute counts (floored at :data:`RATE_FLOOR`), after
  ``alert_burst_warmup_minutes`` of history and with c >= ``alert_burst_min_shares``.

Debunk events do not count. Re-delivered events are counted once (ids are remembered per
rumour).

Memory: a unit keeps only its open minutes and the last ``2 x alert_window_minutes`` judged
minutes (all the rules read). With ``max_rumours`` and a ``loader`` (the store), the least
recently active rumours beyond the cap are dropped; when one of them receives events again (or
at :meth:`AlertRouter.flush`) its state is rebuilt by replaying its stored events with alerts
suppressed (they were raised before). The rebuilt state equals the dropped one when the
rumour's events arrived in event-time order (a minute is judged once a later minute's event
arrived); only the ids of dropped rumours stay in memory. ``history`` caps the alert dicts kept
for :meth:`AlertRouter.current` (every alert also went to the sinks: store, Kafka).

Speed (issue 5; the worker calls :meth:`AlertRouter.observe` after every write): a batch is
read by columns (:class:`~streams.governance.debunks.BatchView`), its new shares summed per
(rumour, unit, minute) by one numpy group-by, and the closed minutes of all touched units
judged by one numba call (:func:`_judge_kernel`); Python runs per group, per flagged minute
and per alert, not per event.
"""
from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field

import numba
import numpy as np

from streams.events import KIND_CODE, format_ts
from streams.governance.config import GovernanceConfig
from streams.governance.debunks import BatchView, batch_of_rows, batch_view, pick
from streams.governance.divisions import contains, division, normalise_region, unit_of

MINUTE_MS = 60_000
RATE_FLOOR = 0.05  # shares per minute assumed for a unit with no history yet
DEBUNK = KIND_CODE["debunk"]


def poisson_tail(c: int, lam: float) -> float:
    """P(X >= c) for X ~ Poisson(lam), summed in log space (no scipy needed).

    >>> round(poisson_tail(1, 1.0), 6), poisson_tail(0, 3.0)
    (0.632121, 1.0)
    """
    if c <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    if c <= lam:  # the tail holds at least about half the mass: not a burst
        cdf = sum(math.exp(-lam + k * math.log(lam) - math.lgamma(k + 1)) for k in range(c))
        return max(0.0, 1.0 - cdf)
    term = math.exp(-lam + c * math.log(lam) - math.lgamma(c + 1))
    total, k = 0.0, c
    while term > 1e-300 and term > total * 1e-15:
        total += term
        k += 1
        term *= lam / k
    return min(1.0, total)


def may_be_below(c: int, lam: float, p_max: float) -> bool:
    """False when ``poisson_tail(c, lam) < p_max`` cannot hold, by bounds much cheaper than
    the sum: for an integer c <= lam the tail is at least 1/2 (a Poisson median is >= lam -
    ln 2); above lam the sum is at least its first term.

    >>> may_be_below(3, 5.0, 1e-4), may_be_below(30, 5.0, 1e-4), may_be_below(6, 5.0, 1e-4)
    (False, True, False)
    """
    if p_max > 0.49 or c <= 0 or lam <= 0:
        return True
    if c <= lam:
        return False
    return math.exp(-lam + c * math.log(lam) - math.lgamma(c + 1)) < p_max


def select_alerts(alerts, jurisdiction: str, since_ms: int | None = None, limit: int = 100) -> list[dict]:
    """The alerts of units inside ``jurisdiction`` (a code or region text), newest first."""
    code = normalise_region(jurisdiction)
    if code is None:
        return []
    picked = [a for a in alerts if contains(code, a["unit"]) and (since_ms is None or a["minute_ms"] >= since_ms)]
    picked.sort(key=lambda a: (-a["minute_ms"], a["unit"], a["rule"]))
    return picked[:limit]


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
    seen: "IdHashes" = field(default_factory=lambda: IdHashes())  # hash(event_id) of the events counted


NO_ALERT = -(1 << 62)  # last_alert minute of a rule that never fired (kernel arrays)
VOLUME, GROWTH, BURST_CANDIDATE = 1, 2, 4


@numba.njit(cache=True)
def _judge_kernel(starts, minutes, counts, h_starts, h_minutes, h_counts, evaluated_to, rate, first,
                  last_volume, last_growth, w, volume_shares, growth_min, growth_ratio, alpha, warmup,
                  burst_min, burst_p, cooldown, floor):  # pragma: no cover - compiled
    """The volume and growth rules of every pending minute of every unit (pair ``p``: minutes
    ``starts[p]:starts[p+1]``, judged history ``h_starts[p]:h_starts[p+1]``), in time order,
    with the EWMA rate; of the burst rule, the minutes that may fire (:func:`may_be_below`'s
    bound with a margin: the caller settles them with CPython's lgamma, as before). Updates the
    per-pair arrays in place; returns per minute the window sums, the rule flags and lambda,
    and per pair where its kept history starts in history + pending."""
    n = len(minutes)
    window, before = np.zeros(n, np.int64), np.zeros(n, np.int64)
    flags, lam = np.zeros(n, np.uint8), np.zeros(n, np.float64)
    keep_from = np.zeros(len(starts) - 1, np.int64)
    for p in range(len(starts) - 1):
        hs, nh, s, e = h_starts[p], h_starts[p + 1] - h_starts[p], starts[p], starts[p + 1]
        total = nh + e - s
        cm, pre = np.empty(total, np.int64), np.zeros(total + 1, np.int64)
        for k in range(total):
            cm[k] = h_minutes[hs + k] if k < nh else minutes[s + k - nh]
            pre[k + 1] = pre[k] + (h_counts[hs + k] if k < nh else counts[s + k - nh])
        lo = mid = 0
        r, et, lv, lg = rate[p], evaluated_to[p], last_volume[p], last_growth[p]
        for k in range(nh, total):
            j, minute = s + k - nh, cm[k]
            c = counts[j]
            if et >= 0:
                r *= (1 - alpha) ** float(max(0, minute - et - 1))
            while lo <= k and cm[lo] <= minute - 2 * w:  # the rules read 2w minutes
                lo += 1
            mid = max(mid, lo)
            while mid <= k and cm[mid] <= minute - w:
                mid += 1
            win, bef = pre[k + 1] - pre[mid], pre[mid] - pre[lo]
            window[j], before[j] = win, bef
            f = 0
            if win >= volume_shares and not (lv != NO_ALERT and minute - lv < cooldown):
                f |= VOLUME
                lv = minute
            if (bef > 0 and win >= growth_min and win >= growth_ratio * bef
                    and not (lg != NO_ALERT and minute - lg < cooldown)):
                f |= GROWTH
                lg = minute
            lam[j] = max(r, floor)
            if minute - first[p] >= warmup and c >= burst_min and (
                    burst_p > 0.49 or (c > lam[j] and math.exp(-lam[j] + c * math.log(lam[j]) - math.lgamma(c + 1))
                                       < burst_p * (1 + 1e-6))):
                f |= BURST_CANDIDATE
            flags[j] = f
            r = alpha * c + (1 - alpha) * r
            et = minute
        rate[p], evaluated_to[p], last_volume[p], last_growth[p] = r, et, lv, lg
        keep_from[p] = lo
    return window, before, flags, lam, keep_from


EMPTY = -1  # a free slot of an IdHashes table: Python's hash() never returns -1


@numba.njit(cache=True)
def _insert_new(table, keys, order):  # pragma: no cover - compiled
    """Insert ``keys`` (visited in ``order``) into the open-addressing ``table``; True for
    each key that was not there (the first of equal keys in ``order``)."""
    mask = len(table) - 1
    new = np.zeros(len(keys), np.bool_)
    for j in order:
        k = keys[j]
        i = k & mask
        while True:
            t = table[i]
            if t == EMPTY:
                table[i] = k
                new[j] = True
                break
            if t == k:
                break
            i = (i + 1) & mask
    return new


class IdHashes:
    """A set of int64 id hashes in a numpy open-addressing table (load <= 1/2): numba
    inserts a batch at a time, and the garbage collector does not walk it as it would a set.

    >>> s = IdHashes()
    >>> s.insert_new(np.array([5, 7, 5]), np.arange(3)).tolist(), len(s)
    ([True, True, False], 2)
    """

    __slots__ = ("table", "count")

    def __init__(self):
        self.table = np.full(16, EMPTY, np.int64)
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def insert_new(self, keys: np.ndarray, order: np.ndarray) -> np.ndarray:
        if 2 * (self.count + len(keys)) > len(self.table):
            size = len(self.table)
            while 2 * (self.count + len(keys)) > size:
                size *= 2
            old = self.table[self.table != EMPTY]
            self.table = np.full(size, EMPTY, np.int64)
            _insert_new(self.table, old, np.arange(len(old)))
        new = _insert_new(self.table, keys, order)
        self.count += int(new.sum())
        return new


def _mark(st: _Rumour, event_ids: list, ts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The rows (ascending) whose events the rumour had not counted, now marked counted; of
    events repeated inside the batch, the first in time order."""
    hashes = np.fromiter(map(hash, pick(event_ids, rows)), np.int64, len(rows))
    return rows[st.seen.insert_new(hashes, np.argsort(ts[rows], kind="stable"))]


class AlertRouter:
    """Counts shares per rumour and jurisdiction unit and raises alerts.

    ``pipeline`` (optional) supplies ``trace(rumour_id)`` for the attached trace; every
    callable in ``sinks`` receives each new alert dict (Kafka producer, store, ...).
    """

    def __init__(self, config: GovernanceConfig | None = None, pipeline=None, sinks=(), trace_k: int = 10,
                 max_rumours=None, loader=None, history: int | None = None):
        self.config = config or GovernanceConfig()
        self.pipeline = pipeline
        self.sinks = list(sinks)
        self.trace_k = trace_k
        self.alerts: deque = deque(maxlen=history)  # newest ``history`` alerts (all went to sinks)
        # rumour_ids -> EventBatch of their stored events; without it nothing is ever dropped.
        self.loader = loader
        # An int, or a callable giving the cap now (the hub: the pipeline's graph count).
        self.max_rumours = max_rumours if loader is not None and max_rumours else None
        self._rumours: OrderedDict[str, _Rumour] = OrderedDict()  # least recently active first
        self._evicted: set[str] = set()
        self._replaying = False
        self.raised = 0  # alerts raised in all (``alerts`` keeps only the newest ``history``)
        self.evictions = 0
        self.restores = 0
        self._lock = threading.RLock()
        self._traces: dict | None = None  # rumour -> trace, while one batch is being counted
        self._units_of_region: dict = {}  # region field -> its unit per level (regions repeat)

    # -- input ------------------------------------------------------------------------------
    def observe(self, batch, view: BatchView | None = None) -> list[dict]:
        """Count a batch (:class:`streams.events.EventBatch`; ``view``: its
        :func:`~streams.governance.debunks.batch_view` when the hub shares one); return the
        alerts it raised."""
        if not len(batch):
            return []
        return self._ingest(batch, view or batch_view(batch))

    def observe_rows(self, rows) -> list[dict]:
        """Count event dicts (``ts`` in epoch ms)."""
        return self.observe(batch_of_rows(rows))

    def _ingest(self, batch, view: BatchView) -> list[dict]:
        raised = []
        with self._lock:
            self._traces = {}
            try:
                self._ingest_locked(batch, view, raised)
            finally:
                self._traces = None
        self._emit(raised)
        return raised

    def _ingest_locked(self, batch, view: BatchView, raised: list) -> None:
        if self._evicted:
            back = {rid for rid, rows in view.groups if rid in self._evicted and not view.debunk[rows].all()}
            if back:
                self._restore(back, batch, view)
        touched = sorted(self._count(batch, view))
        raised.extend(self._evaluate_many([(r, self._rumours[r], self._rumours[r].watermark - 1) for r in touched]))
        for rumour_id in touched:
            self._rumours.move_to_end(rumour_id)
        self._evict(set(touched))

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
            rows = _mark(st, batch.event_id, view.ts, rows)
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

    def _evict(self, keep) -> None:
        if self.max_rumours is None:
            return
        cap = max(1, self.max_rumours() if callable(self.max_rumours) else self.max_rumours)
        if len(self._rumours) <= cap:
            return
        for rumour_id in list(self._rumours):
            if len(self._rumours) <= cap:
                break
            if rumour_id in keep:
                continue
            del self._rumours[rumour_id]
            self._evicted.add(rumour_id)
            self.evictions += 1

    def _restore(self, rumour_ids, batch=None, view: BatchView | None = None) -> None:
        """Rebuild dropped rumours from their stored events, except the shares of ``batch``
        (being counted, already stored): those must still raise their alerts."""
        pending = set()
        if batch is not None:
            for rumour_id, rows in view.groups:
                if rumour_id in rumour_ids:
                    pending.update((rumour_id, batch.event_id[i]) for i in rows[~view.debunk[rows]].tolist())
        stored = self.loader(sorted(rumour_ids))
        stored = stored.take([i for i, (r, e) in enumerate(zip(stored.rumour_id, stored.event_id))
                              if r in rumour_ids and (r, e) not in pending])
        for rumour_id in rumour_ids:
            self._evicted.discard(rumour_id)
            self._rumours[rumour_id] = _Rumour()
        self._replaying = True
        try:
            if len(stored):
                self._count(stored, batch_view(stored), only=rumour_ids)
            # Raised before: not again (``_alert`` returns nothing while replaying).
            self._evaluate_many([(r, self._rumours[r], self._rumours[r].watermark - 1) for r in sorted(rumour_ids)])
        finally:
            self._replaying = False
        self.restores += len(rumour_ids)

    def flush(self) -> list[dict]:
        """Judge every open minute (end of a replay)."""
        with self._lock:
            raised = []
            for rumour_id in sorted(set(self._rumours) | self._evicted):
                if rumour_id in self._evicted:
                    self._restore({rumour_id})
                st = self._rumours[rumour_id]
                raised.extend(self._evaluate(rumour_id, st, st.watermark))
                self._evict({rumour_id})
        self._emit(raised)
        return raised

    # -- rules ------------------------------------------------------------------------------
    def _evaluate(self, rumour_id: str, rumour: _Rumour, upto: int) -> list[dict]:
        return self._evaluate_many([(rumour_id, rumour, upto)])

    def _evaluate_many(self, items) -> list[dict]:
        """Judge the open minutes ``<= upto`` of each ``(rumour_id, rumour, upto)``, units in
        code order, minutes in time order: volume, growth and the rate by one numba call for
        all of them; the burst p-values and the alerts here."""
        pairs, sizes, minutes, counts = [], [], [], []
        for rumour_id, rumour, upto in items:
            for unit in sorted(rumour.units):
                st = rumour.units[unit]
                pending = sorted(m for m in st.counts if st.evaluated_to < m <= upto)
                if pending:
                    pairs.append((rumour_id, unit, st))
                    sizes.append(len(pending))
                    minutes += pending
                    counts += map(st.counts.pop, pending)  # judged once: never read again
        if not pairs:
            return []
        cfg = self.config
        units = [p[2] for p in pairs]
        starts = np.zeros(len(pairs) + 1, np.int64)
        np.cumsum(sizes, out=starts[1:])
        h_starts = np.zeros(len(pairs) + 1, np.int64)
        np.cumsum([len(st.minutes) for st in units], out=h_starts[1:])
        history = np.concatenate([st.minutes for st in units])
        minutes_a, counts_a = np.array(minutes, np.int64), np.array(counts, np.int64)
        evaluated = np.array([st.evaluated_to for st in units], np.int64)
        rate = np.array([st.rate for st in units], np.float64)
        first = np.array([st.first_minute for st in units], np.int64)
        last_v = np.array([st.last_alert.get("volume", NO_ALERT) for st in units], np.int64)
        last_g = np.array([st.last_alert.get("growth", NO_ALERT) for st in units], np.int64)
        window, before, flags, lam, keep = _judge_kernel(
            starts, minutes_a, counts_a, h_starts, np.ascontiguousarray(history[:, 0]),
            np.ascontiguousarray(history[:, 1]), evaluated, rate, first, last_v, last_g,
            int(cfg.alert_window_minutes), float(cfg.alert_window_shares), float(cfg.alert_growth_min_shares),
            float(cfg.alert_growth_ratio), float(cfg.alert_ewma_alpha), float(cfg.alert_burst_warmup_minutes),
            float(cfg.alert_burst_min_shares), float(cfg.alert_burst_p), float(cfg.alert_cooldown_minutes),
            RATE_FLOOR)
        raised, p_max = [], cfg.alert_burst_p
        bounds = starts.tolist()
        flagged = np.flatnonzero(flags)
        at = np.searchsorted(flagged, starts).tolist()  # the flagged minutes of pair p: at[p]:at[p + 1]
        flagged = flagged.tolist()
        for p, (rumour_id, unit, st) in enumerate(pairs):
            for j in flagged[at[p]:at[p + 1]]:
                f = int(flags[j])
                minute, c, win, bef = minutes[j], counts[j], int(window[j]), int(before[j])
                if f & VOLUME:
                    raised.append(self._alert(rumour_id, unit, "volume", minute, c, win, bef, st.total, {}))
                if f & GROWTH:
                    raised.append(self._alert(rumour_id, unit, "growth", minute, c, win, bef, st.total,
                                              {"growth": win / bef}))
                if f & BURST_CANDIDATE:
                    lam_j = float(lam[j])
                    if may_be_below(c, lam_j, p_max):
                        p_value = poisson_tail(c, lam_j)
                        last = st.last_alert.get("burst")
                        if p_value < p_max and (last is None or minute - last >= cfg.alert_cooldown_minutes):
                            st.last_alert["burst"] = minute
                            raised.append(self._alert(rumour_id, unit, "burst", minute, c, win, bef, st.total,
                                                      {"p_value": p_value, "expected_per_minute": lam_j}))
            st.rate, st.evaluated_to = float(rate[p]), int(evaluated[p])
            if last_v[p] != NO_ALERT:
                st.last_alert["volume"] = int(last_v[p])
            if last_g[p] != NO_ALERT:
                st.last_alert["growth"] = int(last_g[p])
            judged = np.column_stack((minutes_a[bounds[p]:bounds[p + 1]], counts_a[bounds[p]:bounds[p + 1]]))
            st.minutes = np.concatenate((st.minutes, judged))[int(keep[p]):].copy()
        return raised

    def _alert(self, rumour_id, unit, rule, minute, c, window, before, total, extra) -> dict:
        if self._replaying:  # a rebuild: the alert was raised (and sent) before
            return {}
        d = division(unit)
        alert_id = hashlib.sha1(f"{rumour_id}|{unit}|{rule}|{minute}".encode()).hexdigest()[:20]
        trace = None
        if self.pipeline is not None:
            # One trace per rumour per batch: every alert a batch raises for a rumour (one per
            # unit and rule) sees the same graph, and a trace costs a whole cut-off.
            trace = self._traces.get(rumour_id, False) if self._traces is not None else False
            if trace is False:
                trace = self.pipeline.trace(rumour_id, self.trace_k)
                if self._traces is not None:
                    self._traces[rumour_id] = trace
        alert = {
            "alert_id": alert_id, "rumour_id": rumour_id, "unit": unit, "level": d.level,
            "unit_name_zh": d.name_zh, "unit_name_en": d.name_en, "rule": rule,
            "minute": format_ts(minute * MINUTE_MS), "minute_ms": minute * MINUTE_MS,
            "minute_shares": c, "window_minutes": self.config.alert_window_minutes,
            "window_shares": window, "previous_window_shares": before, "unit_shares_total": total,
            **extra, "trace": trace,
        }
        return alert

    def _emit(self, raised: list[dict]) -> None:
        if not raised:
            return
        with self._lock:
            self.alerts.extend(raised)
            self.raised += len(raised)
        for sink in self.sinks:
            sink(raised)

    # -- dashboard --------------------------------------------------------------------------
    def current(self, jurisdiction: str, since_ms: int | None = None, limit: int = 100) -> list[dict]:
        """Alerts for units inside ``jurisdiction`` (a code or region text), newest first."""
        with self._lock:
            alerts = list(self.alerts)
        return select_alerts(alerts, jurisdiction, since_ms, limit)

    def unit_counts(self, rumour_id: str) -> dict[str, int]:
        """Shares counted so far per unit for one rumour."""
        with self._lock:
            if rumour_id in self._evicted:
                self._restore({rumour_id})
                self._evict({rumour_id})
            st = self._rumours.get(rumour_id)
            return {} if st is None else {u: st.units[u].total for u in sorted(st.units)}

    def sizes(self) -> dict[str, int]:
        """How much state is held (for memory tests and metrics)."""
        with self._lock:
            return {"rumours": len(self._rumours), "evicted_ids": len(self._evicted), "alerts": len(self.alerts),
                    "units": sum(len(st.units) for st in self._rumours.values()),
                    "seen": sum(len(st.seen) for st in self._rumours.values()),
                    "minutes": sum(len(u.minutes) + len(u.counts) for st in self._rumours.values()
                                   for u in st.units.values())}
