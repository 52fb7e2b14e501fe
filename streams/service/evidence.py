"""Evidence packages for one case: building the zip (checking one: :mod:`streams.service.evidence_verify`).

A package is a zip with:

- ``evidence.json``: case number, who generated it and when, the rumour's trace (origins with
  confidence, chains of evidence, cut-off candidates), account ids as the caller may see them
  (``trace.identities``: ``clear``, or ``clear_in_jurisdiction`` under the centre's
  ``liaison_account_scope``, :mod:`streams.service.identities`);
- ``chain.csv``: every hop of every chain (UTF-8 with BOM so spreadsheet tools show Chinese; a
  cell that starts like a formula, ``= + - @``, is prefixed with ``'``: see :func:`csv_cell`);
- ``report.html``: a printable report with bilingual (zh-CN / English) headings;
- ``inferred_parents.json`` (only when asked: ``?parents=1``): the inferred parent of each share
  whose parent is missing, as the trace's ``parents``, ``parent_probability`` and
  ``parents_method`` give them, ids named as in ``evidence.json``. These links are leads, not
  evidence: they never enter ``evidence.json``'s chains, ``chain.csv`` or the report's chains, and
  the report shows them in a section of their own, "Inferred links (leads, not evidence)";
- ``manifest.json``: SHA-256 of each file above, the evidence digest and its signature.

A package built without inferred parents is byte for byte what it was before they existed.

The evidence digest is the SHA-256 of the ``sha256sum``-style listing of the files
(``<hex>  <name>\\n`` sorted by name), so ``sha256sum -c`` style checks work by hand too. The
manifest is signed with HMAC-SHA256 under the service's evidence key (``evidence.key`` beside the
tokens file): a tampered file fails its hash, and a manifest rewritten to match tampered files
fails the signature; the manifest's case number, rumour, time and format, which the signature
does not cover, must equal those in ``evidence.json``. The digest is also recorded in the audit
log and sent in the ``X-Evidence-Digest`` header, so a package can be checked against the log
without the key (``rumour evidence verify FILE --digest HEX``).
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import html
import io
import zipfile
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import orjson

FORMAT = "rumour-trace evidence v1"
MANIFEST = "manifest.json"
FILES = ("evidence.json", "chain.csv", "report.html")
INFERRED = "inferred_parents.json"  # present only in a package exported with ?parents=1
INFERRED_NOTE = ("推断链接是线索，不是证据：未在平台上观测到，不属于证据链。Inferred links are leads, not "
                 "evidence: no platform showed them; they are not part of any chain of evidence.")


def listing(files: dict) -> bytes:
    """The ``sha256sum`` listing whose SHA-256 is the evidence digest.

    >>> listing({"b": "22", "a": "11"})
    b'11  a\\n22  b\\n'
    """
    return "".join(f"{files[name]}  {name}\n" for name in sorted(files)).encode("ascii")


def evidence_digest(files: dict) -> str:
    return hashlib.sha256(listing(files)).hexdigest()


def _sign(key: bytes, digest: str) -> str:
    return hmac.new(key, digest.encode("ascii"), hashlib.sha256).hexdigest()


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"rumour-trace evidence key id:" + key).hexdigest()[:12]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A text cell that a spreadsheet shows as text: ids and regions come from the platforms
    (any string), and one starting like a formula (``=HYPERLINK(...)``) would run when the
    package is opened in a spreadsheet, so it gets a leading ``'`` (OWASP CSV injection).

    >>> csv_cell("=1+1"), csv_cell("weibo:42"), csv_cell(None)
    ("'=1+1", 'weibo:42', '')
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def chain_csv(trace: dict) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["chain", "hop", "event_id", "account_id", "ts", "platform", "region",
                "text_sha256", "observed"])
    for ci, chain in enumerate(trace["chains"], 1):
        for hi, h in enumerate(chain["hops"], 1):
            w.writerow([ci, hi, csv_cell(h["event_id"]), csv_cell(h["account_id"]), h["ts"] or "",
                        csv_cell(h["platform"]), csv_cell(h["region"]), h["text_sha256"] or "",
                        "true" if h["observed"] else "false"])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def local_time(ts: str | None, zone: str) -> str:
    """An answer's RFC 3339 UTC time on the clock of ``zone``, with its offset: the printed
    report's reader compares it with the platform's pages, which show local time (a Weibo post
    of 22:50 China time is ``14:50:39.000Z``).

    >>> local_time("2012-06-01T14:50:39.000Z", "Asia/Shanghai"), local_time(None, "Asia/Shanghai")
    ('2012-06-01 22:50:39.000 +08:00', '')
    """
    if not ts:
        return ""
    t = datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
    offset = t.strftime("%z")
    return f"{t.isoformat(sep=' ', timespec='milliseconds')[:23]} {offset[:3]}:{offset[3:]}"


def report_html(meta: dict, trace: dict, digests: dict, zone: str = "UTC", inferred: dict | None = None) -> bytes:
    """The printable bilingual report; times in UTC and on the clock of ``zone`` (the centre's
    ``report_timezone``); ``inferred``: the inferred parents (:func:`inferred_html`), if asked."""
    e = lambda v: html.escape("" if v is None else str(v))  # noqa: E731
    local = f"<th>时间 Time ({e(zone)})</th>"
    parts = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>溯源证据报告 Evidence report — {e(meta['case_id'])}</title>",
        "<style>body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:2em;color:#111}"
        "table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}td,th{border:1px solid #999;"
        "padding:3px 6px;font-size:12px;text-align:left}th{background:#eee}code{font-size:11px}"
        "h1,h2{margin-bottom:.2em}.en{color:#555;font-weight:normal}"
        "@media print{body{margin:1cm}h2{page-break-after:avoid}tr{page-break-inside:avoid}}</style>",
        "</head><body>",
        "<h1>溯源证据报告 <span class='en'>Evidence report</span></h1>",
        "<h2>案件信息 <span class='en'>Case</span></h2><table>",
        f"<tr><th>案件编号 Case number</th><td>{e(meta['case_id'])}</td></tr>",
        f"<tr><th>谣言 Rumour</th><td>{e(trace['rumour_id'])}</td></tr>",
        f"<tr><th>事件数 Events</th><td>{e(trace['events'])}</td></tr>",
        f"<tr><th>生成时间 Generated at (UTC)</th><td>{e(meta['generated_at'])}</td></tr>",
        f"<tr><th>生成时间 Generated at ({e(zone)})</th><td>{e(local_time(meta['generated_at'], zone))}</td></tr>",
        f"<tr><th>生成人 Generated by</th><td>{e(meta['generated_by']['name'])} "
        f"({e(meta['generated_by']['role'])}, {e(meta['generated_by']['jurisdiction'])}, "
        f"token {e(meta['generated_by']['token_id'])}{_valid_until(meta['generated_by'])})</td></tr>",
        f"<tr><th>账号标识 Account ids</th><td>{e(_identities_text(trace, meta))}</td></tr></table>",
        "<h2>源头 <span class='en'>Origins</span></h2><table><tr><th>#</th><th>账号 Account</th>"
        f"<th>事件 Event</th><th>时间 Time (UTC)</th>{local}<th>覆盖 Reach</th><th>已观测 Observed</th>"
        "<th>置信度 Confidence</th></tr>",
    ]
    for i, o in enumerate(trace["origins"], 1):
        parts.append(f"<tr><td>{i}</td><td>{e(o['account_id'])}</td><td>{e(o['event_id'])}</td>"
                     f"<td>{e(o['ts'])}</td><td>{e(local_time(o['ts'], zone))}</td><td>{e(o['reach'])}</td><td>{_observed_text(o['observed'])}</td>"
                     f"<td>{e(o['confidence'])}</td></tr>")
    parts.append(f"</table><p>{e(CONFIDENCE_NOTE_ZH)}</p><p class='en'>{e(trace['confidence_method'])}</p>")
    parts.append(f"<h2>证据链 <span class='en'>Chains of evidence</span></h2><p>{e(CHAINS_NOTE)}</p>")
    for ci, chain in enumerate(trace["chains"], 1):
        parts.append(f"<h3>链 Chain {ci}: {e(chain['event_id'])}</h3><table><tr><th>跳 Hop</th>"
                     f"<th>事件 Event</th><th>账号 Account</th><th>时间 Time (UTC)</th>{local}"
                     "<th>平台 Platform</th><th>地区 Region</th><th>文本哈希 Text SHA-256</th>"
                     "<th>已观测 Observed</th></tr>")
        for hi, h in enumerate(chain["hops"], 1):
            parts.append(f"<tr><td>{hi}</td><td>{e(h['event_id'])}</td><td>{e(h['account_id'])}</td>"
                         f"<td>{e(h['ts'])}</td><td>{e(local_time(h['ts'], zone))}</td><td>{e(h['platform'])}</td><td>{e(h['region'])}</td>"
                         f"<td><code>{e(h['text_sha256'])}</code></td><td>{_observed_text(h['observed'])}</td></tr>")
        parts.append("</table>")
    # The printed report is what a reader without the JSON sees: a hop inferred from a child's
    # parent link read there exactly like an event seen on the platform (chain.csv said false).
    if not all(h["observed"] for chain in trace["chains"] for h in chain["hops"]) or \
            not all(o["observed"] for o in trace["origins"]):
        parts.append(f"<p class='en'>{html.escape(_NOT_OBSERVED_NOTE)}</p>")
    parts.append("<h2>阻断候选 <span class='en'>Cut-off candidates</span></h2><table><tr><th>#</th>"
                 "<th>账号 Account</th><th>可阻止转发 Shares prevented</th></tr>")
    for i, c in enumerate(trace["cutoff"], 1):
        parts.append(f"<tr><td>{i}</td><td>{e(c['account_id'])}</td><td>{e(c['prevented'])}</td></tr>")
    parts.append("</table>")
    if inferred is not None:
        parts.append(inferred_html(inferred, trace))
    parts.append("<h2>完整性 <span class='en'>Integrity</span></h2><table>")
    for name, digest in sorted(digests.items()):
        parts.append(f"<tr><th>{e(name)} SHA-256</th><td><code>{e(digest)}</code></td></tr>")
    parts.append("</table><p>证据摘要见 manifest.json，可用 <code>rumour evidence verify</code> 校验。"
                 "<span class='en'>The evidence digest is in manifest.json; check the package with "
                 "<code>rumour evidence verify</code>.</span></p></body></html>")
    return "".join(parts).encode("utf-8")


def inferred_html(inferred: dict, trace: dict) -> str:
    """The report's section of inferred links, after everything observed and headed so that no
    reader takes them for observed links: each share whose parent is missing, the parent the
    model gives, its probability, and where the share stands above (an origin, the end of a
    chain: where the trace stops for want of the link), then the method in words. The observed
    sections above stay exactly as in a package without inferred links.

    >>> trace = {"origins": [{"event_id": "e9"}, {"event_id": "e3"}], "chains": [{"hops": [{"event_id": "e3"}]}]}
    >>> section = inferred_html({"parents": {"e3": "e1", "e9": None}, "parent_probability":
    ...     {"e3": 0.61234567, "e9": None}, "parents_method": "inferred, not observed: ..."}, trace)
    >>> "Inferred links (leads, not evidence)" in section
    True
    >>> "<td>e3</td><td>e1</td><td>0.6123</td><td>源头 origin 2; 链 chain 1</td>" in section
    True
    >>> "<td>e9</td><td>无 none</td><td>—</td><td>源头 origin 1</td>" in section
    True
    """
    e = lambda v: html.escape("" if v is None else str(v))  # noqa: E731
    where = {}
    for i, o in enumerate(trace["origins"], 1):
        where.setdefault(o["event_id"], []).append(f"源头 origin {i}")
    for i, chain in enumerate(trace["chains"], 1):
        if chain["hops"]:
            where.setdefault(chain["hops"][-1]["event_id"], []).append(f"链 chain {i}")
    parts = ["<h2>推断链接（线索，非证据） <span class='en'>Inferred links (leads, not evidence)</span></h2>",
             f"<p>{e(INFERRED_NOTE)}</p><table><tr><th>#</th><th>转发（父链接缺失） Share (parent missing)</th>"
             "<th>推断的父事件 Inferred parent</th><th>概率 Probability</th><th>见上文 Above as</th></tr>"]
    probability = inferred["parent_probability"]
    for i, (share, parent) in enumerate(inferred["parents"].items(), 1):
        p = probability.get(share)
        parts.append(f"<tr><td>{i}</td><td>{e(share)}</td><td>{'无 none' if parent is None else e(parent)}</td>"
                     f"<td>{'—' if p is None else f'{p:.4f}'}</td><td>{e('; '.join(where.get(share, ())))}</td></tr>")
    if not inferred["parents"]:
        parts.append("<tr><td colspan='5'>无：没有缺失父链接的转发 none: no share lacks its parent link</td></tr>")
    parts.append(f"</table><p>{e(PARENTS_NOTE_ZH)}</p><p class='en'>{e(inferred['parents_method'])}</p>")
    return "".join(parts)


# The report is printed for readers of Chinese first: the trace's explanations (its
# confidence_method and parents_method, English, shared with the API) get a Chinese text beside
# them, and the chains a sentence saying what they are (the JSON says it in README's words).
CONFIDENCE_NOTE_ZH = ("置信度：该源头是谣言真实源头的概率（graph/confidence.py 的逻辑回归模型，依据其事件占谣言的比例、"
                      "覆盖范围、是否为缺少父链接的转发、是否仅由其转发事件得知、距谣言首个事件的时间及候选数量）。"
                      "源头按覆盖范围排序，不按置信度：覆盖小的源头也可能更可能是真实源头，请两项结合阅读；"
                      "父链接缺失的转发自成源头，置信度低。")
CHAINS_NOTE = ("每条证据链从一个阻断候选账号的事件开始，沿转发链接回溯到其源头：第 1 跳为该事件，最后一跳为源头；"
               "未在平台上观测到的一跳在“已观测”列标明。Each chain starts at an event of a cut-off candidate and "
               "follows the repost links back to its origin: hop 1 is that event, the last hop the origin; a hop "
               "not observed on the platform says so in the Observed column.")
PARENTS_NOTE_ZH = ("推断方法：对每条缺少父链接的转发，用条件 logit 模型（graph/reconstruct.py，权重由观测到的微博链接拟合），"
                   "依据时间间隔、候选事件已观测的转发数、其间的候选数、深度、账号之间的转发往来以及文本中 //@ 的引用，"
                   "选出最可能的更早事件；没有更早的候选时为“无”。概率是模型在该转发的各候选中给所选候选的概率，"
                   "不是校准过的置信度。")

_NOT_OBSERVED_NOTE = ("未观测：该事件本身未收到，仅由其转发事件的父链接得知（无时间、平台、地区、文本）。"
                      "Not observed: the event itself was never received; it is known only from the "
                      "parent links of the shares that came from it (no time, platform, region or text).")


def _observed_text(observed) -> str:
    """The report's words for a hop's or origin's ``observed``.

    >>> _observed_text(True), _observed_text(False)
    ('是 yes', '否 no (inferred)')
    """
    return "是 yes" if observed else "否 no (inferred)"


def _valid_until(generated_by: dict) -> str:
    """", valid until ..." for the report when the package records the token's expiry (packages
    built before it did have none).

    >>> _valid_until({"token_expires": "never"}), _valid_until({})
    (', 有效期至 valid until never', '')
    """
    expires = generated_by.get("token_expires")
    return "" if expires is None else f", 有效期至 valid until {html.escape(str(expires))}"


def _identities_text(trace: dict, meta: dict) -> str:
    """How the package names accounts, for the report (``trace["identities"]``).

    >>> _identities_text({"identities": "clear_in_jurisdiction"}, {"generated_by": {"jurisdiction": "370102"}})
    '辖区 370102 内的账号为明文，其余账号及其事件为化名 in clear inside 370102, pseudonyms elsewhere (accounts psn_..., their events pev_...)'
    """
    kind = trace.get("identities")
    if kind == "clear_in_jurisdiction":
        code = meta["generated_by"]["jurisdiction"]
        return (f"辖区 {code} 内的账号为明文，其余账号及其事件为化名 in clear inside {code}, "
                "pseudonyms elsewhere (accounts psn_..., their events pev_...)")
    return {"clear": "明文 in clear",
            "pseudonymised": "账号及事件均为化名 pseudonyms (accounts psn_..., events pev_...)"}.get(kind, str(kind))


def inferred_json(meta: dict, trace: dict, inferred: dict) -> bytes:
    """``inferred_parents.json``: the case, rumour and time of ``evidence.json``, how ids are
    named (``identities``, as there), the note that these links are leads, not evidence, and the
    trace's ``parents``, ``parent_probability`` and ``parents_method`` as the trace gave them."""
    return orjson.dumps({"format": FORMAT, "case_id": meta["case_id"], "rumour_id": trace["rumour_id"],
                         "generated_at": meta["generated_at"], "identities": trace.get("identities"),
                         "note": INFERRED_NOTE, "parents": inferred["parents"],
                         "parent_probability": inferred["parent_probability"],
                         "parents_method": inferred["parents_method"]},
                        option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def build(meta: dict, trace: dict, key: bytes, zone: str = "UTC", inferred: dict | None = None) -> tuple[bytes, str]:
    """The package as zip bytes and its evidence digest. ``meta``: case_id, generated_at,
    generated_by (token_id, name, role, jurisdiction, and token_expires: the text /api/me shows);
    ``zone``: the report's local clock beside UTC (``report_timezone``); ``inferred``: the
    trace's ``parents``, ``parent_probability`` and ``parents_method`` (``?parents=1``), kept
    out of ``trace`` and written to ``inferred_parents.json``; None: no such file, the package
    as before."""
    evidence_json = orjson.dumps({"format": FORMAT, **meta, "trace": trace},
                                 option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    csv_bytes = chain_csv(trace)
    inner = {"evidence.json": hashlib.sha256(evidence_json).hexdigest(),
             "chain.csv": hashlib.sha256(csv_bytes).hexdigest()}
    contents = {"evidence.json": evidence_json, "chain.csv": csv_bytes}
    if inferred is not None:
        contents[INFERRED] = inferred_json(meta, trace, inferred)
        inner[INFERRED] = hashlib.sha256(contents[INFERRED]).hexdigest()
    contents["report.html"] = report_html(meta, trace, inner, zone, inferred)
    files = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    digest = evidence_digest(files)
    manifest = orjson.dumps({
        "format": FORMAT, "case_id": meta["case_id"], "rumour_id": trace["rumour_id"],
        "generated_at": meta["generated_at"], "files": files, "evidence_sha256": digest,
        "signature": {"alg": "HMAC-SHA256", "key_id": _key_id(key), "value": _sign(key, digest)},
    }, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    buf = io.BytesIO()
    when = _zip_time(meta["generated_at"])
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in FILES + ((INFERRED,) if inferred is not None else ()):
            z.writestr(_entry(name, when), contents[name])
        z.writestr(_entry(MANIFEST, when), manifest)
    return buf.getvalue(), digest


def _zip_time(generated_at: str) -> tuple:
    """The entries' time: the package's own ``generated_at`` (UTC), not the server's local clock
    at zipping, so the same input gives the same zip bytes.

    >>> _zip_time("2025-12-01T08:30:15Z"), _zip_time("garbled")
    ((2025, 12, 1, 8, 30, 15), (1980, 1, 1, 0, 0, 0))
    """
    try:
        t = datetime.fromisoformat(str(generated_at).replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return (1980, 1, 1, 0, 0, 0)
    return max((t.year, t.month, t.day, t.hour, t.minute, t.second), (1980, 1, 1, 0, 0, 0))


def _entry(name: str, when: tuple) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info
