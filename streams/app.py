"""The Faust app. Follow one event: `triage` decodes it, calls the domain (alerts.triage) and
produces incident records and notifications; `deliver` sends each notification once through its
channel, recording intent before the send and the provider's id after, in the ledger table.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import faust
from faust.sensors.prometheus import setup_prometheus_sensors
from faust.types import StreamT
from prometheus_client import CollectorRegistry

from alerts.channels import DeliveryError, Sender, build_senders
from alerts.config import Config
from alerts.errors import RejectedInput
from alerts.intake import parse_event
from alerts.matching import ProfileIndex
from alerts.model import DeliveryRecord, Incident, Notification, Rejection
from alerts.rendering import Renderer
from alerts.triage import triage
from streams import metrics
from streams.connection import faust_broker_settings
from streams.profiles import ProfileFeed
from streams.web import register_views

log = logging.getLogger("crucial.stream")
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Outputs(Protocol):
    """Where agents produce. Returns once the broker has acknowledged the write."""

    async def emit(self, topic: str, key: str | None, value: bytes) -> None: ...


class TopicOutputs:
    def __init__(self, app: faust.App, names: list[str]) -> None:
        self._topics = {name: app.topic(name, key_serializer="raw", value_serializer="raw") for name in names}

    async def emit(self, topic: str, key: str | None, value: bytes) -> None:
        pending = await self._topics[topic].send(key=key.encode() if key is not None else None, value=value)
        await pending


def rejection(raw: bytes | None, reasons: list[str], now: datetime, source: str) -> Rejection:
    raw = raw or b""
    try:
        text, encoded = raw.decode("utf-8"), None
    except UnicodeDecodeError:
        text, encoded = raw.decode("utf-8", "replace"), base64.b64encode(raw).decode()
    return Rejection(source=source, received_at=now, reasons=reasons, raw=text, raw_base64=encoded)


@dataclass
class Worker:
    """The app and the handles tests and the CLI need."""

    app: faust.App
    config: Config
    index: ProfileIndex
    feed: ProfileFeed
    registry: CollectorRegistry
    triage_agent: Any
    deliver_agent: Any
    open_incidents: Any
    ledger: Any


def create_app(
    config: Config,
    *,
    clock: Clock = utcnow,
    senders: dict[str, Sender] | None = None,
    outputs: Outputs | None = None,
    in_memory: bool = False,
) -> Worker:
    settings = config.settings
    names = settings.kafka.topics
    app = faust.App(
        settings.kafka.app_id,
        **faust_broker_settings(config),
        store="memory://",
        web_host=settings.web.host,
        web_port=settings.web.port,
        web_bind=settings.web.host,
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        autodiscover=False,
        web_enabled=not in_memory,
    )
    registry = CollectorRegistry(auto_describe=True)
    for collector in metrics.ALL:
        registry.register(collector)
    if not in_memory:
        setup_prometheus_sensors(app, registry=registry, name_prefix="crucial_faust")

    index = ProfileIndex()
    feed = ProfileFeed(config, index)
    renderer = Renderer(config.path(settings.templates_dir), settings.timezone)
    channel_senders = senders if senders is not None else build_senders(config)
    out = outputs or TopicOutputs(app, [names.rejected, names.incidents, names.notifications, names.deliveries])

    events_topic = app.topic(names.placement_events, key_serializer="raw", value_serializer="raw")
    notifications_topic = app.topic(names.notifications, key_serializer="raw", value_serializer="raw")
    # Keyed like their source topics, so each table partition lives with the events that change it.
    open_incidents = app.Table("open-incidents", default=None, key_type=str, value_type=str)
    ledger = app.Table("delivery-ledger", default=None, key_type=str, value_type=str)

    @app.agent(events_topic, name="triage")
    async def triage_events(stream: StreamT[bytes]) -> None:
        async for key, raw in stream.items():
            now = clock()
            try:
                event = parse_event(raw)
            except RejectedInput as exc:
                record = rejection(raw, exc.reasons, now, source=names.placement_events)
                await out.emit(names.rejected, key.decode("utf-8", "replace") if key else None, record.model_dump_json().encode())
                metrics.EVENTS.labels("rejected").inc()
                log.warning("rejected event: %s", "; ".join(exc.reasons))
                continue
            await feed.ready.wait()
            child = event.child.reference
            stored = open_incidents.get(child)
            outcome = triage(
                event,
                open_incident=Incident.model_validate_json(stored) if stored else None,
                index=index,
                config=config,
                renderer=renderer,
                now=now,
            )
            await asyncio.gather(
                *(out.emit(names.incidents, r.incident.incident_id, r.model_dump_json().encode()) for r in outcome.records),
                *(out.emit(names.notifications, n.idempotency_key, n.model_dump_json().encode()) for n in outcome.notifications),
            )
            if outcome.open_incident is not None:
                open_incidents[child] = outcome.open_incident.model_dump_json()
            elif stored:
                del open_incidents[child]
            metrics.EVENTS.labels(outcome.label).inc()
            log.info("event %s -> %s (%d notifications)", event.event_id, outcome.label, len(outcome.notifications))

    async def record(note: Notification, state: str, attempts: int, **detail: Any) -> None:
        entry = DeliveryRecord(
            idempotency_key=note.idempotency_key,
            incident_id=note.incident_id,
            channel=note.channel,
            kind=note.kind,
            state=state,  # type: ignore[arg-type]
            at=clock(),
            attempts=attempts,
            **detail,
        )
        ledger[note.idempotency_key] = entry.model_dump_json()
        await out.emit(names.deliveries, note.idempotency_key, entry.model_dump_json().encode())

    @app.agent(notifications_topic, name="deliver")
    async def deliver(stream: StreamT[bytes]) -> None:
        async for raw in stream:
            note = Notification.model_validate_json(raw)
            stored = ledger.get(note.idempotency_key)
            previous = DeliveryRecord.model_validate_json(stored) if stored else None
            if previous is not None and previous.state in ("accepted", "delivered"):
                metrics.NOTIFICATIONS.labels(note.channel, "duplicate", "already_accepted").inc()
                continue
            attempts = (previous.attempts if previous else 0) + 1
            await record(note, "intent", attempts)
            sender = channel_senders[note.channel]
            try:
                accepted = await sender.send(note)
            except DeliveryError as exc:
                await record(note, "failed", attempts, reason=exc.reason, retryable=exc.retryable)
                metrics.NOTIFICATIONS.labels(note.channel, "failed", exc.reason).inc()
                log.error("delivery of %s %s failed: %s", note.incident_reference, note.channel, exc)
                continue
            await record(note, "accepted", attempts, provider_id=accepted.provider_id)
            metrics.NOTIFICATIONS.labels(note.channel, "accepted", "").inc()
            metrics.DISPATCH_LATENCY.labels(note.channel, note.priority.value).observe(
                (clock() - note.received_at).total_seconds()
            )

    worker = Worker(app, config, index, feed, registry, triage_events, deliver, open_incidents, ledger)
    if not in_memory:
        app.task(feed.run)
        register_views(worker)
    return worker
