-- Audit log of the origin-trace service: one row per authenticated request to an audited route
-- (trace of a rumour / event / account, evidence export, audit read), written BEFORE the answer
-- is sent. Append-only: the API has no route that updates or deletes rows; plain MergeTree (no
-- Replacing/Collapsing engine) so nothing is ever merged away. answer_sha256 is the SHA-256 of
-- the body returned (for an evidence package: its evidence digest, see streams/service/evidence.py).
-- Types limited to what clickhouse-server 18.16 knows.
CREATE TABLE IF NOT EXISTS {database}.audit_log
(
    audit_id String,
    ts_ms Int64,
    ts DateTime('UTC') DEFAULT toDateTime(intDiv(ts_ms, 1000), 'UTC'),
    token_id String,
    token_name String,
    role String,
    jurisdiction String,
    case_id String,
    action String,
    rumour_id String,
    params String,
    status UInt16,
    answer_sha256 String,
    remote String
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (ts_ms, audit_id);
