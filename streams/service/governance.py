"""The service's answers over the governance loop (:class:`streams.governance.hub.Governance`):
report intake, handling status, jurisdiction alerts, debunk reach. No HTTP here.

Sources: the hub's memory holds what this process saw (reports it took in, statuses it set,
alerts its pipeline raised, debunk sets of the batches it processed); the store holds what
every worker wrote. Reads merge both, so a dashboard served by one worker also shows alerts and
statuses from the others and from before a restart. Store reads are cached for
``cache_seconds`` (the dashboard polls every 2 s).

Identities: reporters are members of the public who came forward, not suspects: the desk that
took a report in (its token, the report's ``source``) sees its reporter's name, as it did when
it submitted it; every other caller, liaisons, analysts at every level and admins alike, sees the
reporter's pseudonym (:func:`reporter_shown`): what a trace or a case needs of a report (the
post it names, the text, when and where) is there without it, and the same pseudonym across
reports still shows that one person reported several times. The ``clear`` permission is about
accounts that spread a rumour, not about the people who reported it, and this route is not
audited. The store keeps the name (a lawful request goes to the desk or the operator). Reporter
pseudonyms have a domain of their own (a reporter name is whatever a report says, so account
pseudonyms there would let anyone learn an account's pseudonym by reporting its id).
Alerts carry the trace of their rumour: the dashboard route is not audited, so its account ids
are always pseudonymised (clear ids leave only through the audited trace routes), event ids
too (``pev_...``: a post id leads to its author on the platform).
"""
from __future__ import annotations

import logging
import threading
import time

from streams.events import format_ts
from streams.governance.status_history import STATUSES, current, ordered, replaces_key
from streams.service import regions as rg
from streams.service.access import Principal, covers, prefix
from streams.service.governance_unlinked import UnlinkedReportViews, body_problem
from streams.service.lru import LRU

log = logging.getLogger(__name__)

STATUS_FIELDS = {"status", "note", "expected_status", "expected_changed_at"}


def reporter_shown(report: dict, principal: Principal, pseudonymise) -> str | None:
    """The reporter of ``report`` as ``principal`` sees it: in clear to the desk that submitted
    it (the report's ``source`` is ``http:`` + its token id), else ``pseudonymise(name)``.

    >>> desk = Principal("0123456789ab", "desk", "analyst", "370100")
    >>> other = Principal("ba9876543210", "police", "liaison", "000000")
    >>> r = {"reporter": "citizen", "source": "http:0123456789ab"}
    >>> reporter_shown(r, desk, str.upper), reporter_shown(r, other, str.upper)
    ('citizen', 'CITIZEN')
    """
    if report.get("source") == "http:" + principal.token_id:
        return report["reporter"]
    return pseudonymise(report["reporter"])


def changed_by(principal: Principal) -> str:
    """Who changed a status, from the token: ``name (token id)``.

    >>> changed_by(Principal("0123456789ab", "ann", "analyst", "370100"))
    'ann (0123456789ab)'
    """
    return f"{principal.name} ({principal.token_id})"


class GovernanceViews(UnlinkedReportViews):
    def __init__(self, hub, pseudonymiser, regions_of, summary, cache_seconds: float = 2.0, desks=None):
        self.hub = hub
        self.store = hub.store  # the hub's store (with the governance methods), or None
        self.pseudo = pseudonymiser
        self.regions_of = regions_of  # Views.regions_of: regions that give jurisdiction (None: unknown)
        self.summary = summary  # Views.summary: sizes per rumour (to know when the store changed)
        self.cache_seconds = cache_seconds
        # () -> {token id: jurisdiction}: the desks (tokens) that take reports in
        self.desks = desks or dict
        self._lock = threading.Lock()
        self._status_lock = threading.Lock()  # a status check and its change, see set_status
        self._cache: dict = {}
        self._debunk_cache = LRU()  # rumour -> (counts, answer): bounded

    def _cached(self, key, fn):
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self.cache_seconds:
                return hit[1]
        value = fn()
        with self._lock:
            self._cache[key] = (now, value)
        return value

    def _forget(self, *keys) -> None:
        with self._lock:
            for k in keys:
                self._cache.pop(k, None)

    # -- status -------------------------------------------------------------------------------
    def statuses(self) -> dict[str, dict]:
        """rumour id -> current handling status ``{status, changed_by, changed_at, note}``: the
        store's current row of each rumour merged with the newest row memory holds, by the one
        rule (:func:`streams.governance.status_history.current`, the store's row last)."""
        def read():
            rows = dict(self.store.latest_statuses()) if self.store is not None else {}
            for rid, held in self.hub.desk.current_statuses().items():
                rows[rid] = current((held, rows.get(rid)))
            return {rid: _status_row(r) for rid, r in rows.items()}
        return self._cached("statuses", read)

    def status(self, rumour_id: str) -> dict:
        """A rumour's current handling status and its history (one row per change, oldest
        first: :func:`streams.governance.status_history.ordered` of memory's rows and the
        store's), whose last row is the current status."""
        history = self._history(rumour_id)
        return {"rumour_id": rumour_id, "status": _status_row(history[-1]) if history else None,
                "history": [_status_row(r) for r in history], "statuses": list(STATUSES)}

    def set_status(self, rumour_id: str, body, principal: Principal, before_apply=None) -> tuple[int, dict]:
        """Change a rumour's handling status. ``before_apply(http_status, answer)``, when given, is
        called with the answer of a valid change before the change is made (the service writes
        the audit row there: if that raises, nothing changes)."""
        problem = body_problem(body, STATUS_FIELDS, "changed_by", "who changed it")
        if problem:
            return 400, {"error": problem, "code": "bad_body"}
        note = body.get("note") or ""
        status = body.get("status")
        if not isinstance(status, str):
            return 400, {"error": "status: required", "code": "bad_body"}
        for name in ("expected_status", "expected_changed_at"):
            if body.get(name) is not None and not isinstance(body[name], str):
                return 400, {"error": f"{name}: a string (or null: no status yet)", "code": "bad_body"}
        by, at_ms = changed_by(principal), int(time.time() * 1000)
        code, answer = self.hub.status_answer(rumour_id, status, by, note, at_ms)
        if code != 201:
            return code, answer
        # Check and change under one lock, so of two officers of this process who saw the same
        # status only the first changes it. Another worker's change: a guarded change names the
        # change it replaces in the store, and of those replacing the same one the store
        # accepts one (streams/governance/status_guard.py: 409 for the others).
        guarded = "expected_status" in body or "expected_changed_at" in body
        with self._status_lock:
            now = self._current_row(rumour_id) if guarded else None
            stale = self._stale_status(now, body) if guarded else None
            if stale:
                return 409, {"error": stale, "code": "status_conflict"}
            if before_apply is not None:
                before_apply(code, answer)
            code, answer = self.hub.set_status(rumour_id, status, by, note, at_ms,
                                               replaces_key(now) if guarded else None)
        self._forget("statuses")
        return code, answer

    def _history(self, rumour_id: str) -> list[dict]:
        """A rumour's status rows, memory's and the store's, in the one order (the last is current)."""
        held = self.hub.desk.status_rows(rumour_id)
        stored = self.store.status_history(rumour_id) if self.store is not None else []
        return ordered(held + stored)

    def _current_row(self, rumour_id: str) -> dict | None:
        """The current status row of a rumour (memory's rows and the store's, the one rule)."""
        history = self._history(rumour_id)
        return history[-1] if history else None

    @staticmethod
    def _stale_status(now: dict | None, body: dict) -> str | None:
        """Why a change that names the status it replaces (``expected_status``, null for none
        yet; ``expected_changed_at`` optional) must not be made: the current row ``now`` is
        another. None when it is current."""
        shown = _status_row(now) if now is not None else {}
        moved = "expected_status" in body and body["expected_status"] != shown.get("status")
        moved |= body.get("expected_changed_at") is not None and body["expected_changed_at"] != shown.get("changed_at")
        if not moved:
            return None
        if not shown:
            return "the status changed meanwhile: the rumour has no status"
        return (f"the status changed meanwhile: now {shown['status']!r}, by {shown['changed_by']} at "
                f"{shown['changed_at']}; read it again and decide")

    # -- reports ------------------------------------------------------------------------------
    def submit(self, payload, principal: Principal) -> tuple[int, dict]:
        """Take a report in and answer without telling the caller anything it may not read.

        The linked rumour (``rumour_id``, ``link_method``, ``similarity``) is named only when
        the caller's jurisdiction covers it. Otherwise, and when nothing matched, the answer is
        the same: those fields null and ``routed_upward: true`` (the desks whose jurisdiction
        covers the rumour, up to the province and the centre, see the report), so a desk cannot
        tell "linked elsewhere" from "linked nowhere". A national token covers every rumour, so
        it always gets the whole answer (``routed_upward: false``).

        A report merged into an earlier one names it (``duplicate_of``, ``duplicate: true``,
        status 200) only when the caller may read that report (its own, or one whose rumour it
        covers); otherwise the answer is that of a new report (201): "merged" would tell that
        another desk reported the same thing."""
        source = f"http:{principal.token_id}"
        national = prefix(principal.jurisdiction) == ""  # nothing lies outside a national token

        def covered_by_caller(rid: str) -> bool:
            regions = self.regions_of(rid)
            return regions is not None and principal.covers_any(regions)

        # Of rumours the text matches equally well (one post posted again elsewhere), the one
        # the reporting desk covers: its public reports what spread around it.
        code, answer = self.hub.submit_report(payload, source, prefer=None if national else covered_by_caller)
        if code >= 400:
            return code, answer
        rid = answer.get("rumour_id")
        covered = national
        if rid:
            self._forget("statuses")
            if not covered:
                covered = covered_by_caller(rid)
        answer = dict(answer, routed_upward=not covered)
        if not covered:
            answer.update(rumour_id=None, link_method=None, similarity=None)
        first_id, answer["duplicate_of"] = answer.get("duplicate_of") or None, None
        if first_id:
            first = self.hub.desk.report(first_id) or {}
            if covered or first.get("source") == source:
                answer.update(duplicate=True, duplicate_of=first_id)
            else:
                code = 200 if answer.get("repeated") else 201  # as a new report (or its re-send)
        if answer.get("region_code"):
            answer["region_name"] = rg.name(answer["region_code"])
        return code, answer

    def reports(self, rumour_id: str, principal: Principal) -> dict:
        """The reports linked to a rumour; reporters as :func:`reporter_shown` says."""
        rows = {}
        if self.store is not None:
            for r in self.store.load_reports(rumour_id):
                rows[r["report_id"]] = r
        for r in self.hub.desk.reports_of(rumour_id):
            rows[r["report_id"]] = r
        out = [self._report_view(r, principal)
               for r in sorted(rows.values(), key=lambda r: (r["report_ms"], r["report_id"]))]
        # "own_in_clear": the caller's own reports name their reporter, the others a pseudonym
        return {"rumour_id": rumour_id, "identities": "own_in_clear",
                "reports": out, "distinct": sum(1 for r in out if not r["duplicate_of"])}

    def _report_view(self, r: dict, principal: Principal) -> dict:
        manual = r["link_method"] == "manual"
        return {
            "report_id": r["report_id"], "reporter": reporter_shown(r, principal, self.pseudo.reporter), "post_id": r["post_id"] or None,
            "link": r["link"] or None, "text": r["text"] or None, "reported_at": format_ts(r["report_ms"]),
            "received_at": format_ts(r["received_ms"]), "region": r["region"] or None,
            "region_code": r["region_code"] or None, "region_name": rg.name(r["region_code"]),
            "link_method": r["link_method"], "similarity": r["similarity"],
            "duplicate_of": r["duplicate_of"] or None, "source": r.get("source") or None,
            "client_report_id": r.get("client_report_id") or None,
            "linked_by": (r.get("linked_by") or None) if manual else None,
            "linked_at": format_ts(r.get("linked_ms") or 0) if manual else None}

    # -- alerts -------------------------------------------------------------------------------
    def _all_alerts(self) -> list[dict]:
        def read():
            by_id = {}
            if self.store is not None:
                try:
                    for a in self.store.load_alerts():
                        by_id[a["alert_id"]] = a
                except Exception:  # the dashboard still shows this process's alerts
                    log.exception("reading alerts from the store failed")
            with self.hub.alerts._lock:
                memory = list(self.hub.alerts.alerts)
            for a in memory:
                by_id[a["alert_id"]] = a
            return sorted(by_id.values(), key=lambda a: (-a["minute_ms"], a["unit"], a["rumour_id"], a["rule"]))
        return self._cached("alerts", read)

    def alerts(self, principal: Principal, within: str | None, since_ms: int | None, limit: int) -> dict:
        """Alerts of units inside the caller's jurisdiction (and inside ``within`` when given)."""
        picked = []
        for a in self._all_alerts():
            if not covers(principal.jurisdiction, a["unit"]):
                continue
            if within is not None and not covers(within, a["unit"]):
                continue
            if since_ms is not None and a["minute_ms"] < since_ms:
                continue
            picked.append(self._alert_view(a))
            if len(picked) >= limit:
                break
        return {"jurisdiction": within or principal.jurisdiction, "alerts": picked}

    def _alert_view(self, a: dict) -> dict:
        out = {k: v for k, v in a.items() if k != "trace"}
        out["unit_name"] = rg.name(a["unit"]) or {"zh": a.get("unit_name_zh"), "en": a.get("unit_name_en")}
        trace = a.get("trace")
        if trace:
            p = self.pseudo
            out["trace"] = {"events": trace.get("events"),
                            "origins": [{"account_id": p(o["account_id"]), "event_id": p.event(o.get("event_id")),
                                         "ts": o.get("ts"), "confidence": o.get("confidence")}
                                        for o in trace.get("origins", [])[:5]],
                            "cutoff": [{"account_id": p(c["account_id"]), "prevented": c["prevented"]}
                                       for c in trace.get("cutoff", [])[:5]],
                            "identities": "pseudonymised"}
        else:
            out["trace"] = None
        return out

    # -- debunk -------------------------------------------------------------------------------
    def debunk(self, rumour_id: str) -> dict | None:
        """Reach, coverage and time to debunk. From the hub when it saw every event of the
        rumour that the store holds, else recomputed from the store's events (cached until
        the rumour's counts change)."""
        s = self.summary()["rumours"].get(rumour_id)
        version = (s["size"], s["debunk_size"]) if s else None
        metrics = _retry(lambda: self.hub.debunks.metrics(rumour_id))
        if metrics is not None and (version is None or self.store is None
                                    or (metrics.rumour_shares, metrics.debunk_shares) == version):
            answer = metrics.to_dict()
            answer["source"] = "live"
        else:
            hit = self._debunk_cache.get(rumour_id)
            if hit is not None and hit[0] == version:
                answer = hit[1]
            else:
                answer = self._debunk_from_store(rumour_id)
                if answer is None:
                    return None
                self._debunk_cache[rumour_id] = (version, answer)
        answer = dict(answer)
        answer["by_city"] = {c: dict(v, name=rg.name(c)) for c, v in answer["by_city"].items()}
        for key in ("first_rumour", "first_debunk"):
            ms = answer.get(key + "_ms")
            answer[key + "_at"] = format_ts(ms) if ms is not None else None
        return answer

    def _debunk_from_store(self, rumour_id: str) -> dict | None:
        from streams.governance.debunks import tracker_from_batch

        if self.store is None:
            return None
        batch = self.store.load_events(rumour_ids=[rumour_id])
        m = tracker_from_batch(batch).metrics(rumour_id) if len(batch) else None
        if m is None:
            return None
        answer = m.to_dict()
        answer["source"] = "store"
        return answer


def _retry(fn, tries: int = 5):
    # The pipeline thread may add to the tracker's sets while we read them (no lock there):
    # a "changed size during iteration" read is simply taken again.
    for i in range(tries):
        try:
            return fn()
        except RuntimeError:
            if i == tries - 1:
                raise
            time.sleep(0.01)


def _status_row(r: dict) -> dict:
    return {"status": r["status"], "changed_by": r["changed_by"],
            "changed_at": format_ts(int(r["changed_ms"])), "note": r["note"]}
