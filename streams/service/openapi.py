"""OpenAPI 3.0 description generated from the route table (so no route goes undocumented)."""
from __future__ import annotations

from streams.service.access import PERMISSIONS
from streams.service.error_codes import CODES
from streams.service.routes import ROUTES

_ERRORS = {
    "400": "Invalid parameter, a query parameter this route does not take or given twice, or a "
           "trace without the mandatory case number",
    "401": "No token, or an unknown or revoked token",
    "403": "The token's role may not do this",
    "404": "Unknown rumour, event or account; a rumour with no post, share or comment in the "
           "token's jurisdiction (a debunk there does not count) gets the same answer (its "
           "existence is not revealed)",
    "503": "The audit log could not be written: no answer is given",
}
_GOVERNANCE_503 = "The governance loop does not run in this process"
_BODY_ERRORS = {"413": "Body larger than 64 KiB", "415": "Body is not application/json"}
# Every error answer's shape: `code` is what a client keys its own words on (the dashboard's
# zh-CN and English), `error` the server's English text.
_ERROR_SCHEMA = {
    "type": "object", "required": ["error", "status", "code"],
    "properties": {
        "error": {"type": "string", "description": "the server's text (English), for people and logs"},
        "status": {"type": "integer", "description": "the HTTP status, repeated"},
        "code": {"type": "string", "enum": list(CODES),
                 "description": "the kind of refusal, stable across releases: "
                                + "; ".join(f"{code} ({status}): {meaning}" for code, (status, meaning) in CODES.items())},
    },
    "description": "Some refusals add keys: a 409 on a report's link names it (`link`), a 409 on a "
                   "status change the change it met (`competitor`)",
}
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def spec(version: str = "0.1.0") -> dict:
    paths: dict = {}
    for r in ROUTES:
        params = [{"name": seg[1:-1], "in": "path", "required": True,
                   "schema": {"type": "string", "maxLength": 256}}
                  for seg in r.segments if seg.startswith("{")]
        params += [{"name": n, "in": "query", "required": False, "schema": {"type": t},
                    "description": d} for n, t, d in r.query]
        params += [{"name": n, "in": "header", "required": False, "schema": {"type": "string"},
                    "description": d} for n, d in r.headers]
        roles = [role for role, perms in PERMISSIONS.items() if r.action in perms] if r.action else []
        responses = {"200": {"description": "OK", "content": {r.produces: {}}}}
        if r.method == "POST":
            responses["201"] = {"description": "Created"}
        if any(name == "If-None-Match" for name, _ in r.headers):
            responses["304"] = {"description": "Not modified: the answer's ETag is the one given"}
        if r.action:
            for code, text in _ERRORS.items():
                if code == "503" and not r.audited:
                    continue
                responses[code] = {"description": text}
            if r.governance:
                prior = responses.get("503", {}).get("description")
                responses["503"] = {"description": f"{prior}; or: {_GOVERNANCE_503}" if prior else _GOVERNANCE_503}
        if r.body:
            responses.update({k: {"description": v} for k, v in _BODY_ERRORS.items()})
        op = {
            "operationId": r.name,
            "tags": ["governance"] if r.governance else ["trace"] if r.action else ["site"],
            "summary": r.summary,
            "parameters": params,
            "responses": responses,
            "security": [{"bearer": []}] if r.action else [],
        }
        if r.action:
            op["x-roles"] = roles
            op["description"] = (f"Roles: {', '.join(roles)}. "
                                 + ("Audited: one audit row is stored before the answer. " if r.audited else ""))
        if r.body:
            op["requestBody"] = {"required": True, "description": r.body,
                                 "content": {"application/json": {"schema": {"type": "object"}}}}
        for status, response in responses.items():
            if status >= "400":
                response["content"] = _ERROR_CONTENT
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "rumour-trace: dashboard and origin-trace service", "version": version,
                 "description": "Tokens: `rumour token issue --role analyst|liaison|admin|monitor "
                                "--jurisdiction CODE [--expires-days N]`. Send `Authorization: "
                                "Bearer <token>`. An expired or revoked token gets 401."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": {"Error": _ERROR_SCHEMA}},
        "paths": paths,
    }
