"""One configuration schema, validated strictly at start-up and offline by `crucial check-config`.

The config directory holds settings.yaml, agencies.yaml and routing.yaml. Every problem is reported
as a ConfigError naming the file, the key and the fix. Secrets never live in these files: they come
from the environment or from secret files named here.
"""

from __future__ import annotations

import os
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    model_validator,
)

from alerts.errors import ConfigError, ConfigErrors
from alerts.intake import field_path
from alerts.model import Email, Phone, Priority, Ref, Text

AgencyId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
SECRET_KEYS = ("auth_token", "password", "api_key", "secret", "token")
# Package data: the templates ship inside the wheel, so an installed worker never looks for them
# next to whatever directory its config happens to be in.
PACKAGE_TEMPLATES = Path(__file__).resolve().parent / "templates"


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- settings.yaml ------------------------------------------------------------------------------


class Topics(Schema):
    placement_events: str = "placement-events"
    rejected: str = "placement-events.rejected"
    profiles: str = "risk-profiles"
    incidents: str = "incidents"
    notifications: str = "notifications"
    deliveries: str = "deliveries"
    incident_commands: str = "incident-commands"
    delivery_status: str = "delivery-status"
    dead_letters: str = "dead-letters"
    placements: str = "placements"  # the placement register (alerts/placements.py), compacted
    # Shared state every worker follows whole (streams.register, streams.sessions).
    event_ids: str = "event-ids"
    request_signatures: str = "request-signatures"
    auth_state: str = "auth-state"


class KafkaSecurity(Schema):
    """Passed through to faust/aiokafka and kafka-python for managed clusters."""

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    username_env: str = "KAFKA_USERNAME"
    password_env: str = "KAFKA_PASSWORD"
    ca_file: Path | None = None


class Retention(Schema):
    """How long each kind of topic keeps its records (docs/operations.md gives the reasons)."""

    audit_years: Annotated[int, Field(ge=1, le=100)] | None = Field(
        default=None, description="incidents, deliveries, incident-commands, delivery-status; none: forever"
    )
    placement_events_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        default=30, description="raw reports and notifications: long enough to reprocess after an outage, no longer"
    )
    quarantine_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        default=14, description="placement-events.rejected and dead-letters: raw payloads kept for investigation"
    )


class Quarantine(Schema):
    """Bounds on what the rejected and dead-letter topics keep of a bad record, so it can always be written."""

    max_raw_bytes: Annotated[int, Field(ge=256, le=131072)] = Field(
        default=16384, description="of the raw record; its full length and SHA-256 are kept too"
    )
    max_record_bytes: Annotated[int, Field(ge=1024, le=8388608)] = Field(
        default=262144, description="a consumed record larger than this is quarantined undecoded"
    )


class KafkaSettings(Schema):
    bootstrap: str = "127.0.0.1:9092"
    app_id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$")] = "crucial-hour"
    partitions: Annotated[int, Field(ge=1, le=256)] = 4
    replication_factor: Annotated[int, Field(ge=1, le=5)] = 1
    min_insync_replicas: Annotated[int, Field(ge=1, le=5)] = Field(
        default=1, description="with acks=all, writes wait for this many replicas (at most replication_factor)"
    )
    retention: Retention = Retention()
    quarantine: Quarantine = Quarantine()
    topics: Topics = Topics()
    security: KafkaSecurity = KafkaSecurity()
    fetch_max_wait_ms: Annotated[int, Field(ge=1, le=1500)] = Field(
        default=50,
        description="longest a fetch waits for data; partitions left out of a pending fetch wait this long (faust: 1500)",
    )


class WebSettings(Schema):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 6066
    public_url: str | None = Field(
        default=None, description="how people reach this port (for links in messages); default http://host:port"
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default=[],
        description="reverse proxies (addresses or CIDR networks) whose X-Forwarded-For is believed; no one else's is",
    )


class OutboxSettings(Schema):
    path: Path = Path("var/outbox.jsonl")


class SmsSettings(Schema):
    max_segments: Annotated[int, Field(ge=1, le=10)] = 3
    include_full_name: bool = False


class RetrySettings(Schema):
    """Retries of a transient delivery failure: exponential backoff with equal jitter, within a budget.

    The defaults ride out a provider outage of at least three minutes (an attempt every 5–10 s, for
    up to 5 minutes): giving up on an alert after seconds of 5xx would drop it into the fallback path
    for a fault that is the provider's and passing."""

    max_attempts: Annotated[int, Field(ge=1, le=200)] = 40
    base_delay_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    max_delay_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    budget_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=300.0, description="no attempt starts later than this after the first one"
    )


class TwilioSettings(Schema):
    """SMS through Twilio. The auth token comes from the environment or a secret file, never from here."""

    account_sid: Annotated[str, StringConstraints(pattern=r"^AC[0-9a-fA-F]{32}$")]
    from_number: Phone | None = None
    messaging_service_sid: Annotated[str, StringConstraints(pattern=r"^MG[0-9a-fA-F]{32}$")] | None = None
    auth_token_env: str = "TWILIO_AUTH_TOKEN"
    auth_token_file: Path | None = None
    base_url: str | None = Field(default=None, description="a Twilio-compatible server, for tests")
    status_callback_url: str | None = None
    inbound_url: str | None = Field(
        default=None, description="the public URL Twilio posts SMS replies to (…/twilio/inbound): signatures are over it"
    )
    region: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}[0-9]$")] | None = Field(
        default=None, description="Twilio region, e.g. ie1 (with edge: dublin) to keep traffic in Europe"
    )
    edge: Annotated[str, StringConstraints(pattern=r"^[a-z-]+$")] | None = None
    timeout_s: Annotated[float, Field(gt=0, le=120)] = Field(default=10.0, description="per request")
    max_concurrency: Annotated[int, Field(ge=1, le=256)] = Field(default=16, description="requests in flight at once")
    min_validity_s: Annotated[int, Field(ge=1, le=36000)] = Field(
        default=300, description="ValidityPeriod floor, also used once the window has passed"
    )
    default_region: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(
        default="GB", description="how numbers written nationally are read (07700 900123 -> +447700900123)"
    )
    retry: RetrySettings = RetrySettings()


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EmailDomain = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=rf"^{_LABEL}(?:\.{_LABEL})+$")]


class SmtpSettings(Schema):
    """Email over SMTP. The password comes from the environment or a secret file, never from here."""

    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    username: str | None = None
    password_env: str = "SMTP_PASSWORD"
    password_file: Path | None = None
    sender: Email
    sender_name: str = "Crucial Hour"
    ca_file: Path | None = Field(default=None, description="CA bundle to verify the server with (default: the system's)")
    local_hostname: str | None = Field(default=None, description="name given in EHLO (default: this host's FQDN)")
    message_id_domain: EmailDomain | None = Field(default=None, description="right of @ in Message-ID (default: sender's)")
    allowed_domains: list[EmailDomain] = Field(
        default=[], description="recipient domains (and their subdomains) email may go to; empty allows any"
    )
    timeout_s: Annotated[float, Field(gt=0, le=300)] = Field(default=15.0, description="per SMTP command")
    max_concurrency: Annotated[int, Field(ge=1, le=64)] = Field(default=8, description="connections at once")
    retry: RetrySettings = RetrySettings()


class IntakeLimits(Schema):
    """Bounds every way in (API, form, CLI, Kafka) applies to a report (docs/operations.md: why)."""

    max_future_skew_s: Annotated[int, Field(ge=0, le=3600)] = Field(
        default=300, description="how far ahead of the server clock a report's times may be"
    )
    max_last_seen_age_days: Annotated[int, Field(ge=1, le=366)] = Field(
        default=31, description="how far back a last-seen (and occurred/reported) time may be"
    )
    max_json_depth: Annotated[int, Field(ge=4, le=64)] = 16
    max_bytes: Annotated[int, Field(ge=1024, le=4194304)] = Field(default=262144, description="of one report or profile")


class HealthSettings(Schema):
    """When /live and /ready (streams/health.py) stop answering 200."""

    loop_block_seconds: Annotated[float, Field(gt=0, le=600)] = Field(
        default=5.0, description="/live fails when the event loop was blocked this long"
    )
    stall_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=120.0, description="/ready fails when a held partition has lag and no commit for this long"
    )
    crash_limit: Annotated[int, Field(ge=0, le=1000)] = Field(
        default=3, description="/ready fails after more agent crashes than this within crash_window_seconds"
    )
    crash_window_seconds: Annotated[float, Field(gt=0, le=86400)] = 300.0


class Settings(Schema):
    delivery_concurrency: Annotated[int, Field(ge=1, le=256)] = Field(
        default=32, description="notifications in flight at once per worker, so a slow provider stalls none"
    )
    window_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 60
    timezone: str = "Europe/London"
    kafka: KafkaSettings = KafkaSettings()
    intake: IntakeLimits = IntakeLimits()
    web: WebSettings = WebSettings()
    outbox: OutboxSettings = OutboxSettings()
    data_dir: Path = Field(default=Path("var"), description="the worker's local files (Faust's data directory)")
    sms: SmsSettings = SmsSettings()
    twilio: TwilioSettings | None = None
    smtp: SmtpSettings | None = None
    health: HealthSettings = HealthSettings()
    templates_dir: Path | None = Field(
        default=None, description="your own message templates (relative to the config directory); default: the package's"
    )


# --- agencies.yaml ------------------------------------------------------------------------------


def _e164(value: str) -> str:
    from alerts.phone import to_e164

    return to_e164(value)


# A phone number in config: any common spelling, held as E.164 so duplicates are recognised.
E164Phone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_e164)]
RotaId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
PersonId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]


class Contact(Schema):
    """A fixed contact (an sms number, an email address or both), or `rota:` — whoever of that on-call
    rota (rota.yaml) is on call at the time of the report; `name` labels either (e.g. "duty sergeant")."""

    name: Annotated[str, StringConstraints(min_length=1)]
    sms: E164Phone | None = None
    email: Email | None = None
    rota: RotaId | None = None


AgencyKind = Literal[
    "police",
    "emergency_duty_team",
    "social_care",
    "border_force",
    "modern_slavery_referral",
    "guardian",
    "other",
]


class Agency(Schema):
    name: Annotated[str, StringConstraints(min_length=1)]
    kind: AgencyKind
    contacts: Annotated[list[Contact], Field(min_length=1)]


class Agencies(Schema):
    agencies: dict[AgencyId, Agency]


# --- indicators.yaml ----------------------------------------------------------------------------

IndicatorId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
NrmCategory = Literal["sexual", "labour", "criminal", "domestic_servitude", "organ_harvesting", "none"]


class Indicator(Schema):
    label: Phrase
    nrm_category: NrmCategory = Field(description="the NRM exploitation type; none for a means of control")
    synonyms: list[Phrase] = Field(default=[], description="other wordings, compared exactly (case and punctuation aside)")


class Vocabulary(Schema):
    """The controlled list of indicators that grading and routing rules name (see alerts/indicators.py)."""

    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="where the list and its wording come from"
    )
    indicators: Annotated[dict[IndicatorId, Indicator], Field(min_length=1)]
    groups: dict[IndicatorId, Annotated[list[IndicatorId], Field(min_length=1)]] = {}
    qualifiers: list[Phrase] = Field(
        default=[], description="leading words read off a profile's text before the lookup ('suspected', 'at risk of')"
    )


# --- routing.yaml -------------------------------------------------------------------------------

Near = Literal["port", "airport", "coach_station", "railway_station"]
RoutedDecision = Literal["match", "possible_match"]
Names = Annotated[list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]], Field(min_length=1)]
# Only these may be told of a possible match: a person there confirms or rules it out first.
POSSIBLE_MATCH_KINDS: tuple[AgencyKind, ...] = ("emergency_duty_team",)


class RuleMatch(Schema):
    """Every listed condition must hold; an omitted condition matches anything — except `decision`,
    which is [match] when omitted: a possible match reaches only rules that list possible_match.
    Names compare without regard to case or repeated spaces."""

    decision: Annotated[list[RoutedDecision], Field(min_length=1)] = ["match"]
    local_authority: Names | None = Field(default=None, description="the placement's or the responsible authority")
    placement_local_authority: Names | None = None
    responsible_local_authority: Names | None = Field(default=None, description="from the child's risk profile")
    police_force: Names | None = Field(
        default=None, description="the profile's force, or the force area of either local authority (police_force_areas)"
    )
    priority: Annotated[list[Priority], Field(min_length=1)] | None = None
    indicators: Names | None = Field(default=None, description="any of these among the profile's indicators")
    near: Annotated[list[Near], Field(min_length=1)] | None = Field(
        default=None, description="any of these in the report's circumstances.near"
    )
    linked_by_circumstance: bool | None = Field(
        default=None, description="the child has no profile of their own and is linked to one by a vehicle, phone or companion"
    )


class Rule(Schema):
    name: Annotated[str, StringConstraints(min_length=1)]
    match: RuleMatch = RuleMatch()
    notify: list[AgencyId] = []
    notify_police_force: bool = Field(
        default=False,
        description="also the missing-person desk (police_forces) of each force of the child: the placement's area, "
        "the responsible authority's area and the profile's force",
    )
    social_worker: bool = False
    channels: Annotated[list[Literal["sms", "email"]], Field(min_length=1)] = ["sms", "email"]


class ManualCheck(Schema):
    """Who checks an accepted report by hand when it could not be processed automatically (fail open):
    the placement's emergency duty team and its police force's missing-person desk (`police_forces`); `otherwise` when
    neither is known for the placement's local authority (and, when that is empty, every police and
    emergency duty team agency)."""

    emergency_duty_teams: dict[str, AgencyId] = Field(default={}, description="local authority -> agency")
    otherwise: list[AgencyId] = []


class Routing(Schema):
    rules: Annotated[list[Rule], Field(min_length=1)]
    police_force_areas: dict[str, Names] = Field(default={}, description="police force -> the local authorities in its area")
    police_forces: dict[str, AgencyId] = Field(
        default={}, description="police force -> the agency that is its missing-person desk (for notify_police_force)"
    )
    manual_check: ManualCheck = ManualCheck()


def possible_match_allowed(rule: Rule, kind: AgencyKind) -> bool:
    """Whether `rule` may tell an agency of `kind` of a possible match: emergency duty teams always; the
    police only for high priority or a child linked by circumstance, with wording that says "possible"."""
    if kind in POSSIBLE_MATCH_KINDS:
        return True
    police_case = rule.match.priority == [Priority.HIGH] or rule.match.linked_by_circumstance is True
    return kind == "police" and police_case


# --- rota.yaml ----------------------------------------------------------------------------------


def _real_moment(value: str) -> str:
    from datetime import datetime

    try:
        datetime.strptime(value.replace("T", " "), "%Y-%m-%d %H:%M")
    except ValueError:
        raise ValueError(f"'{value}' is not a real date and time") from None
    return value


# Wall-clock times in the rota's time zone, as text (quote them: YAML reads 20:00 as a number).
ClockTime = Annotated[str, StringConstraints(strict=True, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
LocalMoment = Annotated[
    str,
    StringConstraints(strict=True, pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T]([01][0-9]|2[0-3]):[0-5][0-9]$"),
    AfterValidator(_real_moment),
]


class RotaPerson(Schema):
    name: Annotated[str, StringConstraints(min_length=1)]
    sms: E164Phone | None = None
    email: Email | None = None


class DailyHours(Schema):
    """Hours of each day a layer covers; an `end` at or before `start` runs past midnight (20:00-08:00)."""

    start: ClockTime
    end: ClockTime


class RotaLayer(Schema):
    """People take turns: people[0] from `rotation_start`, the next one `rotate_every_days` later…"""

    name: Annotated[str, StringConstraints(min_length=1)]
    rotation_start: LocalMoment = Field(description="the first handover, e.g. '2026-01-05 08:00' (local wall clock)")
    rotate_every_days: Annotated[int, Field(ge=1, le=28)] = 7
    people: Annotated[list[PersonId], Field(min_length=1)]
    hours: DailyHours | None = Field(default=None, description="omitted: around the clock")


class RotaOverride(Schema):
    """A dated cover: `person` is on call from `start` to `end` (local wall clock), over every layer."""

    person: PersonId
    start: LocalMoment
    end: LocalMoment
    reason: str = ""


class Rota(Schema):
    """An on-call rota. Later layers take precedence over earlier ones; overrides over every layer."""

    name: Annotated[str, StringConstraints(min_length=1)]
    timezone: str = "Europe/London"
    people: Annotated[dict[PersonId, RotaPerson], Field(min_length=1)]
    layers: Annotated[list[RotaLayer], Field(min_length=1)]
    overrides: list[RotaOverride] = []


class Rotas(Schema):
    rotas: dict[RotaId, Rota] = {}


# --- escalation.yaml ----------------------------------------------------------------------------


class EscalationStep(Schema):
    """Fires `after_minutes` after the report was received, unless someone has acknowledged."""

    after_minutes: Annotated[float, Field(gt=0, le=24 * 60)]
    notify: Annotated[list[AgencyId], Field(min_length=1)]
    channels: Annotated[list[Literal["sms", "email"]], Field(min_length=1)] = ["sms", "email"]


class EscalationChain(Schema):
    """Each step alerts only whom it adds (nobody already alerted); a possible match reaches only the
    agencies routing may tell of one. After the last step, it repeats every `repeat_every_minutes`
    (reaching whoever has come on call since) at most `max_repeats` times: then escalation stops, and
    the timeline and the board say so."""

    steps: list[EscalationStep] = []
    repeat_every_minutes: Annotated[float, Field(gt=0, le=24 * 60)] | None = Field(
        default=None, description="after the last step, repeat it this often until acknowledged (up to max_repeats)"
    )
    max_repeats: Annotated[int, Field(ge=0, le=96)] = Field(
        default=0, description="the ceiling: how many repeats of the last step before escalation stops"
    )

    @property
    def ceiling(self) -> int:
        """The last step that is ever taken (1-based)."""
        return len(self.steps) + (self.max_repeats if self.repeat_every_minutes else 0)


class Escalation(Schema):
    tick_seconds: Annotated[float, Field(gt=0, le=300)] = Field(default=15.0, description="how often the leader checks")
    window_at_risk_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = Field(
        default=20.0, description="the board marks an unacknowledged incident at risk with this little time left"
    )
    chains: dict[Priority, EscalationChain] = {}


# --- providers.yaml -----------------------------------------------------------------------------

ProviderId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
KeyId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
Username = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
# scrypt$<log2 n>$<r>$<p>$<salt>$<hash>, base64url, as `python -m streams.auth hash-password` prints it.
_B64 = r"[A-Za-z0-9_-]"
_SCRYPT = rf"^scrypt\$[0-9]{{1,2}}\$[0-9]{{1,2}}\$[0-9]{{1,2}}\${_B64}{{16,}}\${_B64}{{32,}}$"
ScryptHash = Annotated[str, StringConstraints(pattern=_SCRYPT)]
# $argon2id$v=19$m=..,t=..,p=..$salt$hash (PHC string), as `python -m streams.auth hash-password` prints it.
_ARGON2ID = r"^\$argon2id\$v=19\$m=[0-9]{1,8},t=[0-9]{1,3},p=[0-9]{1,3}\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$"
Argon2Hash = Annotated[str, StringConstraints(pattern=_ARGON2ID)]


class Password(Schema):
    """A password held as a hash: `password_hash` (argon2id), or an older `password_scrypt`, which is
    still accepted and rehashed to argon2id at the next sign-in (streams.sessions keeps the rehash)."""

    password_hash: Argon2Hash | None = None
    password_scrypt: ScryptHash | None = None

    @model_validator(mode="after")
    def _one_hash(self) -> Password:
        if (self.password_hash is None) == (self.password_scrypt is None):
            raise ValueError("give exactly one of password_hash (argon2id, from hash-password) and password_scrypt")
        return self

    @property
    def stored_password(self) -> str:
        return self.password_hash or self.password_scrypt or ""


class ApiKey(Schema):
    """A bearer API key, held only as its SHA-256 (hex): `python -m streams.auth new-api-key` makes one."""

    id: KeyId
    sha256: Sha256Hex


class HmacKey(Schema):
    """A key shared with the provider for HMAC-SHA256 request signatures; the key itself lives in the
    environment or in a secret file (which wins), never here."""

    id: KeyId = Field(description="sent by the provider in X-Crucial-Key-Id")
    secret_env: Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")]
    secret_file: Path | None = None


class StaffMember(Password):
    """Someone who may sign in to the report form; `name`, `role` and `callback_phone` fill the reporter."""

    name: Text
    role: Text = "residential care worker"
    callback_phone: Phone
    placements: list[Ref] | None = Field(
        default=None, description="omitted: every placement of the provider in the placement register"
    )


class RateLimit(Schema):
    """Per credential (API key or HMAC key id): a token bucket refilled at per_minute, holding burst."""

    per_minute: Annotated[int, Field(ge=1, le=60_000)] = 60
    burst: Annotated[int, Field(ge=1, le=10_000)] = 20


class Provider(Schema):
    """A placement provider and how it authenticates. Its placements and their children are in the
    placement register (alerts/placements.py, `crucial placements load`), not here."""

    name: Text
    api_keys: list[ApiKey] = []
    hmac_keys: list[HmacKey] = []
    staff: dict[Username, StaffMember] = {}
    rate_limit: RateLimit = RateLimit()
    authority_for: list[Text] = Field(
        default=[],
        description="local authorities this provider acts for: it may update, stand down or report again any "
        "incident whose placement's local authority, or whose profile's responsible local authority, is listed",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_placements(cls, data: Any) -> Any:
        if isinstance(data, dict) and "placements" in data:
            raise ValueError(
                "placements are no longer kept in providers.yaml (children are special-category data that "
                "change weekly): move them to a JSON Lines file like samples/placements.jsonl and run "
                "`crucial placements load FILE`"
            )
        return data


class IngestSettings(Schema):
    max_body_bytes: Annotated[int, Field(ge=1024, le=1024 * 1024)] = 64 * 1024
    signature_window_s: Annotated[int, Field(ge=30, le=3600)] = Field(
        default=300, description="how far X-Crucial-Timestamp may be from the server's clock"
    )
    produce_timeout_s: Annotated[float, Field(gt=0, le=120)] = Field(
        default=10.0, description="longest wait for Kafka's acknowledgement before answering 503"
    )
    failed_auth_per_minute: Annotated[int, Field(ge=1, le=60_000)] = Field(
        default=30, description="refused authentications allowed per client address before 429"
    )


class SessionSettings(Schema):
    """Signed session cookies for the pages (report form, situation board) and their CSRF tokens."""

    secret_env: Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")] = "CRUCIAL_SESSION_SECRET"
    secret_file: Path | None = None
    minutes: Annotated[int, Field(ge=5, le=7 * 24 * 60)] = 12 * 60
    cookie_secure: bool = Field(default=True, description="false only for plain-http development")
    logins_per_minute: Annotated[int, Field(ge=1, le=600)] = Field(
        default=10, description="failed sign-ins per (username, client address) before a growing wait"
    )
    user_failures_alert_per_hour: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=50,
        description="failed sign-ins for one username from all addresses in an hour that alert the ops team "
        "(crucial_signin_ceiling_total); the person is never locked out by it",
    )


class LinkSettings(Schema):
    """Signed, expiring links (acknowledgement links in SMS and email, report receipts)."""

    secret_env: Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")] = "CRUCIAL_LINK_SECRET"
    secret_file: Path | None = None
    valid_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 24 * 60


class Providers(Schema):
    ingest: IngestSettings = IngestSettings()
    sessions: SessionSettings = SessionSettings()
    links: LinkSettings = LinkSettings()
    providers: dict[ProviderId, Provider] = {}


# --- risk.yaml: identity matching and grading ------------------------------------------------
# How reports are matched to profiles and graded. Matching has defaults (the values shipped in
# config/risk.yaml, so `ProfileIndex()` works on its own); grading rules have none: they live in the
# file, not in code.

Points = Annotated[float, Field(ge=0)]
RiskWords = Annotated[list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]], Field(min_length=1)]


class MatchThresholds(Schema):
    """On the match score (0..1): at or above `match` a full alert; at or above `possible_match` a
    person confirms first; below, no match."""

    match: Annotated[float, Field(gt=0, le=1)] = 0.9
    possible_match: Annotated[float, Field(gt=0, le=1)] = 0.5


class MatchWeights(Schema):
    """Points of evidence. Agreement adds; the `*_conflict` and `*_unmatched_*` weights are subtracted."""

    identifier: Points = 20.0
    identifier_conflict: Points = 4.0
    initial: Points = 2.0
    main_name: Points = Field(default=0.5, description="the report's name matched the profile's name, not an alias")
    name_unmatched_reported: Points = 3.0
    name_unmatched_profile: Points = 0.5
    name_conflict: Points = Field(
        default=4.0, description="a name left unpaired on each side: a different name, not a dropped middle name"
    )
    name_penalty_cap_with_identifier: Points = Field(
        default=3.0, description="with a shared identifier, names cost at most this much however many fail to pair"
    )
    dob_exact: Points = 8.0
    dob_close: Points = Field(default=3.0, description="two exact dates with day and month swapped, or a year apart to the day")
    dob_near: Points = Field(default=1.5, description="two exact dates within dob.exact_days")
    dob_consistent: Points = Field(
        default=2.5,
        description="the most an estimate or range earns (log2 of its likelihood ratio, capped); never less than dob_near",
    )
    dob_within_tolerance: Points = Field(
        default=0.0, description="unused since the likelihood-ratio date model; accepted so older risk.yaml files load"
    )
    dob_conflict: Points = 5.0
    sex_agree: Points = 1.0
    sex_conflict: Points = 5.0
    nationality_agree: Points = 1.5
    nationality_conflict: Points = 2.0
    linked_same_profile: Points = 1.5


class DobTolerance(Schema):
    """How far apart two dates of birth may be and still count for the same child."""

    exact_days: Annotated[int, Field(ge=0, le=366)] = Field(
        default=31, description="two exact dates this close (or with day and month swapped) count as close"
    )
    estimated_margin_days: Annotated[int, Field(ge=0, le=3 * 366)] = Field(
        default=366, description="unused since the likelihood-ratio date model; accepted so older risk.yaml files load"
    )
    tolerance_days: Annotated[int, Field(ge=0, le=5 * 366)] = Field(
        default=366, description="unused since the likelihood-ratio date model; accepted so older risk.yaml files load"
    )
    estimate_right_year: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.6, description="share of age-assessed estimates that name the right year; the rest are a year out either way"
    )
    population_span_days: Annotated[int, Field(ge=366, le=40 * 366)] = Field(
        default=2922, description="the span birthdays of profiled children are spread over (ages 10-17): two at random"
    )


class NameFrequency(Schema):
    """A name token in common is worth the bits of surprise of its sound among the profiles of the same
    nationality (-log2 of its share: Nguyen little, a rare name much), smoothed towards `prior_share`
    while an index is small, and kept within min_points..max_points."""

    prior_share: Annotated[float, Field(gt=0, lt=1)] = 0.05
    prior_weight: Annotated[float, Field(ge=0)] = 20.0
    min_points: Points = 1.0
    max_points: Points = 6.0


class Blocking(Schema):
    """Candidate selection: never a scan of every profile."""

    max_block_size: Annotated[int, Field(ge=10, le=1_000_000)] = Field(
        default=5000, description="a blocking key shared by more profiles than this is too common to select on"
    )
    max_candidates: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=40, description="how many of the best-blocked candidates are scored in full"
    )
    max_scanned: Annotated[int, Field(ge=100, le=10_000_000)] = Field(
        default=2000, description="slots read from blocking keys per report, the most selective keys first"
    )


class Matching(Schema):
    thresholds: MatchThresholds = MatchThresholds()
    score_midpoint: float = Field(default=7.0, description="points at which the score is 0.5")
    score_spread: Annotated[float, Field(gt=0)] = Field(default=2.5, description="points that move the score by one logit")
    min_token_similarity: Annotated[float, Field(ge=0.5, le=1)] = 0.8
    ambiguity_margin: Points = Field(
        default=2.0, description="a match is only possible when another profile scores within this many points"
    )
    max_chance_agreements: Annotated[float, Field(gt=0)] = Field(
        default=6.0,
        description="a possible match on identity alone is no match when the profiles expected to agree as well by chance"
        " are this many times those that do",
    )
    weights: MatchWeights = MatchWeights()
    name_frequency: NameFrequency = NameFrequency()
    dob: DobTolerance = DobTolerance()
    blocking: Blocking = Blocking()
    unique_schemes: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default=["home_office", "nrm"], description="identifier schemes that belong to one person: different values count against"
    )


class Links(Schema):
    """Circumstantial links: a vehicle, phone or associate in the report recorded against any profile."""

    open_incident_at: Priority = Field(
        default=Priority.MEDIUM,
        description="open an incident for a child with no profile of their own when links grade the report at least this",
    )
    max_links: Annotated[int, Field(ge=1, le=100)] = 10


class GradeTime(Schema):
    """From `start` to `end` in the grading time zone; an end at or before the start runs past midnight."""

    start: ClockTime
    end: ClockTime


class GradeWhen(Schema):
    """Every listed condition must hold; at least one must be listed."""

    has_profile: bool | None = Field(default=None, description="the report matched (or possibly matched) a profile")
    decision: Annotated[list[Literal["match", "possible_match", "no_match"]], Field(min_length=1)] | None = None
    profile_risk: Annotated[list[Priority], Field(min_length=1)] | None = None
    indicators: RiskWords | None = Field(
        default=None, description="any of these among the profile's indicators (case-insensitive)"
    )
    age_under: Annotated[int, Field(ge=1, le=26)] | None = None
    age_at_least: Annotated[int, Field(ge=0, le=26)] | None = None
    local_time: GradeTime | None = Field(default=None, description="last seen between these times")
    accompanied_by: RiskWords | None = Field(
        default=None,
        description="any of these phrases in circumstances.accompanied_by, as whole words and not negated "
        "(alerts/phrases.py: 'not a stranger' is not 'stranger')",
    )
    vehicle: bool | None = Field(default=None, description="a vehicle is mentioned in the report")
    near: Annotated[list[Near], Field(min_length=1)] | None = None
    hours_since_placement_under: Annotated[float, Field(gt=0, le=24 * 365)] | None = Field(
        default=None, description="last seen within this many hours of placement.placed_at"
    )
    previous_episodes_at_least: Annotated[int, Field(ge=1)] | None = None
    linked_risk: Annotated[list[Priority], Field(min_length=1)] | None = Field(
        default=None, description="a circumstantial link to a profile of one of these risk levels"
    )


class GradeRule(Schema):
    name: Annotated[str, StringConstraints(min_length=1)]
    when: GradeWhen
    points: Annotated[int, Field(ge=0, le=100)] = 0
    at_least: Priority | None = Field(default=None, description="the priority is at least this when the rule holds")
    reason: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="listed with the incident; may use {placeholders}"
    )


class GradeLevels(Schema):
    """Points needed for each priority; fewer than `medium` is low."""

    high: Annotated[int, Field(ge=1)]
    medium: Annotated[int, Field(ge=1)]


class Grading(Schema):
    timezone: str = "Europe/London"
    levels: GradeLevels
    rules: Annotated[list[GradeRule], Field(min_length=1)]
    # indicators.yaml, attached by load_config: the rules' `indicators` name its ids and groups.
    _vocabulary: Vocabulary | None = PrivateAttr(default=None)

    @property
    def vocabulary(self) -> Vocabulary | None:
        return self._vocabulary


class Risk(Schema):
    matching: Matching = Matching()
    links: Links = Links()
    grading: Grading


# Placeholders a rule's reason may use; alerts.grading fills them in.
REASON_FIELDS = (
    "risk",
    "indicators",
    "age",
    "local_time",
    "near",
    "hours_since_placement",
    "episodes",
    "linked",
    "decision",
)


# --- board.yaml ---------------------------------------------------------------------------------


class DutyStaff(Password):
    """Someone who may sign in to the situation board (police, emergency duty team, MASH duty staff)."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Board(Schema):
    refresh_seconds: Annotated[float, Field(ge=1, le=300)] = Field(default=5.0, description="how often the page refreshes itself")
    staff: dict[Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")], DutyStaff] = {}


class Config(Schema):
    """Everything the worker and the CLI need, validated together."""

    directory: Path
    settings: Settings
    agencies: dict[AgencyId, Agency]
    routing: Routing
    rota: Rotas = Rotas()
    escalation: Escalation = Escalation()
    providers: Providers = Providers()
    board: Board = Board()
    risk: Risk
    indicators: Vocabulary

    def path(self, relative: Path) -> Path:
        """Resolve a path from the config files against the config directory (as Prometheus does)."""
        return relative if relative.is_absolute() else self.directory / relative

    def templates(self) -> Path:
        """The message and page templates: settings' templates_dir when given, else the package's own."""
        given = self.settings.templates_dir
        return PACKAGE_TEMPLATES if given is None else self.path(given)


FILES: dict[str, type[Schema]] = {
    "settings.yaml": Settings,
    "agencies.yaml": Agencies,
    "routing.yaml": Routing,
    "rota.yaml": Rotas,
    "escalation.yaml": Escalation,
    "providers.yaml": Providers,
    "board.yaml": Board,
    "risk.yaml": Risk,
    "indicators.yaml": Vocabulary,
}

_FIXES = {
    "missing": "add this key",
    "extra_forbidden": "remove it, or correct its spelling",
    "literal_error": "use one of the values listed",
    "enum": "use one of the values listed",
    "string_pattern_mismatch": "correct the value's format",
    "too_short": "give at least one entry",
    "int_parsing": "give a whole number",
    "int_type": "give a whole number",
    "greater_than_equal": "raise the value",
    "less_than_equal": "lower the value",
    "bool_type": "give true or false",
    "list_type": "give a list (- item per line)",
    "dict_type": "give a mapping (key: value)",
    "model_type": "give a mapping (key: value)",
    "string_type": "give text (quote it if YAML reads it as a number or date)",
}


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            str(path), "(file)", "file not found", f"create {path.name} (`crucial init DIR` writes a complete starter config)"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise ConfigError(str(path), where, f"not valid YAML: {getattr(exc, 'problem', exc)}", "fix the YAML syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "(root)", "expected a mapping at the top level", "start the file with key: value lines")
    return data


def _refuse_plain_secrets(path: Path, data: Any, prefix: str = "") -> Iterator[ConfigError]:
    if isinstance(data, dict):
        for key, value in data.items():
            dotted = f"{prefix}.{key}" if prefix else str(key)
            if str(key).lower() in SECRET_KEYS and value not in (None, ""):
                yield ConfigError(
                    str(path),
                    dotted,
                    "a secret is written in plain config",
                    f"remove it and set it in the environment ({key}_env) or a secret file ({key}_file)",
                )
                continue
            yield from _refuse_plain_secrets(path, value, dotted)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _refuse_plain_secrets(path, item, f"{prefix}[{i}]")


def _validate(path: Path, schema: type[Schema], data: dict[str, Any]) -> Any:
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        errors: list[ConfigError] = []
        for error in exc.errors(include_url=False):
            problem = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                problem = "unknown key"
            fix = _FIXES.get(error["type"], "correct the value")
            errors.append(ConfigError(str(path), field_path(tuple(error["loc"]), hide_keys=False), problem, fix))
        raise ConfigErrors(errors) from None


class _Collector:
    """Runs each check and keeps every ConfigError, so one run reports all the problems."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []

    def every(self, check: Callable[..., Iterator[ConfigError]], *args: Any) -> None:
        """A check that yields each problem it finds: all of them are kept."""
        self.errors.extend(self.run(lambda: list(check(*args))) or [])

    def run(self, check: Callable[..., Any], *args: Any) -> Any:
        try:
            return check(*args)
        except ConfigError as exc:
            self.errors.extend(ConfigErrors.flatten([exc]))
            return None


def _read_file(path: Path, schema: type[Schema]) -> Any:
    data = _read_yaml(path)
    if plain := list(_refuse_plain_secrets(path, data)):
        raise ConfigErrors(plain)
    return _validate(path, schema, data)


def load_config(directory: Path | str = "config") -> Config:
    """Read and validate the whole configuration; raise ConfigErrors listing every problem found
    (a check across files runs when the files it reads are valid)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(
            str(directory),
            "(directory)",
            "no such config directory",
            "give --config DIR or set CRUCIAL_CONFIG; `crucial init DIR` writes one",
        )
    found = _Collector()
    parsed: dict[str, Any] = {name: found.run(_read_file, directory / name, schema) for name, schema in FILES.items()}
    settings: Settings | None = parsed["settings.yaml"]
    if settings is not None and (bootstrap := os.environ.get("KAFKA_BOOTSTRAP")):
        settings = settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"bootstrap": bootstrap})})
    agencies: dict[str, Agency] | None = parsed["agencies.yaml"].agencies if parsed["agencies.yaml"] else None
    routing: Routing | None = parsed["routing.yaml"]
    rota: Rotas | None = parsed["rota.yaml"]
    escalation: Escalation | None = parsed["escalation.yaml"]
    providers: Providers | None = parsed["providers.yaml"]
    risk: Risk | None = parsed["risk.yaml"]
    if rota is not None:
        found.every(_check_rotas, directory, rota)
    if agencies is not None and routing is not None and rota is not None:
        found.every(_check_references, directory, agencies, routing, rota)
    if settings is not None:
        found.every(_check_settings, directory, settings)
    if agencies is not None and escalation is not None:
        found.every(_check_escalation, directory, agencies, escalation)
    if providers is not None:
        found.every(_check_providers, directory, providers)
    if risk is not None:
        found.every(_check_risk, directory, risk)
    vocabulary: Vocabulary | None = parsed["indicators.yaml"]
    if agencies is not None and routing is not None:
        found.every(_check_manual_check, directory, agencies, routing)
    if vocabulary is not None:
        found.every(_check_vocabulary, directory, vocabulary)
        if routing is not None and risk is not None:
            found.every(_check_indicator_names, directory, vocabulary, routing, risk)
    if found.errors:
        raise ConfigErrors(found.errors)
    if risk is not None and vocabulary is not None:
        risk.grading._vocabulary = vocabulary
    return Config(
        directory=directory,
        settings=settings,
        agencies=agencies,
        routing=routing,
        rota=rota,
        escalation=escalation,
        providers=providers,
        risk=risk,
        board=parsed["board.yaml"],
        indicators=vocabulary,
    )


def _check_manual_check(directory: Path, agencies: dict[str, Agency], routing: Routing) -> Iterator[ConfigError]:
    path = str(directory / "routing.yaml")
    manual = routing.manual_check
    wanted: list[tuple[str, str, str | None]] = [
        *((f"manual_check.emergency_duty_teams.{la}", a, "emergency_duty_team") for la, a in manual.emergency_duty_teams.items()),
        *((f"manual_check.otherwise[{i}]", a, None) for i, a in enumerate(manual.otherwise)),
    ]
    for key, agency_id, kind in wanted:
        agency = agencies.get(agency_id)
        if agency is None:
            yield ConfigError(path, key, f"unknown agency '{agency_id}'", "define it in agencies.yaml or correct the id")
            continue
        if kind is not None and agency.kind != kind:
            yield ConfigError(path, key, f"agency '{agency_id}' is of kind {agency.kind}, not {kind}", f"name a {kind} agency")


def _check_escalation(directory: Path, agencies: dict[str, Agency], escalation: Escalation) -> Iterator[ConfigError]:
    path = str(directory / "escalation.yaml")
    for priority, chain in escalation.chains.items():
        previous = 0.0
        for i, step in enumerate(chain.steps):
            key = f"chains.{priority.value}.steps[{i}]"
            if step.after_minutes <= previous:
                yield ConfigError(
                    path,
                    f"{key}.after_minutes",
                    f"{step.after_minutes} is not after the previous step ({previous})",
                    "list steps in time order",
                )
            previous = step.after_minutes
            for j, agency_id in enumerate(step.notify):
                if agency_id not in agencies:
                    yield ConfigError(
                        path,
                        f"{key}.notify[{j}]",
                        f"unknown agency '{agency_id}'",
                        "define it in agencies.yaml or use a known id",
                    )


def _check_references(
    directory: Path, agencies: dict[str, Agency], routing: Routing, rotas: Rotas | None = None
) -> Iterator[ConfigError]:
    rota_ids = rotas.rotas if rotas is not None else {}
    routing_path, agencies_path = str(directory / "routing.yaml"), str(directory / "agencies.yaml")
    for i, rule in enumerate(routing.rules):
        for j, agency_id in enumerate(rule.notify):
            if agency_id not in agencies:
                known = ", ".join(sorted(agencies)) or "none defined"
                yield ConfigError(
                    routing_path,
                    f"rules[{i}].notify[{j}]",
                    f"unknown agency '{agency_id}'",
                    f"define it in agencies.yaml or use a known id ({known})",
                )
                continue
            if "possible_match" in rule.match.decision and not possible_match_allowed(rule, agencies[agency_id].kind):
                yield ConfigError(
                    routing_path,
                    f"rules[{i}].notify[{j}]",
                    f"rule '{rule.name}' would tell '{agency_id}' ({agencies[agency_id].kind}) of a possible match",
                    "possible matches go to emergency duty teams and the social worker, for a person to confirm, and to "
                    "the police only with match.priority: [high] or match.linked_by_circumstance: true: "
                    "narrow the rule, or move the agency to a rule without possible_match in match.decision",
                )
        possible = "possible_match" in rule.match.decision
        if rule.notify_police_force and possible and not possible_match_allowed(rule, "police"):
            yield ConfigError(
                routing_path,
                f"rules[{i}].notify_police_force",
                f"rule '{rule.name}' would tell the police of every possible match",
                "give it match.priority: [high] or match.linked_by_circumstance: true",
            )
        if not rule.notify and not rule.social_worker and not rule.notify_police_force:
            yield ConfigError(
                routing_path,
                f"rules[{i}]",
                f"rule '{rule.name}' notifies nobody",
                "list agencies under notify: or set social_worker: true",
            )
    area_of: dict[str, str] = {}
    for force, authorities in routing.police_force_areas.items():
        for j, authority in enumerate(authorities):
            other = area_of.setdefault(authority.casefold(), force)
            if other != force:
                yield ConfigError(
                    routing_path,
                    f"police_force_areas.{force}[{j}]",
                    f"'{authority}' is already in the area of '{other}'",
                    "list each local authority under one police force only",
                )
    for force, agency_id in routing.police_forces.items():
        if agency_id not in agencies:
            yield ConfigError(
                routing_path,
                f"police_forces.{force}",
                f"unknown agency '{agency_id}'",
                "define it in agencies.yaml or use a known id",
            )
            continue
        if agencies[agency_id].kind != "police":
            yield ConfigError(
                routing_path,
                f"police_forces.{force}",
                f"agency '{agency_id}' is of kind {agencies[agency_id].kind}, not police",
                "name the force's missing-person desk (a police agency)",
            )
        if force not in routing.police_force_areas:
            yield ConfigError(routing_path, f"police_forces.{force}", "not a force of police_force_areas", "add its area there")
    for agency_id, agency in agencies.items():
        for k, contact in enumerate(agency.contacts):
            key = f"agencies.{agency_id}.contacts[{k}]"
            if contact.rota is not None:
                if contact.sms is not None or contact.email is not None:
                    yield ConfigError(
                        agencies_path,
                        key,
                        f"contact names rota '{contact.rota}' and also an sms or email",
                        "a rota contact reaches whoever is on call: move the fixed sms/email to a contact of its own",
                    )
                if contact.rota not in rota_ids:
                    known = ", ".join(sorted(rota_ids)) or "none defined"
                    yield ConfigError(
                        agencies_path,
                        f"{key}.rota",
                        f"unknown rota '{contact.rota}'",
                        f"define it in rota.yaml or use a known id ({known})",
                    )
                continue
            if contact.sms is None and contact.email is None:
                yield ConfigError(
                    agencies_path,
                    key,
                    f"contact '{contact.name}' has no sms or email",
                    "give an sms number, an email address, or both",
                )


def _check_rotas(directory: Path, rotas: Rotas) -> Iterator[ConfigError]:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    path = str(directory / "rota.yaml")

    def moment(value: str) -> datetime:
        return datetime.strptime(value.replace("T", " "), "%Y-%m-%d %H:%M")

    def minutes(clock: str) -> int:
        hours, mins = clock.split(":")
        return int(hours) * 60 + int(mins)

    for rota_id, rota in rotas.rotas.items():
        at = f"rotas.{rota_id}"
        try:
            ZoneInfo(rota.timezone)
        except Exception:
            yield ConfigError(
                path, f"{at}.timezone", f"unknown time zone '{rota.timezone}'", "use an IANA name such as Europe/London"
            )
        for person_id, person in rota.people.items():
            if person.sms is None and person.email is None:
                yield ConfigError(
                    path,
                    f"{at}.people.{person_id}",
                    f"'{person_id}' has no sms or email",
                    "give an sms number, an email address, or both",
                )
        known = ", ".join(rota.people)
        covered = [False] * (24 * 60)
        for i, layer in enumerate(rota.layers):
            for j, person_id in enumerate(layer.people):
                if person_id not in rota.people:
                    yield ConfigError(
                        path,
                        f"{at}.layers[{i}].people[{j}]",
                        f"unknown person '{person_id}'",
                        f"add them under {at}.people or use a known id ({known})",
                    )
            if layer.hours is None:
                covered = [True] * (24 * 60)
                continue
            start, end = minutes(layer.hours.start), minutes(layer.hours.end)
            if start == end:
                yield ConfigError(
                    path,
                    f"{at}.layers[{i}].hours",
                    "start and end are the same time",
                    "omit hours: for a layer on call around the clock",
                )
            span = range(start, end) if end > start else [*range(start, 24 * 60), *range(0, end)]
            for minute in span:
                covered[minute] = True
        if not all(covered):
            first = covered.index(False)
            last = first
            while last + 1 < len(covered) and not covered[last + 1]:
                last += 1
            gap = f"{first // 60:02d}:{first % 60:02d} to {(last + 1) // 60 % 24:02d}:{(last + 1) % 60:02d}"
            yield ConfigError(
                path,
                f"{at}.layers",
                f"nobody is on call from {gap} on any day",
                "add a layer covering those hours, or widen a layer's hours:",
            )
        for k, override in enumerate(rota.overrides):
            if override.person not in rota.people:
                yield ConfigError(
                    path,
                    f"{at}.overrides[{k}].person",
                    f"unknown person '{override.person}'",
                    f"add them under {at}.people or use a known id ({known})",
                )
            if moment(override.end) <= moment(override.start):
                yield ConfigError(path, f"{at}.overrides[{k}].end", "ends before it starts", "give an end later than start")


def _check_settings(directory: Path, settings: Settings) -> Iterator[ConfigError]:
    path = str(directory / "settings.yaml")
    if settings.kafka.min_insync_replicas > settings.kafka.replication_factor:
        yield ConfigError(
            path, "kafka.min_insync_replicas", "exceeds kafka.replication_factor: no write could succeed", "lower it"
        )
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(settings.timezone)
    except Exception:
        yield ConfigError(path, "timezone", f"unknown time zone '{settings.timezone}'", "use an IANA name such as Europe/London")
    twilio = settings.twilio
    if twilio is not None and (twilio.from_number is None) == (twilio.messaging_service_sid is None):
        yield ConfigError(path, "twilio", "give exactly one sender", "set from_number or messaging_service_sid, not both")
    if twilio is not None:
        for key in ("base_url", "status_callback_url", "inbound_url"):
            url = getattr(twilio, key)
            if url is not None and not _is_http_url(url):
                yield ConfigError(path, f"twilio.{key}", f"'{url}' is not an http(s) URL", "give a URL such as https://host/path")
        if twilio.base_url is not None and (twilio.region or twilio.edge):
            yield ConfigError(path, "twilio.base_url", "base_url cannot be combined with region or edge", "remove one of them")
    smtp = settings.smtp
    for name, retry in (("twilio", twilio.retry if twilio else None), ("smtp", smtp.retry if smtp else None)):
        if retry is not None and retry.max_delay_s < retry.base_delay_s:
            yield ConfigError(path, f"{name}.retry.max_delay_s", "is less than base_delay_s", "raise max_delay_s")
    if smtp is not None and smtp.tls == "none" and smtp.username and smtp.host not in ("127.0.0.1", "::1", "localhost"):
        yield ConfigError(
            path, "smtp.tls", "AUTH would send the password unencrypted", "use tls: starttls or implicit, or drop username"
        )


def _is_http_url(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _check_providers(directory: Path, providers: Providers) -> Iterator[ConfigError]:
    """Each HMAC key id, API key hash and username appears once across all providers."""
    path = str(directory / "providers.yaml")
    first_at: dict[tuple[str, str], str] = {}

    def once(kind: str, value: str, key: str) -> Iterator[ConfigError]:
        other = first_at.setdefault((kind, value), key)
        if other != key:
            yield ConfigError(path, key, f"{kind} '{value}' is also given at {other}", f"give each {kind} once")

    for provider_id, provider in providers.providers.items():
        at = f"providers.{provider_id}"
        yield from _check_authority(path, at, provider)
        for i, hmac_key in enumerate(provider.hmac_keys):
            yield from once("HMAC key id", hmac_key.id, f"{at}.hmac_keys[{i}].id")
        for i, api_key in enumerate(provider.api_keys):
            yield from once("API key hash", api_key.sha256, f"{at}.api_keys[{i}].sha256")
        for username in provider.staff:
            yield from once("username", username, f"{at}.staff.{username}")


def _check_authority(path: str, at: str, provider: Provider) -> Iterator[ConfigError]:
    """authority_for names each local authority once; an authority needs credentials to send with."""
    seen: dict[str, int] = {}
    for i, name in enumerate(provider.authority_for):
        if (first := seen.setdefault(name.casefold(), i)) != i:
            yield ConfigError(
                path, f"{at}.authority_for[{i}]", f"'{name}' is also given at authority_for[{first}]", "give each once"
            )
    if provider.authority_for and not (provider.api_keys or provider.hmac_keys):
        yield ConfigError(
            path, f"{at}.authority_for", "an authority with no api_keys or hmac_keys cannot send", "add a key, or remove it"
        )


def _check_risk(directory: Path, risk: Risk) -> Iterator[ConfigError]:
    """Cross-checks the schema cannot express; raise the first ConfigError found."""
    path = str(directory / "risk.yaml")
    thresholds = risk.matching.thresholds
    if thresholds.possible_match >= thresholds.match:
        yield ConfigError(
            path,
            "matching.thresholds.possible_match",
            f"{thresholds.possible_match} is not below match ({thresholds.match})",
            "give possible_match a lower score than match",
        )
    frequency = risk.matching.name_frequency
    if frequency.min_points > frequency.max_points:
        yield ConfigError(
            path,
            "matching.name_frequency.min_points",
            f"{frequency.min_points} is above max_points ({frequency.max_points})",
            "give min_points no more than max_points",
        )
    grading = risk.grading
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(grading.timezone)
    except Exception:
        yield ConfigError(
            path, "grading.timezone", f"unknown time zone '{grading.timezone}'", "use an IANA name such as Europe/London"
        )
    if grading.levels.medium >= grading.levels.high:
        yield ConfigError(
            path,
            "grading.levels.medium",
            f"{grading.levels.medium} points is not below high ({grading.levels.high})",
            "give medium fewer points than high",
        )
    for i, rule in enumerate(grading.rules):
        at = f"grading.rules[{i}]"
        if not rule.when.model_dump(exclude_none=True):
            yield ConfigError(
                path, f"{at}.when", f"rule '{rule.name}' has no condition", "list at least one condition under when:"
            )
        if rule.points == 0 and rule.at_least is None:
            yield ConfigError(path, at, f"rule '{rule.name}' changes nothing", "give it points: or at_least:")
        when = rule.when
        if when.age_under is not None and when.age_at_least is not None and when.age_at_least >= when.age_under:
            yield ConfigError(path, f"{at}.when.age_at_least", "no age is both at least this and under age_under", "lower it")
        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(rule.reason) if name is not None]
        except ValueError as exc:
            yield ConfigError(path, f"{at}.reason", f"not a valid template ({exc})", "write {{ and }} for literal braces")
            continue
        for name in fields:
            if name not in REASON_FIELDS:
                yield ConfigError(
                    path,
                    f"{at}.reason",
                    f"unknown placeholder {{{name}}}",
                    f"use one of {', '.join('{' + f + '}' for f in REASON_FIELDS)}",
                )
    names = [rule.name for rule in grading.rules]
    for i, name in enumerate(names):
        if name in names[:i]:
            yield ConfigError(
                path, f"grading.rules[{i}].name", f"rule name '{name}' is used twice", "give each rule its own name"
            )


def _check_vocabulary(directory: Path, vocabulary: Vocabulary) -> Iterator[ConfigError]:
    """Each phrase means one indicator; groups name known indicators and are not indicators themselves."""
    from alerts.indicators import phrase_key
    from alerts.phrases import NEGATIONS as NEGATION_WORDS

    path = str(directory / "indicators.yaml")
    first: dict[str, tuple[str, str]] = {}
    for indicator_id, indicator in vocabulary.indicators.items():
        phrases = [("label", indicator.label), *((f"synonyms[{j}]", p) for j, p in enumerate(indicator.synonyms))]
        for key, phrase in phrases:
            other = first.setdefault(phrase_key(phrase), (indicator_id, key))
            if other[0] != indicator_id:
                yield ConfigError(
                    path,
                    f"indicators.{indicator_id}.{key}",
                    f"'{phrase}' already means '{other[0]}' (indicators.{other[0]}.{other[1]})",
                    "give each wording to one indicator only",
                )
    for j, qualifier in enumerate(vocabulary.qualifiers):
        if set(phrase_key(qualifier).split()) & NEGATION_WORDS:
            yield ConfigError(
                path, f"qualifiers[{j}]", f"'{qualifier}' is a negation", "remove it: a negated indicator must map to nothing"
            )
    for group_id, members in vocabulary.groups.items():
        if group_id in vocabulary.indicators:
            yield ConfigError(
                path, f"groups.{group_id}", f"'{group_id}' is also an indicator id", "give the group a name of its own"
            )
        for j, member in enumerate(members):
            if member not in vocabulary.indicators:
                yield ConfigError(
                    path,
                    f"groups.{group_id}[{j}]",
                    f"unknown indicator '{member}'",
                    "define it under indicators: or use a known id",
                )


def _check_indicator_names(directory: Path, vocabulary: Vocabulary, routing: Routing, risk: Risk) -> Iterator[ConfigError]:
    """Every indicator a routing or grading rule names is an id or group of indicators.yaml."""
    from alerts.indicators import Indicators

    known = Indicators(vocabulary)
    named: list[tuple[str, str, list[str] | None]] = [
        ("routing.yaml", f"rules[{i}].match.indicators", rule.match.indicators) for i, rule in enumerate(routing.rules)
    ]
    named += [("risk.yaml", f"grading.rules[{i}].when.indicators", r.when.indicators) for i, r in enumerate(risk.grading.rules)]
    for file, key, names in named:
        for j, name in enumerate(names or []):
            if known.known(name):
                continue
            meant = known.suggestion(name)
            fix = (
                f"use the id '{meant}' ('{name}' is one of its wordings)"
                if meant
                else "use an indicator id or group of indicators.yaml, or add it there"
            )
            yield ConfigError(str(directory / file), f"{key}[{j}]", f"unknown indicator '{name}'", fix)
