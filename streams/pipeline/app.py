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
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import faust
from aiokafka import ConsumerRecord
from faust.types import EventT, StreamT
from prometheus_client import CollectorRegistry

from alerts.authority import PROVIDER_HEADER, conflict_reason, incident_ids, sender_of
from alerts.channels import DeliveryError, Sender, build_senders, send_with_retry
from alerts.config import Config, HealthSettings
from alerts.directory import IncidentDirectory
from alerts.errors import RejectedInput
from alerts.intake import parse_event, rejection
from alerts.lifecycle import acknowledge, breach, commands_due, confirm_claim, escalate, fall_back
from alerts.logsafe import loggable_fields
from alerts.manual_check import ManualCheckMessages, manual_check
from alerts.matching import ProfileIndex
from alerts.model import (
    DeliveryRecord,
    DeliveryStatus,
    Incident,
    IncidentCommand,
    IncidentRecord,
    Notification,
    PlacementEvent,
)
from alerts.placements import PlacementRegister
from alerts.rendering import Renderer
from alerts.triage import Outcome, triage
from streams.pipeline import metrics
from streams.pipeline.checks import validated_config
from streams.pipeline.connection import TABLES, faust_broker_settings
from streams.pipeline.follow import Follower
from streams.pipeline.identity import Identity, Registers, RegisterUnavailable, kafka_produce
from streams.pipeline.placements import PlacementFeed, count_rejected_placement
from streams.pipeline.profiles import ProfileFeed, count_rejected
from streams.pipeline.recovery import SeekThenResumeTableManager, consumer_class
from streams.pipeline.register import loopback
from streams.pipeline.stage import MAX_KEY_BYTES, DeadLetters, OnFailure, Record, Stage, where
from streams.web.acklinks import AckLinks
from streams.web.health import Heartbeat, Progress, Reloader, consumer_partitions, install_sighup, watch_agents
from streams.web.sessions import AuthState
from streams.web.views import register_views

log = logging.getLogger("crucial.stream")
Clock = Callable[[], datetime]
# The triage agent waits at most this long for the event-id register, then goes on (fails open): a
# stalled register must not hold every child's report behind it.
AGENT_REGISTER_TIMEOUT_S = 2.0


def stamped_provider(headers: Any) -> str | None:
    """The crucial-provider header of a record (faust hands headers over as a list or a mapping): the
    API and the form stamp it from the authenticated principal; direct producers set it themselves,
    trusted per Kafka ACL (README "Who may change an incident")."""
    items = headers.items() if hasattr(headers, "items") else (headers or [])
    for name, value in items:
        if name == PROVIDER_HEADER and value:
            return bytes(value).decode("utf-8", "replace") if not isinstance(value, str) else value
    return None


def utcnow() -> datetime:
    return datetime.now(UTC)


class Outputs(Protocol):
    """Where agents produce. Returns once the broker has acknowledged the write."""

    async def emit(self, topic: str, key: str | None, value: bytes) -> None: ...


class TopicOutputs:
    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._topics: dict[str, Any] = {}

    async def emit(self, topic: str, key: str | None, value: bytes) -> None:
        if topic not in self._topics:
            self._topics[topic] = self._app.topic(topic, key_serializer="raw", value_serializer="raw")
        pending = await self._topics[topic].send(key=key.encode() if key is not None else None, value=value)
        await pending


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
    ack_links: AckLinks
    placements: PlacementRegister  # the report form's children and who may report for each placement
    placement_feed: PlacementFeed
    registers: Registers
    auth_state: AuthState
    heartbeat: Heartbeat = field(default_factory=Heartbeat)
    progress: Progress = field(default_factory=lambda: Progress(HealthSettings()))
    reloader: Any = None  # streams.web.health.Reloader, set by create_app

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
        datadir=str(_data_dir(config)),
        web_host=settings.web.host,
        web_port=settings.web.port,
        web_bind=settings.web.host,
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        # A worker that died is noticed in seconds, not the default minute: its partitions move on.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        autodiscover=False,
        web_enabled=not in_memory,
        # Resumes the agents' partitions only after the post-recovery seek (see streams/pipeline/recovery.py).
        TableManager=SeekThenResumeTableManager,
    )
    # Fetches for a copy of the active partitions, waiting at most fetch_max_wait_ms (ditto); the
    # transport's class is the only hook.
    app.transport.Consumer = consumer_class(settings.kafka.fetch_max_wait_ms)  # type: ignore[misc]
    out = outputs or TopicOutputs(app)
    # Every consumer runs each record through a stage guard (streams/pipeline/stage.py): bad records are
    # quarantined on the dead-letter topic and the stream moves on.
    dead_letters = DeadLetters(out, names.dead_letters, settings.kafka.quarantine, clock)

    def guard(name: str, on_failure: OnFailure | None = None) -> Stage:
        return Stage(name, dead_letters, max_record_bytes=settings.kafka.quarantine.max_record_bytes, on_failure=on_failure)

    index = ProfileIndex(config.risk.matching, config.risk.links)  # as `crucial match` builds it
    feed = ProfileFeed(config, index, guard("profiles", count_rejected))
    directory = IncidentDirectory()
    directory_feed = Follower(
        config,
        [names.incidents, names.deliveries],
        _directory_updater(config, directory),
        "incident directory",
        guard("directory"),
    )
    placements = PlacementRegister()
    placement_feed = PlacementFeed(config, placements, guard("placements", count_rejected_placement))
    ack_links = AckLinks.from_config(config)
    renderer = Renderer.from_config(config, ack_links=ack_links)
    channel_senders = senders if senders is not None else build_senders(config)

    registry = CollectorRegistry(auto_describe=True)
    for collector in metrics.ALL:
        registry.register(collector)
    registry.register(metrics.IncidentGauges(lambda: [view.incident for view in directory.open()], clock))
    if not in_memory:  # faust's sensor on a registry of its own, served in seconds on our /metrics
        app.monitor = metrics.faust_monitor(registry)
        metrics.serve_metrics(app, registry)

    # Placement events and incident commands share a key (the child's reference) and partition count,
    # so one agent, the single writer of each child's incident, reads both.
    events_and_commands = app.topic(names.placement_events, names.incident_commands, key_serializer="raw", value_serializer="raw")
    notifications_and_status = app.topic(names.notifications, names.delivery_status, key_serializer="raw", value_serializer="raw")
    open_incident_table, opening_event_table, ledger_table, sent_table, claims_table = TABLES
    open_incidents = app.Table(open_incident_table, default=None, key_type=str, value_type=str)
    opening_events = app.Table(opening_event_table, default=None, key_type=str, value_type=str)
    ledger = app.Table(ledger_table, default=None, key_type=str, value_type=str)
    notifications_sent = app.Table(sent_table, default=None, key_type=str, value_type=str)
    # A child's unconfirmed claims (claim id -> the claimed event), for when someone confirms one.
    pending_claims = app.Table(claims_table, default=None, key_type=str, value_type=str)
    auth_state = AuthState(
        kafka_produce(app, names.auth_state) if not in_memory else loopback(names.auth_state, lambda r: auth_state.apply(r)),
        config.providers.ingest.produce_timeout_s,
    )
    registers = Registers(config, app, directory, {names.auth_state: auth_state.apply}, guard("registers"), in_memory=in_memory)

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
            pending_claims.pop(child, None)

    def hold_claim(child: str, outcome: Outcome, event: PlacementEvent) -> None:
        if outcome.label == "claim" and outcome.open_incident is not None:
            held = json.loads(pending_claims.get(child) or "{}")
            held[outcome.open_incident.claims[-1].claim_id] = event.model_dump_json()
            pending_claims[child] = json.dumps(held)

    async def refuse_conflict(raw: bytes, event: PlacementEvent, identity: Identity, now: datetime) -> None:
        """The same (sender, event id) came with another body: kept with its reason, nothing changed."""
        record = rejection(raw, [conflict_reason(event.event_id, identity.reference)], now, source=names.placement_events)
        await out.emit(names.rejected, event.child.reference, record.model_dump_json().encode())
        metrics.EVENTS.labels("conflict").inc()
        log.warning("event %s refused: its id was first sent with a different body", event.event_id)

    async def identity_of(sender: str, event: PlacementEvent) -> Identity | None:
        """The register's identity for (sender, event id), claiming it now if no one has (None: Kafka
        did not confirm in time — the report goes on, failing open)."""
        try:
            return await registers.event_ids.check(sender, event, AGENT_REGISTER_TIMEOUT_S)
        except RegisterUnavailable:
            log.error("event %s: the event-id register did not confirm; triaged without it", event.event_id)
            return None

    async def on_report(key: bytes | None, raw: bytes, headers: Any = None) -> None:
        now = clock()
        try:
            event = parse_event(raw, settings.intake, now)
        except RejectedInput as exc:
            record = rejection(raw, exc.reasons, now, names.placement_events, settings.kafka.quarantine.max_raw_bytes)
            # The key bounded like the value, so the rejection can always be written.
            kept_key = key[:MAX_KEY_BYTES].decode("utf-8", "replace") if key else None
            await out.emit(names.rejected, kept_key, record.model_dump_json().encode())
            metrics.EVENTS.labels("rejected").inc()
            # Field paths only: a reason may quote the value (a date of birth), and logs carry no PII.
            log.warning("rejected event: %s", loggable_fields(exc.reasons))
            return
        await feed.ready.wait()
        sender = sender_of(event, stamped_provider(headers), config.providers, placements)
        child = event.child.reference
        stored = open_incidents.get(child)

        def run(identity: Identity | None) -> Outcome:
            return triage(
                event,
                open_incident=Incident.model_validate_json(stored) if stored else None,
                index=index,
                config=worker.config,  # the running config: a reload swaps it
                renderer=renderer,
                now=now,
                sender=sender,
                placements=placements,
                identity=(identity.incident_id, identity.reference) if identity else None,
            )

        identity = registers.event_ids.known(sender, event)
        outcome = run(identity)
        if identity is None and outcome.records:  # it changes something: the register must agree first
            identity = await identity_of(sender, event)
            opened = outcome.open_incident if outcome.label == "opened" else None
            if identity is not None and not identity.conflict and opened and opened.reference != identity.reference:
                outcome = run(identity)  # the reference the register holds (the API may have answered it)
        if identity is not None and identity.conflict:
            await refuse_conflict(raw, event, identity, now)
            return
        await publish(outcome)
        if outcome.label == "opened":
            opening_events[child] = event.model_dump_json()
        hold_claim(child, outcome, event)
        keep(child, outcome, stored is not None)
        metrics.EVENTS.labels(outcome.label).inc()
        # Most reports concern no profiled child: at hundreds a second their line is noise (and CPU).
        log.log(
            logging.DEBUG if outcome.label == "no_match" else logging.INFO,
            "event %s -> %s (%d notifications)",
            event.event_id,
            outcome.label,
            len(outcome.notifications),
        )

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
            outcome = escalate(incident, command.step, event, profile, worker.config, renderer, now)
            if outcome.label == "escalated":
                metrics.ESCALATIONS.labels(incident.priority.value).inc()
        elif command.command == "fall_back" and command.by and command.channel and command.kind and command.reason:
            opening = opening_events.get(command.child_reference)
            if opening is None:
                return
            event = PlacementEvent.model_validate_json(opening)
            profile = index.get(incident.match.profile_id or "")
            outcome = fall_back(
                incident, command.by, command.channel, command.kind, command.reason, event, profile, worker.config, renderer, now
            )
        elif command.command == "confirm_claim" and command.claim_id and command.by:
            held = json.loads(pending_claims.get(command.child_reference) or "{}")
            if command.claim_id not in held:
                log.info("confirmation of claim %s on %s ignored: no such claim", command.claim_id, incident.reference)
                return
            event = PlacementEvent.model_validate_json(held[command.claim_id])
            profile = index.get(incident.match.profile_id or "")
            outcome = confirm_claim(incident, command.claim_id, command.by, event, profile, renderer, now)
        elif command.command == "breach":
            outcome = breach(incident, now)
            if outcome.label == "breached":
                metrics.WINDOW_BREACHES.labels(incident.priority.value).inc()
        else:
            return
        await publish(outcome)
        keep(command.child_reference, outcome, True)
        log.info("incident %s: %s", incident.reference, outcome.label)

    manual_messages = ManualCheckMessages.from_config(config)

    async def fail_open(record: Record, exc: Exception) -> None:
        """An accepted report that failed after intake still reaches a person (alerts/manual_check.py)."""
        if record.value is None:
            return
        now = clock()
        try:
            event = parse_event(record.value, settings.intake, now)
        except RejectedInput:
            return  # never accepted; the rejected topic holds it
        child = event.child.reference
        stored = open_incidents.get(child)
        # The reference the sender was answered with, so "ACK <ref>" and the API's 202 agree; the
        # fail-open path must not depend on the register, so an unknown one takes the computed ids.
        sender = sender_of(event, stamped_provider(record.headers), config.providers, placements)
        known = registers.event_ids.known(sender, event)
        identity = (known.incident_id, known.reference) if known else incident_ids(event.event_id, sender)
        opened = Incident.model_validate_json(stored) if stored else None
        outcome = manual_check(event, opened, config, manual_messages, now, identity, sender)
        await publish(outcome)
        if stored is None:
            opening_events[child] = event.model_dump_json()
        keep(child, outcome, stored is not None)
        metrics.MANUAL_CHECKS.inc()
        log.error("event %s not processed automatically (%s): sent for a manual check", event.event_id, where(exc))

    # One stage, two guards: only a report (not a command) that fails is sent for a manual check.
    reports_guard, commands_guard = guard("triage", fail_open), guard("triage")

    @app.agent(events_and_commands, name="triage")
    async def triage_events(stream: StreamT[bytes]) -> None:
        event: EventT[bytes]
        async for event in stream.events():
            record = Record.of(event.message)
            if record.topic == names.incident_commands:
                await commands_guard.handle(record, lambda r: on_command(r.value or b""))
            else:
                await reports_guard.handle(record, lambda r: on_report(r.key, r.value or b"", r.headers))

    window_observed: set[str] = set()
    in_flight: set[str] = set()

    async def record(note: Notification, state: str, attempts: int, **detail: Any) -> None:
        entry = DeliveryRecord(
            idempotency_key=note.idempotency_key,
            incident_id=note.incident_id,
            channel=note.channel,
            kind=note.kind,
            agency_id=note.recipient.agency_id,
            recipient_tag=note.recipient.tag,
            state=state,  # type: ignore[arg-type]
            at=clock(),
            attempts=attempts,
            **detail,
        )
        ledger[note.idempotency_key] = entry.model_dump_json()
        await out.emit(names.deliveries, note.idempotency_key, entry.model_dump_json().encode())

    async def fall_back_from(note: Notification, reason: str) -> None:
        """Ask the incident's owner to reach someone else (it holds the report to render from)."""
        metrics.FALLBACKS.labels(note.channel, reason).inc()
        command = IncidentCommand(
            command="fall_back",
            incident_id=note.incident_id,
            child_reference=note.child_reference,
            at=clock(),
            by=note.recipient,
            channel=note.channel,
            kind=note.kind,
            reason=reason,
        )
        await worker.command(command)

    async def send(note: Notification, previous: DeliveryRecord | None) -> None:
        sender = channel_senders[note.channel]
        attempts_before = previous.attempts if previous else 0
        retry_reason: list[str] = []  # why the previous attempt failed: the audit record says why it retried

        async def on_attempt(attempt: int) -> None:
            reason = {"reason": retry_reason[-1], "retryable": True} if retry_reason else {}
            await record(note, "intent", attempts_before + attempt, **reason)  # before every provider call

        async def on_retry(attempt: int, error: DeliveryError, pause_s: float) -> None:
            retry_reason.append(error.reason)
            metrics.RETRIES.labels(note.channel, error.reason).inc()
            log.warning(
                "%s %s to %s: %s; retry in %.1f s",
                note.incident_reference,
                note.channel,
                note.recipient.agency_id,
                error,
                pause_s,
            )

        try:
            accepted = await send_with_retry(sender, note, on_attempt=on_attempt, on_retry=on_retry)
        except DeliveryError as exc:
            await record(note, "failed", attempts_before + exc.attempts, reason=exc.reason, retryable=exc.retryable)
            metrics.NOTIFICATIONS.labels(note.channel, "failed", exc.reason).inc()
            log.error("%s %s to %s failed: %s", note.incident_reference, note.channel, note.recipient.agency_id, exc)
            await fall_back_from(note, exc.reason)
            return
        await record(note, "accepted", attempts_before + accepted.attempts, provider_id=accepted.provider_id)
        now = clock()
        metrics.NOTIFICATIONS.labels(note.channel, "accepted", "").inc()
        metrics.DISPATCH_LATENCY.labels(note.channel, note.priority.value).observe((now - note.received_at).total_seconds())
        view = directory.get(note.incident_id)
        if note.kind in ("alert", "possible_match") and note.incident_id not in window_observed and view is not None:
            window_observed.add(note.incident_id)
            metrics.WINDOW_LATENCY.labels(note.priority.value).observe((now - view.incident.last_seen_at).total_seconds())

    def latest(note: Notification) -> DeliveryRecord | None:
        stored = ledger.get(note.idempotency_key)
        previous = DeliveryRecord.model_validate_json(stored) if stored else None
        if previous is None or previous.state == "intent":
            # The ledger's changelog is written in the background and a SIGKILL can cut its last
            # records; the deliveries topic's were awaited, so it knows every send that was accepted.
            known = directory.delivery(note.incident_id, note.idempotency_key)
            if known is not None and known.state != "intent":
                return known
        return previous

    async def on_notification(raw: bytes) -> None:
        note = Notification.model_validate_json(raw)
        key = note.idempotency_key
        await directory_feed.ready.wait()  # after a restart, the deliveries topic read to its end
        previous = latest(note)
        if key in in_flight or (previous is not None and previous.state in ("accepted", "delivered")):
            metrics.NOTIFICATIONS.labels(note.channel, "duplicate", "already_accepted").inc()
            return
        if previous is not None and previous.state == "failed" and not previous.retryable:
            metrics.NOTIFICATIONS.labels(note.channel, "duplicate", "already_failed").inc()
            return
        in_flight.add(key)
        notifications_sent[key] = note.model_dump_json()
        try:
            await send(note, previous)
        finally:
            in_flight.discard(key)

    async def on_status(raw: bytes) -> None:
        status = DeliveryStatus.model_validate_json(raw)
        stored, sent = ledger.get(status.idempotency_key), notifications_sent.get(status.idempotency_key)
        if stored is None or sent is None:
            log.warning("status for an unknown notification %s ignored", status.idempotency_key[:8])
            return
        previous, note = DeliveryRecord.model_validate_json(stored), Notification.model_validate_json(sent)
        if previous.state in ("delivered", "failed") and previous.provider_id == status.provider_id:
            return  # a repeated callback
        if status.outcome == "delivered":
            await record(note, "delivered", previous.attempts, provider_id=status.provider_id)
            metrics.NOTIFICATIONS.labels(note.channel, "delivered", "").inc()
            metrics.DELIVERY_LATENCY.labels(note.channel, note.priority.value).observe(
                (status.at - note.received_at).total_seconds()
            )
        else:
            reason = status.reason or "undelivered"
            await record(note, "failed", previous.attempts, provider_id=status.provider_id, reason=reason, retryable=False)
            metrics.NOTIFICATIONS.labels(note.channel, "failed", reason).inc()
            await fall_back_from(note, reason)

    # Notifications and the providers' status reports share a key (the idempotency key): one agent
    # owns each notification's ledger entry. Several run at once so a slow provider stalls none.
    deliver_guard = guard("deliver")

    @app.agent(notifications_and_status, name="deliver", concurrency=settings.delivery_concurrency)
    async def deliver(stream: StreamT[bytes]) -> None:
        event: EventT[bytes]
        async for event in stream.events():
            record = Record.of(event.message)
            if record.topic == names.delivery_status:
                await deliver_guard.handle(record, lambda r: on_status(r.value or b""))
            else:
                await deliver_guard.handle(record, lambda r: on_notification(r.value or b""))

    worker = Worker(
        app,
        config,
        clock,
        out,
        index,
        feed,
        directory,
        directory_feed,
        registry,
        triage_events,
        deliver,
        open_incidents,
        ledger,
        ack_links,
        placements,
        placement_feed,
        registers,
        auth_state,
    )

    @app.timer(interval=config.escalation.tick_seconds, on_leader=True)  # type: ignore[untyped-decorator]
    async def watch_windows() -> None:
        """The leader asks each incident's owner to escalate or record a breach when due."""
        if directory_feed.ready.is_set():
            for command in commands_due([view.incident for view in directory.open()], worker.config, clock()):
                await worker.command(command)

    async def close_channels(sender: Any, /, *_: Any, signal: Any, **__: Any) -> None:
        """After the consumer stops: SMTP sessions end with QUIT, HTTP sessions close."""
        for channel in channel_senders.values():
            await channel.close()

    app.on_before_shutdown.connect(close_channels)
    _watch_health(worker, names)

    if not in_memory:
        app.task(feed.run)
        app.task(directory_feed.run)
        app.task(placement_feed.run)
        app.task(registers.feed.run)
        register_views(worker)
    return worker


def _watch_health(worker: Worker, names: Any) -> None:
    """/live's heartbeat, /ready's crash and stall watch, reload on SIGHUP and POST /-/reload, and the
    build, process and index metrics."""
    app = worker.app
    worker.progress = Progress(worker.config.settings.health)
    worker.reloader = Reloader(worker, validated_config)
    watch_agents([worker.triage_agent, worker.deliver_agent], worker.progress)
    worker.registry.register(metrics.ProfileIndexGauges(lambda: len(worker.index), worker.feed.ready.is_set))
    for collector in metrics.PROCESS:
        worker.registry.register(collector)
    metrics.set_build_info()
    agent_topics = {names.placement_events, names.incident_commands, names.notifications, names.delivery_status}

    @app.task  # type: ignore[untyped-decorator]
    async def heartbeat() -> None:
        await worker.heartbeat.run()

    @app.task  # type: ignore[untyped-decorator]
    async def watch_progress() -> None:
        install_sighup(worker.reloader)
        await worker.progress.sample(lambda: consumer_partitions(app, agent_topics) if app.consumer else [])


def _data_dir(config: Config) -> Path:
    # Faust makes only the last level of its data directory (even with in-memory tables).
    path = config.path(config.settings.data_dir) / "faust"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


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
