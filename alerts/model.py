"""The event contract: what placements send, what profiles hold, what the stream produces.

Every model is strict (no silent coercion), rejects unknown fields and is frozen. Times are
timezone-aware; `crucial schema` publishes these as JSON Schema for placements to integrate against.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, StringConstraints, model_validator
from pydantic import AwareDatetime as _AnyAwareDatetime

from alerts.addresses import valid_email

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Ref = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,79}$")]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()-]{6,20}$")]
# One validator for config, profiles and the email channel (alerts/addresses.py).
# The pattern stays as the published JSON Schema's rule; the validator is the channel's.
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), AfterValidator(valid_email)
]

# Every time in the contract lies on this stretch of the calendar, so that no deadline, age or window
# arithmetic on a received time can overflow (0001-01-01 minus an hour, 9999-12-31 plus one); the ways
# in bound report times much more tightly against the server clock (alerts.intake.time_reasons).
EARLIEST_MOMENT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_MOMENT = datetime(2200, 1, 1, tzinfo=UTC)


def _on_the_calendar(moment: datetime) -> datetime:
    if not EARLIEST_MOMENT <= moment < LATEST_MOMENT:
        raise ValueError(f"must lie between {EARLIEST_MOMENT.year} and {LATEST_MOMENT.year}")
    return moment


# Timezone-aware and within the calendar above: every model below uses this, not pydantic's own.
AwareDatetime = Annotated[_AnyAwareDatetime, AfterValidator(_on_the_calendar)]

OLDEST_CHILD_YEARS = 26  # care leavers are supported to 25; anything older is a typo


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Priority(StrEnum):
    """Police missing-person risk grading (College of Policing APP)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return {"high": 3, "medium": 2, "low": 1}[self.value]


Sex = Literal["female", "male", "other", "unknown"]


class Identifier(Strict):
    """An identifier from some scheme: a local-authority reference, Home Office or NRM reference…"""

    scheme: Ref
    value: Ref

    def key(self) -> tuple[str, str]:
        return (self.scheme.lower(), "".join(self.value.split()).upper())


class DateOfBirth(Strict):
    """A best-estimate date; `estimated` for age-assessed children; a range when disputed."""

    value: date
    estimated: bool = False
    earliest: date | None = None
    latest: date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DateOfBirth:
        # No clock here: a stored record must not start failing as time passes. Intake checks the
        # dates against the clock it is given (alerts.intake.dob_reasons).
        if (self.earliest and self.value < self.earliest) or (self.latest and self.value > self.latest):
            raise ValueError("value must lie between earliest and latest")
        return self

    def plausible_on(self, today: date) -> list[str]:
        """What is wrong with these dates on `today`: in the future, or older than any child in care.
        The dates themselves are never quoted: reasons are logged and stored."""
        oldest = today - timedelta(days=round(OLDEST_CHILD_YEARS * 365.25))
        reasons = []
        for name, day in (("value", self.value), ("earliest", self.earliest), ("latest", self.latest)):
            if day is not None and day > today:
                reasons.append(f"{name} is in the future")
            elif day is not None and day < oldest:
                reasons.append(f"{name} is more than {OLDEST_CHILD_YEARS} years ago")
        return reasons

    @property
    def bounds(self) -> tuple[date, date]:
        return (self.earliest or self.value, self.latest or self.value)

    def age_on(self, day: date) -> int:
        born = self.value
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


# --- the placement event ------------------------------------------------------------------------


class Placement(Strict):
    id: Ref
    name: Text
    local_authority: Text
    postcode: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9 ]{2,8}$")]
    placed_at: AwareDatetime | None = None


class Child(Strict):
    reference: Ref = Field(description="the placing local authority's reference for the child")
    identifiers: list[Identifier] = []
    given_names: Text
    family_name: Text | None = None
    aliases: list[Text] = []
    date_of_birth: DateOfBirth | None = None
    sex: Sex = "unknown"
    nationality: Text | None = None
    languages: list[Text] = []
    description: LongText = ""


class Circumstances(Strict):
    last_seen_at: AwareDatetime
    last_seen_place: Text
    clothing: LongText = ""
    accompanied_by: list[Text] = []
    vehicles: list[Text] = []
    phone_numbers: list[Phone] = []
    notes: LongText = ""
    near: list[Literal["port", "airport", "coach_station", "railway_station"]] = []
    previous_missing_episodes: Annotated[int, Field(ge=0)] = 0


class Reporter(Strict):
    name: Text
    role: Text
    callback_phone: Phone


EventType = Literal["left_placement", "returned", "update"]


class PlacementEvent(Strict):
    """What a placement reports: the child has left, has returned, or there is news."""

    event_id: Ref
    type: EventType
    occurred_at: AwareDatetime
    reported_at: AwareDatetime
    placement: Placement
    child: Child
    circumstances: Circumstances | None = None
    reporter: Reporter

    @model_validator(mode="after")
    def _circumstances_when_left(self) -> PlacementEvent:
        if self.type == "left_placement" and self.circumstances is None:
            raise ValueError("circumstances are required when type is 'left_placement'")
        if self.circumstances and self.circumstances.last_seen_at > self.reported_at + timedelta(minutes=5):
            raise ValueError("circumstances.last_seen_at is after reported_at")
        return self

    def identifiers(self) -> list[Identifier]:
        own = Identifier(scheme="la_reference", value=self.child.reference)
        return [own, *self.child.identifiers]


# --- the risk profile ---------------------------------------------------------------------------


class Associate(Strict):
    name: Text
    relationship: Text = "unknown"


class SocialWorker(Strict):
    name: Text
    email: Email | None = None
    phone: Phone | None = None


class RiskProfile(Strict):
    """A child flagged at risk of trafficking, recorded in advance (Philomena protocol)."""

    profile_id: Ref
    identifiers: list[Identifier] = []
    given_names: Text
    family_name: Text | None = None
    aliases: list[Text] = []
    date_of_birth: DateOfBirth | None = None
    sex: Sex = "unknown"
    nationality: Text | None = None
    risk_level: Priority
    indicators: list[Text] = []
    associates: list[Associate] = []
    vehicles: list[Text] = []
    phone_numbers: list[Phone] = []
    places_of_concern: list[Text] = []
    responsible_local_authority: Text
    police_force: Text
    social_worker: SocialWorker | None = None


# --- what the stream produces -------------------------------------------------------------------


class Decision(StrEnum):
    MATCH = "match"
    POSSIBLE_MATCH = "possible_match"
    NO_MATCH = "no_match"


class ProfileLink(Strict):
    """A circumstantial link: something in the report (a vehicle, a phone, a companion) is recorded on a profile."""

    profile_id: str
    kind: Literal["vehicle", "phone", "associate"]
    detail: str
    risk_level: Priority = Field(description="the linked profile's risk level")


class MatchResult(Strict):
    decision: Decision
    profile_id: str | None = None
    score: float = 0.0
    explanation: list[str] = []
    links: list[ProfileLink] = Field(
        default=[], description="profiles linked by circumstance, whether or not the child matched one"
    )
    alternatives: list[str] = Field(
        default=[], description="other profiles almost as close: the match is only possible and a person confirms which"
    )


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


class TimelineEntry(Strict):
    at: AwareDatetime
    what: str


Channel = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]


class Recipient(Strict):
    agency_id: str
    name: str
    address: str = Field(description="where the channel delivers: a phone number or an email address")

    @property
    def tag(self) -> str:
        """A short stable token for this recipient (e.g. in a link), revealing neither name nor address."""
        return hashlib.sha256(f"{self.agency_id}\x1f{self.address.lower()}".encode()).hexdigest()[:16]


class Alerted(Strict):
    channel: Channel
    recipient: Recipient


# How an acknowledgement came: a channel its recipients acknowledge on by replying (the registry's
# `ack_by_reply`: an SMS reply, a key pressed in a call), or one of ACK_OUTSIDE_CHANNELS. The owner
# refuses any other (streams/pipeline/owner.py), so the name is a bounded metric label.
AckVia = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
ACK_OUTSIDE_CHANNELS = ("link", "board")


class Acknowledgement(Strict):
    by: Recipient
    via: AckVia
    at: AwareDatetime


class Claim(Strict):
    """A report about an open incident from someone who may not change it (see alerts.authority): kept on
    the timeline, not applied, until one of the incident's recipients or the duty team confirms it."""

    claim_id: str = Field(description="short id quoted to confirm it")
    event_id: str
    type: Literal["left_placement", "returned", "update"]
    sender: str = Field(description="who sent it: a provider id, or placement:<id> for an unidentified producer")
    at: AwareDatetime
    status: Literal["unverified", "confirmed"] = "unverified"
    confirmed_by: Recipient | None = None


class Incident(Strict):
    """A child who matched a profile and is missing: the unit that is alerted, escalated, resolved."""

    incident_id: str
    reference: str = Field(description="short reference read out and texted, e.g. CH-4K7QX2")
    status: IncidentStatus
    event_id: str
    child_reference: str
    placement_id: str
    local_authority: str
    provider_id: str | None = Field(
        default=None, description="who opened it (alerts.authority.sender_of): only they, or an authority, may change it"
    )
    match: MatchResult
    priority: Priority
    reasons: list[str] = []
    last_seen_at: AwareDatetime
    received_at: AwareDatetime
    deadline: AwareDatetime
    alerted: list[Alerted] = []
    unreachable: list[Alerted] = Field(
        default=[], description="alerted addresses a delivery showed invalid for their channel: nothing more is sent there"
    )
    acknowledgements: list[Acknowledgement] = []
    escalation_step: int = Field(default=0, description="escalation steps taken so far")
    escalation_stopped: bool = Field(default=False, description="the chain reached its ceiling: no further automatic step")
    breached: bool = Field(default=False, description="the window ended before anyone acknowledged")
    timeline: list[TimelineEntry] = []
    claims: list[Claim] = Field(default=[], description="reports from others, held until confirmed")

    @property
    def acknowledged(self) -> bool:
        return bool(self.acknowledgements)


IncidentChange = Literal["opened", "updated", "acknowledged", "escalated", "breached", "resolved"]

NotificationKind = Literal["alert", "possible_match", "escalation", "update", "stand_down", "manual_check", "claim"]


class _Command(Strict):
    """What every incident command carries. Asks the incident's owner (the triage agent, keyed by child
    reference) to change it; `command` says which change, and each kind holds only its own fields."""

    incident_id: str
    child_reference: str
    at: AwareDatetime


class Acknowledge(_Command):
    command: Literal["acknowledge"] = "acknowledge"
    by: Recipient = Field(description="who acknowledged")
    via: AckVia


class Escalate(_Command):
    command: Literal["escalate"] = "escalate"
    step: int = Field(description="the escalation step due (1-based)")


class Breach(_Command):
    command: Literal["breach"] = "breach"


class FallBack(_Command):
    command: Literal["fall_back"] = "fall_back"
    by: Recipient = Field(description="whom a delivery failed to reach")
    channel: str = Field(description="the channel that failed")
    kind: NotificationKind = Field(description="the kind of message that failed")
    reason: str = Field(description="why it failed (a bounded reason)")


class ConfirmClaim(_Command):
    command: Literal["confirm_claim"] = "confirm_claim"
    claim_id: str = Field(description="which claim (Claim.claim_id)")
    by: Recipient = Field(description="who confirmed it")
    via: AckVia | None = None


IncidentCommand = Annotated[Acknowledge | Escalate | Breach | FallBack | ConfirmClaim, Field(discriminator="command")]


class IncidentCommands(RootModel[IncidentCommand]):
    """One record of the incident-commands topic, whichever kind: `decode` it, then `match` on `.root`."""

    @classmethod
    def decode(cls, raw: bytes | str) -> IncidentCommand:
        """Records written before the commands were split carried every kind's fields, the unused ones
        null (the topic is kept forever): such a null is dropped; anything else not of the kind is refused."""
        data = json.loads(raw)
        kind = _COMMAND_KINDS.get(str(data.get("command"))) if isinstance(data, dict) else None
        if kind is not None and any(v is None and k not in kind.model_fields for k, v in data.items()):
            raw = json.dumps({k: v for k, v in data.items() if v is not None or k in kind.model_fields})
        return cls.model_validate_json(raw).root


_COMMAND_KINDS: dict[str, type[_Command]] = {
    kind.model_fields["command"].default: kind for kind in (Acknowledge, Escalate, Breach, FallBack, ConfirmClaim)
}


class IncidentRecord(Strict):
    """One entry of the incidents topic: what changed, and the incident after the change."""

    change: IncidentChange
    at: AwareDatetime
    incident: Incident


class RenderedMessage(Strict):
    subject: str = ""
    text: str
    html: str | None = None


class Notification(Strict):
    """One message to one recipient on one channel; `idempotency_key` makes delivery exactly-once."""

    idempotency_key: str
    incident_id: str
    incident_reference: str
    child_reference: str
    kind: NotificationKind
    channel: Channel
    recipient: Recipient
    message: RenderedMessage
    priority: Priority
    created_at: AwareDatetime
    received_at: AwareDatetime
    deadline: AwareDatetime

    @staticmethod
    def key_for(incident_id: str, recipient: Recipient, channel: str, kind: str) -> str:
        raw = "\x1f".join((incident_id, recipient.agency_id, recipient.address, channel, kind))
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


DeliveryState = Literal["intent", "accepted", "delivered", "failed"]


class DeliveryRecord(Strict):
    """One step of a notification's delivery: the ledger's value and an entry of the deliveries topic."""

    idempotency_key: str
    incident_id: str
    channel: str
    kind: NotificationKind
    agency_id: str | None = None
    recipient_tag: str | None = Field(default=None, description="Recipient.tag: which alerted recipient this is")
    state: DeliveryState
    at: AwareDatetime
    attempts: int = 0
    provider_id: str | None = None
    reason: str | None = None
    retryable: bool | None = None


class DeliveryStatus(Strict):
    """A provider's later word on a message it accepted (an SMS status callback), keyed like the notification."""

    idempotency_key: str
    provider_id: str
    outcome: Literal["delivered", "failed"]
    reason: str | None = None
    error_code: int | None = None
    at: AwareDatetime


class Rejection(Strict):
    """A payload that could not be accepted, kept whole with the reasons."""

    source: str
    received_at: AwareDatetime
    reasons: list[str]
    raw: str = Field(description="the payload as received (up to a bound), decoded as UTF-8 with replacement")
    raw_base64: str | None = Field(default=None, description="set when the payload was not valid UTF-8")
    raw_length: int | None = Field(default=None, description="the full payload's length in bytes")
    raw_sha256: str | None = Field(default=None, description="the full payload's SHA-256 (hex)")
    truncated: bool = Field(default=False, description="raw holds only the first bytes of the payload")


DeadLetterReason = Literal["too_large", "not_utf8", "not_json", "schema", "processing"]


class DeadLetter(Strict):
    """A consumed record a stage could not process, kept (bounded) with where it came from and why."""

    stage: str
    source_topic: str
    partition: int
    offset: int
    key_base64: str | None = Field(default=None, description="the record's key, up to a bound")
    reason_class: DeadLetterReason
    exception: str = Field(description="the exception's class")
    reasons: list[str] = Field(description="field paths and what is wrong, or where the fault arose: never values")
    at: AwareDatetime
    raw_base64: str = Field(description="the record's value up to a bound")
    raw_length: int = Field(description="the full value's length in bytes")
    raw_sha256: str = Field(description="the full value's SHA-256 (hex)")
    truncated: bool


MODELS_FOR_SCHEMA: dict[str, type[BaseModel]] = {
    "placement-event": PlacementEvent,
    "risk-profile": RiskProfile,
    "incident-record": IncidentRecord,
    "incident-command": IncidentCommands,
    "notification": Notification,
    "delivery-record": DeliveryRecord,
    "rejection": Rejection,
    "dead-letter": DeadLetter,
}
