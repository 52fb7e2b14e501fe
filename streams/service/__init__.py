"""The live dashboard and the police-liaison origin-trace service.

One HTTP surface (:mod:`streams.service.http`) is mounted by ``rumour serve`` (embedded, over
files, aiohttp directly) and by the Faust worker (``streams/web.py``, against Kafka and
ClickHouse). Modules:

- ``paths``: where tokens and keys live (``RUMOUR_TOKENS_FILE``).
- ``tokens``: hashed bearer tokens (issue, list, revoke), reloaded when the file changes.
- ``access``: roles, what each may do, jurisdiction codes.
- ``pseudonym``: keyed pseudonyms of account ids for the analyst role.
- ``views``: the answers (rumour list, detail, tree, traces with evidence chains).
- ``audit``: audit rows written before an answer leaves.
- ``evidence``: the evidence package (zip) and its verification.
- ``openapi``: the OpenAPI 3 description of every route.
- ``http``: routing, authentication, handlers, metrics.
- ``cli``: ``rumour serve``, ``rumour token``, ``rumour evidence``.

Roles (see ``access.PERMISSIONS``):

========  ===========================================================================
analyst   dashboard data, rumour list, traces with pseudonymised account ids; X-Case-Id optional
liaison   the same with account ids in clear (X-Case-Id mandatory) and evidence packages
admin     everything a liaison may do, plus the audit log
========  ===========================================================================
"""
