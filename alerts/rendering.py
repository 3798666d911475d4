"""Render notifications from the Jinja2 templates in alerts/templates/ (package data; settings.templates_dir may name your own).

The Renderer holds what every channel shares — the Jinja2 environment over the templates directory,
the facts a message may draw on (`context`), acknowledgement links — and hands each message to its
channel's renderer (alerts/channels: `Channel.renderer`, templates in templates/<channel>/): SMS fits
the minimum into a segment limit, email carries the full picture in text and HTML. StrictUndefined
turns a missing value into an error rather than a blank in an alert; HTML is autoescaped so a name
cannot carry markup; every value that reaches a header or an SMS is reduced to one line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import jinja2

from alerts.channels import CHANNELS
from alerts.errors import RenderError as RenderError  # raised by the channels' renderers too
from alerts.model import Incident, NotificationKind, PlacementEvent, Recipient, RenderedMessage, RiskProfile
from alerts.text import one_line as one_line

if TYPE_CHECKING:
    from alerts.channels.plugin import MessageRenderer
    from alerts.config import Config


@dataclass(frozen=True)
class MessageFacts:
    """What a message may draw on; templates choose how much of it to show."""

    kind: NotificationKind
    incident: Incident
    event: PlacementEvent
    profile: RiskProfile | None
    recipient: Recipient | None = None  # set when the message carries something personal (an ack link)


# Makes a recipient's own acknowledgement link (signed, expiring); supplied by the app at start-up.
AckLinks = Callable[[Incident, Recipient], str]


class Renderer:
    def __init__(
        self,
        templates_dir: Path,
        timezone: str = "Europe/London",
        *,
        ack: str | AckLinks | None = None,
        config: Config | None = None,
        channel_options: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        """`ack`: a link template with {reference} and {incident_id}, the same for everyone; or a
        function making each recipient a link of their own on channels that carry one (see
        `personal`). `config` gives each channel its settings (without it, the channel's defaults);
        `channel_options` overrides them per channel (tests: {channel name: {setting: value}})."""
        self.zone = ZoneInfo(timezone)
        self.ack_url = ack if isinstance(ack, str) else None
        self.ack_links = None if isinstance(ack, str) else ack
        self.config = config
        self.channel_options = dict(channel_options or {})
        self._channels: dict[str, MessageRenderer] = {}
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["one_line"] = one_line
        self.env.filters["local"] = self.local

    @classmethod
    def from_config(cls, config: Config, *, ack_url: str | None = None, ack_links: AckLinks | None = None) -> Renderer:
        return cls(config.templates(), config.settings.timezone, ack=ack_links or ack_url, config=config)

    def channel(self, name: str) -> MessageRenderer:
        """The renderer of channel `name` (KeyError naming the registered channels when there is none)."""
        if name not in self._channels:
            self._channels[name] = CHANNELS[name].renderer(self, self.config, self.channel_options.get(name, {}))
        return self._channels[name]

    def personal(self, channel: str) -> bool:
        """Whether each recipient on `channel` gets a message of their own: one with their own ack link,
        or one its renderer makes per recipient; otherwise one message serves the incident's recipients."""
        return (CHANNELS[channel].link_per_recipient and self.ack_links is not None) or self.channel(channel).per_recipient

    def local(self, moment: datetime, fmt: str = "%H:%M %Z %a %d %b") -> str:
        """A moment on the wall clock of people (Europe/London), e.g. 23:40 GMT Sat 28 Nov."""
        return moment.astimezone(self.zone).strftime(fmt)

    def context(self, facts: MessageFacts) -> dict[str, Any]:
        event, incident = facts.event, facts.incident
        child = event.child
        dob = child.date_of_birth
        age = None
        if dob is not None:
            # On the London date, as grading reads it: at 00:30 BST on a birthday the child is a year older.
            local_day = incident.last_seen_at.astimezone(self.zone).date()
            age = f"{dob.age_on(local_day)}{' (est.)' if dob.estimated else ''}"
        circumstances = event.circumstances
        ack_url = None
        if self.ack_links is not None and facts.recipient is not None:
            ack_url = self.ack_links(incident, facts.recipient)
        elif self.ack_url:
            ack_url = self.ack_url.format(reference=incident.reference, incident_id=incident.incident_id)
        full_name = one_line(f"{child.given_names} {child.family_name or ''}")
        return {
            "kind": facts.kind,
            "incident": incident,
            "ref": incident.reference,
            "priority": incident.priority.value.upper(),
            "decision": incident.match.decision.value,
            "age": age,
            "sex": child.sex,
            "child": child,
            "full_name": full_name,
            "event": event,
            "placement": event.placement,
            "circumstances": circumstances,
            "reporter": event.reporter,
            "profile": facts.profile,
            "match": incident.match,
            "ack_url": ack_url,
            "place": one_line(circumstances.last_seen_place) if circumstances else None,
            "keep": lambda part: True,
        }

    def render(self, facts: MessageFacts, channel: str) -> RenderedMessage:
        return self.channel(channel).render(facts)
