-- When each rumour last got events, so the dashboard's rumour list recomputes only the rumours
-- whose data changed since its last refresh (streams/service/rumour_summary.py) instead of
-- merging the counts of every rumour: one row per rumour after merges, the newest insert time
-- kept (ReplacingMergeTree's version). Read with `changed_at >= X` and no FINAL: before a merge
-- any copy at or past X says "changed", after it the newest one does.
-- Times are the server's clock at the INSERT (now(), as share_events.ingested_at), so every
-- worker writing to this server feeds it, and readers compare with the same server's now().
CREATE TABLE IF NOT EXISTS {database}.rumour_changes
(
    rumour_id String,
    changed_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(changed_at)
ORDER BY rumour_id;

-- The views write through a Buffer: a part per INSERT here would add a third part write to every
-- pipeline batch (about +25% time per 5,000-event INSERT on 18.16, measured; through the buffer
-- no difference was measurable); the buffer writes one at most every 30 s. Readers read the
-- buffer (it answers with its rows and the table's). Rows still in it are lost if the server
-- stops abnormally: a reader that sees the server's uptime restart recomputes everything.
-- Buffer(database, table, layers, min/max seconds, min/max rows, min/max bytes).
CREATE TABLE IF NOT EXISTS {database}.rumour_changes_buffer AS {database}.rumour_changes
ENGINE = Buffer({database}, rumour_changes, 1, 5, 30, 10000, 1000000, 1000000, 100000000);

-- Filled by views on both insert paths, like the minute counts (002, 005): share_events' own
-- view for direct inserts (the chDB store, insert_events_direct), share_event_rows' view for
-- clickhouse-driver's packed inserts (18.16 does not run share_events' views for rows another
-- view writes there; 018 drops that second view where newer servers do).
-- Backfilled (sql/__init__.py): the rumours stored before the view existed, at their last
-- ingestion time. A re-run writes the same rows again; the table keeps one per rumour.
-- backfill
CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.rumour_changes_mv
TO {database}.rumour_changes_buffer
AS SELECT
    rumour_id,
    max(ingested_at) AS changed_at
FROM {database}.share_events
GROUP BY rumour_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.rumour_changes_rows_mv
TO {database}.rumour_changes_buffer
AS SELECT
    splitByChar('\0', fields)[2] AS rumour_id,
    now() AS changed_at
FROM {database}.share_event_rows
GROUP BY rumour_id;
