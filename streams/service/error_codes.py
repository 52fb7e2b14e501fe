"""The machine-readable ``code`` of every error answer of the API (``{"error", "status", "code"}``).

``error`` is the server's text in English, for curl and logs; ``code`` is what a client keys its
own words on: the dashboard shows each code in the user's language (``static/errors.js``), so a
zh-CN user no longer reads the server's English. A code names the kind of refusal, never more
than the status and text already tell (``unknown_rumour`` both for an unknown rumour and for one
outside the caller's jurisdiction, as the 404's text is the same for both).

:data:`CODES` is the one list: :func:`streams.service.responses._error` refuses a code not in it,
and tests/test_error_codes.py checks that the codes the server's source emits, this list and the
dashboard's table are the same set (a new code without a translation fails there).
"""
from __future__ import annotations

# code -> (the HTTP status it comes with, when a client meets it): README "Errors" and the
# OpenAPI description's ErrorCode list are made from this table.
CODES: dict[str, tuple[str, str]] = {
    # the token (every /api route and /metrics)
    "token_required": ("401", "no token, or an unknown, expired or revoked one"),
    "tokens_unreadable": ("503", "the server's tokens file cannot be read: no token can be checked now"),
    # what the token may do
    "role_forbidden": ("403", "the token's role may not use this route"),
    "pseudonym_only": ("403", "this role traces accounts and events by their pseudonyms (psn_, pev_) only"),
    "outside_jurisdiction": ("403", "?jurisdiction= names a division outside the token's own"),
    "national_admin_only": ("403", "only a national (000000) admin may read this"),
    # not found (or not visible to the caller: the same answer)
    "unknown_rumour": ("404", "no such rumour, or none that spread in the token's jurisdiction"),
    "unknown_event": ("404", "no such event in the rumour (or one the caller may not name in clear)"),
    "unknown_account": ("404", "no such account in the rumour (or one the caller may not name in clear)"),
    "no_cascade": ("404", "the rumour has only debunks: nothing to draw or trace"),
    "unknown_report": ("404", "no such report the caller may read"),
    "no_debunk_figures": ("404", "the rumour has no debunk figures"),
    "no_such_route": ("404", "no route at this path"),
    "no_such_file": ("404", "no such dashboard file"),
    # the request
    "bad_parameter": ("400", "a query or path parameter is invalid, unknown to the route or given twice"),
    "bad_path": ("400", "the path is not valid percent-encoded UTF-8"),
    "case_required": ("400", "a case number is required (X-Case-Id, or ?case= on an export)"),
    "bad_case": ("400", "the case number is not valid, or ?case= and X-Case-Id differ"),
    "bad_body": ("400", "the JSON body is invalid or a field of it is"),
    "body_too_large": ("413", "the body is larger than the route takes"),
    "body_not_json": ("415", "the body is not application/json"),
    "method_not_allowed": ("405", "the route does not take this method (Allow lists those it does)"),
    "malformed_request": ("400", "the HTTP parser refused the request (the connection is closed)"),
    "url_not_encoded": ("400", "the URL holds raw non-ASCII bytes: percent-encode it (UTF-8)"),
    "header_too_long": ("400", "the request line or a header is longer than 8190 bytes"),
    "bad_request": ("4xx", "another refusal of the HTTP layer (its status says which)"),
    # conflicts
    "status_conflict": ("409", "the handling status changed since the caller read it: read it again"),
    "report_linked": ("409", "the report is linked to a rumour already (`link` names it)"),
    # the server
    "governance_off": ("503", "the governance loop does not run in this process"),
    "audit_unavailable": ("503", "the audit row cannot be written, so no answer is given"),
    "status_unchecked": ("503", "the store's replicas could not all be read to check the change: try again"),
    "store_unavailable": ("500", "the store could not be reached or refused the query: try again"),
    "vendor_missing": ("503", "a dashboard library is missing on the server (npm ci in web/)"),
    "internal_error": ("500", "a fault of the server (logged)"),
}


def check(code: str) -> str:
    """``code`` if it is one of :data:`CODES`; an unlisted code is a bug (it would reach clients
    with no translation).

    >>> check("unknown_rumour")
    'unknown_rumour'
    >>> check("unknown_rumor")
    Traceback (most recent call last):
    ...
    ValueError: error code 'unknown_rumor' is not in streams.service.error_codes.CODES
    """
    if code not in CODES:
        raise ValueError(f"error code {code!r} is not in streams.service.error_codes.CODES")
    return code
