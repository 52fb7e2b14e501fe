"""Administrative divisions: counts, tree consistency, round trips, normalisation of region text."""
import csv

import pytest

from streams.governance import divisions as dv

SHANDONG = "370000"


def _rows():
    with open(dv.DATA, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_shandong_counts_from_the_file_and_the_api():
    rows = _rows()
    # Counted straight from the CSV (prefix 37), independently of the module's tree walk.
    cities = [r for r in rows if r["code"].startswith("37") and r["level"] == "city"]
    counties = [r for r in rows if r["code"].startswith("37") and r["level"] == "county"]
    assert len(cities) == 16
    assert len(counties) == 136
    assert len(dv.children(SHANDONG)) == 16
    assert sum(len(dv.children(c.code)) for c in dv.children(SHANDONG)) == 136
    assert len(dv.descendants(SHANDONG, "county")) == 136


def test_codes_unique_and_parents_consistent():
    rows = _rows()
    codes = [r["code"] for r in rows]
    assert len(codes) == len(set(codes))
    for r in rows:
        assert len(r["code"]) == 6 and r["code"].isdigit()
        if r["level"] == "province":
            assert r["parent"] == "" and r["code"].endswith("0000")
        else:
            assert r["parent"] in set(codes)
            assert r["code"][:2] == r["parent"][:2]
        if r["level"] == "city":
            assert r["code"].endswith("00") and not r["code"].endswith("0000")


def test_code_round_trip():
    everything = dv.all_divisions()
    assert len(everything) == len(_rows())
    for d in everything:
        assert dv.division(d.code) == d
        assert dv.normalise_region(d.code) == d.code
        chain = dv.ancestors(d.code)
        assert all(dv.contains(a.code, d.code) for a in chain)
        assert [a.level for a in chain] == list(dv.LEVELS[:len(chain)]) or d.level == "county"
        if d.parent:
            assert d in dv.children(d.parent)


def test_name_round_trip_for_shandong():
    """Every Shandong division is found again from its names given with its parents, in
    Chinese, in pinyin and in English (a name shared by two divisions needs the parent)."""
    for d in [dv.division(SHANDONG)] + dv.descendants(SHANDONG):
        names = [a for a in dv.ancestors(d.code)]
        zh = " ".join([a.short_zh for a in names] + [d.name_zh])
        py = " ".join([d.pinyin] + [a.pinyin for a in reversed(names)])
        en = ", ".join([d.name_en] + [a.name_en for a in reversed(names)])
        glued = "".join([a.name_zh for a in names] + [d.name_zh])
        for text in (zh, glued, py, en):
            assert dv.normalise_region(text) == d.code, text


@pytest.mark.parametrize("text, code", [
    ("山东 济南", "370100"), ("济南市", "370100"), ("Jinan", "370100"), ("370100", "370100"),
    ("3701", "370100"), ("370100000000", "370100"), ("山东省济南市历下区", "370102"),
    ("jinan, shandong", "370100"), ("Shen County", "371522"), ("Dong'e", "371524"),
    ("菏泽 单县", "371722"), ("Laoling", "371481"), ("Changqing District", "370113"),
    ("吉林", "220000"), ("吉林 吉林", "220200"), ("北京 朝阳区", "110105"), ("Beijing Chaoyang", "110105"),
    ("重庆 江北区", "500105"), ("上海", "310000"), ("中国 山东", "370000"),
    ("山东 莱芜", "370116"),  # merged into Jinan in 2019; profiles still say 莱芜
])
def test_normalise_known(text, code):
    m = dv.match_region(text)
    assert m.code == code
    assert m.raw == text


@pytest.mark.parametrize("text", ["其他", "海外 美国", "", "  ", "山东 市中", "999999", "37010", None])
def test_normalise_unknown_or_partial(text):
    m = dv.match_region(text)
    assert m.raw == text
    assert not m.exact
    if text == "山东 市中":
        assert m.code == SHANDONG  # 市中区 is in both Jinan and Zaozhuang: the common province
    else:
        assert m.code is None
        assert dv.region_field(text) == text


def test_partial_keeps_the_known_part():
    m = dv.match_region("香港 其他")
    assert (m.code, m.exact) == ("810000", False)


def test_contains_and_units():
    assert dv.contains("370000", "370113")
    assert dv.contains("370100", "370113")
    assert not dv.contains("370200", "370113")
    assert not dv.contains("370113", "370100")
    assert dv.contains("370100", "370100")
    assert not dv.contains("370100", "海外")
    assert dv.unit_of("370113", "city") == "370100"
    assert dv.unit_of("370113", "county") == "370113"
    assert dv.unit_of("370100", "county") is None
    assert dv.unit_of("110105", "city") == "110000"  # a municipality is its own city unit
    assert dv.unit_of("370113", "province") == SHANDONG
