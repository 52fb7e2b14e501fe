-- Status history of each rumour (received, verified, debunked, handled): append-only, one row
-- per change with who made it and when. The current status is argMax over changed_ms
-- (sql/governance_queries.py). The sorting key covers the whole fact, so a retried insert of
-- the same change collapses while distinct changes are all kept.
CREATE TABLE IF NOT EXISTS {database}.rumour_status_history
(
    rumour_id String,
    status Enum8('received' = 1, 'verified' = 2, 'debunked' = 3, 'handled' = 4),
    changed_by String,
    changed_ms Int64,
    changed_at DateTime('UTC') DEFAULT toDateTime(intDiv(changed_ms, 1000), 'UTC'),
    note String
)
ENGINE = ReplacingMergeTree()
ORDER BY (rumour_id, changed_ms, status, changed_by);
