"""Render notifications from the Jinja2 templates in alerts/templates/ (package data; settings.templates_dir may name your own).

SMS carries the minimum by policy — reference, age, sex, priority, last seen when and where, the
carer's callback number, how to acknowledge — and never the child's name unless
settings.sms.include_full_name. It must fit in settings.sms.max_segments (see alerts/sms.py for the
arithmetic). When it does not, the renderer tries, in order, until it fits:

1. the message as written;
2. the same spelled in GSM-7, when that spelling is faithful (a place name with Vietnamese
   diacritics costs UCS-2, three times as much; "Bến xe" -> "Ben xe" keeps it readable);
3. dropping the optional parts the templates mark with keep(...), in the order of SMS_OPTIONAL;
4. shortening the last-seen place, at a word boundary, marked "...";
5. leaving the place to the email (templates then say "place by email");
6. as a last resort, dropping the parts in SMS_LAST_RESORT (the callback number).

The reference and the ACK instruction are outside every optional part and are never cut; a template
for which even step 6 does not fit raises RenderError (a test renders every kind at max_segments 1).

Email is multipart, text and HTML, with the full picture. StrictUndefined turns a missing value into
an error rather than a blank in an alert; HTML is autoescaped so a name cannot carry markup; every
value that reaches a header or an SMS is reduced to one line.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import jinja2

from alerts.errors import CrucialHourError
from alerts.model import Incident, NotificationKind, PlacementEvent, Recipient, RenderedMessage, RiskProfile
from alerts.sms import SmsCost, shorten, sms_cost, to_gsm7

if TYPE_CHECKING:
    from alerts.config import Config

# Parts of an SMS that templates may mark optional with {% if keep("...") %}, in the order dropped.
SMS_OPTIONAL: tuple[str, ...] = ("detail", "window", "name", "date")
# Dropped only when even leaving the place to the email is not enough (max_segments 1).
SMS_LAST_RESORT: tuple[str, ...] = ("callback",)
MIN_PLACE = 8  # shorter than this, a place name says nothing: leave it to the email instead


class RenderError(CrucialHourError):
    """A template cannot produce a valid message (e.g. an SMS that cannot fit the segment limit)."""


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


def _one_line(value: object) -> str:
    # Headers and SMS lines must never carry a line break from user input; NFC so that a decomposed
    # "ề" (e + two combining marks) is one character, as GSM-7 spelling and segment counts expect.
    return unicodedata.normalize("NFC", " ".join(str(value).split()))


class Renderer:
    def __init__(
        self,
        templates_dir: Path,
        timezone: str = "Europe/London",
        *,
        max_segments: int = 3,
        include_full_name: bool = False,
        ack_url: str | None = None,
        ack_links: AckLinks | None = None,
    ) -> None:
        """`ack_url`, when given, is a link template with {reference} and {incident_id}, shown in email;
        `ack_links` instead makes each email recipient a link of their own (see `personal`)."""
        self.zone = ZoneInfo(timezone)
        self.max_segments = max_segments
        self.include_full_name = include_full_name
        self.ack_url = ack_url
        self.ack_links = ack_links
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["one_line"] = _one_line
        self.env.filters["local"] = self.local

    @classmethod
    def from_config(cls, config: Config, *, ack_url: str | None = None, ack_links: AckLinks | None = None) -> Renderer:
        settings = config.settings
        return cls(
            config.templates(),
            settings.timezone,
            max_segments=settings.sms.max_segments,
            include_full_name=settings.sms.include_full_name,
            ack_url=ack_url,
            ack_links=ack_links,
        )

    def personal(self, channel: str) -> bool:
        """Whether each recipient on `channel` gets a message of their own (an email with their ack link)."""
        return channel == "email" and self.ack_links is not None

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
        full_name = _one_line(f"{child.given_names} {child.family_name or ''}")
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
            "place": _one_line(circumstances.last_seen_place) if circumstances else None,
            "keep": lambda part: True,
        }

    def render(self, facts: MessageFacts, channel: str) -> RenderedMessage:
        ctx = self.context(facts)
        if channel == "email":
            return RenderedMessage(
                subject=_one_line(self.env.get_template("email/subject.txt.j2").render(ctx)),
                text=self.env.get_template(f"email/{facts.kind}.txt.j2").render(ctx).strip() + "\n",
                html=self.env.get_template(f"email/{facts.kind}.html.j2").render(ctx),
            )
        return RenderedMessage(text=self.fit_sms(facts)[0])

    # --- SMS ------------------------------------------------------------------------------------

    def sms_context(self, facts: MessageFacts) -> dict[str, Any]:
        ctx = self.context(facts)
        ctx["sms_name"] = ctx["full_name"] if self.include_full_name else None
        ctx["place_by_email"] = False
        return ctx

    def fit_sms(self, facts: MessageFacts) -> tuple[str, SmsCost]:
        """The SMS text within max_segments (see the module notes for the steps), and its cost."""
        template = self.env.get_template(f"sms/{facts.kind}.txt.j2")
        ctx = self.sms_context(facts)
        place: str | None = ctx["place"]

        def render(dropped: frozenset[str], where: str | None, gsm: bool, by_email: bool = False) -> tuple[str, SmsCost]:
            keep: Callable[[str], bool] = lambda part: part not in dropped  # noqa: E731
            text = _one_line(template.render({**ctx, "keep": keep, "place": where, "place_by_email": by_email}))  # NFC
            if gsm:
                text = to_gsm7(text)[0]
            text = text.replace("....", "...")  # a shortened place before a full stop
            return text, sms_cost(text)

        def fits(cost: SmsCost) -> bool:
            return cost.segments <= self.max_segments

        text, cost = render(frozenset(), place, False)
        if fits(cost):
            return text, cost
        gsm = cost.encoding == "UCS-2" and to_gsm7(text)[1]
        levels = [frozenset(SMS_OPTIONAL[:n]) for n in range(len(SMS_OPTIONAL) + 1)]
        for dropped in levels:
            text, cost = render(dropped, place, gsm)
            if fits(cost):
                return text, cost
        fewest = levels[-1]
        if place is not None and len(place) > MIN_PLACE:
            low, high, best = MIN_PLACE, len(place) - 1, None
            while low <= high:  # the longest shortened place that fits and still says something
                middle = (low + high) // 2
                shortened = shorten(place, middle)
                attempt = render(fewest, shortened, gsm)
                if len(shortened.rstrip(".")) < MIN_PLACE:
                    low = middle + 1
                elif fits(attempt[1]):
                    best, low = attempt, middle + 1
                else:
                    high = middle - 1
            if best is not None:
                return best
        by_email = place is not None
        for dropped in (fewest, fewest | frozenset(SMS_LAST_RESORT)):
            text, cost = render(dropped, None, True, by_email)
            if fits(cost):
                return text, cost
        raise RenderError(
            f"sms/{facts.kind}.txt.j2 cannot fit {self.max_segments} segment(s) even at its shortest ({cost}): "
            "mark more of it optional with keep(...) or raise sms.max_segments"
        )
