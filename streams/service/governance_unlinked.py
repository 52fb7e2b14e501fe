"""The desks' unlinked reports and linking one by hand (mixed into
:class:`streams.service.governance.GovernanceViews`).

A report that linked to no rumour belongs to no rumour's jurisdiction, so the rule of who reads it
is the desk's: the desk (token) that took it in and every token whose jurisdiction covers that
desk's, up to the centre. Linking it needs both: reading the report and covering the rumour (as
for setting its status); the link itself: :mod:`streams.governance.report_manual`.
"""
from __future__ import annotations

from streams.governance.report_manual import link_answer
from streams.service.access import Principal, covers, prefix

NOTE_MAX = 2000
LINK_FIELDS = {"rumour_id", "note"}


def body_problem(body, allowed: set, token_field: str, what: str) -> str | None:
    """What is wrong with a governance POST body (a JSON object of ``allowed`` fields, ``note`` a
    short string), None if nothing; ``token_field`` is the field the token gives (``what``).

    >>> body_problem({"note": 3}, {"note"}, "changed_by", "who changed it")
    'note: a string of at most 2000 characters'
    >>> body_problem({"changed_by": "x"}, {"note"}, "changed_by", "who changed it")
    'body: unknown field(s) changed_by (who changed it comes from the token)'
    """
    if not isinstance(body, dict):
        return "body: expected a JSON object"
    extra = sorted(set(body) - allowed)
    if extra:
        why = f" ({what} comes from the token)" if token_field in extra else ""
        return f"body: unknown field(s) {', '.join(extra)}{why}"
    note = body.get("note") or ""
    if not isinstance(note, str) or len(note) > NOTE_MAX:
        return f"note: a string of at most {NOTE_MAX} characters"
    return None


class UnlinkedReportViews:
    """Needs ``self.hub``, ``self.store``, ``self.regions_of``, ``self.desks``,
    ``self._report_view`` and ``self._forget`` (:class:`~streams.service.governance.GovernanceViews`)."""

    def may_read_unlinked(self, report: dict, principal: Principal, desks: dict | None = None) -> bool:
        """Whether ``principal`` may read a report linked to no rumour (no rumour gives it a
        jurisdiction): the desk that took it in, and every token whose jurisdiction covers that
        desk's (the desks above it, up to the centre). A report not taken in over HTTP, or by a
        token no longer in the tokens file, is read by national tokens only. ``desks``:
        ``self.desks()``, when read already."""
        source = report.get("source") or ""
        if source == "http:" + principal.token_id or prefix(principal.jurisdiction) == "":
            return True
        if not source.startswith("http:"):
            return False
        taker = (self.desks() if desks is None else desks).get(source[5:])
        return taker is not None and covers(principal.jurisdiction, taker)

    def unlinked(self, principal: Principal, limit: int, offset: int) -> dict:
        """The reports linked to no rumour that ``principal`` may read, newest received first;
        reporters as :func:`reporter_shown` says. ``total``: how many the caller may read."""
        rows = {}
        if self.store is not None:
            for r in self.store.unlinked_reports():
                rows[r["report_id"]] = r
        for r in self.hub.desk.reports_of(""):
            rows[r["report_id"]] = r
        for rid, r in self.hub.desk.remembered(list(rows)).items():  # linked since the store was read
            rows[rid] = r
        desks = self.desks()  # the tokens file read once, not once a report
        mine = [r for r in rows.values() if not r["rumour_id"] and self.may_read_unlinked(r, principal, desks)]
        mine.sort(key=lambda r: (-r["received_ms"], r["report_id"]))
        return {"identities": "own_in_clear", "total": len(mine), "offset": offset,
                "reports": [self._report_view(r, principal) for r in mine[offset:offset + limit]]}

    def link_report(self, report_id: str, body, principal: Principal, before_apply=None) -> tuple[int, dict]:
        """Link an unlinked report to a rumour by hand. The caller (a role that may set a status:
        the route's permission) must be able to read the report (:meth:`may_read_unlinked`: a
        desk claims no other desk's report) and cover the rumour, as to set its status (a link
        to a rumour out of sight would tell that it exists). A desk above the one that took the
        report in may link it to a rumour that desk does not cover: the report then leaves
        that desk's sight, as a report linked on arrival to such a rumour would. An unknown
        report, one the caller may not read and an unknown or uncovered rumour are all 404
        (naming nothing the caller may not know); a linked report is a 409 with its link
        (null when the caller does not cover its rumour). ``before_apply(http_status, answer)``:
        the audit row, written before the link is made (if that raises, nothing changes)."""
        from streams.service.governance import changed_by  # (that module imports this one)

        problem = body_problem(body, LINK_FIELDS, "linked_by", "who linked it")
        if problem:
            return 400, {"error": problem, "code": "bad_body"}
        rumour_id = body.get("rumour_id")
        if not isinstance(rumour_id, str) or not rumour_id:
            return 400, {"error": "rumour_id: required, a string", "code": "bad_body"}
        note = body.get("note") or ""
        rep = self.hub.desk.report(report_id)
        if rep is None or not (self.may_read_unlinked(rep, principal) or self._covers(rep["rumour_id"], principal)):
            return 404, {"error": f"unknown report {report_id!r}", "code": "unknown_report"}
        if rep["rumour_id"]:
            answer = link_answer(rep) if self._covers(rep["rumour_id"], principal) else None
            return 409, {"error": f"report {report_id!r} is linked already", "code": "report_linked", "link": answer}
        if not self._covers(rumour_id, principal):
            return 404, {"error": f"unknown rumour {rumour_id!r}", "code": "unknown_rumour"}
        if before_apply is not None:
            before_apply(201, {"report_id": report_id, "rumour_id": rumour_id})
        code, answer = self.hub.link_report(report_id, rumour_id, changed_by(principal), note)
        if code == 409 and answer.get("link") and not self._covers(answer["link"]["rumour_id"], principal):
            answer["link"] = None  # linked meanwhile, by another desk, to a rumour out of sight
        self._forget("statuses")
        return code, answer

    def _covers(self, rumour_id: str, principal: Principal) -> bool:
        if not rumour_id:
            return False
        regions = self.regions_of(rumour_id)
        return regions is not None and principal.covers_any(regions)

