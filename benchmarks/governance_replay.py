"""Seeded governance scenario over real Weibo cascades: regions, debunk cascades and public reports.

``governance_scenario(weibo_events, seed, month="2026-10")`` takes v1 events of real cascades
(``streams.importers.iter_events("weibo-ced", ...)``) and returns ``(events, reports, truth)``:

* every cascade is moved in time so its source post falls in ``month`` (relative times kept,
  except that nothing lands more than 30 days after the month);
* every event gets a Shandong region: the source post keeps its author's location when that is
  in Shandong, else a seeded home county; a share stays in its parent's county with probability
  ``local`` (local spread), else lands in a random Shandong county; regions are written as a
  code, as ``"山东 济南"`` text or as pinyin at random, to exercise normalisation;
* a fraction of the rumours gets a debunk cascade (``kind=debunk``) starting a seeded delay after
  the first share; each debunk share is by an exposed account with probability ``p_exposed``,
  else by a new account;
* public reports: for some rumours, by post id, by link, or by the source text with a few
  characters changed; some reporters report twice (duplicates); some reports match nothing.

``truth["report_rumour"]`` maps each generated report id to the rumour it was made from
('' for noise), ``truth["duplicates"]`` lists report ids that repeat an earlier one.

    python -m benchmarks.governance_replay --cascades 60 --seed 3 -o /tmp/gov
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import orjson

from streams.synthetic import cascade_arrays
from streams.events import parse_ts
from streams.governance.divisions import descendants, division, match_region, unit_of
from streams.governance.monthly import month_bounds

SHANDONG = "370000"


def _region_text(code: str, rng) -> str:
    d = division(code)
    city = division(unit_of(code, "city"))
    form = rng.integers(0, 3)
    if form == 0:
        return code
    if form == 1:
        return f"山东 {city.short_zh} {d.name_zh}" if d.level == "county" else f"山东 {d.short_zh}"
    return f"{d.name_en}, {city.pinyin}" if d.level == "county" else d.pinyin


def governance_scenario(weibo_events, seed: int, month: str = "2025-10", local: float = 0.7,
                        debunk_fraction: float = 0.6, p_exposed: float = 0.5, report_fraction: float = 0.5):
    rng = np.random.default_rng(seed)
    counties = [d.code for d in descendants(SHANDONG, "county")]
    start, end = month_bounds(month)
    by_rumour: dict[str, list] = {}
    for e in weibo_events:
        by_rumour.setdefault(e["rumour_id"], []).append(dict(e))
    events, reports = [], []
    truth = {"report_rumour": {}, "duplicates": [], "debunked": []}
    for rid in sorted(by_rumour):
        rows = sorted(by_rumour[rid], key=lambda e: parse_ts(e["ts"]))
        label = next((e.get("label") for e in rows if e["kind"] == "post"), None)
        t0 = parse_ts(rows[0]["ts"])
        shift = start + int(rng.integers(0, (end - start) * 3 // 4)) - t0
        county_of = {}
        cap = end + 30 * 86_400_000  # the longest tails (a year on) are pulled in, order kept
        for e in rows:
            ts = min(parse_ts(e["ts"]) + shift, cap)
            e["ts"] = ts
            e.pop("label", None)
            if e["kind"] == "post":
                home = match_region(e.get("region")).code
                county = home if home and unit_of(home, "county") and home.startswith("37") else \
                    counties[int(rng.integers(0, len(counties)))]
            else:
                parent = county_of.get(e.get("parent_event_id"))
                county = parent if parent and rng.random() < local else counties[int(rng.integers(0, len(counties)))]
            county_of[e["event_id"]] = county
            e["region"] = _region_text(county, rng)
            events.append(e)
        if label == "rumor" and rng.random() < debunk_fraction and len(rows) > 5:
            truth["debunked"].append(rid)
            exposed = sorted({e["account_id"] for e in rows})
            n = max(3, int(len(rows) * rng.uniform(0.1, 0.6)))
            parents, delays = cascade_arrays(n, rng)
            d0 = parse_ts(rows[0]["ts"]) if isinstance(rows[0]["ts"], str) else rows[0]["ts"]
            d0 += int(rng.uniform(0.5, 48) * 3_600_000)
            accts = []
            for i in range(n):
                if rng.random() < p_exposed:
                    accts.append(exposed[int(rng.integers(0, len(exposed)))])
                else:
                    accts.append(f"dbk-{rid}-{i}")
            for i in range(n):
                p = int(parents[i])
                events.append({
                    "event_id": f"{rid}-d{i}", "rumour_id": rid, "account_id": accts[i],
                    "ts": d0 + int(delays[i] * 1000), "parent_event_id": f"{rid}-d{p}" if p >= 0 else None,
                    "parent_account_id": accts[p] if p >= 0 else None, "kind": "debunk", "platform": "weibo",
                    "region": _region_text(counties[int(rng.integers(0, len(counties)))], rng), "text": None})
        if rng.random() < report_fraction:
            reports.extend(_reports_for(rid, rows, rng, truth))
    for i in range(max(1, len(reports) // 10)):  # noise: matches nothing
        rid = f"noise-{i}"
        rep = {"report_id": f"rep-{rid}", "reporter": f"citizen-n{i}", "text": f"无关的举报内容编号{i}号，请核查小区停水通知",
               "time": start + int(rng.integers(0, end - start)), "region": "山东 济南"}
        truth["report_rumour"][rep["report_id"]] = ""
        reports.append(rep)
    reports.sort(key=lambda r: r["time"])
    return events, reports, truth


def _reports_for(rid, rows, rng, truth):
    out = []
    src = rows[0]
    n = int(rng.integers(1, 4))
    for j in range(n):
        ev = rows[int(rng.integers(0, len(rows)))]
        how = int(rng.integers(0, 3)) if src.get("text") else int(rng.integers(0, 2))
        rep = {"report_id": f"rep-{rid}-{j}", "reporter": f"citizen-{int(rng.integers(0, 50))}",
               "time": int(ev["ts"]) + int(rng.integers(0, 3_600_000)), "region": ev["region"]}
        if how == 0:
            rep["post_id"] = ev["event_id"]
        elif how == 1:
            rep["link"] = f"https://weibo.com/{ev['account_id']}/{ev['event_id']}"
        else:
            text = list(src["text"])
            for _ in range(min(3, len(text) // 20)):  # a few characters changed
                text[int(rng.integers(0, len(text)))] = "某"
            rep["text"] = "举报：" + "".join(text)
        truth["report_rumour"][rep["report_id"]] = rid
        out.append(rep)
        if rng.random() < 0.2 and ("post_id" in rep or "link" in rep):  # the same reporter again
            dup = dict(rep, report_id=rep["report_id"] + "-again", time=rep["time"] + 600_000)
            truth["report_rumour"][dup["report_id"]] = rid
            truth["duplicates"].append(dup["report_id"])
            out.append(dup)
    return out


def weibo_cascades(path, n: int):
    """The events of the first ``n`` cascades of the Weibo archive (streamed, stops early)."""
    from streams.importers import iter_events

    events, _report = iter_events("weibo-ced", path)
    seen, out = set(), []
    for e in events:
        if e["rumour_id"] not in seen:
            if len(seen) == n:
                break
            seen.add(e["rumour_id"])
        out.append(e)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weibo", default=str(Path(__file__).resolve().parents[2] / "shared/data/weibo-ced-dev.tar.gz"))
    ap.add_argument("--cascades", type=int, default=60)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--month", default="2025-10")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    events, reports, truth = governance_scenario(weibo_cascades(args.weibo, args.cascades), args.seed, args.month)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / "events.jsonl").write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    (out / "reports.jsonl").write_bytes(b"\n".join(orjson.dumps(r) for r in reports) + b"\n")
    (out / "truth.json").write_bytes(orjson.dumps(truth))
    print(f"{len(events)} events, {len(reports)} reports -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
