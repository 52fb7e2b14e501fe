"""The dashboard in headless Chromium (tests/test_browser_dashboard.py drives it) on what the
first view left out: a click on a tree node with events not shown opens its subtree (and the
back button returns), the shares-over-time axis of a rumour spanning months draws no labels over
each other, and on a screen about 400 px wide the rumour list's "Latest" column can be reached
and the status form's button stays inside its box; a node without event id (a missing post
named by account only) opens its subtree too."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import orjson
import pytest

from tests.test_browser_dashboard import chromium_page, label_boxes_js, log_in, overlapping, serve_file

DAY_MS = 86_400_000
SPAN_DAYS = 80  # first to last share: day buckets, weeks labelled across the turn of the year

# Every text the series chart draws, as a box (x, y, width, height, text) in its pixels.
SERIES_LABEL_BOXES_JS = label_boxes_js("chart-series")

# A drawn tree node below a root with events not shown: its event pseudonym and its centre on
# the page (CSS pixels), to click there with the mouse.
NODE_TO_CLICK_JS = (
    "(function(){var dom=document.getElementById('chart-tree');var c=echarts.getInstanceByDom(dom);"
    "var data=c.getModel().getSeriesByIndex(0).getData();var box=dom.getBoundingClientRect();"
    "var tops=window.rumourDashboard.state.tree.roots.map(function(r){return r.event_id;});"
    "for(var i=0;i<data.count();i++){var raw=data.getRawDataItem(i);var node=data.tree.getNodeByDataIndex(i);"
    "if(!raw||!(raw.more>0)||!raw.event_id||tops.indexOf(raw.event_id)>=0)continue;var el=data.getItemGraphicEl(i);"
    "if(!el||el.invisible||el.ignore)continue;var r=el.getBoundingRect().clone();"
    "var m=el.getComputedTransform();if(m)r.applyTransform(m);if(!(r.width>0))continue;"
    "return [raw.event_id, box.left+r.x+r.width/2, box.top+r.y+r.height/2];}return null;})()")


def _events() -> list[dict]:
    """One rumour of 400 shares (synthetic), its times stretched over SPAN_DAYS days."""
    from streams.synthetic import synthetic_events

    events = list(synthetic_events(n_rumours=1, shares_per_rumour=400, seed=11, prefix="lm"))
    lo = min(e["ts"] for e in events)
    hi = max(e["ts"] for e in events)
    for e in events:
        e["ts"] = lo + (e["ts"] - lo) * (SPAN_DAYS * DAY_MS) // (hi - lo)
    return events


async def _series_labels(cdp, where: str) -> list:
    """``(where, language, chart width, label boxes)`` of the series chart in each language."""
    out = []
    for _ in range(2):  # both languages, the page's own button between
        await cdp.js("document.getElementById('lang').click(); new Promise(function(r){setTimeout(r, 300);})")
        await cdp.wait_for("window.rumourDashboard.state.detail !== null")
        await cdp.js("new Promise(function(r){setTimeout(r, 300);})")
        out.append((where, await cdp.js("window.rumourDashboard.state.lang"),
                    await cdp.js("echarts.getInstanceByDom(document.getElementById('chart-series')).getWidth()"),
                    await cdp.js(SERIES_LABEL_BOXES_JS)))
    return out


async def _click(cdp, x: float, y: float) -> None:
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        await cdp.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


async def _drive(url: str, token: str, tmp_path: Path) -> dict:
    import os

    dash = "window.rumourDashboard"
    env = dict(os.environ, TZ="Asia/Shanghai", LANG="en_US.UTF-8")
    found = {}
    async with chromium_page(tmp_path, env) as cdp:
        await log_in(cdp, url, token)
        await cdp.wait_for(f"{dash}.state.tree !== null && {dash}.state.detail !== null && {dash}.state.polls >= 1")
        await cdp.js("new Promise(function(r){setTimeout(r, 300);})")
        found["bucket_ms"] = await cdp.js(f"{dash}.state.detail.bucket_ms")
        found["series"] = [await _series_labels(cdp, "wide")]
        # -- a click on a node with more events than shown
        await cdp.js("document.getElementById('chart-tree').scrollIntoView(); new Promise(function(r){setTimeout(r, 300);})")
        target = await cdp.js(NODE_TO_CLICK_JS)
        assert target, "no drawn node with events not shown"
        found["clicked"] = target[0]
        found["whole_root"] = await cdp.js(f"{dash}.state.tree.roots[0].event_id")
        await _click(cdp, target[1], target[2])
        await cdp.wait_for(f"{dash}.state.tree.under === {json.dumps(target[0])}")
        await cdp.js("new Promise(function(r){setTimeout(r, 300);})")
        found["sub"] = await cdp.js(f"(function(t){{return {{root: t.roots[0].event_id, size: t.roots[0].size,"
                                    f"path: t.path.map(function(n){{return n.event_id;}}), shown: t.shown}};}})({dash}.state.tree)")
        found["drawn_root"] = await cdp.js("echarts.getInstanceByDom(document.getElementById('chart-tree'))"
                                           ".getOption().series[0].data[0].event_id")
        found["path_text"] = await cdp.js("document.getElementById('tree-path').textContent")
        found["back_shown"] = await cdp.js("!document.getElementById('tree-back').hidden")
        await cdp.screenshot(tmp_path / "subtree.png")
        await cdp.js("document.getElementById('tree-back').click(); true")
        await cdp.wait_for(f"{dash}.state.tree.under === undefined && {dash}.state.treeUnder === null")
        found["back_root"] = await cdp.js(f"{dash}.state.tree.roots[0].event_id")
        found["back_hidden"] = await cdp.js("document.getElementById('tree-back').hidden")
        found["errors"] = await cdp.js(f"{dash}.state.errors")
        # -- a narrow screen
        await cdp.call("Emulation.setDeviceMetricsOverride", width=400, height=800, deviceScaleFactor=1, mobile=False)
        await cdp.js("window.dispatchEvent(new Event('resize')); window.scrollTo(0, 0);"
                     "new Promise(function(r){setTimeout(r, 500);})")
        found["narrow"] = await cdp.js(
            "(function(){var vw=document.documentElement.clientWidth;var t=document.getElementById('rumours');"
            "var sc=t.parentElement;var cells=Array.from(t.querySelectorAll('tr > :last-child'));"
            "var scrolls=sc!==document.body&&getComputedStyle(sc).overflowX==='auto'&&sc.scrollWidth>sc.clientWidth;"
            "var boxOk=sc.getBoundingClientRect().right<=vw+0.5;"
            "return {vw: vw, cells: cells.length, scrolls: scrolls, box_inside: boxOk,"
            "page_scrolls: document.documentElement.scrollWidth>vw,"
            "inside: cells.every(function(c){var r=c.getBoundingClientRect();return r.left>=0&&r.right<=vw+0.5;}),"
            "texts: cells.map(function(c){return c.textContent;})};})()")
        # The rumour page's status form (an analyst may set the status): every control inside
        # its box, the box inside the page (its button stuck out a few pixels at 400 px).
        found["status_form"] = await cdp.js(
            "(function(){var f=document.getElementById('status-form');var box=document.getElementById('handling');"
            "var b=box.getBoundingClientRect();var vw=document.documentElement.clientWidth;"
            "var parts=Array.from(f.querySelectorAll('select, input, button')).map(function(el){"
            "var r=el.getBoundingClientRect();return [el.tagName, r.left, r.right, r.width];});"
            "return {shown: !f.hidden && f.getBoundingClientRect().width>0, vw: vw, box: [b.left, b.right],"
            "parts: parts, page_scrolls: document.documentElement.scrollWidth>vw};})()")
        if found["narrow"]["scrolls"] and not found["narrow"]["inside"]:
            # Scrolled to its end, the column is in view.
            found["narrow_scrolled_inside"] = await cdp.js(
                "(function(){var t=document.getElementById('rumours');var sc=t.parentElement;"
                "sc.scrollLeft=sc.scrollWidth;var vw=document.documentElement.clientWidth;"
                "return Array.from(t.querySelectorAll('tr > :last-child')).every(function(c){"
                "var r=c.getBoundingClientRect();return r.left>=0&&r.right<=vw+0.5;});})()")
        found["series"].append(await _series_labels(cdp, "narrow"))
        await cdp.screenshot(tmp_path / "narrow.png")
        return found


@pytest.fixture
def served(tmp_path):
    data = tmp_path / "months.jsonl"
    data.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in _events()))
    with serve_file(data, tmp_path) as out:
        yield out


@pytest.mark.slow
def test_subtree_click_months_axis_and_narrow_list_in_headless_chromium(served, tmp_path):
    found = asyncio.run(_drive(*served, tmp_path))
    print(json.dumps(found, ensure_ascii=False), tmp_path)  # with the screenshots' folder
    # A click on a node with events not shown draws its subtree, with where it sits, and back.
    sub = found["sub"]
    assert sub["root"] == found["drawn_root"] == found["clicked"]
    assert sub["path"][-1] == found["clicked"] and sub["path"][0] == found["whole_root"] and len(sub["path"]) > 1
    assert sub["shown"] <= sub["size"]
    assert found["path_text"] and found["back_shown"]
    assert found["back_root"] == found["whole_root"] and found["back_hidden"] is True
    assert found["errors"] == 0
    # Months of day buckets: the axis labels (and every other text of the chart) apart.
    assert found["bucket_ms"] == DAY_MS
    for where, lang, width, boxes in [x for two in found["series"] for x in two]:
        assert len(boxes) >= 5, (where, lang, boxes)
        assert len([b for b in boxes if b[1] > 200]) >= 3, (where, lang, boxes)  # x-axis labels drawn
        assert overlapping(boxes) == [], (where, lang, boxes)
        assert all(0 <= x and x + w <= width + 0.5 for x, _, w, _, _ in boxes), (where, lang, boxes)
    # About 400 px wide: the "Latest" cells are in view, or their table scrolls to them.
    narrow = found["narrow"]
    assert narrow["vw"] <= 400 and narrow["cells"] >= 2 and narrow["texts"][-1]
    assert narrow["inside"] or (narrow["scrolls"] and narrow["box_inside"] and found["narrow_scrolled_inside"]), narrow
    # ... and the status form's select, note and button stay inside the handling box and the page.
    form = found["status_form"]
    left, right = form["box"]
    assert form["shown"] and len(form["parts"]) == 3 and 0 <= left and right <= form["vw"] + 0.5, form
    assert all(left <= a and b <= right + 0.5 and w > 0 for _, a, b, w in form["parts"]), form
    assert not form["page_scrolls"], form


# The drawn tree node without an event id (an account's placeholder) with events not shown: its
# ``under`` and its centre on the page.
PLACEHOLDER_TO_CLICK_JS = (
    "(function(){var dom=document.getElementById('chart-tree');var c=echarts.getInstanceByDom(dom);"
    "var data=c.getModel().getSeriesByIndex(0).getData();var box=dom.getBoundingClientRect();"
    "for(var i=0;i<data.count();i++){var raw=data.getRawDataItem(i);"
    "if(!raw||raw.event_id!==null||!(raw.more>0)||raw.leaf)continue;var el=data.getItemGraphicEl(i);"
    "if(!el||el.invisible||el.ignore)continue;var r=el.getBoundingRect().clone();"
    "var m=el.getComputedTransform();if(m)r.applyTransform(m);if(!(r.width>0))continue;"
    "return [raw.under, raw.more, box.left+r.x+r.width/2, box.top+r.y+r.height/2];}return null;})()")

PLACEHOLDER_SHARES = 200  # past the dashboard's 150 events


@pytest.fixture
def served_placeholder(tmp_path):
    from tests.service_helpers import _ev

    events = [_ev("ph-9", i, f"p{i}", i, None, "lost", region="370102", kind="share")
              for i in range(1, PLACEHOLDER_SHARES + 1)]
    data = tmp_path / "placeholder.jsonl"
    data.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    with serve_file(data, tmp_path) as out:
        yield out


async def _expand_placeholder(url: str, token: str, tmp_path: Path) -> dict:
    import os

    dash = "window.rumourDashboard"
    env = dict(os.environ, TZ="Asia/Shanghai", LANG="en_US.UTF-8")
    async with chromium_page(tmp_path, env) as cdp:
        await log_in(cdp, url, token)
        await cdp.wait_for(f"{dash}.state.tree !== null && {dash}.state.tree.roots.length > 0")
        await cdp.js("document.getElementById('chart-tree').scrollIntoView(); new Promise(function(r){setTimeout(r, 500);})")
        target = await cdp.js(PLACEHOLDER_TO_CLICK_JS)
        assert target, "no drawn node without event id with events not shown"
        await _click(cdp, target[2], target[3])
        await cdp.wait_for(f"{dash}.state.tree.under === {json.dumps(target[0])}")
        tree = await cdp.js(f"(function(t){{return {{under: t.under, root: t.roots[0].event_id, name: t.roots[0].name,"
                            f"size: t.roots[0].size, shown: t.shown, path: t.path.length}};}})({dash}.state.tree)")
        return {"target": target, "tree": tree, "errors": await cdp.js(f"{dash}.state.errors")}


@pytest.mark.slow
def test_a_node_without_event_id_opens_its_subtree_in_headless_chromium(served_placeholder, tmp_path):
    # It had no event id, so the dashboard offered no expansion (and its "more" read 0).
    found = asyncio.run(_expand_placeholder(*served_placeholder, tmp_path))
    under, more = found["target"][:2]
    assert under.startswith("psn_") and more > 0, found
    tree = found["tree"]
    assert tree["under"] == tree["name"] == under and tree["root"] is None, tree
    assert tree["size"] == PLACEHOLDER_SHARES and tree["path"] == 1, tree
    assert found["errors"] == 0, found
