"""Region fields as the dashboard shows them: the province, city and county of a share and
the names (zh-CN and English) of division codes, from :mod:`streams.governance.divisions`.

A share's ``region`` is a 6-digit code, or text the importer could not read as one; text is
read again here (``"山东 济南"`` is Jinan), and what names no division stays as it is.
"""
from __future__ import annotations

from functools import lru_cache

from streams.governance.divisions import division, normalise_region, unit_of


@lru_cache(maxsize=65536)
def levels(region: str | None) -> tuple[str, str, str]:
    """``(province, city, county)`` keys of a share's region for the breakdowns ("" unknown).

    A region known only down to the city keeps the city code at the county level (the bar
    says "somewhere in Jinan" rather than dropping the share); a municipality's district has
    its municipality as city-level unit, as alerts use it.

    >>> levels("370102"), levels("110105"), levels("370100"), levels(None)
    (('370000', '370100', '370102'), ('110000', '110000', '110105'), ('370000', '370100', '370100'), ('', '', ''))
    >>> levels("山东 济南"), levels("海外 美国")
    (('370000', '370100', '370100'), ('海外 美国', '海外 美国', '海外 美国'))
    """
    if not region:
        return "", "", ""
    code = normalise_region(region)
    if code is None:
        return region, region, region
    return unit_of(code, "province") or code, unit_of(code, "city") or code, code


def name(code: str | None) -> dict | None:
    """``{"zh", "en"}`` display names of a division code (a county names its city), or None.

    >>> name("370102"), name("370100")["en"], name("999999")
    ({'zh': '济南 历下区', 'en': 'Lixia District, Jinan'}, 'Jinan', None)
    """
    d = division(code) if code and code.isdigit() else None
    if d is None:
        return None
    if d.level == "county" and d.parent:
        p = division(d.parent)
        if p.level == "city":
            return {"zh": f"{p.short_zh} {d.name_zh}", "en": f"{d.name_en}, {p.pinyin}"}
    if d.level == "province":
        return {"zh": d.name_zh, "en": d.pinyin}
    return {"zh": d.name_zh, "en": d.pinyin if d.level == "city" else d.name_en}


def names(codes) -> dict[str, dict]:
    """Display names of every known code among ``codes``.

    >>> sorted(names(["370000", "", None, "海外"]))
    ['370000']
    """
    out = {}
    for c in codes:
        if c and c not in out:
            n = name(c)
            if n is not None:
                out[c] = n
    return out
