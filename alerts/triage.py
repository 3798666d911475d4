"""From one placement event to what the stream must produce: incident changes and notifications.

Pure: the caller supplies the child's open incident (if any), the profile index, the clock's
reading and the renderer; nothing here touches Kafka. Identifiers are derived from the sender and the
event id (alerts.authority), so a replayed event yields the same incident and the same idempotency
keys. A report the sender may not make about the child's incident becomes a claim (see
alerts.authority): on the timeline, not applied, and its recipients asked to confirm it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from alerts.assessment import assess
from alerts.authority import Placements, claim_id, incident_ids, may_change, owner_of, sender_of
from alerts.config import Config
from alerts.matching import ProfileIndex
from alerts.model import (
    Alerted,
    Claim,
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
from alerts.placements import PlacementRegister
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


@dataclass(frozen=True)
class Context:
    """What a transition reads besides the incident and the report: the running config (a reload swaps
    it), the renderer, the moment it happens, and for triage the profile index and who owns which
    placement (default: none known)."""

    config: Config
    renderer: Renderer
    now: datetime
    index: ProfileIndex | None = None
    placements: Placements | None = None


@dataclass(frozen=True)
class Report:
    """The placement event a change draws on, and the child's risk profile when there is one."""

    event: PlacementEvent
    profile: RiskProfile | None = None

    def facts(self, kind: NotificationKind, incident: Incident) -> MessageFacts:
        return MessageFacts(kind=kind, incident=incident, event=self.event, profile=self.profile)


@dataclass(frozen=True)
class Origin:
    """Who sent a report (alerts.authority.sender_of; default: the placement's provider) and the
    (incident id, reference) a new incident takes (default: alerts.authority.incident_ids)."""

    sender: str | None = None
    identity: tuple[str, str] | None = None


__all__ = ["Context", "Origin", "Outcome", "Report", "incident_ids", "triage"]


def notifications_for(
    ctx: Context, facts: MessageFacts, targets: list[Alerted], variant: str | None = None
) -> list[Notification]:
    """One notification per target; `variant` (default: the event id) makes repeated kinds distinct."""
    kind, incident, event, renderer, now = facts.kind, facts.incident, facts.event, ctx.renderer, ctx.now
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


def triage(event: PlacementEvent, ctx: Context, open_incident: Incident | None = None, origin: Origin = Origin()) -> Outcome:
    """What `event` changes of the child's open incident (if any), or the incident it opens."""
    placements = ctx.placements if ctx.placements is not None else PlacementRegister()
    sender = origin.sender or sender_of(event, None, ctx.config.providers, placements)
    identity = origin.identity
    if open_incident is not None and open_incident.event_id == event.event_id and owner_of(open_incident, placements) == sender:
        # A replay of the opening event: derive the same outputs again, under the ids it was given and
        # from the same moment of receipt.
        identity = (open_incident.incident_id, open_incident.reference)
        ctx, open_incident = replace(ctx, now=open_incident.received_at), None
    if ctx.index is None:
        raise ValueError("triage needs the profile index (Context.index)")
    if open_incident is None:
        if event.type == "left_placement":
            return _open(ctx, event, sender, identity or incident_ids(event.event_id, sender))
        return Outcome("no_open_incident", None)
    report = Report(event, ctx.index.get(open_incident.match.profile_id or ""))
    if not may_change(sender, open_incident, report.profile, ctx.config.providers, placements):
        return claimed(ctx, open_incident, report, sender)
    return apply_report(ctx, open_incident, report)


def reachable(incident: Incident) -> tuple[list[Alerted], str]:
    """Who of those alerted can still be reached, and what the timeline says of the rest: addresses a
    delivery showed invalid get nothing more (the same person on another channel still does)."""
    kept = [a for a in incident.alerted if a not in incident.unreachable]
    skipped = len(incident.alerted) - len(kept)
    return kept, f" (skipping {skipped} address(es) known to be invalid)" if skipped else ""


def apply_report(ctx: Context, incident: Incident, report: Report, by: str = "") -> Outcome:
    """A further report, a return or an update, applied to the child's open incident."""
    event, now = report.event, ctx.now
    source = f"confirmed by {by}" if by else "from the placement"
    if event.type == "left_placement":
        updated = with_entry(incident, now, f"further missing report {event.event_id} {source}")
        return Outcome("repeat_report", updated, [incident_record("updated", updated, now)])
    targets, skipping = reachable(incident)
    if event.type == "returned":
        what = f"child returned to placement ({source}): stand down" if by else "child returned to placement: stand down"
        resolved = with_entry(incident, now, what + skipping, status=IncidentStatus.RESOLVED)
        notes = notifications_for(ctx, report.facts("stand_down", resolved), targets)
        return Outcome("resolved", None, [incident_record("resolved", resolved, now)], notes)
    updated = with_entry(incident, now, f"update {event.event_id} {source}{skipping}")
    notes = notifications_for(ctx, report.facts("update", updated), targets)
    return Outcome("updated", updated, [incident_record("updated", updated, now)], notes)


def claimed(ctx: Context, incident: Incident, report: Report, sender: str) -> Outcome:
    """A report from someone who may not change the incident: recorded, not applied; its recipients
    are asked to confirm it (a repeat of the same claim changes nothing)."""
    event, now = report.event, ctx.now
    cid = claim_id(sender, event.event_id)
    if any(c.claim_id == cid for c in incident.claims):
        return Outcome("claim_repeated", incident)
    claim = Claim(claim_id=cid, event_id=event.event_id, type=event.type, sender=sender, at=now)
    what = f"UNVERIFIED claim {cid}: '{event.type}' from {sender}, not the placement's provider; not applied until confirmed"
    updated = with_entry(incident, now, what, claims=[*incident.claims, claim])
    notes = notifications_for(ctx, report.facts("claim", updated), reachable(updated)[0], variant=cid)
    return Outcome("claim", updated, [incident_record("updated", updated, now)], notes)


def _open(ctx: Context, event: PlacementEvent, sender: str, identity: tuple[str, str]) -> Outcome:
    # Match and grade as `crucial match` does; a child with no profile of their own may still open an
    # incident when circumstantial links (a vehicle, phone or companion on a profile) raise the risk.
    config, now = ctx.config, ctx.now
    assert ctx.index is not None  # triage checked
    assessment = assess(event, ctx.index, config.risk)
    if not assessment.opens_incident:
        return Outcome("no_match", None)
    match, profile = assessment.match, assessment.profile
    assert event.circumstances is not None  # the contract requires them for left_placement
    priority, reasons = assessment.priority, assessment.reasons
    incident_id, reference = identity
    last_seen = event.circumstances.last_seen_at
    incident = Incident(
        incident_id=incident_id,
        reference=reference,
        status=IncidentStatus.OPEN,
        event_id=event.event_id,
        child_reference=event.child.reference,
        placement_id=event.placement.id,
        local_authority=event.placement.local_authority,
        provider_id=sender,
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
    notes = notifications_for(ctx, MessageFacts(kind=kind, incident=incident, event=event, profile=profile), alerted)
    return Outcome("opened", incident, [incident_record("opened", incident, now)], notes, routes)
