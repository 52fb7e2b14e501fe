"""Verifying an evidence package (:func:`verify`, ``rumour evidence verify``): every file's hash
against the manifest, no file missing or added, the evidence digest, the manifest's signature
under the evidence key and its fields against ``evidence.json``, optionally the audit log's
digest. A package exported with inferred parents also holds ``inferred_parents.json``, checked
like every other file (``Verdict.inferred`` says it is there: its links are leads, not
evidence). What a package holds and how it is built and signed: :mod:`streams.service.evidence`.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import re
import zipfile
from dataclasses import dataclass, field

import orjson

from streams.service.evidence import FILES, INFERRED, MANIFEST, _key_id, _sign, evidence_digest

_HEX64 = re.compile(r"[0-9a-f]{64}")
# Largest member verify reads: a package holds one trace (at most 1000 cut-off chains), megabytes.
MEMBER_MAX = 256 << 20
# What a desktop adds when it zips a folder again: macOS Finder's resource forks (``__MACOSX/``)
# and folder views (``.DS_Store``), Windows Explorer's thumbnail caches and folder settings. No
# package holds them and they carry none of its content, so they are skipped with a note: a
# liaison's re-zipped package is not "tampered" because the desktop left them in it.
_DESKTOP_FILES = {".DS_Store", "Thumbs.db", "desktop.ini"}


@dataclass
class Verdict:
    ok: bool
    digest: str | None = None
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    not_a_package: bool = False  # not a zip, or a zip of none of our files: bad input, no verdict
    # How many inferred links inferred_parents.json holds when its hash is the manifest's, or
    # None: no such file (or one that failed its hash: a problem says so).
    inferred: int | None = None


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
        # Folders in one another count as one (``case-7/case-7/``): Windows Explorer's "Extract
        # All" makes a folder named after the zip even when the zip holds one folder already
        # (a package re-zipped once), and zipping the folder that holds the unzipped package
        # (a case folder) adds one more; neither adds or changes a file.
        folder = ""
        while inner := _common_folder(names):
            folder += inner
            names = [name[len(inner):] for name in names if name != inner]
        if folder:
            v.notes.append(f"every file sits in the folder {folder} (a package unzipped and zipped "
                           "again): checked as if the files were at the top")

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
        elif name == INFERRED:
            v.inferred = _inferred_links(read(name), v)
    _check_manifest_fields(read, manifest, files, v)
    digest = evidence_digest(files) if isinstance(files, dict) else None
    v.digest = digest
    if digest != recorded:
        v.problems.append(f"evidence digest {digest} does not match the manifest ({recorded})")
    if set(files) not in (set(FILES), {*FILES, INFERRED}):
        v.problems.append(f"the manifest should list exactly {', '.join(FILES)} (and {INFERRED} in a "
                          "package exported with inferred parents)")
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
    ours = {MANIFEST, *FILES, INFERRED}
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


def _inferred_links(data: bytes, v: Verdict) -> int | None:
    """How many links an intact ``inferred_parents.json`` holds (its ``parents``); a file that
    is not the object a package's is, though its hash matches, is a problem."""
    try:
        parents = orjson.loads(data)["parents"]
        if not isinstance(parents, dict):
            raise ValueError("parents is not an object")
    except Exception as exc:
        v.problems.append(f"{INFERRED}: not the inferred parents of a package ({type(exc).__name__}: {exc})")
        return None
    return len(parents)
