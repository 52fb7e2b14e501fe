-- Per-minute share counts per rumour, region and kind, filled by a materialized view on every
-- insert into share_events. The view sees inserted blocks, not the deduplicated table, so it
-- keeps the *set* of event ids (uniqExactState) rather than a count(): a re-delivered event
-- merges into the same state and is counted once. Read with uniqExactMerge(shares).
-- A null region is stored as '' (sorting keys cannot be Nullable on 18.16).
CREATE TABLE IF NOT EXISTS {database}.share_minute_counts
(
    rumour_id String,
    minute DateTime('UTC'),
    region String,
    kind Enum8('post' = 0, 'share' = 1, 'comment' = 2, 'debunk' = 3),
    shares AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (rumour_id, minute, region, kind);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.share_minute_counts_mv
TO {database}.share_minute_counts
AS SELECT
    rumour_id,
    toStartOfMinute(ts) AS minute,
    ifNull(region, '') AS region,
    kind,
    uniqExactState(event_id) AS shares
FROM {database}.share_events
GROUP BY rumour_id, minute, region, kind;
