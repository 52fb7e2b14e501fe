"""Kafka topics the engine needs, created before use with the configured partition count.

Faust does not create a source topic that is missing when the worker starts (it logs "Ignoring
missing topic" and never consumes it), and a producer that auto-creates it gets the broker's
default of one partition; so both `rumour worker` and `rumour produce` create them first.
"""
from __future__ import annotations

import asyncio


async def _ensure(bootstrap: str, wanted: dict[str, int]) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name=n, num_partitions=p, replication_factor=1)
                   for n, p in wanted.items() if n not in existing]
        if missing:
            response = await admin.create_topics(missing, timeout_ms=30000)
            # 36 = TOPIC_ALREADY_EXISTS: another worker won the race, which is fine.
            errors = [e for e in response.topic_errors if int(e[1]) not in (0, 36)]
            if errors:
                raise RuntimeError(f"creating Kafka topics failed: {errors}")
            for _ in range(100):
                if {t.name for t in missing} <= set(await admin.list_topics()):
                    break
                await asyncio.sleep(0.1)
        return [t.name for t in missing]
    finally:
        await admin.close()


def ensure_topics(bootstrap: str, wanted: dict[str, int]) -> list[str]:
    """Create the topics of ``wanted`` (name -> partitions) that do not exist; return those created."""
    return asyncio.run(_ensure(bootstrap, wanted))
