"""Administrative divisions of China: the tree of codes and names, and region fields read into it.

The province / city / county table and its tree (:class:`Division`, :func:`division`,
:func:`ancestors`, :func:`contains`, :func:`unit_of`, ...) are in
:mod:`streams.governance.division_tree` and re-exported here; this module reads the free text
of an event's ``region`` field (a code, ``"山东 济南"``, ``"Jinan"``, ``"山东省济南市历下区"``)
into a division code (:func:`match_region`, :func:`normalise_region`, :func:`region_field`).

>>> normalise_region("山东 济南"), normalise_region("Jinan"), normalise_region("370100")
('370100', '370100', '370100')
"""
from __future__ import annotations

import re
from functools import lru_cache
from itertools import permutations
from typing import NamedTuple

from streams.governance.division_tree import (DATA, LEVELS, Division, _code, _table, all_divisions,
                                              ancestors, children, contains, descendants,
                                              display_name, division, fold_latin, lowest_common,
                                              unit_of)

# The public API; it names the tree's (streams.governance.division_tree) as re-exported.
__all__ = ["DATA", "LEVELS", "Division", "RegionMatch", "division", "display_name", "ancestors", "children",
           "descendants", "contains", "unit_of", "lowest_common", "all_divisions", "fold_latin",
           "match_region", "normalise_region", "region_field"]


class RegionMatch(NamedTuple):
    """What :func:`match_region` made of a region field: the code (None when unknown), the raw
    text as given, and whether every part of the text was understood."""

    code: str | None
    raw: str | None
    exact: bool


_SPLIT = re.compile(r"[\s,，、;；/|·\-]+")


def _candidates(token: str) -> list[set[str]]:
    """Candidate code sets of each place name found in ``token`` (one set per name)."""
    t = _table()
    if token.isdigit():
        c = _code(token)
        return [{c}] if c else []
    if token.isascii():
        codes = t.latin.get(fold_latin(token))
        return [set(codes)] if codes else []
    # Chinese without separators ("山东省济南市历下区"): greedy longest names, left to right.
    found = []
    i = 0
    while i < len(token):
        for n in range(min(t.max_name, len(token) - i), 1, -1):
            codes = t.names.get(token[i:i + n])
            if codes:
                found.append(set(codes))
                i += n
                break
        else:
            i += 1
    return found


def _assignable(groups: list[set[str]], lineage: list[str], target: str) -> bool:
    """Can each group name a different member of ``lineage``, one of them ``target``?"""
    if len(groups) > len(lineage):
        return False
    for perm in permutations(lineage, len(groups)):
        if target in perm and all(code in g for code, g in zip(perm, groups)):
            return True
    return False


def _pick(groups: list[set[str]]) -> tuple[str | None, bool]:
    """``(code, unique)`` for the names found in a region field.

    One name alone: its highest-level reading ("吉林" is the province, "Jinan" the city rather
    than two districts of the same sound). Several names: the shallowest division that the
    names spell out as a chain, each name a different level ("吉林 吉林" is Jilin city;
    "Dongying, Shandong" the city, not its district of the same name). Readings that tie
    resolve to their lowest common division (and are not unique).
    """
    by_code = _table().by_code

    def best_of(codes, deepest: bool):
        codes = sorted(set(codes))
        if not codes:
            return None, False
        pick = max if deepest else min
        depth = pick(by_code[c].depth for c in codes)
        top = [c for c in codes if by_code[c].depth == depth]
        return (top[0], True) if len(top) == 1 else (lowest_common(top), False)

    if len(groups) == 1:
        return best_of(groups[0], deepest=False)
    lineages = {c: [a.code for a in ancestors(c)] + [c] for g in groups for c in g}
    chained = [c for c, lin in lineages.items() if _assignable(groups, lin, c)]
    if chained:
        return best_of(chained, deepest=False)
    # Names repeated or at the same level ("济南 济南市"): every name holds the reading or
    # one of its ancestors.
    loose = [c for c, lin in lineages.items() if all(set(lin) & g for g in groups)]
    if loose:
        return best_of(loose, deepest=True)
    # Parts that contradict each other: what the first part alone says, never exact.
    return _pick(groups[:1])[0], False


@lru_cache(maxsize=65536)
def match_region(text) -> RegionMatch:
    """Read a region field (a code, ``"山东 济南"``, ``"济南市"``, ``"Jinan"``, ``"山东省济南市历下区"``).

    ``exact`` is False when some part was not understood (``"北京 崇文路"`` -> Beijing) or a
    name is ambiguous without context (``"市中区"`` -> Shandong, the common province of two).

    >>> match_region("北京 朝阳区")
    RegionMatch(code='110105', raw='北京 朝阳区', exact=True)
    >>> match_region("海外 美国")
    RegionMatch(code=None, raw='海外 美国', exact=False)
    """
    if text is None:
        return RegionMatch(None, None, False)
    raw = str(text)
    tokens = [tok for tok in _SPLIT.split(raw.strip()) if tok]
    if not tokens:
        return RegionMatch(None, raw, False)
    groups = []
    understood = True
    if all(tok.isascii() and not tok.isdigit() for tok in tokens) and len(tokens) > 1:
        # "Jinan City", "Shen County": try the whole phrase before its words.
        whole = _candidates("".join(tokens))
        if whole:
            tokens = ["".join(tokens)]
    for tok in tokens:
        found = _candidates(tok)
        if not found:
            # "中国 山东" / "China": naming the country loses nothing.
            if tok not in ("中国", "中华人民共和国") and re.sub(r"[^a-z]", "", tok.lower()) not in (
                    "china", "zhongguo", "prc"):
                understood = False
            continue
        groups.extend(found)
    if not groups:
        return RegionMatch(None, raw, False)
    code, unique = _pick(groups)
    exact = understood and unique and code is not None
    return RegionMatch(code, raw, exact)


def normalise_region(text_or_code) -> str | None:
    """The division code a region field names, or None when it names none.

    >>> normalise_region("济南市"), normalise_region("37"), normalise_region("其他")
    ('370100', '370000', None)
    """
    return match_region(text_or_code).code


def region_field(text_or_code) -> str | None:
    """What to store in an event's ``region``: the code when known, else the raw text kept.

    >>> region_field("山东 青岛"), region_field("海外 美国")
    ('370200', '海外 美国')
    """
    m = match_region(text_or_code)
    return m.code if m.code is not None else m.raw
