"""Render notifications from the Jinja2 templates in templates/.

SMS carries the minimum (reference, age, sex, priority, last seen when and where, callback, how to
acknowledge); email the full picture. StrictUndefined turns a missing value into an error rather
than a blank in an alert; HTML is autoescaped so a name cannot carry markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from alerts.model import Incident, NotificationKind, PlacementEvent, RenderedMessage, RiskProfile


@dataclass(frozen=True)
class MessageFacts:
    """What a message may draw on; templates choose how much of it to show."""

    kind: NotificationKind
    incident: Incident
    event: PlacementEvent
    profile: RiskProfile | None


def _one_line(value: object) -> str:
    # Headers and SMS lines must never carry a line break from user input.
    return " ".join(str(value).split())


class Renderer:
    def __init__(self, templates_dir: Path, timezone: str = "Europe/London") -> None:
        self.zone = ZoneInfo(timezone)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["one_line"] = _one_line
        self.env.filters["local"] = self._local

    def _local(self, moment: datetime, fmt: str = "%H:%M %Z %a %d %b") -> str:
        return moment.astimezone(self.zone).strftime(fmt)

    def context(self, facts: MessageFacts) -> dict[str, Any]:
        event, incident = facts.event, facts.incident
        child = event.child
        dob = child.date_of_birth
        age = None
        if dob is not None:
            age = f"{dob.age_on(incident.last_seen_at.date())}{' (est.)' if dob.estimated else ''}"
        return {
            "kind": facts.kind,
            "incident": incident,
            "ref": incident.reference,
            "priority": incident.priority.value.upper(),
            "age": age,
            "sex": child.sex,
            "child": child,
            "event": event,
            "placement": event.placement,
            "circumstances": event.circumstances,
            "reporter": event.reporter,
            "profile": facts.profile,
            "match": incident.match,
        }

    def render(self, facts: MessageFacts, channel: str) -> RenderedMessage:
        ctx = self.context(facts)
        if channel == "email":
            return RenderedMessage(
                subject=_one_line(self.env.get_template("email/subject.txt.j2").render(ctx)),
                text=self.env.get_template(f"email/{facts.kind}.txt.j2").render(ctx).strip() + "\n",
                html=self.env.get_template(f"email/{facts.kind}.html.j2").render(ctx),
            )
        return RenderedMessage(text=self.env.get_template(f"sms/{facts.kind}.txt.j2").render(ctx).strip())
