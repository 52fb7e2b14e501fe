-- Requests that brought no valid token (401; 503 when the tokens file cannot be read) are
-- audited too (streams/service/probes.py): such a row has no token, name, role or jurisdiction,
-- and says why the token was refused (auth_failure: missing, malformed, unknown, wrong_secret,
-- revoked, expired, tokens_unreadable; suppressed for the one summary row of a minute's refusals
-- beyond the rate limit) and what was presented, as a keyed fingerprint (token_fingerprint,
-- 16 hex digits; never the token). Both '' on the rows of authenticated requests, and on rows
-- written before this file or by a process older than it.
-- unless-column: audit_log auth_failure
ALTER TABLE {database}.audit_log ADD COLUMN auth_failure String DEFAULT '';
-- unless-column: audit_log token_fingerprint
ALTER TABLE {database}.audit_log ADD COLUMN token_fingerprint String DEFAULT '';
