-- Requests refused for their token (sql/019: auth_failure set) per hour, route and reason, so
-- that readers of the aggregates (Grafana's hourly panels, sql.queries.audit_hour_served and
-- audit_hour_refused) can tell served requests from refused ones: audit_hour_counts (sql/015)
-- counts a refused request written as a row of its own under its route, beside the requests
-- that route served, and its status cannot tell them apart (a served request can be a 503 too,
-- a refusal for an unreadable tokens file is one).
-- One row per refusal row of audit_log (action: its route; reason: its auth_failure; requests 1)
-- and per reason of each summary row (streams/service/probes.py: action 'unauthenticated',
-- auth_failure 'suppressed', its refusals per reason in params "reasons", which sum to its
-- "suppressed"; requests: that reason's count). `refusal` is a hash of the audit row's id (not
-- the id), so a retried insert, which audit_log keeps twice, is the same key, read once with
-- FINAL; uniqExact(refusal) counts the audit rows (a summary once) that audit_hour_counts
-- counted under an action. The reasons' keys and counts are read with extractAll, as
-- audit_refusal_hours reads them (18.16 has no JSONExtract). At most refusal_rows_per_minute + 1
-- rows a minute per process reach audit_log for refusals: this table stays small.
CREATE TABLE IF NOT EXISTS {database}.audit_hour_refusals
(
    hour DateTime('UTC'),
    action String,
    reason String,
    refusal UInt64,
    requests UInt64
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, action, reason, refusal);

-- Backfilled (sql/__init__.py): the refusal rows written since sql/019, once; a row logged
-- meanwhile is written by both and read once (same key).
-- backfill
CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.audit_hour_refusals_mv
TO {database}.audit_hour_refusals
AS SELECT
    toStartOfHour(toDateTime(intDiv(ts_ms, 1000), 'UTC')) AS hour,
    action,
    reason,
    sipHash64(audit_id) AS refusal,
    toUInt64(count_text) AS requests
FROM {database}.audit_log
ARRAY JOIN
    if(auth_failure = 'suppressed', extractAll(visitParamExtractRaw(params, 'reasons'), '"([^"]*)":'),
       [auth_failure]) AS reason,
    if(auth_failure = 'suppressed', extractAll(visitParamExtractRaw(params, 'reasons'), ':([0-9]+)'),
       ['1']) AS count_text
WHERE auth_failure != '';
