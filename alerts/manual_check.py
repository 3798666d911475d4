"""Fail open: an accepted report that could not be processed automatically still reaches a person.

When matching, grading, routing or rendering fails for a valid placement event, the placement's
emergency duty team and its police force's missing-person desk (routing.yaml `manual_check`) are sent
a minimal "check it now" message, and the report goes on the board as a high-priority incident. This
path uses none of the parts that may have failed: no profile, no rules, its own two small templates.
Pure: the caller produces the outcome like any other.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import jinja2

from alerts.channels import CHANNELS
from alerts.config import Config
from alerts.model import (
    Alerted,
    Decision,
    Incident,
    IncidentStatus,
    MatchResult,
    Notification,
    PlacementEvent,
    Priority,
    RenderedMessage,
    TimelineEntry,
)
from alerts.routing import agency_routes
from alerts.triage import Outcome, incident_ids, incident_record, with_entry

NOTE = "report could not be processed automatically: check it by hand"


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def plus(moment: datetime, delta: timedelta) -> datetime:
    """moment + delta, or moment itself where the sum would leave the calendar."""
    try:
        return moment + delta
    except OverflowError:
        return moment


def agencies_for(event: PlacementEvent, config: Config) -> list[str]:
    """The emergency duty team of the placement's local authority and its force's missing-person desk."""
    manual = config.routing.manual_check
    authority = _fold(event.placement.local_authority)
    found = [a for la, a in manual.emergency_duty_teams.items() if _fold(la) == authority]
    for force, desk in config.routing.police_forces.items():
        if any(_fold(la) == authority for la in config.routing.police_force_areas.get(force, [])):
            found.append(desk)
    if not found:
        found = list(manual.otherwise) or [
            agency_id for agency_id, agency in config.agencies.items() if agency.kind in ("police", "emergency_duty_team")
        ]
    return list(dict.fromkeys(found))


class ManualCheckMessages:
    """Renders the manual-check template of each channel (<channel>/manual_check.txt.j2) with nothing
    but the event's bare facts, shaped by the channel's `plain` (no channel renderer: it may have failed)."""

    def __init__(self, templates_dir: Path, timezone: str) -> None:
        from zoneinfo import ZoneInfo

        self.zone = ZoneInfo(timezone)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["one_line"] = lambda value: " ".join(str(value).split())

    @classmethod
    def from_config(cls, config: Config) -> ManualCheckMessages:
        return cls(config.templates(), config.settings.timezone)

    def local(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%H:%M %Z %a %d %b")

    def render(self, incident: Incident, event: PlacementEvent, channel: str) -> RenderedMessage:
        last_seen = event.circumstances.last_seen_at if event.circumstances else None
        context = {
            "ref": incident.reference,
            "event_id": event.event_id,
            "event_type": event.type,
            "placement": event.placement.name,
            "placement_id": event.placement.id,
            "local_authority": event.placement.local_authority,
            "reported": self.local(event.reported_at),
            "last_seen": self.local(last_seen) if last_seen else "not given",
        }
        text = self.env.get_template(f"{CHANNELS[channel].template_dir}/manual_check.txt.j2").render(context).strip()
        subject = f"[Crucial Hour] CHECK NOW - report not processed automatically - {incident.reference}"
        return CHANNELS[channel].plain(subject, text)


def manual_check(
    event: PlacementEvent,
    open_incident: Incident | None,
    config: Config,
    messages: ManualCheckMessages,
    now: datetime,
    identity: tuple[str, str] | None = None,
    sender: str | None = None,
) -> Outcome:
    """The incident change and the notifications that put an accepted, unprocessed report before people.
    `identity` the (incident id, reference) the report was given (the one its sender was answered with);
    `sender` who sent it (alerts.authority.sender_of), who then owns the incident."""
    at = plus(now, timedelta(0))
    targets = [
        Alerted(channel=route.channel, recipient=route.recipient)
        for agency_id in agencies_for(event, config)
        for route in agency_routes(agency_id, _channels(), config, at, "manual check")
    ]
    if open_incident is not None:
        incident = with_entry(open_incident, now, f"further {NOTE}")
        incident = incident.model_copy(update={"alerted": list({a: None for a in [*incident.alerted, *targets]})})
        change = "updated"
    else:
        incident = _incident(event, config, now, targets, identity or incident_ids(event.event_id, sender or ""), sender)
        change = "opened"
    rendered: dict[str, RenderedMessage] = {}  # the message names no recipient: once per channel
    for target in targets:
        if target.channel not in rendered:
            rendered[target.channel] = messages.render(incident, event, target.channel)
    notes = [_notification(incident, event, target, rendered[target.channel], now) for target in targets]
    return Outcome("manual_check", incident, [incident_record(change, incident, now)], notes)  # type: ignore[arg-type]


def _incident(
    event: PlacementEvent,
    config: Config,
    now: datetime,
    targets: list[Alerted],
    identity: tuple[str, str],
    sender: str | None,
) -> Incident:
    incident_id, reference = identity
    last_seen = event.circumstances.last_seen_at if event.circumstances else event.reported_at
    return Incident(
        incident_id=incident_id,
        reference=reference,
        status=IncidentStatus.OPEN,
        event_id=event.event_id,
        child_reference=event.child.reference,
        placement_id=event.placement.id,
        local_authority=event.placement.local_authority,
        provider_id=sender,
        match=MatchResult(decision=Decision.POSSIBLE_MATCH, explanation=[NOTE]),
        priority=Priority.HIGH,  # nobody has graded it: treat it as high until a person has
        reasons=[NOTE],
        last_seen_at=last_seen,
        received_at=now,
        deadline=plus(last_seen, timedelta(minutes=config.settings.window_minutes)),
        alerted=targets,
        timeline=[
            TimelineEntry(at=event.reported_at, what=f"reported missing by {' '.join(event.placement.name.split())}"),
            TimelineEntry(at=now, what=f"{NOTE}; {len(targets)} recipient(s) told"),
        ],
    )


def _channels() -> list[str]:
    return [channel.name for channel in CHANNELS if channel.routed_by_default]


def _notification(
    incident: Incident, event: PlacementEvent, target: Alerted, message: RenderedMessage, now: datetime
) -> Notification:
    return Notification(
        idempotency_key=Notification.key_for(
            incident.incident_id, target.recipient, target.channel, f"manual_check:{event.event_id}"
        ),
        incident_id=incident.incident_id,
        incident_reference=incident.reference,
        child_reference=incident.child_reference,
        kind="manual_check",
        channel=target.channel,
        recipient=target.recipient,
        message=message,
        priority=Priority.HIGH,
        created_at=now,
        received_at=incident.received_at,
        deadline=incident.deadline,
    )
