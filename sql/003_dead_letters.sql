-- Messages and events the decoder or pipeline refused, with the raw bytes exactly as received
-- (String holds arbitrary bytes, including invalid UTF-8) and the reason.
-- rumour_id / event_id are '' when the refused input did not carry them.
-- Re-delivery (a Kafka rebalance, a retried write, replaying the same file) must not multiply
-- them: a dead letter is identified by where it came from (source: file:line or
-- topic/partition@offset), why, and a hash of its bytes. ReplacingMergeTree keeps one row per
-- key and readers use FINAL. No time partitioning, so copies received in different months
-- still collapse; the table stays small (old rows can go with ALTER TABLE ... DELETE).
CREATE TABLE IF NOT EXISTS {database}.dead_letters
(
    received_ms Int64,
    received_at DateTime('UTC') DEFAULT toDateTime(intDiv(received_ms, 1000), 'UTC'),
    source String,
    reason String,
    rumour_id String,
    event_id String,
    raw String
)
ENGINE = ReplacingMergeTree()
ORDER BY (source, reason, cityHash64(raw));
