"""ClickHouse fixtures (real clickhouse-server through clickhouse-driver, and chDB)."""
