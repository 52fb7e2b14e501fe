-- Audited requests per hour, action and HTTP status, for readers that must not see who traced
-- what (the ClickHouse user `grafana`, deploy/clickhouse/users.d/grafana.xml): no token, no
-- case id, no rumour id, no parameters, no remote address.
-- Filled by a materialized view on every insert into audit_log (one row per audited request: a
-- negligible cost). queries holds the set of audit ids, not a count: audit_log is a plain
-- MergeTree, so a retried insert of the same rows keeps both copies there, while here a
-- re-written audit_id merges into the same set and is counted once. Read with uniqExactMerge.
-- Times come from ts_ms (ts's DEFAULT expression spelled out), not from ts.
CREATE TABLE IF NOT EXISTS {database}.audit_hour_counts
(
    hour DateTime('UTC'),
    action String,
    status UInt16,
    queries AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, action, status);

-- Backfilled (sql/__init__.py): the runner then inserts this SELECT over the rows logged
-- before the view existed, one scan of audit_log, once. Safe to run again, and a row logged
-- meanwhile is read by both: the states are sets of audit ids.
-- backfill
CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.audit_hour_counts_mv
TO {database}.audit_hour_counts
AS SELECT
    toStartOfHour(toDateTime(intDiv(ts_ms, 1000), 'UTC')) AS hour,
    action,
    status,
    uniqExactState(audit_id) AS queries
FROM {database}.audit_log
GROUP BY hour, action, status;
