"""The Faust app. Follow one event: `triage` decodes it, calls the domain (alerts.triage) and
produces incident records and notifications; `deliver` sends each notification once through its
channel, recording intent before the send and the provider's id after, in the ledger table.

The triage agent is the single writer of each child's incident: acknowledgements, escalations and
breaches reach it as commands on a topic keyed (and partitioned) like the placement events. Every
worker follows the incidents and deliveries topics whole (the directory) for the board, the
acknowledgement views and the leader's escalation timer.
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
from aiokafka import ConsumerRecord
from faust.sensors.prometheus import setup_prometheus_sensors
from faust.types import EventT, StreamT
from prometheus_client import CollectorRegistry

from alerts.channels import DeliveryError, Sender, build_senders
from alerts.config import Config
from alerts.directory import IncidentDirectory
from alerts.errors import RejectedInput
from alerts.escalation import acknowledge, breach, commands_due, escalate
from alerts.intake import parse_event
from alerts.matching import ProfileIndex
from alerts.model import DeliveryRecord, Incident, IncidentCommand, IncidentRecord, Notification, PlacementEvent, Rejection
from alerts.rendering import Renderer
from alerts.triage import Outcome, triage
from streams import metrics
from streams.connection import faust_broker_settings
from streams.follow import Follower
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
    """The app and the handles the web views, tests and the CLI need."""

    app: faust.App
    config: Config
    clock: Clock
    outputs: Outputs
    index: ProfileIndex
    feed: ProfileFeed
    directory: IncidentDirectory
    directory_feed: Follower
    registry: CollectorRegistry
    triage_agent: Any
    deliver_agent: Any
    open_incidents: Any
    ledger: Any

    async def command(self, command: IncidentCommand) -> None:
        """Ask the incident's owner to apply `command` (acknowledge, escalate, breach)."""
        topic = self.config.settings.kafka.topics.incident_commands
        await self.outputs.emit(topic, command.child_reference, command.model_dump_json().encode())


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
    index = ProfileIndex()
    feed = ProfileFeed(config, index)
    directory = IncidentDirectory()
    directory_feed = Follower(
        config, [names.incidents, names.deliveries], _directory_updater(config, directory), "incident directory"
    )
    renderer = Renderer.from_config(config)
    channel_senders = senders if senders is not None else build_senders(config)
    out = outputs or TopicOutputs(
        app, [names.rejected, names.incidents, names.notifications, names.deliveries, names.incident_commands]
    )

    registry = CollectorRegistry(auto_describe=True)
    for collector in metrics.ALL:
        registry.register(collector)
    registry.register(metrics.IncidentGauges(lambda: [view.incident for view in directory.open()], clock))
    if not in_memory:
        setup_prometheus_sensors(app, registry=registry, name_prefix="crucial_faust")

    # Placement events and incident commands share a key (the child's reference) and partition count,
    # so one agent, the single writer of each child's incident, reads both.
    events_and_commands = app.topic(names.placement_events, names.incident_commands, key_serializer="raw", value_serializer="raw")
    notifications_topic = app.topic(names.notifications, key_serializer="raw", value_serializer="raw")
    open_incidents = app.Table("open-incidents", default=None, key_type=str, value_type=str)
    opening_events = app.Table("opening-events", default=None, key_type=str, value_type=str)
    ledger = app.Table("delivery-ledger", default=None, key_type=str, value_type=str)

    async def publish(outcome: Outcome) -> None:
        await asyncio.gather(
            *(out.emit(names.incidents, r.incident.incident_id, r.model_dump_json().encode()) for r in outcome.records),
            *(out.emit(names.notifications, n.idempotency_key, n.model_dump_json().encode()) for n in outcome.notifications),
        )

    def keep(child: str, outcome: Outcome, had_incident: bool) -> None:
        if outcome.open_incident is not None:
            open_incidents[child] = outcome.open_incident.model_dump_json()
        elif had_incident:
            del open_incidents[child]
            opening_events.pop(child, None)

    async def on_report(key: bytes | None, raw: bytes) -> None:
        now = clock()
        try:
            event = parse_event(raw)
        except RejectedInput as exc:
            record = rejection(raw, exc.reasons, now, source=names.placement_events)
            await out.emit(names.rejected, key.decode("utf-8", "replace") if key else None, record.model_dump_json().encode())
            metrics.EVENTS.labels("rejected").inc()
            log.warning("rejected event: %s", "; ".join(exc.reasons))
            return
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
        await publish(outcome)
        if outcome.label == "opened":
            opening_events[child] = event.model_dump_json()
        keep(child, outcome, stored is not None)
        metrics.EVENTS.labels(outcome.label).inc()
        log.info("event %s -> %s (%d notifications)", event.event_id, outcome.label, len(outcome.notifications))

    async def on_command(raw: bytes) -> None:
        command = IncidentCommand.model_validate_json(raw)
        stored = open_incidents.get(command.child_reference)
        incident = Incident.model_validate_json(stored) if stored else None
        if incident is None or incident.incident_id != command.incident_id:
            log.info("command %s for %s ignored: incident no longer open", command.command, command.incident_id)
            return
        now = clock()
        if command.command == "acknowledge" and command.by is not None and command.via is not None:
            outcome = acknowledge(incident, command.by, command.via, now)
            metrics.ACKNOWLEDGEMENTS.labels(command.via, "accepted" if outcome.label == "acknowledged" else "duplicate").inc()
            if outcome.label == "acknowledged" and not incident.acknowledged:
                metrics.ACK_LATENCY.labels(incident.priority.value).observe((now - incident.received_at).total_seconds())
        elif command.command == "escalate" and command.step is not None:
            opening = opening_events.get(command.child_reference)
            if opening is None:
                return
            profile = index.get(incident.match.profile_id or "")
            event = PlacementEvent.model_validate_json(opening)
            outcome = escalate(incident, command.step, event, profile, config, renderer, now)
            if outcome.label == "escalated":
                metrics.ESCALATIONS.labels(incident.priority.value).inc()
        elif command.command == "breach":
            outcome = breach(incident, now)
            if outcome.label == "breached":
                metrics.WINDOW_BREACHES.labels(incident.priority.value).inc()
        else:
            return
        await publish(outcome)
        keep(command.child_reference, outcome, True)
        log.info("incident %s: %s", incident.reference, outcome.label)

    @app.agent(events_and_commands, name="triage")
    async def triage_events(stream: StreamT[bytes]) -> None:
        event: EventT[bytes]
        async for event in stream.events():
            if event.message.topic == names.incident_commands:
                await on_command(event.value)
            else:
                await on_report(event.key, event.value)

    window_observed: set[str] = set()

    async def record(note: Notification, state: str, attempts: int, **detail: Any) -> None:
        entry = DeliveryRecord(
            idempotency_key=note.idempotency_key,
            incident_id=note.incident_id,
            channel=note.channel,
            kind=note.kind,
            agency_id=note.recipient.agency_id,
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
            now = clock()
            metrics.NOTIFICATIONS.labels(note.channel, "accepted", "").inc()
            metrics.DISPATCH_LATENCY.labels(note.channel, note.priority.value).observe((now - note.received_at).total_seconds())
            view = directory.get(note.incident_id)
            if note.kind in ("alert", "possible_match") and note.incident_id not in window_observed and view is not None:
                window_observed.add(note.incident_id)
                last_seen = view.incident.last_seen_at
                metrics.WINDOW_LATENCY.labels(note.priority.value).observe((now - last_seen).total_seconds())

    worker = Worker(
        app, config, clock, out, index, feed, directory, directory_feed, registry, triage_events, deliver, open_incidents, ledger
    )

    @app.timer(interval=config.escalation.tick_seconds, on_leader=True)  # type: ignore[untyped-decorator]
    async def watch_windows() -> None:
        """The leader asks each incident's owner to escalate or record a breach when due."""
        if directory_feed.ready.is_set():
            for command in commands_due([view.incident for view in directory.open()], config, clock()):
                await worker.command(command)

    if not in_memory:
        app.task(feed.run)
        app.task(directory_feed.run)
        register_views(worker)
    return worker


def _directory_updater(config: Config, directory: IncidentDirectory) -> Callable[[ConsumerRecord[bytes, bytes]], None]:
    incidents_topic = config.settings.kafka.topics.incidents

    def apply(record: ConsumerRecord[bytes, bytes]) -> None:
        if record.value is None:
            return
        if record.topic == incidents_topic:
            directory.apply_incident(IncidentRecord.model_validate_json(record.value))
        else:
            directory.apply_delivery(DeliveryRecord.model_validate_json(record.value))

    return apply
