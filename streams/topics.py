"""Kafka topics the engine needs, created before use with the configured partition count.

Faust does not create a source topic that is missing when the worker starts (it logs "Ignoring
missing topic" and never consumes it), and a producer that auto-creates it gets the broker's
default of one partition; so both `rumour worker` and `rumour produce` create them first.
Also what lands on them: the partition a rumour's messages go to (:func:`partitioner`) and the
dead-letter topic's message (:func:`dead_letter_message`).
"""
from __future__ import annotations

import asyncio
import base64
import logging
import random
import time

import orjson

log = logging.getLogger(__name__)


INVALID_REPLICATION_FACTOR = 38  # Kafka's error: more replicas asked for than live brokers


class ReplicationRefused(ValueError):
    """The topics cannot be created with the replication asked for: fewer live brokers than
    ``topic_replication_factor``. A ValueError: a setting that does not fit the cluster, refused
    in one line (`rumour: error: ...`, exit 2) like any other bad setting."""


def replication_refused(factor: int, brokers: list[int], bootstrap: str, topics) -> ReplicationRefused:
    """The one-line refusal naming the setting.

    >>> print(replication_refused(3, [1], "127.0.0.1:9092", ["shares"]))
    setting topic_replication_factor (RUMOUR_TOPIC_REPLICATION_FACTOR, --topic-replication-factor) is 3, but Kafka at 127.0.0.1:9092 has 1 live broker (ids 1): cannot create topic shares with 3 replicas; lower the setting or start the missing brokers
    """
    from streams.settings import setting, setting_label

    n = len(brokers)
    return ReplicationRefused(
        f"{setting_label(setting('topic_replication_factor'))} is {factor}, but Kafka at {bootstrap} has "
        f"{n} live broker{'' if n == 1 else 's'} (ids {', '.join(map(str, sorted(brokers))) or 'none'}): "
        f"cannot create topic{'' if len(topics) == 1 else 's'} {', '.join(topics)} with {factor} replicas; "
        "lower the setting or start the missing brokers")


def created_topic_config(config: dict, min_insync_replicas: int | None) -> dict:
    """A topic's configuration as created: ``config`` plus its ``min.insync.replicas`` (None: the
    broker's default, not set).

    >>> created_topic_config({"max.message.bytes": "9"}, 2)
    {'max.message.bytes': '9', 'min.insync.replicas': '2'}
    >>> created_topic_config({}, None)
    {}
    """
    if min_insync_replicas is None:
        return dict(config)
    return {**config, "min.insync.replicas": str(min_insync_replicas)}


async def _warn_fewer_replicas(admin, names: list[str], factor: int) -> None:
    # Kafka cannot raise a topic's replication by configuration (it takes a partition
    # reassignment), so a topic made before the setting, or by a producer, stays as it is: said
    # once per start, the event loss it risks is not silent.
    if factor <= 1 or not names:
        return
    for topic in await admin.describe_topics(names):
        replicas = min((len(p["replicas"]) for p in topic.get("partitions") or []), default=None)
        if replicas is not None and replicas < factor:
            log.warning("Kafka topic %s has %d replica(s), fewer than topic_replication_factor %d: a broker's "
                        "loss can lose its events until it is reassigned (kafka-reassign-partitions.sh)",
                        topic["topic"], replicas, factor)


async def _ask_reachable_node(admin) -> None:
    # The admin client sends each request to a broker of the cluster's metadata drawn at random
    # (aiokafka's get_random_node), and the metadata lists a broker killed moments ago until the
    # controller fences it, or for good when the controller quorum went with it (two of the three
    # compose nodes down): a check then failed with NodeNotReadyError most times, at random. One
    # broker it can connect to is asked instead; none: left as it was (the retry below reports).
    # aiokafka's admin client has no public way to pick the broker: its private client is used
    # when it has the shape this was written against (aiokafka 0.14, pinned in pyproject.toml), else nothing is done
    # and the retry below copes as before.
    client = getattr(admin, "_client", None)
    if not all(hasattr(client, name) for name in ("cluster", "ready", "get_random_node")):
        return
    nodes = [b.nodeId for b in client.cluster.brokers()]
    random.shuffle(nodes)
    for node in nodes:
        if await client.ready(node):
            client.get_random_node = lambda node=node: node
            return


async def _ensure(bootstrap: str, wanted: dict[str, int], configs: dict[str, dict],
                  replication_factor: int, min_insync_replicas: int | None) -> dict[str, int | None]:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from streams.topic_config import raise_message_limit

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await _ask_reachable_node(admin)
        existing = set(await admin.list_topics())
        to_create = [n for n in wanted if n not in existing]
        if to_create and replication_factor > 1:
            # Checked here rather than left to Kafka's error 38: the refusal can name the setting
            # and the brokers that are up. Only when a topic is to be made: with the topics there,
            # a worker restarted while one broker is down must start.
            brokers = [b["node_id"] for b in (await admin.describe_cluster())["brokers"]]
            if len(brokers) < replication_factor:
                raise replication_refused(replication_factor, brokers, bootstrap, to_create)
        missing = [NewTopic(name=n, num_partitions=wanted[n], replication_factor=replication_factor,
                            topic_configs=created_topic_config(configs.get(n, {}), min_insync_replicas))
                   for n in to_create]
        if missing:
            response = await admin.create_topics(missing, timeout_ms=30000)
            # 36 = TOPIC_ALREADY_EXISTS: another worker won the race, which is fine; that topic
            # has the other one's configuration, so it is judged below like one that existed.
            errors = [e for e in response.topic_errors if int(e[1]) not in (0, 36)]
            if any(int(e[1]) == INVALID_REPLICATION_FACTOR for e in errors):
                # A broker lost between the check above and the creation.
                brokers = [b["node_id"] for b in (await admin.describe_cluster())["brokers"]]
                raise replication_refused(replication_factor, brokers, bootstrap,
                                          [e[0] for e in errors if int(e[1]) == INVALID_REPLICATION_FACTOR])
            if errors:
                raise RuntimeError(f"creating Kafka topics failed: {errors}")
            existing |= {e[0] for e in response.topic_errors if int(e[1]) == 36}
            for _ in range(100):
                if {t.name for t in missing} <= set(await admin.list_topics()):
                    break
                await asyncio.sleep(0.1)
        await _warn_fewer_replicas(admin, [n for n in wanted if n in existing], replication_factor)
        limits: dict[str, int | None] = {}
        for name in wanted:
            limit = configs.get(name, {}).get("max.message.bytes")
            if limit is None:
                limits[name] = None  # not asked for: the broker's default, not read
            elif name not in existing:
                limits[name] = int(limit)  # created with it
            else:
                # A topic created earlier keeps the message limit it was created with (the
                # broker's ~1 MB for those made before the setting existed): raised here when
                # smaller than needed.
                limits[name] = await raise_message_limit(admin, name, int(limit))
        return limits
    finally:
        await admin.close()


def ensure_topics(bootstrap: str, wanted: dict[str, int], configs: dict[str, dict] | None = None,
                  replication_factor: int = 1, min_insync_replicas: int | None = None) -> dict[str, int | None]:
    """Create the topics of ``wanted`` (name -> partitions) that do not exist, each with its
    ``configs`` (name -> Kafka topic configuration) if any, ``replication_factor`` replicas and
    ``min_insync_replicas`` (None: the broker's default). An existing topic's
    ``max.message.bytes`` is raised to its ``configs`` value when smaller
    (streams/topic_config.py; a refusal is one warning line, not an error); one with fewer
    replicas than ``replication_factor`` is left as it is, with a warning.

    :class:`ReplicationRefused` when a topic is to be created and fewer brokers than
    ``replication_factor`` are live (Kafka would refuse it with error 38).

    Returns each wanted topic's effective ``max.message.bytes``, as created, read or raised here
    (what :func:`streams.topic_config.message_limit` would read after), so a caller needs no
    second round trip; None where ``configs`` asks for no limit (the broker's default, not read)
    or the broker did not report it."""
    return asyncio.run(_ensure_patiently(bootstrap, wanted, configs or {}, replication_factor, min_insync_replicas))


# How long a create/check waits out a broker that the cluster's metadata still lists but that is
# down (a broker killed moments ago stays listed until the controller fences it, ~9 s by Kafka's
# default broker.session.timeout.ms): the admin client may send to it and get NodeNotReadyError.
NODE_DOWN_PATIENCE_S = 30.0


async def _ensure_patiently(*args) -> dict[str, int | None]:
    """:func:`_ensure`, tried again with a fresh admin client while a broker the metadata names is
    unreachable (a worker restarted while one broker of three is down must start). A cluster not
    reachable at all fails at once, as before (the bootstrap connection's own error)."""
    from aiokafka.errors import NodeNotReadyError, RequestTimedOutError

    deadline = time.monotonic() + NODE_DOWN_PATIENCE_S
    while True:
        try:
            return await _ensure(*args)
        except (NodeNotReadyError, RequestTimedOutError) as exc:
            if time.monotonic() >= deadline:
                raise
            log.warning("Kafka: %s; trying again (a broker listed by the cluster is down)", exc)
            await asyncio.sleep(1.0)


def topic_replication(settings) -> dict:
    """:func:`ensure_topics`' replication arguments from the settings (``topic_replication_factor``,
    ``topic_min_insync_replicas``): the benchmarks' topics get them too.

    >>> from streams.settings import Settings
    >>> topic_replication(Settings.load({"topic_replication_factor": 3, "topic_min_insync_replicas": 2}, environ={}))
    {'replication_factor': 3, 'min_insync_replicas': 2}
    """
    return {"replication_factor": settings.topic_replication_factor,
            "min_insync_replicas": settings.topic_min_insync_replicas}


def ensure_engine_topics(settings, wanted: dict[str, int],
                         configs: dict[str, dict] | None = None) -> dict[str, int | None]:
    """:func:`ensure_topics` at ``settings.broker`` with the replication settings: what the
    worker and `rumour produce` create their topics with."""
    from streams.produce import kafka_bootstrap

    return ensure_topics(kafka_bootstrap(settings.broker), wanted, configs, **topic_replication(settings))


def faust_topics(settings) -> dict[str, int]:
    """The topics Faust makes itself when the worker starts (name -> partitions): its assignor's
    leader topic (``<app_id>-__assignor-__leader``, Faust's name; the agent keeps no tables, so
    no changelog). The worker creates it first with the others: Faust would make it with
    ``topic_replication_factor`` replicas too, but with fewer brokers live it failed later, after
    the store and the warm-up, with Faust's own error (Kafka's 38) instead of the one-line refusal.

    >>> from streams.settings import Settings
    >>> faust_topics(Settings.load({"app_id": "rt"}, environ={}))
    {'rt-__assignor-__leader': 1}
    """
    return {f"{settings.app_id}-__assignor-__leader": 1}


# Kafka record batch overhead beside a message's own bytes (headers, key, batch header).
MESSAGE_OVERHEAD_BYTES = 64 << 10


def share_topic_config(max_message_bytes: int) -> dict:
    """The share topic's configuration: it takes messages up to the ``max_message_bytes`` setting
    (the broker's default, about 1 MB, refused a larger one at the producer, which failed the
    messages batched with it: the worker, which dead-letters an event above ``max_event_bytes``
    with its reason, never saw them).

    >>> share_topic_config(16 << 20)
    {'max.message.bytes': '16842752'}
    """
    return {"max.message.bytes": str(max_message_bytes + MESSAGE_OVERHEAD_BYTES)}


def partitioner(n_partitions: int):
    """The partition a rumour id lands on when used as the message key (Kafka's murmur2, as the
    Java and aiokafka default partitioners compute it)."""
    from aiokafka.partitioner import murmur2

    def partition(rumour_id: str) -> int:
        return (murmur2(rumour_id.encode("utf-8")) & 0x7FFFFFFF) % n_partitions

    return partition


DEAD_LETTER_RAW_BYTES = 64 << 10  # a Kafka message must stay under the broker's ~1 MB limit


def dead_letter_message(dead) -> bytes:
    """A dead letter as the JSON sent to the dead-letter topic (raw bytes base64-encoded; at most
    the first 64 KiB: the store keeps the rest)."""
    return orjson.dumps({
        "reason": dead.reason,
        "source": dead.source,
        "received_ms": dead.received_ms,
        "rumour_id": dead.rumour_id,
        "event_id": dead.event_id,
        "raw_base64": base64.b64encode(dead.raw[:DEAD_LETTER_RAW_BYTES]).decode("ascii"),
        "raw_bytes": len(dead.raw),
    })
