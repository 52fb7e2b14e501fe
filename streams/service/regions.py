"""Region fields as the dashboard shows them: the province, city and county of a share and
the names (zh-CN and English) of division codes, from :mod:`streams.governance.divisions`.

A share's ``region`` is a 6-digit code, or text the importer could not read as one; text is
read again here (``"山东 济南"`` is Jinan), and what names no division stays as it is.
"""
from __future__ import annotations

from functools import lru_cache

from streams.governance.divisions import display_name, division, normalise_region, unit_of
from streams.service.access import NATIONAL

MUNICIPALITY = "直辖市"  # Beijing, Tianjin, Shanghai, Chongqing: a province that is its own city


@lru_cache(maxsize=65536)
def levels(region: str | None) -> tuple[str, str, str]:
    """``(province, city, county)`` keys of a share's region for the breakdowns ("" unknown).

    A region counts at its own level and those above it, never below: a share known only down
    to the city (``440300`` Shenzhen, ``"山东 济南"``) counts for its city and province and as
    unknown ("") among the counties, since its county is not known and the city is none; one
    known only to the province counts as unknown among cities and counties. A municipality's
    district has its municipality as city-level unit, as alerts use it, and a municipality
    itself (``110000``) is a city-level unit too. Text that names no division counts as itself.

    >>> levels("370102"), levels("110105"), levels("370100"), levels(None)
    (('370000', '370100', '370102'), ('110000', '110000', '110105'), ('370000', '370100', ''), ('', '', ''))
    >>> levels("4403 00"), levels("440000"), levels("110000")
    (('440000', '440300', ''), ('440000', '', ''), ('110000', '110000', ''))
    >>> levels("山东 济南"), levels("海外 美国")
    (('370000', '370100', ''), ('海外 美国', '海外 美国', '海外 美国'))
    """
    if not region:
        return "", "", ""
    code = normalise_region(region)
    if code is None:
        return region, region, region
    city = unit_of(code, "city")
    if city is None and division(code).type_zh == MUNICIPALITY:
        city = code
    return unit_of(code, "province") or code, city or "", unit_of(code, "county") or ""


def name(code: str | None) -> dict | None:
    """``{"zh", "en"}`` display names of a division code (a county names its city, or its
    province when it has no city: a district of Beijing, which has a 朝阳区 as Changchun has), or None.

    >>> name("370102"), name("370100")["en"], name("999999")
    ({'zh': '济南 历下区', 'en': 'Lixia District, Jinan'}, 'Jinan', None)
    >>> name("110105"), name("220104")["zh"]
    ({'zh': '北京 朝阳区', 'en': 'Chaoyang District, Beijing'}, '长春 朝阳区')
    """
    # The names are the division table's (alerts carry the same ones); a code here is digits only.
    return display_name(code) if code and code.isdigit() else None


# The whole country (a token's jurisdiction 000000): no row of the division table, which knows
# the country only as the text "中国" / "China" in a region field.
NATIONAL_NAME = {"zh": "全国", "en": "Nationwide"}


def jurisdiction_name(code: str | None) -> dict | None:
    """``{"zh", "en"}`` of a token's jurisdiction: :func:`name`, and the whole country for
    ``000000``.

    >>> jurisdiction_name("000000"), jurisdiction_name("370100")["en"], jurisdiction_name("999999")
    ({'zh': '全国', 'en': 'Nationwide'}, 'Jinan', None)
    """
    return dict(NATIONAL_NAME) if code == NATIONAL else name(code)


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
