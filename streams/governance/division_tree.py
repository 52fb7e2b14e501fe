"""Administrative divisions of China: the province / city / county tree with codes and names.

Data: ``data/divisions.csv`` (built from the official codes by ``data/build_divisions.py``;
34 provinces, 333 prefecture-level units, about 2,860 county-level units; Shandong: 16 cities,
136 county-level divisions). Codes are the 6-digit GB/T 2260 codes (``370000`` Shandong,
``370100`` Jinan, ``370102`` Lixia). A municipality's districts (Beijing's 朝阳区) and the
county-level units directly under a province hang from the province: for them the province is
also the city-level unit (:func:`unit_of`).

This module is the table and its tree; reading a free-text region field into a code is
:mod:`streams.governance.divisions`, which re-exports everything here (import from there).

>>> division("370100").name_zh, division("370100").name_en
('济南市', 'Jinan City')
>>> [d.code for d in ancestors("370102")]
['370000', '370100']
>>> contains("370000", "370102"), contains("370200", "370102")
(True, False)
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "divisions.csv"
LEVELS = ("province", "city", "county")
_DEPTH = {name: i for i, name in enumerate(LEVELS)}


@dataclass(frozen=True, slots=True)
class Division:
    code: str
    parent: str | None
    level: str  # province, city, county
    type_zh: str
    name_zh: str
    short_zh: str
    pinyin: str
    name_en: str

    @property
    def depth(self) -> int:
        return _DEPTH[self.level]

    def label(self) -> str:
        """``济南市 Jinan`` (what reports and dashboards print)."""
        return f"{self.name_zh} {self.pinyin}"


class _Table:
    def __init__(self, path: Path = DATA):
        self.by_code: dict[str, Division] = {}
        self.kids: dict[str, list[str]] = {}
        self.names: dict[str, set[str]] = {}  # Chinese name / short name / alias -> codes
        self.latin: dict[str, set[str]] = {}  # folded pinyin / English name -> codes
        with open(path, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                d = Division(row["code"], row["parent"] or None, row["level"], row["type_zh"],
                             row["name_zh"], row["short_zh"], row["pinyin"], row["name_en"])
                self.by_code[d.code] = d
                if d.parent:
                    self.kids.setdefault(d.parent, []).append(d.code)
                for name in (d.name_zh, d.short_zh):
                    self.names.setdefault(name, set()).add(d.code)
                for name in (d.pinyin, d.name_en):
                    self.latin.setdefault(fold_latin(name), set()).add(d.code)
                for alias in filter(None, row["aliases"].split("|")):
                    key = fold_latin(alias) if alias.isascii() else alias
                    (self.latin if alias.isascii() else self.names).setdefault(key, set()).add(d.code)
        self.max_name = max(len(n) for n in self.names)


_LATIN_SUFFIX = re.compile(r"(autonomousregion|autonomousprefecture|autonomouscounty|municipality|"
                           r"province|prefecture|district|county|city|sar|sheng|shi|xian|qu)$")


def fold_latin(text: str) -> str:
    """Lower case, letters only: ``"Dong'e County"`` -> ``"donge"`` (suffix words dropped).

    >>> fold_latin("Dong'e County"), fold_latin("JINAN shi")
    ('donge', 'jinan')
    """
    folded = re.sub(r"[^a-z]", "", text.lower())
    stripped = _LATIN_SUFFIX.sub("", folded)
    return stripped or folded


@lru_cache(maxsize=1)
def _table() -> _Table:
    return _Table()


def _code(code) -> str | None:
    """A known 6-digit code from 2/4/6/9/12-digit forms (``37``, ``3701``, ``370100000000``)."""
    if code is None:
        return None
    text = str(code).strip()
    if not text.isdigit() or len(text) not in (2, 4, 6, 9, 12):
        return None
    if len(text) > 6:
        if text[6:].strip("0"):
            return None  # a township or village: below what the table holds
        text = text[:6]
    text = text.ljust(6, "0")
    return text if text in _table().by_code else None


def division(code) -> Division | None:
    """The division of ``code`` (any of the digit forms :func:`normalise_region` accepts), or None.

    >>> division("3717").name_zh
    '菏泽市'
    """
    c = _code(code)
    return _table().by_code[c] if c else None


def display_name(code) -> dict | None:
    """``{"zh", "en"}`` names of ``code`` as the dashboard, the API and alerts show them, or None.

    A county names its city, or its province when it hangs from one (a municipality's district):
    a bare 南山区 is Shenzhen's and Hegang's, 朝阳区 Beijing's and Changchun's. A province and a
    city are named by their pinyin in English (``Jinan``, not ``Jinan City``).

    >>> display_name("440305"), display_name("230404")["zh"], display_name("999999")
    ({'zh': '深圳 南山区', 'en': 'Nanshan District, Shenzhen'}, '鹤岗 南山区', None)
    >>> display_name("110105")["zh"], display_name("370100"), display_name("370000")["en"]
    ('北京 朝阳区', {'zh': '济南市', 'en': 'Jinan'}, 'Shandong')
    """
    d = division(code)
    if d is None:
        return None
    if d.level == "county" and d.parent:
        p = division(d.parent)
        if p.level in ("city", "province"):
            return {"zh": f"{p.short_zh} {d.name_zh}", "en": f"{d.name_en}, {p.pinyin}"}
    if d.level == "province":
        return {"zh": d.name_zh, "en": d.pinyin}
    return {"zh": d.name_zh, "en": d.pinyin if d.level == "city" else d.name_en}


def ancestors(code) -> list[Division]:
    """The divisions above ``code``, from the province down (empty for a province or unknown).

    >>> [d.name_zh for d in ancestors("371722")]
    ['山东省', '菏泽市']
    """
    t = _table()
    d = division(code)
    out = []
    while d is not None and d.parent:
        d = t.by_code[d.parent]
        out.append(d)
    return out[::-1]


def children(code) -> list[Division]:
    """The divisions directly under ``code``, in code order.

    >>> len(children("370000")), len(children("370100"))
    (16, 12)
    """
    c = _code(code)
    t = _table()
    return [t.by_code[k] for k in sorted(t.kids.get(c, ()))] if c else []


def descendants(code, level: str | None = None) -> list[Division]:
    """Every division below ``code`` (optionally of one ``level``), in code order.

    >>> len(descendants("370000", "county"))
    136
    """
    out = []
    stack = [d.code for d in children(code)][::-1]
    t = _table()
    while stack:
        d = t.by_code[stack.pop()]
        if level is None or d.level == level:
            out.append(d)
        stack.extend(sorted(t.kids.get(d.code, ()), reverse=True))
    return out


def contains(jurisdiction_code, region_code) -> bool:
    """True when ``region_code`` is ``jurisdiction_code`` or lies inside it.

    >>> contains("370100", "370113"), contains("370100", "370000"), contains("370100", None)
    (True, False, False)
    """
    j, r = _code(jurisdiction_code), _code(region_code)
    if j is None or r is None:
        return False
    return r == j or any(a.code == j for a in ancestors(r))


# Pure in (code, level) over a static table, and called for every event and level by the alert
# router: cached, so the per-event cost is one dict lookup.
@lru_cache(maxsize=65536)
def unit_of(code, level: str = "city") -> str | None:
    """The code of the ``level`` unit that answers for ``code``: its city (or, for a
    municipality's district or a county under a province, the province), its county, or its
    province. None when ``code`` sits above ``level`` (a province has no city unit).

    >>> unit_of("370113"), unit_of("110105"), unit_of("370113", "county"), unit_of("370000")
    ('370100', '110000', '370113', None)
    """
    d = division(code)
    if d is None:
        return None
    chain = ancestors(d.code) + [d]
    if level == "province":
        return chain[0].code
    if level == "county":
        return d.code if d.level == "county" else None
    if level != "city":
        raise ValueError(f"level: expected one of {LEVELS}, got {level!r}")
    for x in reversed(chain):
        if x.level == "city":
            return x.code
    return chain[0].code if d.level == "county" else None


def lowest_common(codes) -> str | None:
    """The deepest division containing every code, or None.

    >>> lowest_common(["370103", "370402"]), lowest_common(["370103", "110105"])
    ('370000', None)
    """
    chains = [[a.code for a in ancestors(c)] + [c] for c in codes]
    if not chains:
        return None
    common = None
    for level in zip(*chains):
        if len(set(level)) != 1:
            break
        common = level[0]
    return common


def all_divisions(level: str | None = None) -> list[Division]:
    """Every division (of one level), in code order."""
    return [d for c, d in sorted(_table().by_code.items()) if level is None or d.level == level]
