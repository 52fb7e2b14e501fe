"""Kafka fixtures (the real broker started by scripts/services.sh)."""
