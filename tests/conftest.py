"""Shared test wiring. Service fixtures live in tests/plugins/ (one module per service)."""
import importlib
import os
from pathlib import Path

import pytest

# Imported for what its import does: streams drops the numba caches whose callees changed
# (streams/kernel_cache.py), before any kernel runs.
importlib.import_module("streams")

pytest_plugins = [
    "tests.plugins.clickhouse",
    "tests.plugins.clickhouse_cluster",
    "tests.plugins.kafka",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("RUMOUR_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(what: str) -> None:
    """Skip a test whose service or data is missing; under CI=true fail instead."""
    if in_ci():
        pytest.fail(f"{what} is required under CI=true but is not available", pytrace=False)
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder ../shared/data with the real cascades (tar.gz files and README)."""
    if not (SHARED_DATA / "weibo-ced-dev.tar.gz").exists():
        unavailable(f"shared data at {SHARED_DATA}")
    return SHARED_DATA
