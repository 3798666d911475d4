"""One configuration schema, validated strictly at start-up and offline by `crucial check-config`.

The config directory holds settings.yaml, agencies.yaml and routing.yaml. Every problem is reported
as a ConfigError naming the file, the key and the fix. Secrets never live in these files: they come
from the environment or from secret files named here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from alerts.errors import ConfigError
from alerts.intake import field_path
from alerts.model import Email, Phone, Priority

AgencyId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
SECRET_KEYS = ("auth_token", "password", "api_key", "secret", "token")


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


class KafkaSecurity(Schema):
    """Passed through to faust/aiokafka and kafka-python for managed clusters."""

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    username_env: str = "KAFKA_USERNAME"
    password_env: str = "KAFKA_PASSWORD"
    ca_file: Path | None = None


class KafkaSettings(Schema):
    bootstrap: str = "127.0.0.1:9092"
    app_id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$")] = "crucial-hour"
    partitions: Annotated[int, Field(ge=1, le=256)] = 4
    replication_factor: Annotated[int, Field(ge=1, le=5)] = 1
    topics: Topics = Topics()
    security: KafkaSecurity = KafkaSecurity()


class WebSettings(Schema):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 6066


class OutboxSettings(Schema):
    path: Path = Path("var/outbox.jsonl")


class SmsSettings(Schema):
    max_segments: Annotated[int, Field(ge=1, le=10)] = 3
    include_full_name: bool = False


class TwilioSettings(Schema):
    account_sid: Annotated[str, StringConstraints(pattern=r"^AC[0-9a-fA-F]{32}$")]
    from_number: Phone | None = None
    messaging_service_sid: Annotated[str, StringConstraints(pattern=r"^MG[0-9a-fA-F]{32}$")] | None = None
    auth_token_env: str = "TWILIO_AUTH_TOKEN"
    auth_token_file: Path | None = None
    base_url: str | None = Field(default=None, description="a Twilio-compatible server, for tests")
    status_callback_url: str | None = None


class SmtpSettings(Schema):
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    username: str | None = None
    password_env: str = "SMTP_PASSWORD"
    password_file: Path | None = None
    sender: Email
    ca_file: Path | None = None


class Settings(Schema):
    window_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 60
    timezone: str = "Europe/London"
    kafka: KafkaSettings = KafkaSettings()
    web: WebSettings = WebSettings()
    outbox: OutboxSettings = OutboxSettings()
    sms: SmsSettings = SmsSettings()
    twilio: TwilioSettings | None = None
    smtp: SmtpSettings | None = None
    templates_dir: Path = Path("templates")


# --- agencies.yaml ------------------------------------------------------------------------------


class Contact(Schema):
    name: Annotated[str, StringConstraints(min_length=1)]
    sms: Phone | None = None
    email: Email | None = None


class Agency(Schema):
    name: Annotated[str, StringConstraints(min_length=1)]
    kind: Literal[
        "police",
        "emergency_duty_team",
        "social_care",
        "border_force",
        "modern_slavery_referral",
        "guardian",
        "other",
    ]
    contacts: Annotated[list[Contact], Field(min_length=1)]


class Agencies(Schema):
    agencies: dict[AgencyId, Agency]


# --- routing.yaml -------------------------------------------------------------------------------


class RuleMatch(Schema):
    """Every listed condition must hold; an omitted condition matches anything."""

    local_authority: list[str] | None = None
    priority: list[Priority] | None = None


class Rule(Schema):
    name: Annotated[str, StringConstraints(min_length=1)]
    match: RuleMatch = RuleMatch()
    notify: list[AgencyId] = []
    social_worker: bool = False
    channels: Annotated[list[Literal["sms", "email"]], Field(min_length=1)] = ["sms", "email"]


class Routing(Schema):
    rules: Annotated[list[Rule], Field(min_length=1)]


class Config(Schema):
    """Everything the worker and the CLI need, validated together."""

    directory: Path
    settings: Settings
    agencies: dict[AgencyId, Agency]
    routing: Routing

    def path(self, relative: Path) -> Path:
        """Resolve a path from settings against the repository root (the config dir's parent)."""
        return relative if relative.is_absolute() else self.directory.parent / relative


FILES: dict[str, type[Schema]] = {"settings.yaml": Settings, "agencies.yaml": Agencies, "routing.yaml": Routing}

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
        raise ConfigError(str(path), "(file)", "file not found", f"create {path.name} (see config/ in the repository)") from None
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


def _refuse_plain_secrets(path: Path, data: Any, prefix: str = "") -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            dotted = f"{prefix}.{key}" if prefix else str(key)
            if str(key).lower() in SECRET_KEYS and value not in (None, ""):
                raise ConfigError(
                    str(path),
                    dotted,
                    "a secret is written in plain config",
                    f"remove it and set it in the environment ({key}_env) or a secret file ({key}_file)",
                )
            _refuse_plain_secrets(path, value, dotted)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            _refuse_plain_secrets(path, item, f"{prefix}[{i}]")


def _validate(path: Path, schema: type[Schema], data: dict[str, Any]) -> Any:
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        problem = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            problem = "unknown key"
        fix = _FIXES.get(first["type"], "correct the value")
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise ConfigError(str(path), field_path(tuple(first["loc"])), problem + more, fix) from None


def load_config(directory: Path | str = "config") -> Config:
    """Read and validate the whole configuration; raise the first ConfigError found."""
    directory = Path(directory)
    parsed: dict[str, Any] = {}
    for name, schema in FILES.items():
        path = directory / name
        data = _read_yaml(path)
        _refuse_plain_secrets(path, data)
        parsed[name] = _validate(path, schema, data)
    settings: Settings = parsed["settings.yaml"]
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP"):
        settings = settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"bootstrap": bootstrap})})
    agencies: dict[str, Agency] = parsed["agencies.yaml"].agencies
    routing: Routing = parsed["routing.yaml"]
    _check_references(directory, agencies, routing)
    _check_settings(directory, settings)
    return Config(directory=directory, settings=settings, agencies=agencies, routing=routing)


def _check_references(directory: Path, agencies: dict[str, Agency], routing: Routing) -> None:
    for i, rule in enumerate(routing.rules):
        for j, agency_id in enumerate(rule.notify):
            if agency_id not in agencies:
                known = ", ".join(sorted(agencies)) or "none defined"
                raise ConfigError(
                    str(directory / "routing.yaml"),
                    f"rules[{i}].notify[{j}]",
                    f"unknown agency '{agency_id}'",
                    f"define it in agencies.yaml or use a known id ({known})",
                )
        if not rule.notify and not rule.social_worker:
            raise ConfigError(
                str(directory / "routing.yaml"),
                f"rules[{i}]",
                f"rule '{rule.name}' notifies nobody",
                "list agencies under notify: or set social_worker: true",
            )
    for agency_id, agency in agencies.items():
        for k, contact in enumerate(agency.contacts):
            if contact.sms is None and contact.email is None:
                raise ConfigError(
                    str(directory / "agencies.yaml"),
                    f"agencies.{agency_id}.contacts[{k}]",
                    f"contact '{contact.name}' has no sms or email",
                    "give an sms number, an email address, or both",
                )


def _check_settings(directory: Path, settings: Settings) -> None:
    path = str(directory / "settings.yaml")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(settings.timezone)
    except Exception:
        raise ConfigError(
            path, "timezone", f"unknown time zone '{settings.timezone}'", "use an IANA name such as Europe/London"
        ) from None
    twilio = settings.twilio
    if twilio is not None and (twilio.from_number is None) == (twilio.messaging_service_sid is None):
        raise ConfigError(path, "twilio", "give exactly one sender", "set from_number or messaging_service_sid, not both")
