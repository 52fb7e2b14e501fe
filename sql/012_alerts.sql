-- Alerts routed to jurisdiction units (a city or county code): one row per alert; detail is
-- the alert as JSON (rule figures and the trace at the time). alert_id is a hash of
-- (rumour, unit, rule, minute), so a worker that replays a batch writes the same id again.
CREATE TABLE IF NOT EXISTS {database}.alerts
(
    alert_id String,
    rumour_id String,
    unit String,
    level String,
    rule String,
    minute_ms Int64,
    minute DateTime('UTC') DEFAULT toDateTime(intDiv(minute_ms, 1000), 'UTC'),
    minute_shares UInt32,
    window_shares UInt32,
    previous_window_shares UInt32,
    detail String
)
ENGINE = ReplacingMergeTree()
ORDER BY (unit, rumour_id, alert_id);
