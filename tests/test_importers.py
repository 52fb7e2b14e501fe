"""Importers on the full shared data (../shared/data): every record accounted for, every event
valid, every cascade a tree rooted at its source post by its source author.

The expectations are computed here from the archives themselves (record and line counts,
authors from file names and ROOT lines, Snowflake times), not copied from importer output.
"""
from __future__ import annotations

import io
import json
import re
import tarfile
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import networkx as nx
import orjson
import pytest

from streams.events import parse_ts, validate_event
from streams.importers import run_import

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

CN = timezone(timedelta(hours=8))
SNOWFLAKE_EPOCH = 1288834974657


def _import(dataset, src, tmp_path_factory):
    out = tmp_path_factory.mktemp("import") / f"{dataset}.jsonl"
    report = run_import(dataset, src, out)
    cascades = defaultdict(dict)  # rumour_id -> event_id -> (account, ts_ms, parent, kind, label)
    dup_ids = 0
    with open(out, "rb") as fh:
        for line in fh:
            event = orjson.loads(line)
            validate_event(event)  # raises on any invalid event
            row = (event["account_id"], parse_ts(event["ts"]), event["parent_event_id"],
                   event["kind"], event.get("label"), event["parent_account_id"])
            per = cascades[event["rumour_id"]]
            dup_ids += event["event_id"] in per
            per[event["event_id"]] = row
    return report, cascades, dup_ids


@pytest.fixture(scope="module")
def weibo(shared_data, tmp_path_factory):
    return _import("weibo-ced", shared_data / "weibo-ced-dev.tar.gz", tmp_path_factory)


@pytest.fixture(scope="module")
def twitter(shared_data, tmp_path_factory):
    return _import("twitter15-16", shared_data / "twitter15-16-dev.tar.gz", tmp_path_factory)


def _members(path):
    with tarfile.open(path, "r:gz") as tar:
        for m in tar:
            if m.isreg():
                yield m.name, tar.extractfile(m).read()


def _check_trees(cascades, authors):
    """Each cascade: parents inside it, one root (the post by ``authors[rumour]``), acyclic."""
    assert set(cascades) == set(authors)
    for rumour, events in cascades.items():
        g = nx.DiGraph()
        g.add_nodes_from(events)
        roots = []
        for eid, (account, ts, parent, kind, _label, parent_account) in events.items():
            if parent is None:
                roots.append(eid)
                continue
            assert parent in events, (rumour, eid, parent)
            assert parent_account == events[parent][0], (rumour, eid)
            g.add_edge(parent, eid)
        assert len(roots) == 1, (rumour, roots)
        root = roots[0]
        assert events[root][3] == "post" and events[root][0] == authors[rumour], rumour
        assert nx.is_arborescence(g), rumour
        # every event reaches the source post, so its reach is the whole cascade
        assert len(nx.descendants(g, root)) == len(events) - 1
        for eid, row in events.items():
            if row[2] is not None:
                assert row[1] >= events[row[2]][1], (rumour, eid)  # time never runs backwards


def _check_accounting(report, records_in, used):
    assert report.records_in == records_in
    assert report.balanced()
    assert used + sum(report.dropped.values()) == records_in
    dropped_in_problems = sum(p.records for p in report.problems if p.action == "dropped")
    assert dropped_in_problems == sum(report.dropped.values())
    assert report.dropped.get("invalid_event", 0) == 0
    json.dumps(report.to_dict(max_problems=None))


def test_weibo_full_import(weibo, shared_data):
    report, cascades, dup_ids = weibo
    authors, records_in, yearless, dated = {}, 0, [], defaultdict(list)
    for name, data in _members(shared_data / "weibo-ced-dev.tar.gz"):
        m = re.search(r"/(original-microblog|rumor-repost|non-rumor-repost)/\d+_([^_]+)_(.+)\.json$", name)
        if not m:
            continue
        part, mid, uid = m.groups()
        if part == "original-microblog":
            authors[mid] = uid
            continue
        for rec in json.loads(data):
            records_in += 1
            if "月" in rec["date"]:
                yearless.append((mid, rec["mid"], rec["date"]))
            else:
                t = datetime.strptime(rec["date"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CN)
                dated[mid].append(int(t.timestamp() * 1000))
    assert dup_ids == 0
    assert report.cascades == len(authors) == len(cascades)
    shares = sum(1 for ev in cascades.values() for row in ev.values() if row[3] == "share")
    assert shares == report.shares
    _check_accounting(report, records_in, shares)
    _check_trees(cascades, authors)
    assert {row[4] for ev in cascades.values() for row in ev.values() if row[3] == "post"} <= {
        "rumor", "non-rumor"}
    # yearless dates ("03月05日 05:11", how Weibo shows dates of the crawl year): month, day and
    # time kept; the year puts them after the source post and their parent, and no later than
    # the year after the cascade's latest fully dated record
    assert yearless and report.repaired["yearless_date"] == len(yearless)
    for rumour, mid, raw in yearless:
        events = cascades[rumour]
        account, ts, parent, *_ = events[mid]
        local = datetime.fromtimestamp(ts / 1000, CN)
        assert local.strftime("%m月%d日 %H:%M") == raw.strip()
        root_ts = next(row[1] for row in events.values() if row[2] is None)
        assert ts >= root_ts and ts >= events[parent][1]
        latest = datetime.fromtimestamp(max(dated[rumour] + [root_ts]) / 1000, CN)
        assert ts < datetime(latest.year + 2, 1, 1, tzinfo=CN).timestamp() * 1000, (rumour, mid, raw)
    eps = report.events_per_s
    print(f"\nweibo-ced: {report.events} events in {report.seconds:.1f} s = {eps:,.0f} events/s "
          f"({report.cpu_seconds:.1f} s CPU)")
    assert eps > 0


def test_twitter_full_import(twitter, shared_data):
    report, cascades, dup_ids = twitter
    lines_in, authors, delays, trees = 0, {}, {}, set()
    node = re.compile(r"\['([^']*)', '([^']*)', '([^']*)'\]")
    for name, data in _members(shared_data / "twitter15-16-dev.tar.gz"):
        m = re.search(r"/tree/(\d+)\.txt$", name)
        if not m:
            continue
        tree = m.group(1)
        lines = [ln for ln in data.decode().splitlines() if ln.strip()]
        lines_in += len(lines)
        if tree in trees:
            continue
        trees.add(tree)
        for ln in lines:
            (pu, pt, pd), (cu, ct, cd) = node.findall(ln)
            if pu == "ROOT" and tree not in authors:
                authors[tree] = cu
                delays[tree] = (ct, cd)
    assert dup_ids == 0
    assert report.cascades == len(trees) == len(cascades)
    _check_accounting(report, lines_in, report.events - report.synthesised)
    _check_trees(cascades, authors)
    # times: Snowflake time of the tree's tweet + the delay in the line, unless the repair
    # moved a child up to its parent's time (each such repair is reported)
    clamped = 0
    for rumour, events in cascades.items():
        base = (int(rumour) >> 22) + SNOWFLAKE_EPOCH
        for eid, (account, ts, parent, kind, label, _pa) in events.items():
            if parent is None:
                tid, delay = delays[rumour]
                assert eid == tid and label in {"non-rumor", "false", "true", "unverified"}
            else:
                tid, uid, delay = eid.split(":")
                assert uid == account
            raw = base + round(float(delay) * 60000)
            if ts != raw:
                assert parent is not None and ts == events[parent][1] and raw < ts, (rumour, eid)
                clamped += 1
    assert clamped == report.repaired.get("ts_before_parent", 0)


def test_twitter_folder_and_archive_agree(shared_data, tmp_path):
    with tarfile.open(shared_data / "twitter15-16-dev.tar.gz", "r:gz") as tar:
        tar.extractall(tmp_path / "x", filter="data")
    a, b = io.BytesIO(), io.BytesIO()
    ra = run_import("twitter15-16", shared_data / "twitter15-16-dev.tar.gz", a)
    rb = run_import("twitter15-16", tmp_path / "x", b)
    assert sorted(a.getvalue().splitlines()) == sorted(b.getvalue().splitlines())
    assert ra.dropped == rb.dropped and ra.repaired == rb.repaired
