"""settings.yaml: Kafka, the web side, intake bounds, health and the SMS and email providers, and the
checks on it the schema cannot express."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, IPvAnyNetwork, StringConstraints

from alerts.config.base import Schema, unknown_time_zone
from alerts.errors import ConfigError
from alerts.model import Email, Phone


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


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def check_settings(path: str, settings: Settings) -> Iterator[ConfigError]:
    if settings.kafka.min_insync_replicas > settings.kafka.replication_factor:
        yield ConfigError(
            path, "kafka.min_insync_replicas", "exceeds kafka.replication_factor: no write could succeed", "lower it"
        )
    if unknown_time_zone(settings.timezone):
        yield ConfigError(path, "timezone", f"unknown time zone '{settings.timezone}'", "use an IANA name such as Europe/London")
    if settings.twilio is not None:
        yield from _check_twilio(path, settings.twilio)
    if settings.smtp is not None:
        yield from _check_smtp(path, settings.smtp)


def _check_twilio(path: str, twilio: TwilioSettings) -> Iterator[ConfigError]:
    if (twilio.from_number is None) == (twilio.messaging_service_sid is None):
        yield ConfigError(path, "twilio", "give exactly one sender", "set from_number or messaging_service_sid, not both")
    for key in ("base_url", "status_callback_url", "inbound_url"):
        url = getattr(twilio, key)
        if url is not None and not is_http_url(url):
            yield ConfigError(path, f"twilio.{key}", f"'{url}' is not an http(s) URL", "give a URL such as https://host/path")
    if twilio.base_url is not None and (twilio.region or twilio.edge):
        yield ConfigError(path, "twilio.base_url", "base_url cannot be combined with region or edge", "remove one of them")
    yield from _check_retry(path, "twilio", twilio.retry)


def _check_smtp(path: str, smtp: SmtpSettings) -> Iterator[ConfigError]:
    yield from _check_retry(path, "smtp", smtp.retry)
    if smtp.tls == "none" and smtp.username and smtp.host not in _LOOPBACK:
        yield ConfigError(
            path, "smtp.tls", "AUTH would send the password unencrypted", "use tls: starttls or implicit, or drop username"
        )


def _check_retry(path: str, section: str, retry: RetrySettings) -> Iterator[ConfigError]:
    if retry.max_delay_s < retry.base_delay_s:
        yield ConfigError(path, f"{section}.retry.max_delay_s", "is less than base_delay_s", "raise max_delay_s")


def is_http_url(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
