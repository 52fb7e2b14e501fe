-- audit_hour_suppressed (sql/020) has had no reader since sql/021: Grafana's hourly panels read
-- audit_hour_counts and audit_hour_refusals (served and refused requests apart), its user was
-- never granted this table, and the one query that read it (all audited requests per hour, a
-- summary row as the requests it stands for) went with it. Its view ran on every audit_log
-- insert for nothing. The view goes first: a view left without its target would make each insert
-- into audit_log fail. DROP TABLE drops a view on 18.16 and on current servers alike; IF EXISTS
-- makes a re-run (a crash before the file was recorded) harmless.
DROP TABLE IF EXISTS {database}.audit_hour_suppressed_mv;
DROP TABLE IF EXISTS {database}.audit_hour_suppressed;
