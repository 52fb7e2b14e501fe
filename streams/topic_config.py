"""The share topic's ``max.message.bytes`` raised when the topic predates it (created before the
``max_message_bytes`` setting, or with a smaller one): it kept the broker's ~1 MB and Kafka
refused larger messages at the producer, whatever the setting said.

aiokafka's admin client has ``describe_configs`` but only the legacy ``alter_configs``, which
replaces every dynamic setting of the topic (an operator's ``retention.ms`` would be lost); so the
change goes through Kafka's IncrementalAlterConfigs (API key 44, version 0, which Kafka 4.1 serves),
declared here with aiokafka's protocol types: it sets this one key and leaves the others alone.
"""
from __future__ import annotations

import logging
from typing import TypeAlias

from aiokafka.errors import for_code
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Schema, String

log = logging.getLogger(__name__)

TOPIC_RESOURCE = 2  # Kafka's ConfigResource type of a topic
SET = 0  # IncrementalAlterConfigs operation: set the value


class IncrementalAlterConfigsResponse_v0(Response):
    API_KEY = 44
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("responses", Array(("error_code", Int16), ("error_message", String("utf-8")),
                            ("resource_type", Int8), ("resource_name", String("utf-8")))),
    )


class IncrementalAlterConfigsRequest_v0(RequestStruct):
    API_KEY = 44
    API_VERSION = 0
    RESPONSE_TYPE = IncrementalAlterConfigsResponse_v0
    SCHEMA = Schema(
        ("resources", Array(("resource_type", Int8), ("resource_name", String("utf-8")),
                            ("configs", Array(("name", String("utf-8")), ("config_operation", Int8),
                                              ("value", String("utf-8")))))),
        ("validate_only", Boolean),
    )


IncrementalAlterConfigsStruct: TypeAlias = IncrementalAlterConfigsRequest_v0


class IncrementalAlterConfigs(Request[IncrementalAlterConfigsStruct]):
    """Set ``configs`` (name -> value) of one topic, leaving its other settings as they are."""

    API_KEY = 44

    def __init__(self, topic: str, configs: dict[str, str]):
        self.topic, self.configs = topic, configs

    def build(self, request_struct_class):
        entries = [(name, SET, value) for name, value in self.configs.items()]
        return request_struct_class([(TOPIC_RESOURCE, self.topic, entries)], False)


def manual_command(topic: str, value: int) -> str:
    """The command the README gives for raising the limit by hand.

    >>> manual_command("shares", 16842752)
    'kafka-configs.sh --alter --entity-type topics --entity-name shares --add-config max.message.bytes=16842752'
    """
    return (f"kafka-configs.sh --alter --entity-type topics --entity-name {topic} "
            f"--add-config max.message.bytes={value}")


async def topic_message_limit(admin, topic: str) -> int | None:
    """The topic's ``max.message.bytes`` as the broker reports it (None: not reported)."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                                             {"max.message.bytes": None})])
    for response in responses:
        for error_code, _, _, name, entries, *_ in response.resources:
            if name != topic or error_code:
                continue
            for entry in entries:
                if entry[0] == "max.message.bytes" and entry[1] is not None:
                    return int(entry[1])
    return None


def message_limit(bootstrap: str, topic: str) -> int | None:
    """:func:`topic_message_limit` on its own connection (None: not reported)."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    async def read() -> int | None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            return await topic_message_limit(admin, topic)
        finally:
            await admin.close()

    return asyncio.run(read())


async def raise_message_limit(admin, topic: str, wanted: int) -> int | None:
    """Raise ``topic``'s ``max.message.bytes`` to ``wanted`` if it is smaller; one log line when
    it did or could not (a warning naming the manual command; the caller carries on). Returns
    the limit the topic has after: ``wanted`` when raised, else what the broker reported (None
    when it did not say)."""
    try:
        current = await topic_message_limit(admin, topic)
    except Exception as exc:  # noqa: BLE001 - a broker that will not say is judged like a refusal
        current, error = None, f"{type(exc).__name__}: {exc}"
    else:
        error = "the broker did not report it"
    if current is not None and current >= wanted:
        return current
    if current is not None:
        try:
            response = await admin._send_request(IncrementalAlterConfigs(topic, {"max.message.bytes": str(wanted)}))
            failed = [(code, message) for code, message, _, name in response.responses if code]
        except Exception as exc:  # noqa: BLE001 - e.g. a broker without the API
            failed = [(-1, f"{type(exc).__name__}: {exc}")]
        if not failed:
            log.warning("Kafka topic %s: max.message.bytes raised from %d to %d (the max_message_bytes "
                        "setting plus the batch overhead)", topic, current, wanted)
            return wanted
        code, message = failed[0]
        error = (for_code(code).__name__ if code > 0 else "failed") + (f": {message}" if message else "")
    log.warning("Kafka topic %s: max.message.bytes is %s, under the %d the max_message_bytes setting needs, "
                "and could not be raised (%s); larger messages are refused until it is: %s",
                topic, "unknown" if current is None else current, wanted, error, manual_command(topic, wanted))
    return current
