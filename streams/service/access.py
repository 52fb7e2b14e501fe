"""Roles, permissions and jurisdictions.

Jurisdiction codes are 6-digit administrative division codes (GB/T 2260): a province is
``PP0000``, a city ``PPCC00``, a county ``PPCCXX``. A token's code covers a region code when the
region lies inside it: a province token covers every code starting with its two digits, a city
token every code starting with its four, a county token only itself. ``000000`` is the whole
country (for national admins). An event without a region is covered only by ``000000``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

ROLES = ("analyst", "liaison", "admin", "monitor")

# What each role may do. "clear" = account ids shown in clear (else pseudonymised);
# "case_required" = trace/evidence refused (400) without a case number; "report" = submit a
# public report (every role: the intake desk submits on the public's behalf); "status" = change
# a rumour's handling status (analysts run the case file, admins supervise; police liaison
# officers trace but do not decide the handling); "metrics" = read /metrics (its counters
# include evidence exports and traces per status: operators' data, not the public's). The
# "monitor" role is for Prometheus: a scrape config holds its token in a file, so it may do
# nothing else (an admin token there would export evidence with clear identities).
PERMISSIONS = {
    "analyst": {"list", "view", "trace", "report", "status"},
    "liaison": {"list", "view", "trace", "clear", "case_required", "evidence", "report"},
    "admin": {"list", "view", "trace", "clear", "case_required", "evidence", "audit", "report", "status",
              "metrics"},
    "monitor": {"metrics"},
}

_CODE_RE = re.compile(r"^\d{6}$")
NATIONAL = "000000"
# Share kinds (streams.events.KINDS) whose region gives jurisdiction over their rumour: every kind
# but ``debunk``, listed rather than derived so that a kind added later grants nothing until
# someone decides it should.
SPREAD_KINDS = frozenset({"post", "share", "comment"})


def check_code(code: str) -> str:
    """A jurisdiction code, validated (ValueError otherwise).

    >>> check_code("370000")
    '370000'
    """
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise ValueError(f"jurisdiction: expected a 6-digit division code, got {code!r}")
    return code


def prefix(code: str) -> str:
    """The prefix every covered region code starts with.

    >>> prefix("370000"), prefix("370100"), prefix("370102"), prefix("000000")
    ('37', '3701', '370102', '')
    """
    check_code(code)
    if code == NATIONAL:
        return ""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def level(code: str) -> str:
    """``country``, ``province``, ``city`` or ``county``.

    >>> level("370000"), level("370100"), level("370102")
    ('province', 'city', 'county')
    """
    return {0: "country", 2: "province", 4: "city", 6: "county"}[len(prefix(code))]


def covers(jurisdiction: str, region: str | None) -> bool:
    """Whether a region code lies inside the jurisdiction.

    >>> covers("370000", "370102"), covers("370100", "370211"), covers("370102", "370102")
    (True, False, True)
    >>> covers("370000", None), covers("000000", None), covers("370100", "山东 济南")
    (False, True, True)
    """
    p = prefix(jurisdiction)
    if not p:
        return True
    if region and not region.isdigit():
        # A region kept as text ("山东 济南", "Jinan"): read it as the division it names.
        region = _division_code(region)
    return bool(region) and region.startswith(p)


def covering_prefixes(regions) -> frozenset:
    """The :func:`prefix` of every jurisdiction below the country that covers one of ``regions``
    (codes, text or None, read as :func:`covers` reads them): a jurisdiction covers one of them
    when its prefix is in this set, the country always. Made once per rumour, it answers the
    rumour list's check for every caller with one set lookup.

    >>> sorted(covering_prefixes({"370211", None, "北京 东城区"}))
    ['11', '1101', '110101', '37', '3702', '370211']
    """
    codes = {r if r.isdigit() else _division_code(r) for r in regions if r}
    return frozenset(c[:n] for c in codes if c for n in (2, 4, 6))


def spread_regions(region_kinds) -> set:
    """The regions (None = no region) that give jurisdiction over a rumour, from the
    ``(region, kind name)`` pairs of its shares: those of the kinds in :data:`SPREAD_KINDS`.
    The one definition behind the rumour list, every rumour route and the report intake.

    >>> sorted(spread_regions([("370211", "share"), ("370102", "debunk"), (None, "post")]), key=str)
    ['370211', None]
    >>> spread_regions([("370102", "debunk")])
    set()
    """
    return {region for region, kind in region_kinds if kind in SPREAD_KINDS}


def _division_code(text: str) -> str | None:
    from streams.governance.divisions import normalise_region

    return normalise_region(text)


@dataclass(frozen=True)
class Principal:
    """The caller, as authenticated from a token."""

    token_id: str
    name: str
    role: str
    jurisdiction: str
    expires_ms: int | None = None  # when the token lapses (epoch ms); None: never

    def may(self, action: str) -> bool:
        return action in PERMISSIONS.get(self.role, ())

    def covers_any(self, regions) -> bool:
        """Whether the jurisdiction covers a known rumour whose :func:`spread_regions` are
        ``regions``; the whole country covers every one, even a rumour that spread nowhere.

        >>> p = Principal("t", "n", "liaison", "370102")
        >>> p.covers_any({"370211", "370102"}), p.covers_any({"370211"}), p.covers_any(set())
        (True, False, False)
        >>> Principal("t", "n", "admin", NATIONAL).covers_any(set())
        True
        """
        if not prefix(self.jurisdiction):
            return True
        return any(covers(self.jurisdiction, r) for r in regions)
