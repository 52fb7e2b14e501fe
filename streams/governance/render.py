"""The monthly report as files: one HTML page (bilingual headings, printable), one CSV per
table, and an XLSX workbook when openpyxl is installed (optional)."""
from __future__ import annotations

import csv
import html
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from streams.governance.division_tree import display_name
from streams.service.access import NATIONAL

TABLES = {
    "rumours": ("谣言传播排行 · Rumours by reach",
                [("rank", "名次 Rank"), ("rumour_id", "谣言 Rumour"), ("text", "原文 Source text"),
                 ("origin_zh", "源头城市 Origin city"), ("shares_in_month", "本月转发 Shares (month)"),
                 ("shares", "累计转发 Shares (total)"), ("exposed", "触达账号 Accounts exposed"),
                 ("cities", "波及城市 Cities"), ("status", "状态 Status"), ("reports", "举报 Reports"),
                 ("alerts", "预警 Alerts")]),
    "debunks": ("辟谣成效排行 · Debunks by coverage and speed",
                [("rank", "名次 Rank"), ("rumour_id", "谣言 Rumour"), ("coverage", "覆盖率 Coverage"),
                 ("hours_to_debunk", "首次辟谣用时(小时) Hours to first debunk"),
                 ("debunk_shares", "辟谣转发 Debunk shares"), ("reached", "辟谣触达 Accounts reached"),
                 ("covered", "覆盖受众 Exposed accounts reached"), ("exposed", "受众 Accounts exposed")]),
    "cities": ("各市辟谣覆盖 · Debunk coverage by city",
               [("rank", "名次 Rank"), ("name_zh", "城市 City"), ("name_en", "City (EN)"), ("code", "代码 Code"),
                ("rumours", "谣言数 Rumours"), ("exposed", "受众 Exposed"), ("covered", "已覆盖 Reached"),
                ("coverage", "覆盖率 Coverage"), ("median_hours_to_debunk", "辟谣用时中位数(小时) Median hours"),
                ("alerts", "预警 Alerts"), ("reports", "举报 Reports")]),
    "units": ("各区县辟谣覆盖 · Debunk coverage by county unit",
              [("rank", "名次 Rank"), ("name_zh", "区县 County"), ("name_en", "County (EN)"),
               ("city_zh", "所属城市 City"), ("code", "代码 Code"), ("rumours", "谣言数 Rumours"),
               ("exposed", "受众 Exposed"), ("covered", "已覆盖 Reached"), ("coverage", "覆盖率 Coverage"),
               ("median_hours_to_debunk", "辟谣用时中位数(小时) Median hours"), ("alerts", "预警 Alerts")]),
}
_PERCENT = {"coverage"}
_HOURS = {"hours_to_debunk", "median_hours_to_debunk"}

CSS = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;
margin:24px;color:#1d2733;font-size:13px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-left:4px solid #c0392b;padding-left:8px}
.meta{color:#5b6875;margin-bottom:12px}.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{border:1px solid #d8dee4;border-radius:6px;padding:8px 14px;min-width:130px}
.card b{display:block;font-size:20px}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #e3e7eb;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f5f7;font-weight:600;font-size:12px}td.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:inline-block;height:8px;background:#2e86c1;margin-right:6px;vertical-align:middle}
@media print{body{margin:8mm}h2{page-break-after:avoid}tr{page-break-inside:avoid}}
"""


def _fmt(key, value) -> str:
    if value is None or value == "":
        return "–"
    if key in _PERCENT:
        return f"{value * 100:.1f}%"
    if key in _HOURS:
        return f"{value:.1f}"
    return str(value)


def _table_html(key: str, rows: list, limit: int | None) -> str:
    title, cols = TABLES[key]
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in cols)
    body = []
    for row in rows[:limit] if limit else rows:
        cells = []
        for col, _ in cols:
            value = row.get(col)
            text = html.escape(_fmt(col, value))
            if col in _PERCENT and value is not None:
                text = f'<span class="bar" style="width:{max(1, int(value * 80))}px"></span>{text}'
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            cells.append(f'<td class="n">{text}</td>' if numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(cols)}">无 · none</td></tr>')
    return f"<h2>{html.escape(title)}</h2><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(report, limit: int | None = 50) -> str:
    t = report.totals
    zone = ZoneInfo(report.timezone)
    span = (f"{datetime.fromtimestamp(report.start_ms / 1000, zone):%Y-%m-%d} – "
            f"{datetime.fromtimestamp(report.end_ms / 1000 - 1, zone):%Y-%m-%d} ({report.timezone})")
    cards = [("谣言 Rumours", t["rumours"]), ("本月转发 Shares", t["rumour_shares_in_month"]),
             ("已辟谣 Debunked", t["debunked_rumours"]), ("举报 Reports", t["reports"]), ("预警 Alerts", t["alerts"]),
             ("平均覆盖率 Mean coverage", _fmt("coverage", t["mean_coverage"])),
             ("辟谣用时中位数 Median hours", _fmt("hours_to_debunk", t["median_hours_to_debunk"]))]
    card_html = "".join(f'<div class="card">{html.escape(k)}<b>{html.escape(str(v))}</b></div>' for k, v in cards)
    tables = "".join(_table_html(k, getattr(report, k), limit) for k in TABLES)
    place = html.escape(" · " + jurisdiction_title(report.jurisdiction) if report.jurisdiction != NATIONAL else "")
    note = ("受众 = 发布、转发或评论谣言的账号及其被转发的上游账号；覆盖 = 其中转发过辟谣的账号。"
            " Exposed = accounts that posted, shared or commented the rumour, or whose share was reshared;"
            " reached = accounts that shared the debunk; coverage = exposed accounts reached / exposed.")
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>月度辟谣排行 Monthly debunk ranking {html.escape(report.month)}{place}</title><style>{CSS}</style></head>"
            f"<body><h1>月度辟谣排行 · Monthly debunk ranking {html.escape(report.month)}{place}</h1>"
            f'<div class="meta">{html.escape(span)}</div><div class="cards">{card_html}</div>{tables}'
            f'<p class="meta">{html.escape(note)}</p></body></html>')


def jurisdiction_title(code: str) -> str:
    """A report's jurisdiction as its title names it: as the API and alerts name it
    (:func:`~streams.governance.division_tree.display_name`: a county with its city, since a bare
    南山区 is Shenzhen's and Hegang's), then its code.

    >>> jurisdiction_title("440305")
    '深圳 南山区 Nanshan District, Shenzhen (440305)'
    >>> jurisdiction_title("230404")
    '鹤岗 南山区 Nanshan District, Hegang (230404)'
    >>> jurisdiction_title("370000"), jurisdiction_title("999999")
    ('山东省 Shandong (370000)', '999999')
    """
    name = display_name(code)
    return f"{name['zh']} {name['en']} ({code})" if name else code


def write_report(report, out_dir, xlsx: bool = True) -> list[Path]:
    """Write HTML, CSVs and (when possible) XLSX into ``out_dir``; returns the paths. A report for
    one jurisdiction has its code in every file name (``monthly-2026-10-440305.html``), so the
    county's and the province's reports can share a folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    stem = f"monthly-{report.month}" + ("" if report.jurisdiction == NATIONAL else f"-{report.jurisdiction}")
    page = out / f"{stem}.html"
    page.write_text(render_html(report), encoding="utf-8")
    written.append(page)
    for key, (_title, cols) in TABLES.items():
        path = out / f"{stem}-{key}.csv"
        # utf-8-sig: spreadsheet programs then read the Chinese names correctly.
        with open(path, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([label for _, label in cols])
            for row in getattr(report, key):
                w.writerow(["" if row.get(c) is None else row.get(c) for c, _ in cols])
        written.append(path)
    if xlsx:
        try:
            from openpyxl import Workbook
        except ImportError:
            return written
        wb = Workbook()
        wb.remove(wb.active)
        for key, (title, cols) in TABLES.items():
            ws = wb.create_sheet(key)
            ws.append([label for _, label in cols])
            for row in getattr(report, key):
                ws.append([row.get(c) for c, _ in cols])
        path = out / f"{stem}.xlsx"
        wb.save(path)
        written.append(path)
    return written
