"""Twitter15/16 importer on tiny hand-made trees (folders and archives built in tmp_path)."""
from __future__ import annotations

import io
import tarfile

from streams.events import parse_ts, validate_event
from streams.importers import iter_events, run_import

EPOCH = 1288834974657
SRC = 600_000_000_000_000_000  # a Snowflake id (2015)
BASE = (SRC >> 22) + EPOCH
ROOT = "['ROOT', 'ROOT', '0.0']"


def n(uid, tid, delay):
    return f"['{uid}', '{tid}', '{delay}']"


def write_trees(root, part, trees, labels=None):
    (root / part / "tree").mkdir(parents=True, exist_ok=True)
    for tid, lines in trees.items():
        (root / part / "tree" / f"{tid}.txt").write_text("\n".join(lines) + "\n")
    (root / part / "label.txt").write_text("".join(f"{v}:{k}\n" for k, v in (labels or {}).items()))
    return root


def load(src):
    events, report = iter_events("twitter15-16", src)
    events = list(events)
    for e in events:
        validate_event(e)
    by = {}
    for e in events:
        assert (e["rumour_id"], e["event_id"]) not in by
        by[(e["rumour_id"], e["event_id"])] = e
    return by, report


def roots(by, rumour):
    return [e for (r, _), e in by.items() if r == rumour and e["parent_event_id"] is None]


MESSY = [
    # the source's children come before the ROOT line; a parent is named before it appears
    f"{n('a', SRC, '0.0')}->{n('b', SRC, '1.5')}",
    f"{n('c', 700, '3.0')}->{n('d', SRC, '4.0')}",  # c appears as a child only later
    ROOT + "->" + n("a", SRC, "0.0"),
    f"{n('a', SRC, '0.0')}->{n('c', 700, '3.0')}",
    f"{n('b', SRC, '1.5')}->{n('b', SRC, '1.5')}",  # self-loop
    f"{n('a', SRC, '0.0')}->{n('b', SRC, '1.5')}",  # repeated line
    f"{n('d', SRC, '4.0')}->{n('b', SRC, '1.5')}",  # a second, later parent for b
    f"{n('a', SRC, '0.0')}->{n('e', 500, '-2.0')}",  # negative delay under the source
    f"{n('b', SRC, '1.5')}->{n('b', SRC, '9.0')}",  # b retweets again: same tweet id, new event
    f"{n('d', SRC, '4.0')}->{n('a', SRC, '0.0')}",  # an edge into the source post
    "garbage line",
]


def test_messy_tree(tmp_path):
    write_trees(tmp_path, "twitter15", {SRC: MESSY}, {SRC: "false"})
    by, report = load(tmp_path)
    r = str(SRC)
    ev = {eid: e for (rid, eid), e in by.items() if rid == r}
    post = ev[str(SRC)]
    assert roots(by, r) == [post]
    assert (post["kind"], post["account_id"], post["label"]) == ("post", "a", "false")
    assert parse_ts(post["ts"]) == BASE
    b = ev[f"{SRC}:b:1.5"]
    assert b["parent_event_id"] == str(SRC) and parse_ts(b["ts"]) == BASE + 90_000
    assert ev[f"{SRC}:b:9.0"]["parent_event_id"] == f"{SRC}:b:1.5"
    assert ev[f"{SRC}:d:4.0"]["parent_event_id"] == "700:c:3.0"
    assert ev[f"{SRC}:d:4.0"]["parent_account_id"] == "c"
    e = ev["500:e:-2.0"]
    assert parse_ts(e["ts"]) == BASE  # moved up to its parent's time, and reported
    assert len(ev) == 6
    assert report.dropped == {"self_loop": 1, "duplicate_edge": 1, "extra_parent": 1,
                              "edge_into_source": 1, "unparseable_line": 1}
    assert report.repaired == {"ts_before_parent": 1}
    assert report.records_in == len(MESSY) and report.balanced()
    assert report.labels == {"false": 1}


def test_same_tree_in_both_parts_imported_once(tmp_path):
    lines = [ROOT + "->" + n("a", SRC, "0.0"), f"{n('a', SRC, '0.0')}->{n('b', SRC, '1.0')}"]
    write_trees(tmp_path, "twitter15", {SRC: lines}, {SRC: "true"})
    write_trees(tmp_path, "twitter16", {SRC: lines}, {SRC: "true"})
    by, report = load(tmp_path)
    assert len(by) == 2 and report.cascades == 1
    assert report.dropped == {"duplicate_tree": 2} and report.balanced()


def test_tweet_in_two_trees_belongs_to_each(tmp_path):
    other = SRC + (1 << 30)
    shared = n("s", 900, "5.0")
    write_trees(tmp_path, "twitter16", {
        SRC: [ROOT + "->" + n("a", SRC, "0.0"), n("a", SRC, "0.0") + "->" + shared],
        other: [ROOT + "->" + n("z", other, "0.0"), n("z", other, "0.0") + "->" + shared],
    })
    by, report = load(tmp_path)
    assert (str(SRC), "900:s:5.0") in by and (str(other), "900:s:5.0") in by
    assert by[(str(other), "900:s:5.0")]["parent_account_id"] == "z"
    assert report.notes["label_missing"] == 2


def test_root_child_other_than_file_tweet(tmp_path):
    earlier = SRC - (43 << 22) * 60_000  # 43 minutes earlier, as in a real tree
    write_trees(tmp_path, "twitter16", {SRC: [
        ROOT + "->" + n("x", earlier, "-43.0"),
        n("x", earlier, "-43.0") + "->" + n("x", earlier, "-43.0"),
        n("x", earlier, "-43.0") + "->" + n("y", SRC, "0.0"),
    ]})
    by, report = load(tmp_path)
    post = roots(by, str(SRC))[0]
    assert post["event_id"] == str(earlier) and post["account_id"] == "x"
    assert parse_ts(post["ts"]) == BASE - 43 * 60_000
    assert report.notes["root_not_file_tweet"] == 1 and report.dropped == {"self_loop": 1}


def test_pre_snowflake_source_uses_descendants_or_is_reported(tmp_path):
    old = 20_000_000_000
    child = SRC  # a Snowflake retweet 10 minutes after the old source
    write_trees(tmp_path / "ok", "twitter15", {old: [
        ROOT + "->" + n("a", old, "0.0"), n("a", old, "0.0") + "->" + n("b", child, "10.0")]})
    by, report = load(tmp_path / "ok")
    assert parse_ts(by[(str(old), str(old))]["ts"]) == BASE - 600_000
    assert report.repaired == {"pre_snowflake_id": 1}
    write_trees(tmp_path / "no", "twitter15", {old: [
        ROOT + "->" + n("a", old, "0.0"), n("a", old, "0.0") + "->" + n("b", old, "10.0")]})
    by, report = load(tmp_path / "no")
    assert not by and report.dropped == {"no_time_base": 2} and report.balanced()


def test_parent_only_node_is_synthesised(tmp_path):
    write_trees(tmp_path, "twitter15", {SRC: [
        ROOT + "->" + n("a", SRC, "0.0"), n("ghost", 800, "2.0") + "->" + n("b", SRC, "3.0"),
        n("s", 900, "5.0") + "->" + n("s", 900, "5.0")]})  # a node with only a self-loop
    by, report = load(tmp_path)
    ghost = by[(str(SRC), "800:ghost:2.0")]
    # Where the ghost and s came from the tree does not say: their parent is unknown, not the
    # source post (a hop nobody saw, which a trace would show as evidence).
    assert ghost["parent_event_id"] is None and parse_ts(ghost["ts"]) == BASE + 120_000
    assert by[(str(SRC), "900:s:5.0")]["parent_event_id"] is None
    assert by[(str(SRC), f"{SRC}:b:3.0")]["parent_event_id"] == "800:ghost:2.0"
    assert report.synthesised == 1 and report.repaired == {"implied_node": 1, "no_parent_edge": 1}
    assert report.events == 4 and report.records_used == 3 and report.balanced()


def test_archive_and_folder_agree(tmp_path):
    folder = write_trees(tmp_path / "d", "twitter15", {SRC: MESSY}, {SRC: "false"})
    archive = tmp_path / "t.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "twitter15", arcname="twitter15")
    a, b = io.BytesIO(), io.BytesIO()
    ra = run_import("twitter15-16", folder, a)
    rb = run_import("twitter15-16", archive, b)
    assert a.getvalue() == b.getvalue() and a.getvalue().count(b"\n") == ra.events == rb.events


def _many_problems(tmp_path):
    loops = [line for i in range(240) for line in (f"{n('a', SRC, '0.0')}->{n(f'u{i}', 900 + i, '5.0')}",
                                                   f"{n(f'u{i}', 900 + i, '5.0')}->{n(f'u{i}', 900 + i, '5.0')}")]
    return write_trees(tmp_path / "d", "twitter15", {SRC: MESSY + loops}, {SRC: "false"})


def test_import_command_counts_problems_per_reason_and_writes_them_all(tmp_path, capfd):
    from collections import Counter

    import orjson

    from streams.cli import main

    src, out, listed = _many_problems(tmp_path), tmp_path / "o.jsonl", tmp_path / "problems.jsonl"
    assert main(["import", "twitter15-16", str(src), "-o", str(out), "--problems", str(listed)]) == 0
    stdout, stderr = capfd.readouterr()
    (line,) = stdout.splitlines()  # the report is still one JSON line
    report = orjson.loads(line)
    every = [orjson.loads(x) for x in listed.read_bytes().splitlines()]
    assert len(every) == report["problems_total"] == 246 and every[:200] == report["problems"]
    assert report["problems_by_reason"] == dict(Counter(p["reason"] for p in every)) == {
        "self_loop": 241, "duplicate_edge": 1, "extra_parent": 1, "edge_into_source": 1,
        "unparseable_line": 1, "ts_before_parent": 1}
    # For a person, on stderr: each reason with its count and at most three examples.
    lines = stderr.splitlines()
    at = lines.index("  self_loop: 241 dropped")
    assert [x.split(":")[0] for x in lines[at + 1:at + 4]] == [f"    twitter15/tree/{SRC}.txt line {k}"
                                                               for k in (5, 13, 15)]
    assert lines[at + 4] == "    ... and 238 more"
    assert "  ts_before_parent: 1 repaired" in lines and "  unparseable_line: 1 dropped" in lines
    assert str(listed) in lines[-1]


def test_import_command_quiet_and_a_problems_file_in_no_folder(tmp_path, capfd):
    from streams.cli import main

    src, out = _many_problems(tmp_path), tmp_path / "o.jsonl"
    assert main(["import", "twitter15-16", str(src), "-o", str(out), "--quiet"]) == 0
    stdout, stderr = capfd.readouterr()
    assert stderr == "" and '"problems_by_reason"' in stdout
    out.unlink()
    args = ["import", "twitter15-16", str(src), "-o", str(out), "--problems", str(tmp_path / "no" / "p.jsonl")]
    assert main(args) == 2
    stdout, stderr = capfd.readouterr()
    assert stdout == "" and "--problems: folder" in stderr and not out.exists()  # refused before reading
    assert main(["import", "twitter15-16", str(src), "-o", str(out), "--problems", str(tmp_path)]) == 2
    assert "is a folder" in capfd.readouterr()[1] and not out.exists()
