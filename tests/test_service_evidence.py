"""Evidence packages: content, digest, verification, and failure after every kind of tampering."""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import zipfile
from datetime import datetime, timedelta

import orjson
import pytest

from streams.service import evidence
from streams.cli import main as rumour_main  # the one handler of bad input (rumour: error:)
from streams.service.cli import evidence_main
from tests.service_helpers import cascades, get, sha
import tests.test_service

# The module-scoped server fixture of tests/test_service.py (this module gets a server of its own).
env = tests.test_service.env


@pytest.fixture(scope="module")
def package(env):
    tok = env["tok"]
    status, headers, body = get(env["url"] + "/api/rumours/jn-1/evidence?case=EV-1", tok["liaison"])
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/zip")
    return body, headers["X-Evidence-Digest"]


def _verify(env, data: bytes, tmp_path, *extra) -> tuple[int, str]:
    path = tmp_path / "p.zip"
    path.write_bytes(data)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = rumour_main(["evidence", "verify", str(path), "--tokens-file", str(env["tokens_path"]), *extra])
    return code, err.getvalue()


def _members(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buf.getvalue()


def test_package_content(env, package):
    data, digest = package
    m = _members(data)
    assert set(m) == {"evidence.json", "chain.csv", "report.html", "manifest.json"}
    manifest = orjson.loads(m["manifest.json"])
    for name in evidence.FILES:
        assert manifest["files"][name] == hashlib.sha256(m[name]).hexdigest()
    listing = "".join(f"{hashlib.sha256(m[n]).hexdigest()}  {n}\n" for n in sorted(evidence.FILES))
    assert manifest["evidence_sha256"] == hashlib.sha256(listing.encode()).hexdigest() == digest
    ev = orjson.loads(m["evidence.json"])
    assert ev["case_id"] == "EV-1" and ev["generated_by"]["role"] == "liaison"
    assert ev["trace"]["identities"] == "clear"
    rows = list(csv.DictReader(io.StringIO(m["chain.csv"].decode("utf-8-sig"))))
    hops = [h for c in ev["trace"]["chains"] for h in c["hops"]]
    assert len(rows) == len(hops) > 0
    texts = {e["event_id"]: e["text"] for e in cascades()}
    for row in rows:
        assert row["text_sha256"] == sha(texts[row["event_id"]])
    html = m["report.html"].decode()
    for heading in ("溯源证据报告", "Evidence report", "证据链", "Chains of evidence", "阻断候选",
                    "Cut-off candidates", "EV-1"):
        assert heading in html
    # the audit row of the export holds the same digest
    row = env["store"].audit_rows(case_id="EV-1", limit=5)[0]
    assert (row["action"], row["answer_sha256"], row["status"]) == ("evidence", digest, 200)


def test_printed_report_shows_each_time_on_the_centres_clock_too(package):
    # The walk over real Weibo data: a post of 22:50 China time was printed as 14:50 (UTC) only,
    # while the officer compares the report with the platform's pages, which show China time.
    m = _members(package[0])
    html = m["report.html"].decode()
    ev = orjson.loads(m["evidence.json"])
    assert "Time (Asia/Shanghai)" in html  # the service's report_timezone default
    times = [o["ts"] for o in ev["trace"]["origins"]] + [h["ts"] for c in ev["trace"]["chains"] for h in c["hops"]]
    for ts in times:
        utc = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        local = (utc + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
        assert f"<td>{ts}</td><td>{local}.{utc.microsecond // 1000:03d} +08:00</td>" in html
    assert m["chain.csv"].decode("utf-8-sig").count("+08:00") == 0  # the CSV keeps UTC only


def test_intact_package_verifies(env, package, tmp_path):
    data, digest = package
    assert _verify(env, data, tmp_path)[0] == 0
    assert _verify(env, data, tmp_path, "--digest", digest)[0] == 0


@pytest.mark.parametrize("name", list(evidence.FILES) + ["manifest.json"])
def test_one_changed_byte_in_any_file_fails(env, package, tmp_path, name):
    m = _members(package[0])
    body = bytearray(m[name])
    body[len(body) // 2] ^= 0x01
    m[name] = bytes(body)
    code, err = _verify(env, _zip(m), tmp_path)
    assert code == 1 and "TAMPERED" in err


def test_one_changed_byte_in_the_zip_itself_fails(env, package, tmp_path):
    raw = bytearray(package[0])
    raw[len(raw) // 3] ^= 0x20
    assert _verify(env, bytes(raw), tmp_path)[0] != 0


def forged_members(package_zip: bytes) -> dict:
    """The package's members with the top origin's account changed and every hash and the digest
    recomputed, as a forger without the evidence key can do."""
    m = _members(package_zip)
    ev = orjson.loads(m["evidence.json"])
    ev["trace"]["origins"][0]["account_id"] = "someone-else"
    m["evidence.json"] = orjson.dumps(ev)
    manifest = orjson.loads(m["manifest.json"])
    manifest["files"] = {n: hashlib.sha256(m[n]).hexdigest() for n in evidence.FILES}
    manifest["evidence_sha256"] = evidence.evidence_digest(manifest["files"])
    m["manifest.json"] = orjson.dumps(manifest)
    return m


def test_replaced_manifest_fails(env, package, tmp_path):
    # a forger recomputes every hash and the digest, but cannot sign without the key
    m = forged_members(package[0])
    manifest = orjson.loads(m["manifest.json"])
    code, err = _verify(env, _zip(m), tmp_path)
    assert code == 1 and "signature" in err
    # without the key, the digest recorded in the audit log still catches it
    code, err = _verify(env, _zip(m), tmp_path, "--tokens-file", str(tmp_path / "nokey" / "tokens.json"),
                        "--digest", package[1])
    assert code == 1 and "expected" in err
    # a manifest signed with another key fails too
    m["manifest.json"] = orjson.loads(m["manifest.json"]) and orjson.dumps(
        manifest | {"signature": {"alg": "HMAC-SHA256", "key_id": "x", "value": "00"}})
    assert _verify(env, _zip(m), tmp_path)[0] == 1


def test_a_package_checked_with_another_key_names_both_keys(env, package, tmp_path):
    # "manifest signed with another key" alone: a liaison checking with the wrong key file
    # (its own laptop's) could only conclude that the package was forged.
    other = tmp_path / "other.key"
    other.write_bytes(b"k" * 32)
    code, err = _verify(env, package[0], tmp_path, "--key-file", str(other))
    signed_with = orjson.loads(_members(package[0])["manifest.json"])["signature"]["key_id"]
    assert code == 1
    assert (f"it names key {signed_with!r}, the key used here is {evidence._key_id(b'k' * 32)!r}" in err
            and "--key-file" in err and "--digest" in err), err
    assert _verify(env, package[0], tmp_path, "--key-file", str(other), "--digest", package[1])[0] == 1


def test_missing_or_extra_file_fails(env, package, tmp_path):
    m = _members(package[0])
    without = {k: v for k, v in m.items() if k != "chain.csv"}
    assert _verify(env, _zip(without), tmp_path)[0] == 1
    assert _verify(env, _zip(m | {"extra.txt": b"hello"}), tmp_path)[0] == 1


def test_a_file_that_is_no_zip_is_bad_input_not_a_tampered_package(env, tmp_path):
    # e.g. `rumour evidence verify events.jsonl`: 2 (bad input) with a reason, not TAMPERED (1)
    code, err = _verify(env, b'{"event_id": "m1", "rumour_id": "r1"}\n', tmp_path)
    assert code == 2 and "not a zip file" in err and "TAMPERED" not in err
    # a damaged package (still a zip) is a verdict: tampered
    assert _verify(env, _zip({"evidence.json": b"{}"}), tmp_path)[0] == 1


def test_bad_input_to_verify_is_one_line_in_the_form_of_every_command(env, tmp_path):
    err = io.StringIO()
    for argv in (["verify", str(tmp_path / "nope.zip")], ["verify", str(tmp_path)],
                 ["verify", str(tmp_path / "p.zip"), "--digest", "abc"]):
        (tmp_path / "p.zip").write_bytes(b"PK")
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = rumour_main(["evidence", *argv, "--tokens-file", str(env["tokens_path"])])
        lines = err.getvalue().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("rumour: error: "), lines
        assert "Errno" not in lines[0], lines
    code, err = _verify(env, b"not a zip", tmp_path)
    assert code == 2 and err.startswith("rumour: error: ") and err.count("\n") == 1, err


def test_verify_leaves_bad_input_to_the_one_handler_of_every_command(env, tmp_path):
    # `rumour evidence` prints no error line of its own: it raises, and streams.cli.main prints
    # it as every command does (one line, exit 2), with the same words as before.
    (tmp_path / "p.zip").write_bytes(b"not a zip")
    cases = [(["verify", str(tmp_path / "nope.zip")],
              f"rumour: error: cannot read {tmp_path / 'nope.zip'}: no such file or directory"),
             (["verify", str(tmp_path / "p.zip"), "--digest", "abc"],
              "rumour: error: --digest: expected the 64 hex digits of an evidence digest"),
             (["verify", str(tmp_path / "p.zip"), "--key-file", str(tmp_path / "no.key")],
              f"rumour: error: cannot read the key {tmp_path / 'no.key'}: no such file or directory"),
             (["verify", str(tmp_path / "p.zip")],
              f"rumour: error: {tmp_path / 'p.zip'}: not a zip file, so not an evidence package of this service")]
    for argv, line in cases:
        argv = [*argv, "--tokens-file", str(env["tokens_path"])]
        err = io.StringIO()
        with contextlib.redirect_stderr(err), pytest.raises(ValueError) as raised:
            evidence_main(argv)
        assert err.getvalue() == "" and f"rumour: error: {raised.value}" == line
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            assert rumour_main(["evidence", *argv]) == 2
        assert err.getvalue() == line + "\n"


def test_a_zip_of_other_files_is_not_a_package_but_a_removed_manifest_is_tampering(env, package, tmp_path):
    # A liaison given photos.zip (no manifest, none of our files) must hear "not an evidence
    # package" (2), not TAMPERED (1), which would start a hunt for a forgery.
    for members in ({"IMG_0001.jpg": b"\xff\xd8", "notes.txt": b"hello"}, {}):
        code, err = _verify(env, _zip(members), tmp_path)
        assert code == 2 and "not an evidence package" in err and "TAMPERED" not in err, members
    # Our package with its manifest removed (at the top, or re-zipped inside a folder) is tampering.
    m = _members(package[0])
    without_manifest = {k: v for k, v in m.items() if k != evidence.MANIFEST}
    code, err = _verify(env, _zip(without_manifest), tmp_path)
    assert code == 1 and "TAMPERED" in err
    code, err = _verify(env, _zip({"case-7/" + k: v for k, v in without_manifest.items()}), tmp_path)
    assert code == 1 and "TAMPERED" in err


def _rezipped(data: bytes, tmp_path, folder="case-7", change=None) -> bytes:
    """The package unzipped into ``folder`` and that folder zipped again (entries "case-7/",
    "case-7/manifest.json", ...), as a desktop's "compress folder" does; ``change``: one member
    whose middle byte is flipped first."""
    import shutil

    root = tmp_path / "unzipped"
    (root / folder).mkdir(parents=True)
    for name, body in _members(data).items():
        if name == change:
            body = bytearray(body)
            body[len(body) // 2] ^= 0x01
        (root / folder / name).write_bytes(bytes(body))
    made = shutil.make_archive(str(tmp_path / "again"), "zip", root_dir=root, base_dir=folder)
    with open(made, "rb") as f:
        return f.read()


def _verify_out(env, data: bytes, tmp_path, *extra) -> tuple[int, str]:
    path = tmp_path / "p.zip"
    path.write_bytes(data)
    out = io.StringIO()
    with contextlib.redirect_stderr(out), contextlib.redirect_stdout(out):
        code = rumour_main(["evidence", "verify", str(path), "--tokens-file", str(env["tokens_path"]), *extra])
    return code, out.getvalue()


def test_a_package_rezipped_inside_a_folder_verifies_and_says_so(env, package, tmp_path):
    data, digest = package
    again = _rezipped(data, tmp_path)
    assert sorted(_members(again)) == ["case-7/", "case-7/chain.csv", "case-7/evidence.json",
                                       "case-7/manifest.json", "case-7/report.html"]
    code, out = _verify_out(env, again, tmp_path, "--digest", digest)
    assert code == 0 and "OK:" in out and digest in out, out
    assert [line for line in out.splitlines() if "case-7/" in line] == [
        "note: every file sits in the folder case-7/ (a package unzipped and zipped again): "
        "checked as if the files were at the top"]
    code, out = _verify_out(env, data, tmp_path)
    assert code == 0 and "folder" not in out  # a package as exported: no such line


def _nested(members: dict, folders=("case-7", "case-7")) -> dict:
    """What a desktop makes of a package two folders deep: Windows Explorer's "Extract All" of a
    package re-zipped once puts its folder in a folder named after the zip (case-7/case-7/),
    and "Send to > Compressed folder" zips the outer one, folder entries included."""
    out, path = {}, ""
    for folder in folders:
        path += folder + "/"
        out[path] = b""
    return out | {path + k: v for k, v in members.items()}


def test_a_package_rezipped_two_folders_deep_verifies_like_one_folder(env, package, tmp_path):
    data, digest = package
    m = _members(data)
    code, out = _verify_out(env, _zip(_nested(m)), tmp_path, "--digest", digest)
    assert code == 0 and "OK:" in out and digest in out, out
    assert "note: every file sits in the folder case-7/case-7/ (a package unzipped and zipped again)" in out
    # A case folder that holds the unzipped package, zipped by macOS Finder (its litter too).
    finder = _finder_zip(_nested(m, ("evidence-C-9",)), folder="case 7")
    code, out = _verify_out(env, _zip(finder), tmp_path, "--digest", digest)
    assert code == 0 and "sits in the folder case 7/evidence-C-9/" in out, out
    # Still every byte counts, and files beside the inner folder are extra files.
    changed = dict(m, **{"report.html": m["report.html"].replace(b"<", b" ", 1)})
    code, out = _verify_out(env, _zip(_nested(changed)), tmp_path)
    assert code == 1 and "report.html: SHA-256" in out, out
    code, out = _verify_out(env, _zip(_nested(m) | {"case-7/notes.txt": b"mine"}), tmp_path)
    assert code == 1 and "TAMPERED" in out, out
    split = {f"case-7/{'a' if k == 'chain.csv' else 'b'}/{k}": v for k, v in m.items()}
    code, out = _verify_out(env, _zip(split), tmp_path)
    assert code == 1 and "TAMPERED" in out, out


def _finder_zip(members: dict, folder="case-7") -> dict:
    """What macOS Finder's "Compress" makes of the unzipped folder: the folder's files, its
    .DS_Store, and an AppleDouble resource fork of each file under __MACOSX/."""
    out = {folder + "/": b""} | {f"{folder}/{k}": v for k, v in members.items()}
    out[f"{folder}/.DS_Store"] = b"\x00\x00\x00\x01Bud1"
    out["__MACOSX/"] = b""
    out |= {f"__MACOSX/{folder}/._{k}": b"\x00\x05\x16\x07" for k in members}
    return out


def test_desktop_metadata_in_a_rezipped_package_is_skipped_with_a_note(env, package, tmp_path):
    data, digest = package
    m = _members(data)
    code, out = _verify_out(env, _zip(_finder_zip(m)), tmp_path, "--digest", digest)
    assert code == 0 and "OK:" in out and digest in out, out
    assert "skipped 6 entries a desktop adds" in out and "sits in the folder case-7/" in out, out
    # Windows Explorer's litter beside the files of a package zipped at the top level.
    code, out = _verify_out(env, _zip(m | {"Thumbs.db": b"x", "desktop.ini": b"y"}), tmp_path)
    assert code == 0 and "skipped 2 entries" in out, out
    # Skipping them never hides a change to a package file, nor a file added under another name.
    changed = dict(m, **{"chain.csv": m["chain.csv"] + b"x"})
    code, out = _verify_out(env, _zip(_finder_zip(changed)), tmp_path)
    assert code == 1 and "TAMPERED" in out and "chain.csv: SHA-256" in out, out
    added = _finder_zip(m) | {"case-7/._notes.txt": b"hello"}
    code, out = _verify_out(env, _zip(added), tmp_path)
    assert code == 1 and "._notes.txt: in the package but not in the manifest" in out, out


@pytest.mark.parametrize("name", list(evidence.FILES) + ["manifest.json"])
def test_a_package_rezipped_inside_a_folder_with_a_changed_byte_is_tampered(env, package, tmp_path, name):
    code, out = _verify_out(env, _rezipped(package[0], tmp_path, change=name), tmp_path)
    assert code == 1 and "TAMPERED" in out and "case-7/" in out, out


def test_a_package_in_several_folders_or_beside_extra_files_stays_an_error(env, package, tmp_path):
    m = _members(package[0])
    spread = {("a/" if k == "chain.csv" else "b/") + k: v for k, v in m.items()}
    code, out = _verify_out(env, _zip(spread), tmp_path)
    assert code == 1 and "TAMPERED" in out and "sits in the folder" not in out, out
    beside = {"case-7/" + k: v for k, v in m.items()} | {"notes.txt": b"hello"}
    code, out = _verify_out(env, _zip(beside), tmp_path)
    assert code == 1 and "TAMPERED" in out and "sits in the folder" not in out, out
    inside = {"case-7/" + k: v for k, v in m.items()} | {"case-7/notes.txt": b"hello"}
    code, out = _verify_out(env, _zip(inside), tmp_path)
    assert code == 1 and "notes.txt: in the package but not in the manifest" in out, out


def test_export_needs_a_case_number(env):
    status, _, body = get(env["url"] + "/api/rumours/jn-1/evidence", env["tok"]["liaison"])
    assert status == 400
    status, _, body = get(env["url"] + "/api/rumours/jn-1/evidence?case=A-1", env["tok"]["liaison"], case="B-2")
    assert status == 400


def test_a_mistyped_digest_is_a_bad_argument_not_a_tampered_package(env, package, tmp_path):
    # `--digest 9e7c97da7` (a cut copy) answered "TAMPERED" (exit 1) about an intact package.
    data, digest = package
    no_key = ("--tokens-file", str(tmp_path / "elsewhere" / "tokens.json"))
    for bad in (digest[:9], digest + "0", "z" * 64, ""):
        code, err = _verify(env, data, tmp_path, "--digest", bad, *no_key)
        assert code == 2 and "--digest" in err and "TAMPERED" not in err, (bad, err)
    # The digest as another tool may print it (upper case, a trailing newline) is the same digest.
    assert _verify(env, data, tmp_path, "--digest", digest.upper() + "\n", *no_key)[0] == 0
    assert _verify(env, data, tmp_path, "--digest", digest, *no_key)[0] == 0


def test_the_printed_report_says_which_hops_were_observed_as_the_trace_does():
    # The report's hop table had no observed column and its origins showed Python's True/False:
    # a parent known only from its child's link (no time, no text) printed like an event seen
    # on the platform, though the trace and chain.csv said observed: false.
    import re

    hop = {"platform": "weibo", "region": None, "text_sha256": None}
    trace = {"rumour_id": "r1", "events": 2, "identities": "clear", "confidence_method": "m",
             "origins": [{"account_id": "a", "event_id": "s1", "ts": None, "reach": 2,
                          "observed": False, "confidence": 0.9}],
             "chains": [{"event_id": "s2", "hops": [
                 {**hop, "event_id": "s2", "account_id": "b", "ts": "2026-01-01T00:05:00.000Z", "observed": True},
                 {**hop, "event_id": "s1", "account_id": "a", "ts": None, "observed": False}]}],
             "cutoff": []}
    meta = {"case_id": "C-1", "generated_at": "2026-01-02T00:00:00Z",
            "generated_by": {"name": "n", "role": "liaison", "jurisdiction": "310000", "token_id": "t"}}
    page = evidence.report_html(meta, trace, {}).decode()
    hop_rows = re.findall(r"<tr><td>(\d+)</td><td>(s\d)</td><td>\w</td>.*?<td>([^<]*)</td></tr>", page)
    assert hop_rows == [("1", "s2", "是 yes"), ("2", "s1", "否 no (inferred)")]
    origin_row = re.search(r"<tr><td>1</td><td>a</td><td>s1</td>.*?</tr>", page).group(0)
    assert "否 no (inferred)" in origin_row and "False" not in page and "True" not in page
    assert "Not observed: the event itself was never received" in page
    for h in trace["chains"][0]["hops"]:
        h["observed"] = True
    trace["origins"][0]["observed"] = True
    assert "Not observed:" not in evidence.report_html(meta, trace, {}).decode()


def test_the_printed_report_explains_confidence_chains_and_inferred_links_in_chinese_too():
    # The report is bilingual in its headings, but what the confidence means, what a chain is
    # and how a parent was inferred were English only (the trace's confidence_method and
    # parents_method): a reader of Chinese could not tell why a share of confidence 0.1 is
    # listed among the origins.
    trace = {"rumour_id": "r1", "events": 1, "identities": "clear", "confidence_method": "m-en",
             "origins": [{"account_id": "a", "event_id": "s1", "ts": None, "reach": 1,
                          "observed": True, "confidence": 0.9}], "chains": [], "cutoff": []}
    meta = {"case_id": "C-1", "generated_at": "2026-01-02T00:00:00Z",
            "generated_by": {"name": "n", "role": "liaison", "jurisdiction": "310000", "token_id": "t"}}
    inferred = {"parents": {"s1": None}, "parent_probability": {"s1": None}, "parents_method": "p-en"}
    page = evidence.report_html(meta, trace, {}, "Asia/Shanghai", inferred).decode()
    origins = page.index("Origins")
    for zh, en in (("置信度：该源头是谣言真实源头的概率", "m-en"), ("每条证据链从一个阻断候选账号的事件开始", "Each chain starts"),
                   ("推断方法：对每条缺少父链接的转发", "p-en")):
        assert origins < page.index(zh) < page.index(en) + 200, zh  # beside the English, after the heading
    assert page.index("每条证据链") > page.index("Chains of evidence")
