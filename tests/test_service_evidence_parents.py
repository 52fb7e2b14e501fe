"""Evidence packages with inferred parents (``/evidence?parents=1``): the trace's inferred links in
``inferred_parents.json`` and a report section of their own, named as the trace names them,
signed like every file, audited; chains and chain.csv untouched; without the parameter the
package is what it was. Also the plain (ASCII) download name of a Chinese case number."""
from __future__ import annotations

import contextlib
import io
import zipfile
from urllib.parse import quote, unquote

import orjson
import pytest

import tests.test_service_trace_parents as parents_tests
from streams.service import evidence
from streams.service.cli import evidence_main
from streams.service.trace_parents import PARENT_KEYS
from tests.service_helpers import get

# The masked cascades replayed and served under both liaison account scopes (one module each).
replayed = parents_tests.replayed
served = parents_tests.served


def export(url, token, query="", case="P-2", status=200):
    code, headers, body = get(f"{url}/api/rumours/jn-1/evidence?case={quote(case)}{query}", token)
    assert code == status, body
    return body, headers


def trace(url, token, query=""):
    answer = parents_tests.trace(url, token, query)
    answer.pop("case_id")  # the answer's, not part of the trace a package holds
    return answer


def members(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def rebuilt(m: dict, key: bytes, zone: str) -> bytes:
    """The package :func:`evidence.build` makes of what the package's own files say."""
    ev = orjson.loads(m["evidence.json"])
    trace = ev.pop("trace")
    ev.pop("format")
    inferred = None
    if evidence.INFERRED in m:
        inferred = {k: orjson.loads(m[evidence.INFERRED])[k] for k in PARENT_KEYS}
    return evidence.build(ev, trace, key, zone, inferred)[0]


def verify(service, data: bytes, tmp_path) -> tuple[int, str, str]:
    path, key = tmp_path / "p.zip", tmp_path / "evidence.key"
    path.write_bytes(data)
    key.write_bytes(service.evidence_key)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = evidence_main(["verify", str(path), "--key-file", str(key)])
    return code, out.getvalue(), err.getvalue()


def test_an_export_with_parents_carries_the_traces_links_apart_from_the_evidence(served, tmp_path):
    services, store, cli = served
    s = services["cascade"]
    shown = trace(s["url"], s["national"], "?parents=1")
    plain_zip, _ = export(s["url"], s["national"])
    data, headers = export(s["url"], s["national"], "&parents=1")
    m, plain = members(data), members(plain_zip)
    assert set(m) == set(plain) | {evidence.INFERRED}
    inferred = orjson.loads(m[evidence.INFERRED])
    # Exactly what the trace on screen showed, and the links the CLI infers.
    assert {k: inferred[k] for k in PARENT_KEYS} == {k: shown[k] for k in PARENT_KEYS}
    assert inferred["parents"] == cli["jn-1"] and len(inferred["parents"]) == 2
    assert "leads, not evidence" in inferred["note"]
    ev = orjson.loads(m["evidence.json"])
    assert (inferred["case_id"], inferred["rumour_id"], inferred["generated_at"]) == \
        (ev["case_id"], "jn-1", ev["generated_at"])
    # The evidence stays observed links: the trace without parents, the same chain.csv.
    assert ev["trace"] == {k: v for k, v in shown.items() if k not in PARENT_KEYS}
    assert not any(k in ev["trace"] for k in PARENT_KEYS)
    assert m["chain.csv"] == plain["chain.csv"]
    # Signed like every file, and the route's package is exactly what build makes of its files.
    manifest = orjson.loads(m["manifest.json"])
    assert set(manifest["files"]) == {*evidence.FILES, evidence.INFERRED}
    assert manifest["evidence_sha256"] == headers["X-Evidence-Digest"]
    assert rebuilt(m, s["service"].evidence_key, s["service"].views.timezone) == data
    # The printed report: a section headed so nobody reads the links as observed.
    html = m["report.html"].decode()
    section = html.split("Inferred links (leads, not evidence)", 1)[1]
    assert html.index("Inferred links (leads, not evidence)") > html.index("Cut-off candidates")
    assert "inferred, not observed" in section
    for share, parent in inferred["parents"].items():
        p = inferred["parent_probability"][share]
        assert f"<td>{share}</td><td>{parent}</td><td>{p:.4f}</td>" in section
    # Each masked share is an origin above (where the trace stops): the row says which.
    origins = [o["event_id"] for o in ev["trace"]["origins"]]
    for share in inferred["parents"]:
        assert f"<td>源头 origin {origins.index(share) + 1}" in section
    # The observed sections read as in the package without parents (bar the times and digests).
    observed = html.split("<h2>推断链接", 1)[0]
    assert observed.split("<h2>源头", 1)[1] == plain["report.html"].decode().split("<h2>源头", 1)[1].split("<h2>完整性", 1)[0]
    assert "Inferred links" not in plain["report.html"].decode()
    code, out, err = verify(s["service"], data, tmp_path)
    assert code == 0, err
    assert f"inferred parents: {evidence.INFERRED} with 2 inferred links" in out


def test_without_parents_the_package_is_the_one_of_before(served, tmp_path):
    services, _, _ = served
    s = services["cascade"]
    for query in ("", "&parents=0"):
        data, _ = export(s["url"], s["national"], query)
        m = members(data)
        assert list(m) == [*evidence.FILES, evidence.MANIFEST]
        assert not any(k in orjson.loads(m["evidence.json"])["trace"] for k in PARENT_KEYS)
        assert rebuilt(m, s["service"].evidence_key, s["service"].views.timezone) == data
        code, out, _ = verify(s["service"], data, tmp_path)
        assert code == 0 and f"inferred parents: none (no {evidence.INFERRED})" in out


def test_a_liaison_below_national_gets_the_links_named_as_its_trace_names_them(served):
    services, _, cli = served
    s = services["jurisdiction"]
    pseudo = s["service"].pseudo
    shown = trace(s["url"], s["qingdao"], "?parents=1")
    inferred = orjson.loads(members(export(s["url"], s["qingdao"], "&parents=1")[0])[evidence.INFERRED])
    assert inferred["identities"] == shown["identities"] == "clear_in_jurisdiction"
    assert inferred["parents"] == shown["parents"] == {pseudo.event(e): pseudo.event(p) for e, p in cli["jn-1"].items()}
    assert inferred["parent_probability"] == shown["parent_probability"]


def test_the_audit_row_records_the_parameter(served):
    services, store, _ = served
    s = services["cascade"]
    for query in ("&parents=1", "&parents=0", ""):
        export(s["url"], s["national"], query, case="P-audit")
    rows = [r for r in store.audit_rows(case_id="P-audit", limit=10) if r["action"] == "evidence"]
    assert [orjson.loads(r["params"]).get("parents") for r in rows[:3]] == [None, 0, 1]  # newest first


@pytest.mark.parametrize("query", ["&parents=2", "&parents=yes"])
def test_a_bad_parents_value_is_refused(served, query):
    services, _, _ = served
    s = services["cascade"]
    body, _ = export(s["url"], s["national"], query, status=400)
    assert "parents: expected 0 or 1" in orjson.loads(body)["error"]


def _zip(m: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in m.items():
            z.writestr(name, content)
    return buf.getvalue()


def test_a_tampered_or_removed_inferred_file_reads_tampered(served, tmp_path):
    services, _, _ = served
    s = services["cascade"]
    m = members(export(s["url"], s["national"], "&parents=1")[0])
    inferred = orjson.loads(m[evidence.INFERRED])
    share = next(iter(inferred["parent_probability"]))
    inferred["parent_probability"][share] = 0.99  # a lead made to look certain
    code, out, err = verify(s["service"], _zip(m | {evidence.INFERRED: orjson.dumps(inferred)}), tmp_path)
    assert code == 1 and "TAMPERED" in err and f"{evidence.INFERRED}: SHA-256" in err
    # Dropped from the package (a liaison keeping only the evidence): listed but missing.
    code, _, err = verify(s["service"], _zip({n: b for n, b in m.items() if n != evidence.INFERRED}), tmp_path)
    assert code == 1 and f"{evidence.INFERRED}: listed in the manifest but missing" in err
    # Dropped from the manifest too: the signed digest no longer matches.
    manifest = orjson.loads(m["manifest.json"])
    del manifest["files"][evidence.INFERRED]
    code, _, err = verify(s["service"], _zip({n: b for n, b in m.items() if n != evidence.INFERRED}
                                             | {"manifest.json": orjson.dumps(manifest)}), tmp_path)
    assert code == 1 and "TAMPERED" in err


def test_a_chinese_case_numbers_plain_download_name_keeps_its_ascii_parts(served):
    # curl -OJ reads only filename=: 沪公刑(2026)7号 was saved as evidence-_____2026__7_.zip.
    services, _, _ = served
    s = services["cascade"]
    case = "沪公刑(2026)7号"
    data, headers = export(s["url"], s["national"], "", case=case)
    day = orjson.loads(members(data)["evidence.json"])["generated_at"][:10].replace("-", "")
    disposition = headers["Content-Disposition"]
    assert disposition.isascii()
    plain = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert plain == f"evidence-2026-7-jn-1-{day}.zip"
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == f"evidence-{case}.zip"
    # An ASCII case number keeps its own name in both.
    _, headers = export(s["url"], s["national"], "", case="P-7")
    assert headers["Content-Disposition"].startswith('attachment; filename="evidence-P-7.zip"; ')


def test_the_openapi_description_lists_parents_on_the_export(served):
    services, _, _ = served
    code, _, body = get(services["cascade"]["url"] + "/openapi.json")
    params = orjson.loads(body)["paths"]["/api/rumours/{rumour_id}/evidence"]["get"]["parameters"]
    assert code == 200 and "parents" in {p["name"] for p in params}
