-- The expiry of the token that made an audited request, so the log itself says until when that
-- token was valid. Int64 epoch ms, like ts_ms: the exact instant the token is refused from
-- (streams/service/tokens.py compares ms), comparable with ts_ms in SQL on both servers
-- (DateTime64 is not in 18.16; DateTime drops the ms). 0: the token never expires.
-- -1 (the default): not recorded. Rows written before this file, and rows written by a process
-- older than this file into a migrated table, read back -1; a String '' default would make
-- those rows claim "never", which nobody checked.
-- unless-column: audit_log token_expires_ms
ALTER TABLE {database}.audit_log ADD COLUMN token_expires_ms Int64 DEFAULT -1;
