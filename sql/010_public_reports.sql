-- Public reports of rumours (issue 7), one row per report as received, duplicates included:
-- a merged duplicate names its first report in duplicate_of ('' for a first report).
-- rumour_id is '' when no cascade matched; link_method is event_id, text or none.
-- Re-delivery (an HTTP retry with the same report_id, a Kafka re-delivery) writes the same
-- report_id again; ReplacingMergeTree keeps one row per id and readers use FINAL.
-- On a cluster (sql/cluster.py) rows go to a shard by report_id, not rumour_id: a report linked
-- later (by hand, sql/023) is written again with another rumour_id, and both rows must meet on
-- one shard for FINAL to keep only the later.
-- shard-key: cityHash64(report_id)
CREATE TABLE IF NOT EXISTS {database}.public_reports
(
    report_id String,
    reporter String,
    post_id String,
    link String,
    text String,
    report_ms Int64,
    received_ms Int64,
    received_at DateTime('UTC') DEFAULT toDateTime(intDiv(received_ms, 1000), 'UTC'),
    region String,
    region_code String,
    rumour_id String,
    link_method String,
    similarity Float64,
    duplicate_of String,
    source String,
    ingested_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(ingested_at)
ORDER BY report_id;
