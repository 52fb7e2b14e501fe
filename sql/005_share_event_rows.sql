-- Cheap insert path for clickhouse-driver (issue 5). The clickhouse-server writer sends share
-- events here and two materialized views move them on; share_events and its readers are
-- unchanged (the chDB store still inserts into share_events directly).
-- Why: with share_events' own columns the driver spends about 2 us/event of Python (holding the
-- GIL) on its per-value work: a check per Nullable value, a lookup per Enum8 value, an encode per
-- string, a struct conversion per number. Here an event's seven short string fields and a code
-- travel as ONE String, joined by '\0' in the order event_id, rumour_id, account_id,
-- parent_event_id, parent_account_id, platform, region, code (the client encodes a whole batch
-- at once and checks no value holds a '\0'). The code, in decimal, is kind * 32 plus a bit per
-- null field (1 parent_event_id, 2 parent_account_id, 4 platform, 8 region, 16 text), a null
-- being sent as ''. text has its own column: it is the long, often non-ASCII one; kept apart,
-- the short fields stay one byte per character in Python and encode as a copy. Nothing is
-- Nullable or Enum on this side.
-- ENGINE = Null keeps nothing: the views see each inserted block and that is all.
-- On a cluster (sql/cluster.py) rows are sharded by their rumour, the second field of `fields`,
-- so they land on the shard that share_events' own key (cityHash64(rumour_id)) would pick.
-- shard-key: cityHash64(splitByChar('\0', fields)[2])
CREATE TABLE IF NOT EXISTS {database}.share_event_rows
(
    fields String,
    text String,
    ts_ms Int64
)
ENGINE = Null;

-- The row share_events gets from a direct insert. ts and ingested_at are the table's DEFAULT
-- expressions, spelled out rather than left to how a server version fills the columns a view
-- leaves out. The same splitByChar(...) text is computed once per block.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.share_event_rows_mv
TO {database}.share_events
AS SELECT
    splitByChar('\0', fields)[1] AS event_id,
    splitByChar('\0', fields)[2] AS rumour_id,
    splitByChar('\0', fields)[3] AS account_id,
    ts_ms,
    toDateTime(intDiv(ts_ms, 1000), 'UTC') AS ts,
    if(bitAnd(toUInt8(splitByChar('\0', fields)[8]), 1), NULL, splitByChar('\0', fields)[4]) AS parent_event_id,
    if(bitAnd(toUInt8(splitByChar('\0', fields)[8]), 2), NULL, splitByChar('\0', fields)[5]) AS parent_account_id,
    CAST(toInt8(intDiv(toUInt8(splitByChar('\0', fields)[8]), 32)) AS Enum8('post' = 0, 'share' = 1, 'comment' = 2, 'debunk' = 3)) AS kind,
    if(bitAnd(toUInt8(splitByChar('\0', fields)[8]), 4), NULL, splitByChar('\0', fields)[6]) AS platform,
    if(bitAnd(toUInt8(splitByChar('\0', fields)[8]), 8), NULL, splitByChar('\0', fields)[7]) AS region,
    if(bitAnd(toUInt8(splitByChar('\0', fields)[8]), 16), NULL, text) AS text,
    now() AS ingested_at
FROM {database}.share_event_rows;

-- Per-minute counts as share_minute_counts_mv computes them (a null region is ''): 18.16 does
-- not run share_events' own views for rows another view writes there, so this view feeds the
-- counts. Newer servers do run them, so there the same events reach share_minute_counts twice;
-- the states are sets of event ids (uniqExactState) and a set merged with itself is unchanged,
-- but the work is double: 006 drops this view on servers from 22.3.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.share_event_rows_minutes_mv
TO {database}.share_minute_counts
AS SELECT
    splitByChar('\0', fields)[2] AS rumour_id,
    toStartOfMinute(toDateTime(intDiv(ts_ms, 1000), 'UTC')) AS minute,
    splitByChar('\0', fields)[7] AS region,
    CAST(toInt8(intDiv(toUInt8(splitByChar('\0', fields)[8]), 32)) AS Enum8('post' = 0, 'share' = 1, 'comment' = 2, 'debunk' = 3)) AS kind,
    uniqExactState(splitByChar('\0', fields)[1]) AS shares
FROM {database}.share_event_rows
GROUP BY rumour_id, minute, region, kind;
