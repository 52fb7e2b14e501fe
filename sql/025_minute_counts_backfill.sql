-- The per-minute counts of events stored before sql/002: its view counts only the events inserted
-- after it exists, and 002 has no backfill, so a store made by the first release (001 alone) and
-- upgraded kept its old events out of share_minute_counts: minute_counts, the dashboard's rumour
-- list and the jurisdiction check of every rumour route (rumour_region_kinds: no rows, "unknown
-- rumour") did not see them. (025: 024 is taken by another change of the same release.)
-- Only the (rumour, minute) groups that have no counts at all are filled: on a store migrated
-- before it got events (every store made since 002) that is none, and this file costs one read of
-- share_events' rumour_id and ts against the keys of share_minute_counts, never a set of every
-- event id in memory. The SELECT is share_minute_counts_mv's (002), so the states are the same
-- sets of event ids: a re-run after a crash, or events inserted meanwhile, merge into them and
-- are counted once.
INSERT INTO {database}.share_minute_counts
SELECT
    rumour_id,
    toStartOfMinute(ts) AS minute,
    ifNull(region, '') AS region,
    kind,
    uniqExactState(event_id) AS shares
FROM {database}.share_events
WHERE (rumour_id, toStartOfMinute(ts)) NOT IN (SELECT rumour_id, minute FROM {database}.share_minute_counts)
GROUP BY rumour_id, minute, region, kind;
