"""From one placement event to what the stream must produce: incident changes and notifications.

Pure: the caller supplies the child's open incident (if any), the profile index, the clock's
reading and the renderer; nothing here touches Kafka. Identifiers are derived from the event id, so
a replayed event yields the same incident and the same idempotency keys.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from alerts.assessment import assess
from alerts.config import Config
from alerts.matching import ProfileIndex
from alerts.model import (
    Alerted,
    Decision,
    Incident,
    IncidentChange,
    IncidentRecord,
    IncidentStatus,
    Notification,
    NotificationKind,
    PlacementEvent,
    RenderedMessage,
    RiskProfile,
    TimelineEntry,
)
from alerts.rendering import MessageFacts, Renderer
from alerts.routing import Route, route


@dataclass(frozen=True)
class Outcome:
    """`label` is the bounded metric label; `open_incident` is the child's state after this event."""

    label: str
    open_incident: Incident | None
    records: list[IncidentRecord] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)


def incident_ids(event_id: str) -> tuple[str, str]:
    """(incident id, short reference) derived from the opening event's id."""
    digest = hashlib.sha256(event_id.encode()).digest()
    short = base64.b32encode(digest[:5]).decode()[:6]
    return f"inc-{digest.hex()[:20]}", f"CH-{short}"


def notifications_for(
    kind: NotificationKind,
    incident: Incident,
    event: PlacementEvent,
    profile: RiskProfile | None,
    targets: list[Alerted],
    renderer: Renderer,
    now: datetime,
    variant: str | None = None,
) -> list[Notification]:
    """One notification per target; `variant` (default: the event id) makes repeated kinds distinct."""
    facts = MessageFacts(kind=kind, incident=incident, event=event, profile=profile)
    rendered: dict[str, RenderedMessage] = {}
    out = []
    for target in targets:
        if renderer.personal(target.channel):
            message = renderer.render(replace(facts, recipient=target.recipient), target.channel)
        elif target.channel in rendered:
            message = rendered[target.channel]
        else:
            message = rendered[target.channel] = renderer.render(facts, target.channel)
        out.append(
            Notification(
                idempotency_key=Notification.key_for(
                    incident.incident_id, target.recipient, target.channel, f"{kind}:{variant or event.event_id}"
                ),
                incident_id=incident.incident_id,
                incident_reference=incident.reference,
                child_reference=incident.child_reference,
                kind=kind,
                channel=target.channel,
                recipient=target.recipient,
                message=message,
                priority=incident.priority,
                created_at=now,
                received_at=incident.received_at,
                deadline=incident.deadline,
            )
        )
    return out


def incident_record(change: IncidentChange, incident: Incident, now: datetime) -> IncidentRecord:
    """The incidents-topic entry for a change."""
    return IncidentRecord(change=change, at=now, incident=incident)


def with_entry(incident: Incident, now: datetime, what: str, **changes: object) -> Incident:
    """The incident after `changes`, with `what` added to its timeline."""
    timeline = [*incident.timeline, TimelineEntry(at=now, what=what)]
    return incident.model_copy(update={**changes, "timeline": timeline})


def triage(
    event: PlacementEvent,
    *,
    open_incident: Incident | None,
    index: ProfileIndex,
    config: Config,
    renderer: Renderer,
    now: datetime,
) -> Outcome:
    if open_incident is not None and open_incident.event_id == event.event_id:
        # A replay of the opening event: derive the same outputs again, from the same moment of receipt.
        now, open_incident = open_incident.received_at, None
    if event.type == "left_placement":
        if open_incident is not None:
            updated = with_entry(open_incident, now, f"further missing report {event.event_id} from the placement")
            return Outcome("repeat_report", updated, [incident_record("updated", updated, now)])
        return _open(event, index, config, renderer, now)
    if open_incident is None:
        return Outcome("no_open_incident", None)
    profile = index.get(open_incident.match.profile_id or "")
    # Addresses a delivery showed invalid get nothing more (the same person on another channel still does).
    reachable = [a for a in open_incident.alerted if a not in open_incident.unreachable]
    skipped = len(open_incident.alerted) - len(reachable)
    skipping = f" (skipping {skipped} address(es) known to be invalid)" if skipped else ""
    if event.type == "returned":
        resolved = with_entry(
            open_incident, now, f"child returned to placement: stand down{skipping}", status=IncidentStatus.RESOLVED
        )
        notes = notifications_for("stand_down", resolved, event, profile, reachable, renderer, now)
        return Outcome("resolved", None, [incident_record("resolved", resolved, now)], notes)
    updated = with_entry(open_incident, now, f"update {event.event_id} from the placement{skipping}")
    notes = notifications_for("update", updated, event, profile, reachable, renderer, now)
    return Outcome("updated", updated, [incident_record("updated", updated, now)], notes)


def _open(event: PlacementEvent, index: ProfileIndex, config: Config, renderer: Renderer, now: datetime) -> Outcome:
    # Match and grade as `crucial match` does; a child with no profile of their own may still open an
    # incident when circumstantial links (a vehicle, phone or companion on a profile) raise the risk.
    assessment = assess(event, index, config.risk)
    if not assessment.opens_incident:
        return Outcome("no_match", None)
    match, profile = assessment.match, assessment.profile
    assert event.circumstances is not None  # the contract requires them for left_placement
    priority, reasons = assessment.priority, assessment.reasons
    incident_id, reference = incident_ids(event.event_id)
    last_seen = event.circumstances.last_seen_at
    incident = Incident(
        incident_id=incident_id,
        reference=reference,
        status=IncidentStatus.OPEN,
        event_id=event.event_id,
        child_reference=event.child.reference,
        placement_id=event.placement.id,
        local_authority=event.placement.local_authority,
        match=match,
        priority=priority,
        reasons=reasons,
        last_seen_at=last_seen,
        received_at=now,
        deadline=last_seen + timedelta(minutes=config.settings.window_minutes),
        timeline=[
            TimelineEntry(at=last_seen, what=f"last seen at {event.circumstances.last_seen_place}"),
            TimelineEntry(at=event.reported_at, what=f"reported missing by {event.placement.name}"),
        ],
    )
    # The moment of receipt picks who is on call (a replay keeps the first receipt: the same people).
    routes = route(incident, profile, config, event=event)
    alerted = [Alerted(channel=r.channel, recipient=r.recipient) for r in routes]
    kind: NotificationKind = "alert" if match.decision == Decision.MATCH else "possible_match"
    incident = with_entry(
        incident, now, f"matched ({match.decision.value}); alerting {len(alerted)} recipient(s)", alerted=alerted
    )
    notes = notifications_for(kind, incident, event, profile, alerted, renderer, now)
    return Outcome("opened", incident, [incident_record("opened", incident, now)], notes, routes)
