-- The refused requests each summary row of audit_log stands for, per hour, so that the hourly
-- counts of audited requests (Grafana's panel, sql.queries.audit_hour_requests) count such a row
-- as the requests it summarises, not as one. A summary row (streams/service/probes.py: the
-- refusals of a minute beyond its first 60, auth_failure 'suppressed', action 'unauthenticated')
-- keeps their number in params as "suppressed"; audit_hour_counts (sql/015) counts its audit id
-- once, like any row. One row here per summary row: `summary` is a hash of its audit id (not
-- the id), so a retried insert, which audit_log keeps twice, is the same key and is read once
-- with FINAL. A table of its own rather than a column of audit_hour_counts: a second view
-- filling only some of that table's columns is refused by 18.16 ("Expected column").
-- Summary rows are at most one a minute per process: this table stays small.
CREATE TABLE IF NOT EXISTS {database}.audit_hour_suppressed
(
    hour DateTime('UTC'),
    action String,
    status UInt16,
    summary UInt64,
    requests UInt64
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, action, status, summary);

-- Backfilled (sql/__init__.py): the summary rows written since sql/019, once; a row logged
-- meanwhile is written by both and read once (same key).
-- backfill
CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.audit_hour_suppressed_mv
TO {database}.audit_hour_suppressed
AS SELECT
    toStartOfHour(toDateTime(intDiv(ts_ms, 1000), 'UTC')) AS hour,
    action,
    status,
    sipHash64(audit_id) AS summary,
    visitParamExtractUInt(params, 'suppressed') AS requests
FROM {database}.audit_log
WHERE auth_failure = 'suppressed';
