"""Kafka side of the governance loop for the Faust worker.

``register_governance_agents(app, hub)`` adds to a Faust app:

* an agent on the ``reports`` topic (``hub.config.reports_topic``): each message is one
  report (JSON object) or a JSON array of reports; each goes through the same intake as
  HTTP (``source="kafka"``); refused ones are logged with their reason;
* an alert sink that sends every alert (JSON, keyed by the unit's code, so one unit's alerts
  stay in order on one partition) to the ``alerts`` topic (``hub.config.alerts_topic``).

Call it after ``create_app`` (the worker must also create both topics, e.g. with
``streams.topics.ensure_topics``), and attach the hub to the pipeline (``hub.attach()``).
"""
from __future__ import annotations

import asyncio
import logging

import orjson

log = logging.getLogger(__name__)


def decode_reports(value: bytes) -> list:
    """The reports carried by one message (an object, or an array of objects)."""
    obj = orjson.loads(value)
    return obj if isinstance(obj, list) else [obj]


def alert_message(alert: dict) -> tuple[bytes, bytes]:
    return alert["unit"].encode(), orjson.dumps(alert, default=str)


def register_governance_agents(app, hub):
    reports = app.topic(hub.config.reports_topic, key_type=bytes, value_type=bytes,
                        key_serializer="raw", value_serializer="raw")
    alerts_topic = app.topic(hub.config.alerts_topic, key_type=bytes, value_type=bytes,
                             key_serializer="raw", value_serializer="raw")
    loop_holder = {}

    @app.agent(reports, concurrency=1)
    async def intake(stream):
        loop_holder["loop"] = asyncio.get_running_loop()
        async for value in stream:
            try:
                payloads = decode_reports(value)
            except orjson.JSONDecodeError as exc:
                log.warning("report refused: invalid JSON (%s)", exc)
                continue
            for payload in payloads:
                status, body = hub.submit_report(payload, "kafka")
                if status >= 400:
                    log.warning("report refused: %s", body.get("error"))

    def send_alerts(alerts):
        # Alerts are raised in the pipeline's worker thread; hand them to the event loop.
        loop = loop_holder.get("loop") or getattr(app, "loop", None)
        if loop is None:
            return
        messages = [alert_message(alert) for alert in alerts]
        # One hand-over per batch of alerts, not one per alert (a thread-safe future each).
        asyncio.run_coroutine_threadsafe(_send_all(messages), loop)

    async def _send_all(messages):
        for key, value in messages:
            await alerts_topic.send(key=key, value=value)

    hub.alerts.sinks.append(send_alerts)
    app.governance_intake_agent = intake
    return intake
