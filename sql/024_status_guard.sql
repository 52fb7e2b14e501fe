-- A guarded status change (one that names the status it replaces: expected_status) across
-- workers (streams/governance/status_guard.py). `replaces` names the change it replaces as
-- 'changed_ms/status/changed_by' of that row, 'none' when the rumour had no status yet, '' for an
-- unguarded change (every row written before this file). `outcome`: 0 an unguarded change or a
-- guarded one whose writer has not finished, 1 accepted, 2 withdrawn (it met a competitor). An
-- outcome is written as the change's row again (same key: ReplacingMergeTree keeps the later).
-- unless-column: rumour_status_history replaces
ALTER TABLE {database}.rumour_status_history ADD COLUMN replaces String DEFAULT '';
-- unless-column: rumour_status_history outcome
ALTER TABLE {database}.rumour_status_history ADD COLUMN outcome UInt8 DEFAULT 0;
