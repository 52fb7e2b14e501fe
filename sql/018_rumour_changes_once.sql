-- requires-version: 22.3
-- As 006 for the minute counts: servers from 22.3 run share_events' own views for the rows
-- share_event_rows_mv writes there, so rumour_changes_mv (017) already sees every packed
-- insert and rumour_changes_rows_mv would write the same rumours a second time (right, as
-- the table keeps one row per rumour, but twice the work on the ingest path).
DROP TABLE IF EXISTS {database}.rumour_changes_rows_mv;
