-- Share events, format v1, one row per accepted event.
-- Idempotent under re-delivery: a retried batch or a Kafka re-delivery inserts the same
-- (rumour_id, event_id) again; ReplacingMergeTree keeps one row per key (the newest
-- ingested_at) at merge time, and readers use FINAL so duplicates are never visible.
-- ts is derived from ts_ms on the server so clients send only the ms column; both it and the
-- partition key come from the event time, so a re-delivered copy lands in the same partition
-- (ReplacingMergeTree only collapses rows within one partition).
-- Types are limited to what clickhouse-server 18.16 knows (no DateTime64, LowCardinality, CODEC).
CREATE TABLE IF NOT EXISTS {database}.share_events
(
    event_id String,
    rumour_id String,
    account_id String,
    ts_ms Int64,
    ts DateTime('UTC') DEFAULT toDateTime(intDiv(ts_ms, 1000), 'UTC'),
    parent_event_id Nullable(String),
    parent_account_id Nullable(String),
    kind Enum8('post' = 0, 'share' = 1, 'comment' = 2, 'debunk' = 3),
    platform Nullable(String),
    region Nullable(String),
    text Nullable(String),
    ingested_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (rumour_id, event_id);
