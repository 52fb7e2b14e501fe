"""Settings of the governance loop (alert thresholds, report matching, topics).

:data:`GOVERNANCE_SETTINGS` uses :class:`streams.settings.Setting`, so they can join
``streams.settings.SETTINGS`` (and the README table). Until they do, :meth:`GovernanceConfig.load`
reads the same environment variables itself, and :meth:`GovernanceConfig.from_settings` takes
any attribute a ``Settings`` object already carries.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from streams.service.buckets import time_zone
from streams.settings import Setting, resolve

ALERT_LEVELS = ("province", "city", "county")


def alert_levels(value: str) -> str:
    """``value`` if it names only levels of :data:`ALERT_LEVELS` (comma-separated), else
    ValueError (the type of ``alert_levels``: an unknown level silently raised no alert).

    >>> alert_levels("city, county")
    'city, county'
    >>> alert_levels("city,planet")
    Traceback (most recent call last):
    ...
    ValueError: unknown level 'planet' (expected any of province, city, county, comma-separated)
    """
    for level in (x.strip() for x in value.split(",")):
        if level and level not in ALERT_LEVELS:
            raise ValueError(f"unknown level {level!r} (expected any of {', '.join(ALERT_LEVELS)}, "
                             "comma-separated)")
    return value


GOVERNANCE_SETTINGS: tuple[Setting, ...] = (
    Setting("alert_window_minutes", 30, "RUMOUR_ALERT_WINDOW_MINUTES",
            "Sliding window (minutes of event time) for the volume and growth alert rules.",
            int, minimum=1),
    Setting("alert_window_shares", 50, "RUMOUR_ALERT_WINDOW_SHARES",
            "Volume rule: alert when a rumour has this many shares in one jurisdiction within the window.",
            int, minimum=1),
    Setting("alert_growth_ratio", 3.0, "RUMOUR_ALERT_GROWTH_RATIO",
            "Growth rule: alert when shares in the window reach this multiple of the window before.",
            float, minimum=1),
    Setting("alert_growth_min_shares", 20, "RUMOUR_ALERT_GROWTH_MIN_SHARES",
            "Growth rule: fewest shares in the window for the growth rule to apply.", int, minimum=0),
    Setting("alert_burst_p", 1e-4, "RUMOUR_ALERT_BURST_P",
            "Burst rule: alert when a minute's count is this improbable (Poisson tail) under the "
            "jurisdiction's own EWMA rate.", float, minimum=0, maximum=1),
    Setting("alert_burst_min_shares", 5, "RUMOUR_ALERT_BURST_MIN_SHARES",
            "Burst rule: fewest shares in the minute for a burst.", int, minimum=0),
    Setting("alert_ewma_alpha", 0.1, "RUMOUR_ALERT_EWMA_ALPHA",
            "Burst rule: weight of the newest minute in the per-minute rate (EWMA).",
            float, minimum=0, maximum=1),
    Setting("alert_burst_warmup_minutes", 10, "RUMOUR_ALERT_BURST_WARMUP_MINUTES",
            "Burst rule: minutes of history a jurisdiction needs before bursts are tested.",
            int, minimum=0),
    Setting("alert_cooldown_minutes", 60, "RUMOUR_ALERT_COOLDOWN_MINUTES",
            "At most one alert per rumour, jurisdiction and rule within this many minutes.",
            int, minimum=0),
    Setting("alert_levels", "city,county", "RUMOUR_ALERT_LEVELS",
            "Jurisdiction levels that receive alerts: any of province, city, county (comma-separated).",
            alert_levels),
    Setting("governance_max_rumours", 0, "RUMOUR_GOVERNANCE_MAX_RUMOURS",
            "Rumours whose alert counts and debunk sets a worker keeps in memory; beyond it the least "
            "recently active are dropped and rebuilt from the store when needed (no store: no limit). "
            "0: as many as it keeps rumour graphs of (graph_memory_mb); -1: no limit.", int, minimum=-1),
    Setting("alert_store_seconds", 1.0, "RUMOUR_ALERT_STORE_SECONDS",
            "Alerts reach the store in one INSERT per this many seconds or per 1,024 alerts, and at "
            "shutdown (the alerts topic gets each at once); a worker killed without its shutdown "
            "loses at most this much of the store's copy. 0: each batch's alerts at once.",
            float, minimum=0),
    Setting("alert_catchup_seconds", 900, "RUMOUR_ALERT_CATCHUP_SECONDS",
            "At a worker's start and each partition assignment, the rumours of its partitions with "
            "events stored in this many seconds (the server's clock) are rebuilt from the store at "
            "once, raising late the alerts a killed worker stored but never raised; the others are "
            "rebuilt at their first batch. It must cover a worker's restart. 0: none at once (each "
            "rumour at its first batch).", int, minimum=0),
    Setting("alerts_topic", "alerts", "RUMOUR_ALERTS_TOPIC", "Kafka topic of alerts to jurisdiction units."),
    Setting("reports_topic", "reports", "RUMOUR_REPORTS_TOPIC", "Kafka topic of public reports."),
    Setting("report_dedup_hours", 24.0, "RUMOUR_REPORT_DEDUP_HOURS",
            "Reports with the same text within this many hours are merged into one; a reporter's "
            "reports of the same post too, when received within this many hours of the first. The "
            "report desk keeps this window in memory and restores it from the store at start.",
            float, minimum=0),
    Setting("report_dedup_similarity", 0.9, "RUMOUR_REPORT_DEDUP_SIMILARITY",
            "Character 3-gram Jaccard at or above which two report texts count as the same text.",
            float, minimum=0, maximum=1),
    Setting("report_link_similarity", 0.5, "RUMOUR_REPORT_LINK_SIMILARITY",
            "Character 3-gram Jaccard at or above which a report is linked to a rumour's source post.",
            float, minimum=0, maximum=1),
    Setting("report_link_rumours", 10_000, "RUMOUR_REPORT_LINK_RUMOURS",
            "Rumours whose source-post text and event ids the report desk keeps for linking reports (by "
            "text; by post id in one lookup): the most recently active (an event, or a linked report; at "
            "start, the newest events in the store). About 17 kB each for an 80-character post, plus about "
            "30-50 bytes per event while the worker holds the rumour's graph. A report about an older rumour "
            "links by its post id or link while the worker holds that rumour's graph (each such graph is "
            "asked), else it is stored unlinked.",
            int, minimum=1, maximum=10_000_000),
    Setting("report_timezone", "Asia/Shanghai", "RUMOUR_REPORT_TIMEZONE",
            "The centre's time zone (a tz database name): the dashboard's series buckets (local hours "
            "and days, `timezone` in the rumour's answer, the chart's time axis) and the monthly report "
            "(month boundaries and printed times).", time_zone),
)


@dataclass
class GovernanceConfig:
    alert_window_minutes: int = 30
    alert_window_shares: int = 50
    alert_growth_ratio: float = 3.0
    alert_growth_min_shares: int = 20
    alert_burst_p: float = 1e-4
    alert_burst_min_shares: int = 5
    alert_ewma_alpha: float = 0.1
    alert_burst_warmup_minutes: int = 10
    alert_cooldown_minutes: int = 60
    alert_levels: str = "city,county"
    governance_max_rumours: int = 0
    alert_store_seconds: float = 1.0
    alert_catchup_seconds: int = 900
    alerts_topic: str = "alerts"
    reports_topic: str = "reports"
    report_dedup_hours: float = 24.0
    report_dedup_similarity: float = 0.9
    report_link_similarity: float = 0.5
    report_link_rumours: int = 10_000
    report_timezone: str = "Asia/Shanghai"

    @property
    def levels(self) -> tuple[str, ...]:
        return tuple(x.strip() for x in self.alert_levels.split(",") if x.strip())

    @classmethod
    def load(cls, overrides: dict | None = None, environ=None) -> "GovernanceConfig":
        """Defaults, then environment variables, then ``overrides``.

        >>> GovernanceConfig.load({"alert_window_shares": 7}, environ={"RUMOUR_ALERTS_TOPIC": "a2"}).alerts_topic
        'a2'
        """
        return cls(**resolve(GOVERNANCE_SETTINGS, overrides, environ))

    @classmethod
    def from_settings(cls, settings, environ=None) -> "GovernanceConfig":
        """From a ``streams.settings.Settings`` (its governance fields when it has them)."""
        return cls.load({f.name: getattr(settings, f.name, None) for f in fields(cls)}, environ)


assert {f.name for f in fields(GovernanceConfig)} == {s.name for s in GOVERNANCE_SETTINGS}
assert all(getattr(GovernanceConfig, s.name) == s.default for s in GOVERNANCE_SETTINGS)
