"""Weibo CED importer on tiny hand-made cascades (folders and archives built in tmp_path)."""
from __future__ import annotations

import io
import json
import tarfile
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from streams.events import parse_ts, validate_event
from streams.importers import SourceError, iter_events, run_import
from streams.importers.source import Source

CN = timezone(timedelta(hours=8))
SRC_TIME = 1355983200  # 2012-12-20 14:00:00 +08:00


def cn_ms(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CN).timestamp() * 1000)


def rec(mid, uid, parent, date, text=""):
    return {"mid": mid, "uid": uid, "parent": parent, "date": date, "text": text, "kids": []}


def write_ced(root, cascades, label="rumor"):
    """cascades: {file stem "<n>_<mid>_<uid>": (original dict or None, records or None)}."""
    base = root / "CED_Dataset"
    for stem, (orig, records) in cascades.items():
        if orig is not None:
            p = base / "original-microblog" / f"{stem}.json"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps(orig, ensure_ascii=False), encoding="utf-8")
        if records is not None:
            p = base / f"{label}-repost" / f"{stem}.json"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return root


def make_tar(folder, path):
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder / "CED_Dataset", arcname="CED_Dataset")
    return path


def orig(time=SRC_TIME, location="上海", text="源微博"):
    return {"text": text, "time": time, "reposts": 3, "comments": 0, "likes": 0,
            "user": {"location": location, "followers": 1, "verified": False}}


def load(src):
    events, report = iter_events("weibo-ced", src)
    events = list(events)
    for e in events:
        validate_event(e)
    return {e["event_id"]: e for e in events}, report


def test_post_and_shares_mapping(tmp_path):
    write_ced(tmp_path, {"7_SRC1_u0": (orig(), [
        rec("m2", "u2", "m1", "2012-12-20 15:00:00", "//@u1: 转"),
        rec("m1", "u1", "", "2012-12-20 14:30:00"),
    ])})
    ev, report = load(tmp_path)
    post = ev["SRC1"]
    assert (post["kind"], post["account_id"], post["rumour_id"]) == ("post", "u0", "SRC1")
    assert post["region"] == "上海" and post["text"] == "源微博" and post["label"] == "rumor"
    assert parse_ts(post["ts"]) == SRC_TIME * 1000 and post["parent_event_id"] is None
    m1, m2 = ev["m1"], ev["m2"]
    assert (m1["kind"], m1["parent_event_id"], m1["parent_account_id"]) == ("share", "SRC1", "u0")
    assert (m2["parent_event_id"], m2["parent_account_id"], m2["text"]) == ("m1", "u1", "//@u1: 转")
    assert m1["text"] is None and m1["region"] is None and m1["platform"] == "weibo"
    assert m1["ts"] == "2012-12-20T14:30:00+08:00"
    assert report.records_in == 2 and report.shares == 2 and report.balanced()
    assert report.labels == {"rumor": 1}


@pytest.mark.parametrize("time", [SRC_TIME, str(SRC_TIME), SRC_TIME * 1000, "Thu Dec 20 14:00:00 +0800 2012",
                                  "2012-12-20 14:00:00", "2012-12-20T06:00:00+00:00"])
def test_source_time_formats(tmp_path, time):
    write_ced(tmp_path, {"1_S_u": (orig(time=time), [])})
    ev, report = load(tmp_path)
    assert parse_ts(ev["S"]["ts"]) == SRC_TIME * 1000
    assert not report.problems or {p.reason for p in report.problems} == {"reposts_missing"}


def test_yearless_dates_wrap_into_the_next_year(tmp_path):
    # Files list reposts newest first; the yearless ones sit on top (the crawl year).
    write_ced(tmp_path, {"1_S_u": (orig(), [
        rec("c", "u3", "b", "01月03日 10:00"),
        rec("b", "u2", "", "12月28日 09:00"),
        rec("a", "u1", "", "2012-12-25 08:00:00"),
    ])})
    ev, report = load(tmp_path)
    assert parse_ts(ev["b"]["ts"]) == cn_ms("2012-12-28 09:00:00")
    assert parse_ts(ev["c"]["ts"]) == cn_ms("2013-01-03 10:00:00")
    assert report.repaired["yearless_date"] == 2
    assert {p.item for p in report.problems if p.reason == "yearless_date"} == {"b", "c"}


def test_yearless_date_after_older_neighbour(tmp_path):
    # 03-05 is before the next older record's 2014-12-15, so it belongs to 2015.
    write_ced(tmp_path, {"1_S_u": (orig(time=cn_ms("2013-09-01 21:00:00") // 1000), [
        rec("x", "u1", "", "03月05日 05:11"),
        rec("y", "u2", "", "2014-12-15 15:04:58"),
    ])})
    ev, _ = load(tmp_path)
    assert parse_ts(ev["x"]["ts"]) == cn_ms("2015-03-05 05:11:00")


def test_leap_day_without_year(tmp_path):
    write_ced(tmp_path, {"1_S_u": (orig(time=cn_ms("2013-03-01 00:00:00") // 1000), [
        rec("x", "u1", "", "02月29日 12:00"),
    ])})
    ev, _ = load(tmp_path)
    assert parse_ts(ev["x"]["ts"]) == cn_ms("2016-02-29 12:00:00")


def test_duplicate_mid_merged_specific_parent_wins(tmp_path):
    write_ced(tmp_path, {"1_S_u": (orig(), [
        rec("d", "u4", "", "2012-12-21 10:00:00"),
        rec("p", "u1", "", "2012-12-21 09:00:00"),
        rec("d", "u4", "p", "2012-12-21 10:00:00"),
    ])})
    ev, report = load(tmp_path)
    assert ev["d"]["parent_event_id"] == "p" and len(ev) == 3
    assert report.dropped == {"duplicate_record": 1} and report.balanced()
    assert report.notes["duplicate_parents"] == 1


def test_missing_parent_cycle_and_clock_skew_repaired(tmp_path):
    write_ced(tmp_path, {"1_S_u": (orig(), [
        rec("a", "u1", "b", "2012-12-21 10:00:00"),
        rec("b", "u2", "a", "2012-12-21 11:00:00"),
        rec("o", "u3", "gone", "2012-12-21 12:00:00"),
        rec("k", "u5", "o", "2012-12-21 11:59:00"),  # a minute before its parent
        rec("e", "u6", "", "2012-12-19 10:00:00"),  # before the source post
        rec("q", "u7", "lost", "2012-12-19 09:00:00"),  # parent outside, dated before the post
    ])})
    ev, report = load(tmp_path)
    # A parent outside the cascade is left unknown (the report names it): no hop to the source
    # post is made up (it was, and a trace showed it as observed evidence), and no link to an id
    # that may be another cascade's event (the pipeline refuses such a share as a dead letter).
    assert (ev["o"]["parent_event_id"], ev["o"]["parent_account_id"]) == (None, None)
    assert any(p.reason == "parent_missing" and "'gone'" in p.detail for p in report.problems)
    # A loop is cut at its earliest member, whose parent is left unknown (not the source post).
    assert ev["a"]["parent_event_id"] is None and ev["b"]["parent_event_id"] == "a"
    assert parse_ts(ev["k"]["ts"]) == parse_ts(ev["o"]["ts"])
    assert parse_ts(ev["e"]["ts"]) == SRC_TIME * 1000
    assert (ev["q"]["parent_event_id"], parse_ts(ev["q"]["ts"])) == (None, SRC_TIME * 1000)
    assert report.notes["parent_missing"] == 2 and "parent_missing" not in report.repaired
    assert report.repaired["parent_cycle"] == 1 and report.repaired["ts_before_source"] == 1
    assert report.repaired["ts_before_parent"] == 2 and report.balanced()
    assert [e["event_id"] for e in ev.values() if e["kind"] == "post"] == ["S"]


def test_missing_parent_is_traced_as_a_broken_link_not_a_hop_from_the_post(tmp_path):
    # What a police liaison sees: the repost whose parent Weibo lost must not read as a repost of
    # the source post (a chain S -> o -> k with every hop observed); the trace stops at it, with
    # a low confidence, and --parents offers its parent as a lead.
    from streams.settings import Settings
    from streams.trace import run_trace

    write_ced(tmp_path, {"1_S_u": (orig(), [
        rec("p", "u1", "", "2012-12-20 14:05:00"),
        rec("o", "u3", "gone", "2012-12-20 14:20:00", "转发 //@u1: 源微博"),
        rec("k", "u5", "o", "2012-12-20 14:30:00"),
    ]), "2_T_v": (orig(), [rec("gone", "u8", "", "2012-12-20 14:10:00")])})  # the mid is T's
    events, _ = iter_events("weibo-ced", tmp_path)
    msgs = [(orjson.dumps(e), "x") for e in events]
    dead, answers = run_trace(msgs, Settings.load({}), 5, parents=True, rumour="S")
    assert not dead  # a link to T's event would be refused: "parent in another rumour"
    (_, answer, _), = answers
    assert answer["events"] == 4
    origins = {o["event_id"]: o for o in answer["origins"]}
    assert set(origins) == {"S", "o"}
    assert origins["S"]["reach"] == 2 and origins["o"]["reach"] == 2
    assert origins["o"]["confidence"] < 0.5 < origins["S"]["confidence"]
    assert set(answer["parents"]) == {"o"} and answer["parents"]["o"] in {"S", "p"}


def test_bad_records_reported(tmp_path):
    write_ced(tmp_path, {"1_S_u": (orig(), [
        rec("a", "", "", "2012-12-21 10:00:00"),
        "not an object",
        rec("", "u1", "", "2012-12-21 10:00:00"),
        rec("S", "u", "", "2012-12-21 10:00:00"),
        rec("z", "u9", "", "yesterday"),
        rec("ok", "u2", "", "2012-12-21 10:00:00"),
    ])})
    ev, report = load(tmp_path)
    assert set(ev) == {"S", "ok", "z"}
    assert report.dropped == {"missing_uid": 1, "bad_record": 1, "missing_mid": 1, "source_repeated": 1}
    assert report.repaired["date_unreadable"] == 1 and report.balanced()
    assert parse_ts(ev["z"]["ts"]) >= SRC_TIME * 1000


def test_missing_original_or_reposts(tmp_path):
    write_ced(tmp_path, {"1_S_u": (None, [rec("a", "u1", "", "2012-12-21 10:00:00")]),
                         "2_T_v": (orig(), None)})
    ev, report = load(tmp_path)
    assert ev["S"]["kind"] == "post" and ev["S"]["account_id"] == "u"
    assert parse_ts(ev["S"]["ts"]) == cn_ms("2012-12-21 10:00:00")
    assert ev["T"]["account_id"] == "v"
    assert report.repaired["original_missing"] == 1 and report.notes["reposts_missing"] == 1
    assert report.cascades == 2


def test_second_repost_file_and_broken_json_reported(tmp_path):
    write_ced(tmp_path, {"1_S_u": (orig(), [rec("a", "u1", "", "2012-12-21 10:00:00")])})
    write_ced(tmp_path, {"1_S_u": (None, [rec("b", "u2", "", "2012-12-21 10:00:00"),
                                          rec("c", "u3", "", "2012-12-21 10:00:00")])},
              label="non-rumor")
    write_ced(tmp_path, {"2_T_v": (orig(), None)})
    (tmp_path / "CED_Dataset" / "rumor-repost" / "2_T_v.json").write_text("[{oops")
    ev, report = load(tmp_path)
    # which of the two repost files wins is the reader's (deterministic) choice; the other
    # one is reported with all its records
    extra = [p for p in report.problems if p.reason == "extra_file"]
    assert len(extra) == 1
    kept = {"S", "T"} | ({"a"} if "non-rumor-repost" in extra[0].file else {"b", "c"})
    assert set(ev) == kept
    assert report.dropped == {"extra_file": extra[0].records, "unreadable_reposts": 1}
    assert report.records_in == 4 and report.balanced()


def test_user_without_location(tmp_path):
    o = orig()
    o["user"] = "empty"
    write_ced(tmp_path, {"1_S_u": (o, [])})
    ev, report = load(tmp_path)
    assert ev["S"]["region"] is None and report.notes["user_missing"] == 1


def test_folder_and_archive_give_the_same_events(tmp_path):
    folder = write_ced(tmp_path / "d", {
        "1_S_u": (orig(), [rec("a", "u1", "", "2012-12-21 10:00:00")]),
        "2_T_v": (orig(), [rec("b", "u2", "", "01月02日 10:00")]),
    })
    archive = make_tar(folder, tmp_path / "w.tar.gz")
    a, b = io.BytesIO(), io.BytesIO()
    ra = run_import("weibo-ced", folder, a)
    rb = run_import("weibo-ced", archive, b)
    assert sorted(a.getvalue().splitlines()) == sorted(b.getvalue().splitlines())
    assert ra.events == rb.events == 4
    assert ra.to_dict()["repaired"] == rb.to_dict()["repaired"] == {"yearless_date": 1}


def test_run_import_writes_files_and_gzip(tmp_path):
    write_ced(tmp_path / "d", {"1_S_u": (orig(), [rec("a", "u1", "", "2012-12-21 10:00:00")])})
    run_import("weibo-ced", tmp_path / "d", tmp_path / "o.jsonl")
    run_import("weibo-ced", tmp_path / "d", tmp_path / "o.jsonl.gz")
    import gzip
    plain = (tmp_path / "o.jsonl").read_bytes()
    assert gzip.decompress((tmp_path / "o.jsonl.gz").read_bytes()) == plain
    assert [orjson.loads(x)["event_id"] for x in plain.splitlines()] == ["S", "a"]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        iter_events("myspace", tmp_path)
    with pytest.raises(SourceError):
        iter_events("weibo-ced", tmp_path / "nope")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(SourceError):
        iter_events("weibo-ced", tmp_path / "f.txt")


def test_source_without_cascades_is_an_error_and_keeps_the_old_output(tmp_path):
    out = tmp_path / "o.jsonl"
    out.write_bytes(b"earlier import\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    wrong = tmp_path / "twitter" / "twitter15" / "tree"
    wrong.mkdir(parents=True)
    (wrong / "1.txt").write_text("['ROOT', 'ROOT', '0.0']->['u', '1', '0.0']\n")
    for src in (empty, tmp_path / "twitter"):
        with pytest.raises(SourceError, match="no weibo-ced cascade"):
            run_import("weibo-ced", src, out)
        assert out.read_bytes() == b"earlier import\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "o.jsonl", "twitter"]


def test_truncated_archive_is_an_error_and_writes_nothing(tmp_path):
    folder = write_ced(tmp_path / "d", {
        f"{i}_S{i}_u{i}": (orig(text="源微博" * 2000 + str(i)), [rec(f"a{i}", "u1", "", "2012-12-21 10:00:00")])
        for i in range(40)})
    whole = make_tar(folder, tmp_path / "w.tar.gz").read_bytes()
    # Every cut: wherever it falls, a cut gzip is "truncated or corrupt", never "not a tar" (how
    # much a short cut decompresses depends on the archive's bytes: names, times, file order).
    for size in (len(whole) // 2, 100, *range(11, 400, 13)):
        cut = tmp_path / f"cut{size}.tar.gz"
        cut.write_bytes(whole[:size])
        with pytest.raises(SourceError, match="truncated or corrupt archive"):
            run_import("weibo-ced", cut, tmp_path / "o.jsonl")
        assert not (tmp_path / "o.jsonl").exists() and not (tmp_path / "o.jsonl.partial").exists()
    run_import("weibo-ced", tmp_path / "w.tar.gz", tmp_path / "o.jsonl")
    assert len((tmp_path / "o.jsonl").read_bytes().splitlines()) == 80


@pytest.mark.parametrize("mode, compression", [("gz", "gzip"), ("bz2", "bz2"), ("xz", "xz"), ("", None)])
def test_every_archive_compression_reads_like_the_folder_and_a_cut_one_is_an_error(tmp_path, mode, compression):
    folder = write_ced(tmp_path / "d", {
        f"{i}_S{i}_u{i}": (orig(text="源微博" * 500 + str(i)), [rec(f"a{i}", "u1", "", "2012-12-21 10:00:00")])
        for i in range(10)})
    archive = tmp_path / "w.tar"
    with tarfile.open(archive, f"w:{mode}") as tar:
        tar.add(folder / "CED_Dataset", arcname="CED_Dataset")
    assert Source(archive).compression == compression
    a, b = io.BytesIO(), io.BytesIO()
    run_import("weibo-ced", folder, a)
    run_import("weibo-ced", archive, b)
    assert sorted(a.getvalue().splitlines()) == sorted(b.getvalue().splitlines())
    assert len(b.getvalue().splitlines()) == 20
    if compression is None:
        return  # a plain tar has no end marker of its own: a cut in its zero padding loses nothing
    whole = archive.read_bytes()
    for size in (len(whole) // 2, len(whole) - 1):
        cut = tmp_path / f"cut{size}.tar"
        cut.write_bytes(whole[:size])
        with pytest.raises(SourceError, match="truncated or corrupt archive"):
            run_import("weibo-ced", cut, io.BytesIO())


def test_missing_output_folder_is_refused_before_reading(tmp_path):
    write_ced(tmp_path / "d", {"1_S_u": (orig(), [rec("a", "u1", "", "2012-12-21 10:00:00")])})
    with pytest.raises(ValueError, match="output folder .* does not exist"):
        run_import("weibo-ced", tmp_path / "d", tmp_path / "absent" / "o.jsonl")


def test_an_output_that_is_a_folder_is_refused_before_reading(tmp_path):
    # It read the whole dataset, then failed at the final rename with a traceback (exit 1),
    # leaving FOLDER.partial beside the folder.
    from streams.cli import main

    write_ced(tmp_path / "d", {"1_S_u": (orig(), [rec("a", "u1", "", "2012-12-21 10:00:00")])})
    (tmp_path / "out").mkdir()
    with pytest.raises(ValueError, match=f"output {tmp_path / 'out'} is a folder"):
        run_import("weibo-ced", tmp_path / "d", tmp_path / "out")
    assert main(["import", "weibo-ced", str(tmp_path / "d"), "-o", str(tmp_path / "out")]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "out"]
