"""The examples in the docstrings of ``streams/``, ``sql/`` and ``benchmarks/`` run (pytest
collects doctests under ``graph/`` only, see pyproject's testpaths; importing every adapter module there would start
nothing, but a module list here keeps the set explicit and fails when a module stops importing)."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import benchmarks
import sql
import streams


def _modules_with_examples() -> list[str]:
    names = []
    for package in (streams, sql, benchmarks):
        for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + "."):
            module = importlib.import_module(info.name)
            finder = doctest.DocTestFinder(exclude_empty=True)
            if any(test.examples for test in finder.find(module)):
                names.append(info.name)
        if package is sql:
            # sql's own module (the migration runner) has examples too
            if any(t.examples for t in doctest.DocTestFinder(exclude_empty=True).find(sql)):
                names.append("sql")
    return sorted(names)


MODULES = _modules_with_examples()


def test_the_governance_helpers_have_examples():
    # The SQL builders and the batch helpers of the governance observers document themselves by example; if this
    # list loses them, the walk above stopped finding modules.
    for name in ("streams.governance.batchview", "streams.governance.alert_kernels",
                 "streams.governance.alert_rules", "streams.governance.debunks",
                 "sql.cluster", "sql.queries", "benchmarks.ingest_kit", "benchmarks.accuracy_stats"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_streams_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
