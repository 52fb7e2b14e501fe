-- The events 025 could still leave out of share_minute_counts, counted. 025 filled only the
-- (rumour, minute) pairs with no counts at all, so an event stored before sql/002's view existed
-- stayed uncounted when an event of the same rumour and minute was counted after it: one that a
-- worker still running during the upgrade wrote between 002 and 025 (the current minute), or a
-- late or re-delivered event with an old time written at any time after 002.
-- Exact: an event uncounted by every view is one whose rows were all inserted before 002's view
-- existed, and 002 was recorded after its view was made. ingested_at is the server's clock at the
-- INSERT (a DEFAULT no writer sends; ReplacingMergeTree keeps a row's newest, and a copy inserted
-- later was counted), so every row ingested up to 002's record, plus 10 minutes for the clocks of
-- a cluster's nodes, holds every such event. Counting some twice is harmless: the states are
-- 002's sets of event ids (uniqExactState, the view's own SELECT), which merge into the same set.
-- Cheap: a store made since 002 (001 and 002 applied in one run) has no event ingested before
-- then, so this reads share_events' ingested_at and holds nothing; a store of the first release
-- holds the sets of the events it had at its upgrade to 002, as 025 did. With no record of 002 in
-- sight (a replica behind), every event is counted again: slower, still exact.
INSERT INTO {database}.share_minute_counts
SELECT
    rumour_id,
    toStartOfMinute(ts) AS minute,
    ifNull(region, '') AS region,
    kind,
    uniqExactState(event_id) AS shares
FROM {database}.share_events
WHERE toUInt32(ingested_at) <= (SELECT if(count() = 0, toUInt32(now()), toUInt32(max(applied_at)))
                                FROM {database}.schema_migrations WHERE version = 2) + 600
GROUP BY rumour_id, minute, region, kind;
