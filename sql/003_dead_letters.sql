-- Messages and events the decoder or pipeline refused, with the raw bytes exactly as received
-- (String holds arbitrary bytes, including invalid UTF-8) and the reason.
-- rumour_id / event_id are '' when the refused input did not carry them.
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
ENGINE = MergeTree()
PARTITION BY toYYYYMM(received_at)
ORDER BY (received_at, source);
