"""The alert rules: the burst rule's Poisson tail and its cheap bound, and :class:`AlertRules`,
which judges the open minutes of many units at once (volume, growth and the rate by one numba
call, :func:`~streams.governance.alert_kernels._judge_kernel`) and builds the alert dicts.
"""
from __future__ import annotations

import hashlib
import math
import time

import numpy as np

from streams.events import format_ts
from streams.governance.alert_counting import MINUTE_MS, _Rumour
from streams.governance.alert_kernels import BURST_CANDIDATE, GROWTH, NO_ALERT, VOLUME, _judge_kernel
from streams.governance.divisions import display_name, division

RATE_FLOOR = 0.05  # shares per minute assumed for a unit with no history yet


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


def alert_key(rumour_id: str, unit: str, rule: str, minute: int) -> str:
    """An alert's id: the same rumour, unit, rule and minute (of event time) always give the same
    id, whichever worker raises it (the store's ReplacingMergeTree key, the catch-up's check).

    >>> alert_key("r1", "370100", "volume", 29000000) == alert_key("r1", "370100", "volume", 29000000)
    True
    >>> len(alert_key("r1", "370100", "volume", 29000000))
    20
    """
    return hashlib.sha1(f"{rumour_id}|{unit}|{rule}|{minute}".encode()).hexdigest()[:20]


class AlertRules:
    """The judging half of :class:`~streams.governance.alerts.AlertRouter` (reads its
    ``config``, ``pipeline``, ``trace_k``, ``_traces``, ``_replaying``, ``_catchup`` and
    ``_late_before``)."""

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
        return [a for a in raised if a]  # {}: an alert not raised (again)

    def _alert(self, rumour_id, unit, rule, minute, c, window, before, total, extra) -> dict:
        alert_id = alert_key(rumour_id, unit, rule, minute)
        if self._replaying:
            # A rebuild from the store: the alerts raised before (``_catchup``: the ids the
            # store, the sinks' buffer and the history hold) are not raised again; one that is
            # missing (a worker killed between a batch's ack and its observation) is raised now,
            # marked late. No ``_catchup``: nothing is raised.
            if self._catchup is None or alert_id in self._catchup:
                return {}
            self._catchup.add(alert_id)
            # Late unless the batch being counted closed its minute (see ``_restore``).
            closed = self._late_before
            if closed is None or minute < closed.get(rumour_id, -1):
                extra = {**extra, "late": True, "raised_ms": int(time.time() * 1000)}
        else:
            st = self._rumours.peek(rumour_id)
            ahead = None if st is None else st.raised_ahead
            if ahead and alert_id in ahead:  # raised before the rebuild (see ``_restore``)
                ahead.discard(alert_id)
                return {}
        d = division(unit)
        # The names /api/alerts and the dashboard show: a bare 南山区 is Shenzhen's and Hegang's.
        shown = display_name(unit)
        trace = None
        if self.pipeline is not None and not self._replaying:  # a rebuild attaches them after
            # One trace per rumour per batch: every alert a batch raises for a rumour (one per
            # unit and rule) sees the same graph, and a trace costs a whole cut-off.
            trace = self._traces.get(rumour_id, False) if self._traces is not None else False
            if trace is False:
                trace = self.pipeline.trace(rumour_id, self.trace_k)
                if self._traces is not None:
                    self._traces[rumour_id] = trace
        alert = {
            "alert_id": alert_id, "rumour_id": rumour_id, "unit": unit, "level": d.level,
            "unit_name_zh": shown["zh"], "unit_name_en": shown["en"], "rule": rule,
            "minute": format_ts(minute * MINUTE_MS), "minute_ms": minute * MINUTE_MS,
            "minute_shares": c, "window_minutes": self.config.alert_window_minutes,
            "window_shares": window, "previous_window_shares": before, "unit_shares_total": total,
            **extra, "trace": trace,
        }
        return alert
