"""The per-rumour summaries behind the rumour list, kept between refreshes and recomputed only for
the rumours whose data changed.

The truth is the store, which every worker writes: a summary is what the store's per-minute
counts give (:meth:`streams.store.base.Store.rumour_region_counts`), and which rumours changed is
the store's too (``rumour_changes``, sql/017, filled by views on both insert paths), so a list
served by one worker shows the rumours the others took in. A refresh asks the store which
rumours got events since the last one (on the server's clock) and merges the counts of those
only; recomputing all of them took 0.4-0.6 s on the real Weibo import (2,364 rumours).

Every refresh reads again the rumours changed within the last :data:`OVERLAP_S` seconds (so an
INSERT seen late is not missed); one whose counts are those held keeps its summary, the same
object, so the list reuses its item (under ingest ~600 rumours were read again a refresh, ~65
of them changed; the list's work went 380 -> 307 ms median over 20 alternating requests on
18.16 with 2,400 rumours, the two refresh queries taking most of what is left).

A summary also depends on "now" (``as_of``: the end of the newest minute with a share in the
store): its last hour decides ``growth_last_hour`` and the status. When ``as_of`` moves, only
the rumours with something in the old last hour can change (the new hour is inside the old one,
and newer data counts as a change), so those are recomputed too.

The answer is the one a full recomputation gives (tests/test_rumour_summary.py checks it after
new events, a moving clock and a restart). The first refresh of a process is a full one, and so
is a refresh where most rumours changed (one query is then cheaper than the lists of ids) or the
first after the server restarted (its change buffer may have lost rows).
"""
from __future__ import annotations

from streams.service import regions as rg
from streams.service.access import spread_regions

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
DEBUNK = "debunk"
# Seconds of the server's clock read again at every refresh: an INSERT stamps its rows with the
# clock at its start (now()) but they become visible when it ends, and the parts of one INSERT
# (share_minute_counts, rumour_changes) become visible one after the other. An INSERT that takes
# longer than this between its start and the end of its last part would be missed (a pipeline
# batch takes tens of ms; a server with too many parts delays an INSERT by at most 1 s). Each
# refresh recomputes the rumours changed in this window, so it is kept short.
OVERLAP_S = 30
# A refresh where more than this share of the rumours held changed is a full one.
FULL_SHARE = 0.5


def summarise(rid: str, groups: list[tuple], recent: list[tuple]) -> dict:
    """One rumour's summary from its ``(region, kind, shares, last_minute_ms)`` groups over all
    time and over the last hour (``recent``, the same form).

    >>> s = summarise("r", [("370102", "share", 3, 0), (None, "debunk", 1, 60_000)],
    ...               [("370102", "share", 2, 0)])
    >>> s["size"], s["debunk_size"], s["growth_last_hour"], s["status"], s["region"], s["last_ms"]
    (3, 1, 2, 'contested', '370000', 60000)
    >>> s["city"], s["county"]
    ('370100', '370102')
    """
    r = {"rumour_id": rid, "size": 0, "debunk_size": 0, "growth_last_hour": 0,
         "debunk_growth_last_hour": 0, "last_ms": 0, "regions": {}}
    for region, kind, n, last in groups:
        if kind == DEBUNK:
            r["debunk_size"] += n
        else:
            r["size"] += n
            key = region or ""
            r["regions"][key] = r["regions"].get(key, 0) + n
            r["last_ms"] = max(r["last_ms"], last + MINUTE_MS)
    for region, kind, n, last in recent:
        r["debunk_growth_last_hour" if kind == DEBUNK else "growth_last_hour"] += n
    r["jurisdiction_regions"] = spread_regions({(region, kind) for region, kind, n, last in groups})
    r["status"] = status(r)
    # The main unit at each level: a city or county desk finds its rumours by its own places,
    # where the province (``region``) is the same for every rumour it sees.
    r["region"], r["city"], r["county"] = (main_unit(r["regions"], level) for level in range(3))
    return r


def main_unit(regions: dict, level: int) -> str | None:
    """The unit (0 province, 1 city, 2 county) with the most of ``regions`` (``{region: events}``)
    at that level, among the regions known down to it; the greater code on a tie.

    >>> regions = {"370102": 2, "370211": 3, "370100": 2, "": 9}  # Jinan 4, Qingdao 3
    >>> [main_unit(regions, level) for level in range(3)]
    ['370000', '370100', '370211']
    >>> main_unit({"": 4}, 0) is None
    True
    """
    units: dict[str, int] = {}
    for code, n in regions.items():
        unit = rg.levels(code)[level]
        if unit:
            units[unit] = units.get(unit, 0) + n
    return max(units, key=lambda c: (units[c], c)) if units else None


def status(r: dict) -> str:
    """``spreading`` (shares in the last hour, no debunk), ``contested`` (both spreading),
    ``debunked`` (a debunk exists, rumour quiet), ``dormant`` (quiet, no debunk).

    >>> status({"growth_last_hour": 0, "debunk_size": 2})
    'debunked'
    """
    if r["growth_last_hour"] > 0:
        return "contested" if r["debunk_size"] > 0 else "spreading"
    return "debunked" if r["debunk_size"] > 0 else "dormant"


def by_rumour(rows: list[tuple]) -> dict[str, list[tuple]]:
    """Store rows ``(rumour_id, region, kind, shares, last_ms)`` as ``{rumour_id: [(region,
    kind, shares, last_ms), ...]}``, in the rows' order.

    >>> by_rumour([("a", None, "share", 1, 0), ("b", "11", "post", 1, 0), ("a", "12", "share", 2, 0)])
    {'a': [(None, 'share', 1, 0), ('12', 'share', 2, 0)], 'b': [('11', 'post', 1, 0)]}
    """
    out: dict[str, list[tuple]] = {}
    for rid, region, kind, n, last in rows:
        out.setdefault(rid, []).append((region, kind, n, last))
    return out


def full_summary(store) -> dict:
    """``{"as_of_ms", "rumours": {id: summary}}`` of every rumour, from two aggregations over
    all of them: what :meth:`RumourSummaries.refresh` answers, at the cost it avoids."""
    groups = by_rumour(store.rumour_region_counts())
    as_of = _as_of(groups)
    recent = by_rumour(store.rumour_region_counts(since_ms=as_of - HOUR_MS)) if groups else {}
    return {"as_of_ms": as_of, "groups": groups,
            "rumours": {rid: summarise(rid, g, recent.get(rid, [])) for rid, g in groups.items()}}


def _as_of(groups: dict[str, list[tuple]]) -> int:
    # Every kind counts for "now" (a debunk is data too): the end of the newest minute.
    return max((_newest(g) for g in groups.values()), default=0) + MINUTE_MS


def _newest(groups: list[tuple]) -> int:
    return max(last for _, _, _, last in groups)


def _active(r: dict) -> bool:
    # Something in the last hour: what a later "now" can change.
    return bool(r["growth_last_hour"] or r["debunk_growth_last_hour"])


class RumourSummaries:
    """The summaries of every rumour in ``store``, refreshed from what changed there. Not
    thread-safe: the caller runs one :meth:`refresh` at a time."""

    def __init__(self, store):
        self.store = store
        self._groups: dict[str, list[tuple]] = {}  # rumour -> its all-time groups
        self._newest: dict[str, int] = {}  # rumour -> its newest minute (epoch ms), any kind
        self._rumours: dict[str, dict] = {}
        self._active: set[str] = set()  # rumours with shares or debunks in the last hour
        self._as_of = MINUTE_MS
        self._seen_s: int | None = None  # server clock of the last refresh (None: never)
        self._started_s: int | None = None  # when the server started, as of the last refresh
        self.recomputed = 0  # rumours the last refresh recomputed
        self._answer: dict | None = None

    def refresh(self) -> dict:
        """``{"as_of_ms", "rumours": {id: summary}}`` as of now: a new dict when something
        changed, whose summaries later answers share while their rumour does not change (read
        them only)."""
        since = None if self._seen_s is None else self._seen_s - OVERLAP_S
        # The clock before the counts: whatever becomes visible after these reads carries a time
        # at or past it (within the overlap), so the next refresh reads that rumour again.
        now_s, started_s, changed = self.store.rumours_changed_since(0 if since is None else since)
        restarted = self._started_s is not None and abs(started_s - self._started_s) > 2  # (1 s steps)
        if since is None or restarted or len(changed) > FULL_SHARE * len(self._groups):
            # (a restarted server may have lost the change buffer's rows: sql/017)
            self._full()
        else:
            self._changed(changed)
        self._seen_s, self._started_s = now_s, started_s
        if self._answer is None or self.recomputed or self._answer["as_of_ms"] != self._as_of \
                or len(self._answer["rumours"]) != len(self._rumours):
            self._answer = {"as_of_ms": self._as_of, "rumours": dict(self._rumours)}
        return self._answer  # the same object while nothing changed: its readers may keep work

    def _full(self) -> None:
        whole = full_summary(self.store)
        self._groups, self._as_of, self._rumours = whole["groups"], whole["as_of_ms"], whole["rumours"]
        self._newest = {rid: _newest(g) for rid, g in self._groups.items()}
        self._active = {rid for rid, r in self._rumours.items() if _active(r)}
        self.recomputed = len(self._rumours)

    def _changed(self, changed: set) -> None:
        fresh = by_rumour(self.store.rumour_region_counts(rumour_ids=changed)) if changed else {}
        for rid in changed - fresh.keys():  # no count left (deleted by hand): as a full one
            for held in (self._groups, self._newest, self._rumours):
                held.pop(rid, None)
            self._active.discard(rid)
        # Most of ``changed`` is read again only for the overlap (OVERLAP_S): a rumour whose
        # groups are those held got no event since, so its summary stands unless "now" moves
        # (under ingest ~70 of ~600 rumours read again had changed; each recomputed one costs
        # the last hour's query, a summary and a new list item).
        recompute = {rid for rid, g in fresh.items() if set(g) != set(self._groups.get(rid, ()))}
        self._groups.update(fresh)
        self._newest.update((rid, _newest(g)) for rid, g in fresh.items())
        as_of = max(self._newest.values(), default=0) + MINUTE_MS
        if as_of != self._as_of:  # the last hour moved: the rumours in the old one may change
            recompute |= self._active
            self._as_of = as_of
        recent = (by_rumour(self.store.rumour_region_counts(since_ms=as_of - HOUR_MS, rumour_ids=recompute))
                  if recompute else {})
        for rid in recompute:
            r = self._rumours[rid] = summarise(rid, self._groups[rid], recent.get(rid, []))
            if _active(r):
                self._active.add(rid)
            else:
                self._active.discard(rid)
        self.recomputed = len(recompute)
