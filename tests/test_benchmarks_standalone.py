"""A benchmark runs from a checkout without the test tree: no module of benchmarks/ imports
tests (benchmarks/soak.py took its worker and services from tests/faults.py; they now live in
benchmarks/worker_process.py and benchmarks/private_services.py, which tests/faults.py re-exports)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_benchmark_module_imports_the_test_tree():
    files = sorted(BENCHMARKS.glob("*.py"))
    assert len(files) > 40 and BENCHMARKS / "soak.py" in files
    offenders = {f.name: sorted(m for m in imported_modules(f) if m == "tests" or m.startswith("tests."))
                 for f in files}
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_the_fault_helpers_keep_their_names_in_tests_faults():
    from benchmarks import private_services, worker_process
    from tests import faults

    assert faults.Worker is worker_process.Worker and faults.wait_until is worker_process.wait_until
    assert faults.private_kafka is private_services.private_kafka
    assert all(hasattr(faults, name) for name in faults.__all__)


@pytest.mark.kafka
def test_the_one_topic_helper_refuses_a_name_the_broker_refuses(kafka_topic, kafka_bootstrap):
    # tests/plugins/kafka.py's kafka_topic is this helper now; the benchmarks' copy never read
    # the broker's answer, so a name already taken passed as a topic just created.
    from benchmarks.worker_process import create_named_topic
    from tests.plugins import kafka

    taken = kafka_topic(2, prefix="one-helper")
    with pytest.raises(RuntimeError, match=f"creating topic {taken} failed"):
        create_named_topic(kafka_bootstrap, taken, 2)
    assert not hasattr(kafka, "_create_topic")  # one copy left


@pytest.mark.kafka
def test_the_topic_helper_follows_the_replication_settings(kafka_bootstrap, monkeypatch):
    # It made every topic with one replica and the broker's min.insync.replicas, whatever the
    # settings: a benchmark on a three-broker cluster measured topics unlike the product's.
    import asyncio
    import uuid

    from benchmarks.worker_process import create_named_topic
    from streams.topics import ReplicationRefused
    from tests.plugins.kafka import _delete_topics
    from tests.test_topic_replication import _replicas_and_min_isr

    names = [f"helper-repl-{uuid.uuid4().hex[:10]}" for _ in range(3)]
    try:
        # The settings' min.insync.replicas is set on the topic itself, as the product does.
        create_named_topic(kafka_bootstrap, names[0], 2)
        assert asyncio.run(_replicas_and_min_isr(kafka_bootstrap, names[0])) == ({1}, "1", True)
        # A factor from the environment (one broker here): the product's refusal naming the setting.
        monkeypatch.setenv("RUMOUR_TOPIC_REPLICATION_FACTOR", "3")
        with pytest.raises(ReplicationRefused, match=r"^setting topic_replication_factor .* is 3, but Kafka"):
            create_named_topic(kafka_bootstrap, names[1], 1)
        monkeypatch.delenv("RUMOUR_TOPIC_REPLICATION_FACTOR")
        with pytest.raises(ReplicationRefused, match=f"cannot create topic {names[2]} with 2 replicas"):
            create_named_topic(kafka_bootstrap, names[2], 1, replication_factor=2)
    finally:
        asyncio.run(_delete_topics(kafka_bootstrap, names))
