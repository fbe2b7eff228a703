"""The execution layer between callers and backends."""
