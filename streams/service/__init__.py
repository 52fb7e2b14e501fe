"""The live dashboard and the police-liaison origin-trace service.

One HTTP surface (:mod:`streams.service.http`) is mounted by ``rumour serve`` (embedded, over
files, aiohttp directly) and by the Faust worker (``streams/web.py``, against Kafka and
ClickHouse). Modules:

- ``paths``: where tokens and keys live (``RUMOUR_TOKENS_FILE``).
- ``tokens``: hashed bearer tokens (issue, list, revoke, expiry), reloaded when the file changes.
- ``access``: roles, what each may do, jurisdiction codes.
- ``pseudonym``: keyed pseudonyms of account ids (``psn_``) and of event ids (``pev_``).
- ``accounts``: pseudonym -> account id per rumour (a reverse map built once per rumour version).
- ``event_ids``: event pseudonym -> event id per rumour (the rumour's graph, hashed as it grows).
- ``identities``: which account ids a caller sees in clear (the ``liaison_account_scope``
  setting): the one decision every trace and evidence answer goes through.
- ``views``: the answers (rumour list, detail, tree, traces with evidence chains).
- ``tree_view``: the cascade tree's events and nesting, whole or under one event (``?under=``);
  ``tree_depth``: its depth cut.
- ``audit``: audit rows written before an answer leaves.
- ``audit_trail``: the audit rows of one request (one row per audited request, written before
  the answer or ahead of a change; 503 when it cannot be written).
- ``probes``: the audit rows of requests with no valid token (no "who"; rate-limited a minute,
  the rest summarised).
- ``evidence``: the evidence package (zip): its files, digest and signature.
- ``evidence_verify``: checking a package (``rumour evidence verify``).
- ``openapi``: the OpenAPI 3 description of every route.
- ``regions``: province/city/county of a share and division names (zh-CN, English).
- ``governance``: answers over the governance hub (reports, status, alerts, debunk reach).
- ``http``, ``governance_http``, ``trace_http``: routing, authentication, handlers, metrics
  (``trace_http``: the audited trace, evidence and audit-log routes); ``responses``: JSON
  answers and refusals; ``errors``: aiohttp's own errors (unknown route, method, body size,
  malformed request) in the same JSON shape; ``error_codes``: the ``code`` of every error answer
  (the dashboard words each in zh-CN and English: ``static/errors.js``).
- ``authn``: the token check of every protected request (a mixin of ``http``'s Service).
- ``cli``: ``rumour serve``, ``rumour token``, ``rumour evidence``.

Roles (see ``access.PERMISSIONS``):

========  ===========================================================================
analyst   dashboard data, rumour list, traces with pseudonymised account ids (an account is
          traced by its pseudonym only: a clear id would reveal its pseudonym); X-Case-Id
          optional; submit reports; change a rumour's handling status
liaison   the same views with account ids in clear (X-Case-Id mandatory) and evidence packages;
          submit reports; no status changes (police trace, the centre decides the handling).
          Which accounts are in clear is the centre's choice (``liaison_account_scope``):
          ``cascade`` every account of the rumour; ``jurisdiction`` (tokens below 000000)
          only the accounts with an event of the rumour inside the token's jurisdiction
admin     everything a liaison may do, plus the audit log, status changes and ``/metrics``
monitor   ``/metrics`` only (Prometheus); its jurisdiction is not used (issue it for 000000)
========  ===========================================================================

Choices (documented here because the acceptance checks rely on them):

- The page ``/`` and its assets, ``/openapi.json`` and ``/healthz`` are open; every ``/api/...``
  route and ``/metrics`` need ``Authorization: Bearer <token>``. ``/metrics`` counts requests
  per route and status (how many evidence packages were exported, how many traces refused):
  operators' data, so it needs a ``monitor`` token (made for Prometheus, which keeps it in a
  file, so it may do nothing else) or an ``admin`` one. Its counters are the process's, not
  scoped to a jurisdiction. The page asks for the token and keeps
  it in ``sessionStorage`` (this tab only).
- Tokens expire (``token_days`` setting, or ``rumour token issue --expires-days N | --expires
  DATE``; 0 = never): an expired token is refused exactly like a revoked one (401; its audit row,
  which names no one, says which: ``streams.service.probes``).
  Records without an expiry (files written before expiries existed) never expire.
  The dashboard's header shows the expiry (``/api/me``'s ``expires_at``) and warns in the
  token's last 7 days (``static/expiry.js``), so that a shift does not end in a 401.
- Every user sees only rumours with at least one post, share or comment in its jurisdiction
  (``access.spread_regions``, for the list, every rumour route and the report intake alike).
  A debunk does not count: a county's debunking platform that posts a debunk of a rumour which
  never reached the county does not give that county's desks the rumour (its cascade, account
  ids, reports, status, debunk figures). For them a rumour whose only shares in the county are
  debunks is a rumour outside the jurisdiction, like any other; there is no separate view of
  one's own debunk work: its reach is counted in ``/debunk`` for the desks where the rumour
  spread. A rumour whose shares are all debunks spread nowhere: only a national token
  (``000000``, outside which nothing lies) sees it. A
  rumour outside it gets exactly the answer of an unknown one on every rumour route (404,
  ``{"error": "unknown rumour '<id>'", "status": 404}``, same headers): a 403 would tell the
  caller that the rumour exists elsewhere, so a county desk could enumerate the province's
  rumours by id. 404 rather than 403 for both because "no such rumour for you" is the truth
  from the caller's side, and because 404 already is the answer for an unknown id. The audit
  row (audited routes) records 403 for the refusal and 404 for an unknown rumour, so an
  auditor still tells them apart: a national admin; an admin below reads 404 on such a row
  when its own jurisdiction does not cover the rumour either (``audit.as_answered``), or the
  audit would tell it which rumours exist elsewhere. Event and account routes check the rumour first, so an
  event or account of a rumour outside the jurisdiction is answered the same way.
- Event ids follow their accounts (a post id leads to its author on the platform): wherever an
  account is pseudonymised, its events are shown by their ``pev_`` pseudonyms, with no text
  hash, on every route and export; the event trace takes that form from anyone and an id in
  clear only where its account is in clear to the caller (:mod:`streams.service.trace_http`).
- Dashboard routes (``/api/rumours``, ``/api/rumours/{id}``, ``/tree``) show pseudonyms for every
  role and are not audited (they are polled every 2 s). Clear account ids leave only through
  the audited trace and evidence routes.
- Liaison account scope (``liaison_account_scope``, :mod:`streams.service.identities`): under
  ``cascade`` (the default) a liaison sees every account of a rumour in its jurisdiction in
  clear, including accounts that shared it only elsewhere. Under ``jurisdiction``, a liaison
  token below ``000000`` sees in clear only the accounts with at least one event of that rumour
  (any kind, a debunk too) whose region lies inside its jurisdiction; every other account (an
  event without a region lies in no jurisdiction below the national one; a parent-only account
  has no event) is shown by its analyst pseudonym, in the three traces (origins, chains,
  cut-off candidates, the account route's ``scope``) and the evidence package (JSON, CSV,
  HTML; ``identities: clear_in_jurisdiction``). Admins and national liaisons are unchanged.
  The account route given an account id in clear that the scope does not show in clear
  answers exactly like an unknown account (404, ``unknown account '<id>'``): answering with its
  pseudonym would tie the two (why analysts trace by pseudonym only), and a 403 would tell that
  the account acted in the rumour elsewhere. The audit row records 403 when the account has an
  event in the rumour, 404 when not; the account's pseudonym still traces it. Every audited
  trace and evidence row records the rule applied in its ``params`` as ``account_scope``
  (``pseudonymised``, ``cascade`` or ``jurisdiction``); ``/api/me`` gives the caller's own.
- Audit: every authenticated request to an audited route (the three traces, evidence, the
  audit log itself) writes exactly one row before the answer, with its status (so refusals
  with 400/403/404 are recorded too, with the rumour and the case number they asked for; the
  row's status is the decision, which for a jurisdiction refusal is 403 although the caller got
  404). A request with no valid token (401, on any protected route) writes a row that names no
  one, rate-limited (``probes``: the settings ``refusal_rows_per_minute`` and
  ``refusal_summary_peers``; a national admin counts them per hour and reason, summarised ones
  included, with ``/api/audit/refusals``); its 401 leaves even when that row cannot be written. If the row
  of an authenticated request cannot be written the
  answer is withheld (503). A status change (also audited) writes its row before the change is
  made: no row, no change; a change that fails after its row gets a second row (500).
  A row records until when the caller's token was valid (``token_expires_ms``: epoch ms, 0 never,
  -1 not recorded for rows older than sql/013); ``/api/audit`` and an evidence package's
  ``generated_by`` give it in ``/api/me``'s words.
- HEAD: answered on every GET route except the audited ones (the traces, evidence, the audit
  log), which refuse it with 405 (``Allow: GET``) before the token is read, so no row is
  written: a HEAD gets no body, and its audit row would record an export or a trace that never
  left (the package would even be built and signed for nothing). A client that wants to know
  whether it may export asks ``/api/me`` (``may_export``).
- Origin confidence: see :data:`streams.service.views.CONFIDENCE_METHOD`.

The governance loop (:mod:`streams.governance`; served when a hub is attached, else 503):

- ``POST /api/reports``: any valid token. Reports come from the public through the centre's
  intake desk or debunking platform, which submit on the public's behalf with their own token;
  the token id is kept as the report's ``source`` (``http:<token id>``). A report may name a post
  anywhere: the answer names the linked rumour (``rumour_id``, ``link_method``, ``similarity``)
  only when the token's jurisdiction covers it. A report linked to a rumour outside it is
  answered exactly like a report that matched nothing: those three null and
  ``routed_upward: true`` (the report was received; the desks whose jurisdiction covers its
  rumour, up to the province and the centre, see it in that rumour's reports). Saying "linked
  elsewhere" would tell a desk that a rumour exists outside its jurisdiction, as a 403 on a
  rumour route would. A national token covers everything and gets the whole answer
  (``routed_upward: false``). A report merged into an earlier one (200, ``duplicate: true``)
  names that report (``duplicate_of``) only when the caller may read it: its own desk's report,
  or one linked to a rumour inside its jurisdiction; otherwise the answer is that of a new
  report (201, ``duplicate_of: null``), since "merged" would tell that another desk reported
  the same thing (the merge itself is kept). A client's ``report_id`` is the desk's own
  idempotency key: the stored id is derived from it and the token (``report_id`` in the answer,
  the client's id as ``client_report_id``), so a re-send of the desk's own report is answered
  ``repeated: true`` with that report, while the same id from another desk is a new report of
  that desk: no desk reaches another desk's report by its id, and desks that number their
  reports alike do not collide (a 409 for a taken id would tell that it exists). A desk that
  re-sends with a new token gets a new report, merged as a duplicate by its content. Not
  audited (public intake, stored in full). Re-sends and merging hold across a restart: the
  desk restores the reports of the last ``report_dedup_hours`` from the store and finds an
  older re-sent id there by its key (:mod:`streams.governance.reports`); ``client_report_id``
  is stored with the report.
- ``GET /api/rumours/{id}/reports`` and ``/status``: any role with jurisdiction over the rumour;
  a report names its reporter in clear only to the desk that took it in (the token whose
  ``http:`` id is its ``source``), and by the reporter's pseudonym to everyone else, liaisons
  and admins included: reporters are the public, not suspects, and a trace or a case needs the
  report, not its reporter's name (data minimisation; the store keeps the name). Reporter
  pseudonyms are not the accounts' (a reporter name is free text, so it would reveal any
  account's pseudonym). ``identities: "own_in_clear"`` in the answer says so.
- ``GET /api/reports/unlinked``: any role; the reports that linked to no rumour (no rumour gives
  them a jurisdiction) that the token took in (reporter in clear) or that a token inside its
  jurisdiction took in (the desks above it, up to the centre; reporter pseudonymised); a report
  not taken in over HTTP or by a token no longer in the tokens file: national tokens only.
  Audited (reporters' reports outside any rumour's scope).
- ``POST /api/reports/{report_id}/link``: analyst and admin (those who set a status) who may
  read the report (as above) and cover the rumour (as for its status); otherwise, and for an
  unknown report or rumour, 404 naming nothing else; a linked report 409 with its link (null
  outside the caller's jurisdiction). ``linked_by`` is the token. Audited before it is made.
  Rules and why: :mod:`streams.service.governance_unlinked`.
- ``POST /api/rumours/{id}/status``: analyst and admin with jurisdiction over the rumour; body
  ``{"status", "note"}`` only: ``changed_by`` is the token (``name (id)``), a body that names
  someone is refused (400). Audited like a trace (one row, whatever the outcome), no case needed.
- ``GET /api/alerts``: any role; alerts of the units inside the token's jurisdiction (a city
  token sees its city's and its counties' alerts; ``?jurisdiction=`` narrows, never widens);
  a unit's alerts count only the rumour's posts, shares and comments there (debunks count in no
  unit: ``streams.governance.alerts``), so a debunk neither raises an alert in its unit nor
  shows that unit the rumour through one;
  the attached trace is pseudonymised for every role (the route is polled, not audited).
- ``GET /api/rumours/{id}/debunk``: any role with jurisdiction over the rumour (where it was
  posted, shared or commented: a desk whose only shares of it are its own debunks gets 404).
- POST bodies: JSON only (415), at most 64 KiB (413).
"""
