-- A report linked to its rumour by hand (POST /api/reports/{report_id}/link): the report's row is
-- written again with rumour_id set and link_method 'manual' (ReplacingMergeTree keeps the later
-- row), and these columns say who linked it (token name and id), when (epoch ms) and why.
-- '' / 0 for every automatic link and for rows written before this file.
-- unless-column: public_reports linked_by
ALTER TABLE {database}.public_reports ADD COLUMN linked_by String DEFAULT '';
-- unless-column: public_reports linked_ms
ALTER TABLE {database}.public_reports ADD COLUMN linked_ms Int64 DEFAULT 0;
-- unless-column: public_reports link_note
ALTER TABLE {database}.public_reports ADD COLUMN link_note String DEFAULT '';
