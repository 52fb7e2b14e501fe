-- The client's own id of a report (``report_id`` in the POST body, a desk's idempotency key),
-- as the POST answer echoes it in ``client_report_id``: stored so that a report read back from
-- the store (GET /api/rumours/{id}/reports, a re-send answered after a restart) still names
-- it. '' when the client gave none, and for rows written before this file or by a process
-- older than it (their client ids were never kept).
-- unless-column: public_reports client_report_id
ALTER TABLE {database}.public_reports ADD COLUMN client_report_id String DEFAULT '';
