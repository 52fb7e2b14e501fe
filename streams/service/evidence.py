"""Evidence packages for one case: build (zip) and verify.

A package is a zip with:

- ``evidence.json``: case number, who generated it and when, the rumour's trace (origins with
  confidence, chains of evidence, cut-off candidates), account ids as the caller may see them
  (``trace.identities``: ``clear``, or ``clear_in_jurisdiction`` under the centre's
  ``liaison_account_scope``, :mod:`streams.service.identities`);
- ``chain.csv``: every hop of every chain (UTF-8 with BOM so spreadsheet tools show Chinese; a
  cell that starts like a formula, ``= + - @``, is prefixed with ``'``: see :func:`csv_cell`);
- ``report.html``: a printable report with bilingual (zh-CN / English) headings;
- ``manifest.json``: SHA-256 of each file above, the evidence digest and its signature.

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
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone

import orjson

FORMAT = "rumour-trace evidence v1"
_HEX64 = re.compile(r"[0-9a-f]{64}")
MANIFEST = "manifest.json"
FILES = ("evidence.json", "chain.csv", "report.html")
# Largest member verify reads: a package holds one trace (at most 1000 cut-off chains), megabytes.
MEMBER_MAX = 256 << 20
# What a desktop adds when it zips a folder again: macOS Finder's resource forks (``__MACOSX/``)
# and folder views (``.DS_Store``), Windows Explorer's thumbnail caches and folder settings. No
# package holds them and they carry none of its content, so they are skipped with a note: a
# liaison's re-zipped package is not "tampered" because the desktop left them in it.
_DESKTOP_FILES = {".DS_Store", "Thumbs.db", "desktop.ini"}


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


def report_html(meta: dict, trace: dict, digests: dict) -> bytes:
    e = lambda v: html.escape("" if v is None else str(v))  # noqa: E731
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
        f"<tr><th>生成人 Generated by</th><td>{e(meta['generated_by']['name'])} "
        f"({e(meta['generated_by']['role'])}, {e(meta['generated_by']['jurisdiction'])}, "
        f"token {e(meta['generated_by']['token_id'])}{_valid_until(meta['generated_by'])})</td></tr>",
        f"<tr><th>账号标识 Account ids</th><td>{e(_identities_text(trace, meta))}</td></tr></table>",
        "<h2>源头 <span class='en'>Origins</span></h2><table><tr><th>#</th><th>账号 Account</th>"
        "<th>事件 Event</th><th>时间 Time (UTC)</th><th>覆盖 Reach</th><th>已观测 Observed</th>"
        "<th>置信度 Confidence</th></tr>",
    ]
    for i, o in enumerate(trace["origins"], 1):
        parts.append(f"<tr><td>{i}</td><td>{e(o['account_id'])}</td><td>{e(o['event_id'])}</td>"
                     f"<td>{e(o['ts'])}</td><td>{e(o['reach'])}</td><td>{_observed_text(o['observed'])}</td>"
                     f"<td>{e(o['confidence'])}</td></tr>")
    parts.append(f"</table><p class='en'>{e(trace['confidence_method'])}</p>")
    parts.append("<h2>证据链 <span class='en'>Chains of evidence</span></h2>")
    for ci, chain in enumerate(trace["chains"], 1):
        parts.append(f"<h3>链 Chain {ci}: {e(chain['event_id'])}</h3><table><tr><th>跳 Hop</th>"
                     "<th>事件 Event</th><th>账号 Account</th><th>时间 Time (UTC)</th>"
                     "<th>平台 Platform</th><th>地区 Region</th><th>文本哈希 Text SHA-256</th>"
                     "<th>已观测 Observed</th></tr>")
        for hi, h in enumerate(chain["hops"], 1):
            parts.append(f"<tr><td>{hi}</td><td>{e(h['event_id'])}</td><td>{e(h['account_id'])}</td>"
                         f"<td>{e(h['ts'])}</td><td>{e(h['platform'])}</td><td>{e(h['region'])}</td>"
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
    parts.append("</table><h2>完整性 <span class='en'>Integrity</span></h2><table>")
    for name, digest in sorted(digests.items()):
        parts.append(f"<tr><th>{e(name)} SHA-256</th><td><code>{e(digest)}</code></td></tr>")
    parts.append("</table><p>证据摘要见 manifest.json，可用 <code>rumour evidence verify</code> 校验。"
                 "<span class='en'>The evidence digest is in manifest.json; check the package with "
                 "<code>rumour evidence verify</code>.</span></p></body></html>")
    return "".join(parts).encode("utf-8")


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


def build(meta: dict, trace: dict, key: bytes) -> tuple[bytes, str]:
    """The package as zip bytes and its evidence digest. ``meta``: case_id, generated_at,
    generated_by (token_id, name, role, jurisdiction, and token_expires: the text /api/me shows)."""
    evidence_json = orjson.dumps({"format": FORMAT, **meta, "trace": trace},
                                 option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    csv_bytes = chain_csv(trace)
    inner = {"evidence.json": hashlib.sha256(evidence_json).hexdigest(),
             "chain.csv": hashlib.sha256(csv_bytes).hexdigest()}
    report = report_html(meta, trace, inner)
    contents = {"evidence.json": evidence_json, "chain.csv": csv_bytes, "report.html": report}
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
        for name in FILES:
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


@dataclass
class Verdict:
    ok: bool
    digest: str | None = None
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    not_a_package: bool = False  # not a zip, or a zip of none of our files: bad input, no verdict


def verify(data: bytes, key: bytes | None = None, expected_digest: str | None = None) -> Verdict:
    """Check a package: every file's hash, no file missing or added, the evidence digest, the
    manifest's signature (when ``key`` is given) and, optionally, a digest from the audit log."""
    v = Verdict(ok=False)
    if not data.startswith(b"PK"):
        # Every zip (a package, a damaged or truncated one) begins with a "PK" signature; a file
        # without one (a JSONL export, a report) was never a package, and calling it tampered
        # would send an investigator after a forgery that is only a wrong file.
        v.not_a_package = True
        v.problems.append("not a zip file, so not an evidence package of this service")
        return v
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        names = [i.filename for i in z.infolist()]
        if not _holds_package_files(names):
            # A zip with no manifest and none of the package's files (photos, an export of some
            # other tool) was never a package: "tampered" would send an investigator after a
            # forgery. One with a manifest removed still holds our files, and stays a verdict.
            v.not_a_package = True
            v.problems.append(f"a zip without {MANIFEST} or any of {', '.join(FILES)}, so not an "
                              "evidence package of this service")
            return v
        if len(set(names)) != len(names):
            v.problems.append("the zip holds two entries with the same name")
            return v
        # Read nothing of a member that would unpack huge (a zip bomb sent as "evidence").
        big = [i.filename for i in z.infolist() if i.file_size > MEMBER_MAX]
        if big:
            v.problems.append(f"{', '.join(big)}: over {MEMBER_MAX} bytes unpacked, not a package "
                              "of this service")
            return v
        litter = [name for name in names if _desktop_metadata(name)]
        if litter:
            v.notes.append(f"skipped {len(litter)} entries a desktop adds when it zips a folder "
                           f"(__MACOSX/, .DS_Store, Thumbs.db, desktop.ini): {', '.join(litter[:3])}"
                           + (", ..." if len(litter) > 3 else ""))
            names = [name for name in names if not _desktop_metadata(name)]
        # A package unzipped and zipped again as its folder (what a liaison's desktop does):
        # its files are judged by their names inside that one folder. Entries in several
        # folders, or beside the folder, are judged as they are (missing and extra files).
        folder = _common_folder(names)
        if folder:
            v.notes.append(f"every file sits in the folder {folder} (a package unzipped and zipped "
                           "again): checked as if the files were at the top")
            names = [name[len(folder):] for name in names if name != folder]

        def read(name: str) -> bytes:
            return z.read(folder + name)

        manifest = orjson.loads(read(MANIFEST))
        files = manifest["files"]
        recorded = manifest["evidence_sha256"]
        # A crafted manifest must give a verdict, not a crash: names -> 64 hex digits only.
        if not isinstance(files, dict) or not all(
                isinstance(h, str) and _HEX64.fullmatch(h) for h in files.values()):
            raise ValueError("manifest: files must map each name to a SHA-256 hex digest")
        if not isinstance(manifest.get("signature") or {}, dict):
            raise ValueError("manifest: signature must be an object")
    except Exception as exc:  # any damage to the zip or the manifest means "not intact"
        v.problems.append(f"not a readable evidence package ({type(exc).__name__}: {exc})")
        return v
    present = set(names) - {MANIFEST}
    for name in sorted(set(files) - present):
        v.problems.append(f"{name}: listed in the manifest but missing")
    for name in sorted(present - set(files)):
        v.problems.append(f"{name}: in the package but not in the manifest")
    for name in sorted(set(files) & present):
        try:
            actual = hashlib.sha256(read(name)).hexdigest()
        except Exception as exc:  # bad CRC, truncated or corrupt deflate data (zlib.error), ...
            v.problems.append(f"{name}: unreadable ({exc})")
            continue
        if actual != files[name]:
            v.problems.append(f"{name}: SHA-256 {actual} does not match the manifest ({files[name]})")
    _check_manifest_fields(read, manifest, files, v)
    digest = evidence_digest(files) if isinstance(files, dict) else None
    v.digest = digest
    if digest != recorded:
        v.problems.append(f"evidence digest {digest} does not match the manifest ({recorded})")
    if set(files) != set(FILES):
        v.problems.append(f"the manifest should list exactly {', '.join(FILES)}")
    sig = manifest.get("signature") or {}
    if key is not None:
        if sig.get("key_id") != _key_id(key):
            # Both ids: "another key" alone left a liaison who checked with the wrong key file
            # (a laptop's own .run/evidence.key) believing the package forged.
            v.problems.append(f"manifest signed with another key (or not signed): it names key "
                              f"{str(sig.get('key_id') or 'none')[:64]!r}, the key used here is "
                              f"{_key_id(key)!r}; if that is not the centre's evidence key, check "
                              "again with it (--key-file) or with the audit log's digest (--digest)")
        elif not hmac.compare_digest(str(sig.get("value", "")), _sign(key, str(recorded))):
            v.problems.append("manifest signature is wrong: the manifest was altered")
    else:
        v.notes.append("signature not checked (no evidence key available)")
    if expected_digest is not None and expected_digest.lower() != digest:
        v.problems.append(f"evidence digest {digest} is not the expected {expected_digest}")
    v.ok = not v.problems
    return v


def _holds_package_files(names) -> bool:
    """Whether a zip's entry names include the manifest or a package file, at the top or in a
    folder (a package unzipped and zipped again is still ours, and is judged, not turned away).

    >>> _holds_package_files(["IMG_0001.jpg"]), _holds_package_files(["chain.csv"])
    (False, True)
    >>> _holds_package_files(["case-7/report.html"]), _holds_package_files([])
    (True, False)
    """
    ours = {MANIFEST, *FILES}
    return any(name.rsplit("/", 1)[-1] in ours for name in names)


def _desktop_metadata(name: str) -> bool:
    """Whether a zip entry is one a desktop adds when zipping a folder, never a package's file.

    >>> [_desktop_metadata(n) for n in ("__MACOSX/", "__MACOSX/case-7/._chain.csv",
    ...                                 "case-7/.DS_Store", "Thumbs.db", "case-7/chain.csv")]
    [True, True, True, True, False]
    >>> _desktop_metadata("case-7/__MACOSX.txt"), _desktop_metadata("a/__MACOSX/x")
    (False, False)
    """
    return name.startswith("__MACOSX/") or name.rsplit("/", 1)[-1] in _DESKTOP_FILES


def _common_folder(names) -> str:
    """The one top folder (``"case-7/"``) that every entry of a zip without a manifest at the
    top sits in, else ``""``.

    >>> _common_folder(["case-7/", "case-7/manifest.json", "case-7/chain.csv"])
    'case-7/'
    >>> _common_folder(["manifest.json"]), _common_folder(["a/manifest.json", "b/chain.csv"])
    ('', '')
    >>> _common_folder(["a/manifest.json", "chain.csv"])
    ''
    """
    if MANIFEST in names or not names or any("/" not in name for name in names):
        return ""
    tops = {name.split("/", 1)[0] for name in names}
    return tops.pop() + "/" if len(tops) == 1 else ""


def _check_manifest_fields(read, manifest: dict, files: dict, v: Verdict) -> None:
    """The signature covers the digest only, so the manifest's own case number, rumour, time and
    format must equal those of ``evidence.json`` (whose hash the digest covers); ``read``: a
    member's bytes by its name in the package."""
    try:
        data = read("evidence.json")
        if hashlib.sha256(data).hexdigest() != files.get("evidence.json"):
            return  # already reported as a hash mismatch or a missing file
        ev = orjson.loads(data)
        signed = {"format": ev.get("format"), "case_id": ev.get("case_id"),
                  "rumour_id": (ev.get("trace") or {}).get("rumour_id"),
                  "generated_at": ev.get("generated_at")}
    except Exception:  # evidence.json missing or unreadable: reported by the checks above
        return
    for name, value in signed.items():
        if manifest.get(name) != value:
            v.problems.append(f"manifest.json: {name} {manifest.get(name)!r} differs from "
                              f"evidence.json ({value!r})")
