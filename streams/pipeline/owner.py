"""The incident owner: the single writer of each child's incident.

Placement events and incident commands share a key (the child's reference) and partition count, so
one agent hands both to one owner. The owner holds each child's open incident, opening report and
unverified claims in tables; `report` triages a placement event through the domain (alerts.triage),
`command` applies an incident command (alerts.lifecycle), `fail_open` puts an accepted report that
failed after intake before a person (alerts.manual_check). Each runs inside the triage stage's guard
(streams/pipeline/stage.py), which quarantines whatever raises.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, assert_never

from alerts.authority import PROVIDER_HEADER, conflict_reason, incident_ids, sender_of
from alerts.channels import CHANNELS
from alerts.config import Config, Topics
from alerts.errors import RejectedInput
from alerts.intake import parse_event, rejection
from alerts.lifecycle import Failure, acknowledge, breach, confirm_claim, escalate, fall_back
from alerts.logsafe import loggable_fields
from alerts.manual_check import ManualCheckMessages, manual_check
from alerts.matching import ProfileIndex
from alerts.model import (
    ACK_OUTSIDE_CHANNELS,
    Acknowledge,
    Breach,
    ConfirmClaim,
    Escalate,
    FallBack,
    Incident,
    IncidentCommand,
    IncidentCommands,
    PlacementEvent,
    Rejection,
    RiskProfile,
)
from alerts.placements import PlacementRegister
from alerts.rendering import Renderer
from alerts.triage import Context, Origin, Outcome, Report, incident_record, triage, with_entry
from streams.pipeline import metrics
from streams.pipeline.child_locks import ChildLocks
from streams.pipeline.identity import EventIds, Identity, RegisterUnavailable
from streams.pipeline.stage import MAX_KEY_BYTES, Emit, Record, where

log = logging.getLogger("crucial.stream")
Clock = Callable[[], datetime]
# The owner waits at most this long for the event-id register, then goes on (fails open): a stalled
# register must not hold every child's report behind it.
AGENT_REGISTER_TIMEOUT_S = 2.0
# How an acknowledgement may come (alerts.model.AckVia); anything else is not applied.
ACK_ROUTES = CHANNELS.acknowledged_by_reply() | frozenset(ACK_OUTSIDE_CHANNELS)


def stamped_provider(headers: Any) -> str | None:
    """The crucial-provider header of a record (faust hands headers over as a list or a mapping): the
    API and the form stamp it from the authenticated principal; direct producers set it themselves,
    trusted per Kafka ACL (README "Who may change an incident")."""
    items = headers.items() if hasattr(headers, "items") else (headers or [])
    for name, value in items:
        if name == PROVIDER_HEADER and value:
            return bytes(value).decode("utf-8", "replace") if not isinstance(value, str) else value
    return None


def header_pairs(headers: Any) -> list[tuple[str, bytes]]:
    """A record's headers (a list or a mapping, as faust hands them over) as (name, bytes) pairs."""
    items = headers.items() if hasattr(headers, "items") else (headers or [])
    return [(name, value.encode() if isinstance(value, str) else bytes(value or b"")) for name, value in items]


def keyed_otherwise(record: Record, child: str) -> bool:
    """Placement events and incident commands are keyed by the child's reference, so that one worker, one
    partition and one changelog partition hold each child's incident (docs/operations.md)."""
    return record.key != child.encode()


class NotApplicable(Exception):
    """A well-formed command the owner cannot carry out; `reason` goes on the incident's timeline."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Publisher:
    """Where the owner's changes go; each write returns once the broker has acknowledged it."""

    def __init__(self, outputs: Emit, topics: Topics) -> None:
        self.outputs, self.topics = outputs, topics

    async def outcome(self, outcome: Outcome) -> None:
        """The incident records and notifications of one change, written together."""
        await asyncio.gather(
            *(
                self.outputs.emit(self.topics.incidents, r.incident.incident_id, r.model_dump_json().encode())
                for r in outcome.records
            ),
            *(
                self.outputs.emit(self.topics.notifications, n.idempotency_key, n.model_dump_json().encode())
                for n in outcome.notifications
            ),
        )

    async def rekeyed(self, topic: str, record: Record, key: str) -> None:
        """`record` written again to `topic`, as it came (its headers too), under `key`."""
        await self.outputs.emit(topic, key, record.value or b"", header_pairs(record.headers))

    async def rejected(self, key: str | None, record: Rejection) -> None:
        await self.outputs.emit(self.topics.rejected, key, record.model_dump_json().encode())

    async def command(self, command: IncidentCommand) -> None:
        """Ask the incident's owner (wherever it runs) to apply `command`."""
        await self.outputs.emit(self.topics.incident_commands, command.child_reference, command.model_dump_json().encode())


@dataclass
class ChildState:
    """Each child's open incident, the report that opened it and its unconfirmed claims (claim id -> the
    claimed event): tables keyed by the child's reference, values JSON."""

    open_incidents: MutableMapping[str, Any]
    opening_events: MutableMapping[str, Any]
    pending_claims: MutableMapping[str, Any]

    def incident(self, child: str) -> Incident | None:
        stored = self.open_incidents.get(child)
        return Incident.model_validate_json(stored) if stored else None

    def opening(self, child: str) -> PlacementEvent | None:
        stored = self.opening_events.get(child)
        return PlacementEvent.model_validate_json(stored) if stored else None

    def claimed_event(self, child: str, claim_id: str) -> PlacementEvent | None:
        held = json.loads(self.pending_claims.get(child) or "{}")
        return PlacementEvent.model_validate_json(held[claim_id]) if claim_id in held else None

    def after_report(self, event: PlacementEvent, outcome: Outcome, had_incident: bool) -> None:
        child = event.child.reference
        if outcome.label == "opened" or (outcome.label == "manual_check" and not had_incident):
            self.opening_events[child] = event.model_dump_json()
        if outcome.label == "claim" and outcome.open_incident is not None:
            held = json.loads(self.pending_claims.get(child) or "{}")
            held[outcome.open_incident.claims[-1].claim_id] = event.model_dump_json()
            self.pending_claims[child] = json.dumps(held)
        self.keep(child, outcome, had_incident)

    def keep(self, child: str, outcome: Outcome, had_incident: bool) -> None:
        if outcome.open_incident is not None:
            self.open_incidents[child] = outcome.open_incident.model_dump_json()
        elif had_incident:
            del self.open_incidents[child]
            self.opening_events.pop(child, None)
            self.pending_claims.pop(child, None)


@dataclass
class IncidentOwner:
    """Reports and commands for the children of this worker's partitions (see the module docstring)."""

    state: ChildState
    publish: Publisher
    config: Callable[[], Config]  # the running config: a reload swaps it
    renderer: Renderer
    index: ProfileIndex
    placements: PlacementRegister
    event_ids: EventIds
    profiles_ready: asyncio.Event
    manual: ManualCheckMessages
    clock: Clock
    # One child's state read and written by one record at a time (streams/pipeline/child_locks.py).
    locks: ChildLocks = field(default_factory=ChildLocks)

    def context(self, now: datetime) -> Context:
        return Context(self.config(), self.renderer, now, self.index, self.placements)

    def _sender(self, event: PlacementEvent, record: Record) -> str:
        return sender_of(event, stamped_provider(record.headers), self.config().providers, self.placements)

    async def report(self, record: Record) -> None:
        """Triage one placement event: rejected with its reasons, refused as a conflict, or applied."""
        now = self.clock()
        try:
            event = parse_event(record.value or b"", self.config().settings.intake, now)
        except RejectedInput as exc:
            await self._reject(record, exc, now)
            return
        if keyed_otherwise(record, event.child.reference):
            await self._forward(self.topics.placement_events, record, event.child.reference, f"event {event.event_id}")
            return
        await self.profiles_ready.wait()
        async with self.locks.holding(event.child.reference):
            await self._report(record, event, now)

    async def _report(self, record: Record, event: PlacementEvent, now: datetime) -> None:
        sender = self._sender(event, record)
        stored = self.state.incident(event.child.reference)
        outcome, identity = await self._triaged(event, sender, stored, now)
        if identity is not None and identity.conflict:
            await self._refuse_conflict(record, event, identity, now)
            return
        await self.publish.outcome(outcome)
        self.state.after_report(event, outcome, stored is not None)
        metrics.EVENTS.labels(outcome.label).inc()
        # Most reports concern no profiled child: at hundreds a second their line is noise (and CPU).
        level = logging.DEBUG if outcome.label == "no_match" else logging.INFO
        log.log(level, "event %s -> %s (%d notifications)", event.event_id, outcome.label, len(outcome.notifications))

    async def _triaged(
        self, event: PlacementEvent, sender: str, stored: Incident | None, now: datetime
    ) -> tuple[Outcome, Identity | None]:
        """The outcome under the register's identity for (sender, event id), asked only when the report
        changes something."""
        ctx = self.context(now)

        def run(identity: Identity | None) -> Outcome:
            ids = (identity.incident_id, identity.reference) if identity else None
            return triage(event, ctx, stored, Origin(sender, ids))

        identity = self.event_ids.known(sender, event)
        outcome = run(identity)
        if identity is None and outcome.records:  # it changes something: the register must agree first
            identity = await self._identity_of(sender, event)
            opened = outcome.open_incident if outcome.label == "opened" else None
            if identity is not None and not identity.conflict and opened and opened.reference != identity.reference:
                outcome = run(identity)  # the reference the register holds (the API may have answered it)
        return outcome, identity

    async def _identity_of(self, sender: str, event: PlacementEvent) -> Identity | None:
        """The register's identity for (sender, event id), claiming it now if no one has (None: Kafka
        did not confirm in time — the report goes on, failing open)."""
        try:
            return await self.event_ids.check(sender, event, AGENT_REGISTER_TIMEOUT_S)
        except RegisterUnavailable:
            log.error("event %s: the event-id register did not confirm; triaged without it", event.event_id)
            return None

    @property
    def topics(self) -> Topics:
        return self.config().settings.kafka.topics

    async def _forward(self, topic: str, record: Record, child: str, what: str) -> None:
        """A record keyed otherwise than by its child's reference is written again under it, to be applied
        by the worker that owns the child (here it could open a second incident, or miss the open one)."""
        await self.publish.rekeyed(topic, record, child)
        metrics.EVENTS.labels("rekeyed").inc()
        log.warning("%s was keyed otherwise than by its child's reference: written again under it", what)

    async def _reject(self, record: Record, exc: RejectedInput, now: datetime) -> None:
        settings = self.config().settings
        source = settings.kafka.topics.placement_events
        kept = rejection(record.value, exc.reasons, now, source, settings.kafka.quarantine.max_raw_bytes)
        # The key bounded like the value, so the rejection can always be written.
        key = record.key[:MAX_KEY_BYTES].decode("utf-8", "replace") if record.key else None
        await self.publish.rejected(key, kept)
        metrics.EVENTS.labels("rejected").inc()
        # Field paths only: a reason may quote the value (a date of birth), and logs carry no PII.
        log.warning("rejected event: %s", loggable_fields(exc.reasons))

    async def _refuse_conflict(self, record: Record, event: PlacementEvent, identity: Identity, now: datetime) -> None:
        """The same (sender, event id) came with another body: kept with its reason, nothing changed."""
        source = self.config().settings.kafka.topics.placement_events
        kept = rejection(record.value, [conflict_reason(event.event_id, identity.reference)], now, source=source)
        await self.publish.rejected(event.child.reference, kept)
        metrics.EVENTS.labels("conflict").inc()
        log.warning("event %s refused: its id was first sent with a different body", event.event_id)

    async def command(self, record: Record) -> None:
        """Apply one incident command. One the owner cannot carry out is noted on the incident's timeline
        with the reason; one for an incident no longer open changes nothing."""
        command = IncidentCommands.decode(record.value or b"")
        if keyed_otherwise(record, command.child_reference):
            what = f"command {command.command} for {command.incident_id}"
            await self._forward(self.topics.incident_commands, record, command.child_reference, what)
            return
        async with self.locks.holding(command.child_reference):
            await self._command(command)

    async def _command(self, command: IncidentCommand) -> None:
        incident = self.state.incident(command.child_reference)
        if incident is None or incident.incident_id != command.incident_id:
            log.info("command %s for %s ignored: incident no longer open", command.command, command.incident_id)
            return
        ctx = self.context(self.clock())
        try:
            outcome = self._apply(ctx, incident, command)
        except NotApplicable as exc:
            noted = with_entry(incident, ctx.now, f"{command.command} not applied: {exc.reason}")
            outcome = Outcome("command_not_applied", noted, [incident_record("updated", noted, ctx.now)])
            log.warning("incident %s: %s not applied: %s", incident.reference, command.command, exc.reason)
        await self.publish.outcome(outcome)
        self.state.keep(command.child_reference, outcome, True)
        log.info("incident %s: %s", incident.reference, outcome.label)

    def _apply(self, ctx: Context, incident: Incident, command: IncidentCommand) -> Outcome:
        match command:
            case Acknowledge(by=by, via=via):
                if via not in ACK_ROUTES:
                    raise NotApplicable(f"'{via}' is not a way to acknowledge (one of: {', '.join(sorted(ACK_ROUTES))})")
                outcome = acknowledge(incident, by, via, ctx.now)
                first = outcome.label == "acknowledged" and not incident.acknowledged
                metrics.ACKNOWLEDGEMENTS.labels(via, "accepted" if outcome.label == "acknowledged" else "duplicate").inc()
                if first:
                    metrics.ACK_LATENCY.labels(incident.priority.value).observe((ctx.now - incident.received_at).total_seconds())
            case Escalate(step=step):
                outcome = escalate(ctx, incident, step, self._opening_report(incident))
                if outcome.label == "escalated":
                    metrics.ESCALATIONS.labels(incident.priority.value).inc()
            case FallBack(by=by, channel=channel, kind=kind, reason=reason):
                outcome = fall_back(ctx, incident, Failure(by, channel, kind, reason), self._opening_report(incident))
            case ConfirmClaim(claim_id=claim_id, by=by):
                event = self.state.claimed_event(incident.child_reference, claim_id)
                if event is None:
                    raise NotApplicable(f"no claim {claim_id} is held for this incident")
                outcome = confirm_claim(ctx, incident, claim_id, by, Report(event, self._profile(incident)))
            case Breach():
                outcome = breach(incident, ctx.now)
                if outcome.label == "breached":
                    metrics.WINDOW_BREACHES.labels(incident.priority.value).inc()
            case _:  # every kind is handled above: mypy checks a new one is too
                assert_never(command)
        return outcome

    def _profile(self, incident: Incident) -> RiskProfile | None:
        return self.index.get(incident.match.profile_id or "")

    def _opening_report(self, incident: Incident) -> Report:
        event = self.state.opening(incident.child_reference)
        if event is None:
            raise NotApplicable("the report that opened it is not held here, so no message can be rendered: alert by hand")
        return Report(event, self._profile(incident))

    async def fail_open(self, record: Record, exc: Exception) -> None:
        """An accepted report that failed after intake still reaches a person (alerts/manual_check.py)."""
        if record.value is None:
            return
        now = self.clock()
        try:
            event = parse_event(record.value, self.config().settings.intake, now)
        except RejectedInput:
            return  # never accepted; the rejected topic holds it
        async with self.locks.holding(event.child.reference):
            await self._fail_open(record, event, now, exc)

    async def _fail_open(self, record: Record, event: PlacementEvent, now: datetime, exc: Exception) -> None:
        stored = self.state.incident(event.child.reference)
        # The reference the sender was answered with, so "ACK <ref>" and the API's 202 agree; the
        # fail-open path must not depend on the register, so an unknown one takes the computed ids.
        sender = self._sender(event, record)
        known = self.event_ids.known(sender, event)
        identity = (known.incident_id, known.reference) if known else incident_ids(event.event_id, sender)
        outcome = manual_check(self.context(now), self.manual, event, stored, Origin(sender, identity))
        await self.publish.outcome(outcome)
        self.state.after_report(event, outcome, stored is not None)
        metrics.MANUAL_CHECKS.inc()
        log.error("event %s not processed automatically (%s): sent for a manual check", event.event_id, where(exc))
