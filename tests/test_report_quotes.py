"""A public report that copies one sentence of a rumour's source post links to that rumour
(``link_method`` quote, ``similarity`` the share of the report's 3-grams in the post): the
Jaccard of half a post with the whole is below ``report_link_similarity``, so such a report,
the commonest kind at a county desk, was stored unlinked. A short phrase that many posts hold
still links to none, and a report that matches by Jaccard still says ``text``. A report in
traditional characters matches a post in simplified ones (they are folded to one script)."""
from __future__ import annotations

from streams.events import KIND_CODE, EventBatch
from streams.governance.config import GovernanceConfig
from streams.governance.reports import ReportDesk

T0 = 1_759_276_800_000
POST = KIND_CODE["post"]
# A real Weibo rumour (CED dataset, 2012) and a second post that shares its topic words.
GUTTER_OIL = ("【怎么鉴定地沟油】炒菜时放一颗剥皮的蒜头(蒜子)，蒜子对黄曲霉素最敏感。如果蒜子变红色就是地沟油，"
              "含有大量黄曲霉素。把你家里的油放到冰箱里2个小时，如果出现白色的泡沫一样，那就是地沟油。"
              "请发出你的爱心， 转给身边滴朋友吧！")
OTHER = "地沟油又回到餐桌了，记者暗访发现多家饭店使用地沟油，请大家转给身边的朋友，外出吃饭要小心。"


def _desk() -> ReportDesk:
    desk = ReportDesk(GovernanceConfig())
    rows = [("m1", "r1", GUTTER_OIL), ("m2", "r2", OTHER)]
    desk.observe(EventBatch.from_columns([[r[0] for r in rows], [r[1] for r in rows], ["a", "b"], [T0, T0 + 1],
                                          [None, None], [None, None], [POST, POST], ["weibo"] * 2,
                                          ["110105"] * 2, [r[2] for r in rows]]))
    return desk


def _link(desk, text, n):
    status, answer = desk.submit({"reporter": f"citizen {n}", "text": text}, "http:desk", now_ms=T0 + n)
    assert status == 201, answer
    return answer["rumour_id"], answer["link_method"], answer["similarity"]


def test_a_copied_sentence_links_to_its_post():
    desk = _desk()
    quote = "怎么鉴定地沟油 炒菜时放一颗剥皮的蒜头，蒜子对黄曲霉素最敏感。如果蒜子变红色就是地沟油"
    assert _link(desk, quote, 1) == ("r1", "quote", 1.0)
    # a sentence copied with one character changed (2 -> 两) still links, with its share
    assert _link(desk, "把你家里的油放到冰箱里两个小时，如果出现白色的泡沫一样，那就是地沟油。", 2) == ("r1", "quote", 0.9)


def test_a_short_phrase_or_a_loose_paraphrase_links_to_nothing():
    desk = _desk()
    assert _link(desk, "转给身边的朋友 地沟油", 1) == ("", "none", 0.0)  # in both posts, too short
    assert _link(desk, "听说用蒜头能看出是不是地沟油，变红就是，真的假的？请核实", 2) == ("", "none", 0.0)


def test_the_whole_post_still_links_by_text():
    desk = _desk()
    rid, method, similarity = _link(desk, "举报：" + GUTTER_OIL, 1)
    assert (rid, method) == ("r1", "text") and similarity >= 0.9


def test_a_report_in_traditional_characters_links_to_the_simplified_post():
    desk = _desk()
    # the walk's report: part of the post in traditional characters, full-width brackets
    traditional = "【怎麼鑒定地溝油】炒菜時放一顆剝皮的蒜頭（蒜子），蒜子對黃麴黴素最敏感。如果蒜子變紅色就是地溝油，含有大量黃麴黴素！"
    assert _link(desk, traditional, 1)[:2] == ("r1", "text")
    assert _link(desk, "把你家裡的油放到冰箱裡2個小時，如果出現白色的泡沫一樣，那就是地溝油", 2) == ("r1", "quote", 1.0)


def test_reports_made_before_the_rumour_was_seen_do_not_keep_the_next_ones_unlinked():
    desk = ReportDesk(GovernanceConfig())
    early = desk.submit({"reporter": "citizen 1", "text": GUTTER_OIL}, "http:desk", now_ms=T0)[1]
    assert early["rumour_id"] == "" and early["link_method"] == "none"  # nothing known yet
    desk.observe(EventBatch.from_columns([["m1"], ["r1"], ["a"], [T0 + 1], [None], [None], [POST], ["weibo"],
                                          ["110105"], [GUTTER_OIL]]))
    status, second = desk.submit({"reporter": "citizen 2", "text": GUTTER_OIL + "！"}, "http:desk", now_ms=T0 + 2)
    assert (status, second["rumour_id"], second["link_method"], second["duplicate_of"]) == (201, "r1", "text", "")
    status, third = desk.submit({"reporter": "citizen 3", "text": GUTTER_OIL}, "http:desk", now_ms=T0 + 3)
    assert (status, third["rumour_id"], third["duplicate_of"]) == (200, "r1", second["report_id"])
    assert [r["report_id"] for r in desk.reports_of("r1")] == [second["report_id"], third["report_id"]]
