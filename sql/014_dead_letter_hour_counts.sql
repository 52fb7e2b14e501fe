-- Dead letters per hour and reason kind, for readers that must not see a letter itself (the
-- ClickHouse user `grafana`, deploy/clickhouse/users.d/grafana.xml): no payload, no rumour or
-- event id, no source, and no full reason. A reason may quote the refused input after its first
-- ':' ("ts: not RFC 3339: '...'", "kind: expected one of ..., got '...'"), so only the part
-- before it is kept: a fixed kind or the name of the field at fault (streams/events.py,
-- DeadLetter). A reason without ':' is kept whole: every writer's is a constant
-- (streams/crossref.py, streams/crossref_late.py, graph/types.py REASON_TEXT).
-- Filled by a materialized view on every insert into dead_letters: dead letters are rare, so
-- the view costs nothing worth counting (no view is added on share_events, the ingest path).
-- Re-delivery: the view sees inserted blocks, not dead_letters' deduplicated rows, so letters
-- holds the set of dead_letters' sorting key (source, reason, cityHash64(raw)), not a count:
-- a re-delivered copy merges into the same set and is counted once, as FINAL counts it. A copy
-- received in another hour lands in that hour's set too: a sum over hours of per-hour counts
-- would count it in each, a uniqExactMerge over the hours (what the dashboard does) counts it
-- once. latest is the newest receipt of any copy. Read with uniqExactMerge / maxMerge.
-- Times come from received_ms (received_at's DEFAULT expression spelled out), not received_at.
-- Letters deleted from dead_letters later (ALTER TABLE ... DELETE) stay counted here: delete
-- the same hours here too.
CREATE TABLE IF NOT EXISTS {database}.dead_letter_hour_counts
(
    hour DateTime('UTC'),
    reason_kind String,
    letters AggregateFunction(uniqExact, String, String, UInt64),
    latest AggregateFunction(max, DateTime('UTC'))
)
ENGINE = AggregatingMergeTree()
ORDER BY (hour, reason_kind);

-- Backfilled (sql/__init__.py): the runner then inserts this SELECT over the letters stored
-- before the view existed (a database migrated from an older version). Safe to run again, and
-- a letter inserted meanwhile is read by both: the states are sets of keys and a maximum.
-- backfill
CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.dead_letter_hour_counts_mv
TO {database}.dead_letter_hour_counts
AS SELECT
    toStartOfHour(toDateTime(intDiv(received_ms, 1000), 'UTC')) AS hour,
    splitByChar(':', reason)[1] AS reason_kind,
    uniqExactState(source, reason, cityHash64(raw)) AS letters,
    maxState(toDateTime(intDiv(received_ms, 1000), 'UTC')) AS latest
FROM {database}.dead_letters
GROUP BY hour, reason_kind;
