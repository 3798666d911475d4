"""settings.yaml: Kafka, the web side, intake bounds and health, with a section per registered channel
(each channel module owns its own), and the checks on it the schema cannot express."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

from pydantic import Field, IPvAnyNetwork, StringConstraints, create_model

from alerts.channels import CHANNELS
from alerts.channels.plugin import RetrySettings as RetrySettings
from alerts.channels.sms import SmsSettings as SmsSettings
from alerts.channels.smtp_account import SmtpSettings as SmtpSettings  # re-exported: the channels' own sections
from alerts.channels.twilio_account import TwilioSettings as TwilioSettings
from alerts.config.base import Schema, unknown_time_zone
from alerts.errors import ConfigError
from alerts.intake import IntakeLimits as IntakeLimits  # the decoder's own bounds, set in settings.yaml intake:


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
    # Shared state every worker follows whole (streams.pipeline.register, streams.web.sessions).
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
    directory_fetch_wait_ms: Annotated[int, Field(ge=0, le=1500)] = Field(
        default=100,
        description="longest the incident directory's fetches wait to batch records (0: fetched one by one); "
        "a lookup that misses waits for the directory to catch up",
    )
    triage_concurrency: Annotated[int, Field(ge=1, le=1024)] = Field(
        default=1,
        description="records the triage stage handles at once per worker: one child's strictly in order, "
        "different children concurrently (streams/pipeline/keyed.py); 1: one at a time; raise it only where "
        "triage waits on Kafka round trips (docs/operations.md)",
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


class HealthSettings(Schema):
    """When /live and /ready (streams/web/health.py) stop answering 200."""

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


class CoreSettings(Schema):
    """settings.yaml less the channels' own sections (Settings adds those, from the registry)."""

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
    health: HealthSettings = HealthSettings()
    templates_dir: Path | None = Field(
        default=None, description="your own message templates (relative to the config directory); default: the package's"
    )


def _channel_sections() -> dict[str, Any]:
    """One field per settings section a registered channel owns (alerts/channels/plugin.py: Section)."""
    return {
        section.key: (section.model, section.default) if section.default is not None else (Optional[section.model], None)  # noqa: UP045
        for section in CHANNELS.sections()
    }


if TYPE_CHECKING:
    Settings = CoreSettings
else:
    Settings = create_model("Settings", __base__=CoreSettings, **_channel_sections())


def check_settings(path: str, settings: Settings) -> Iterator[ConfigError]:
    if settings.kafka.min_insync_replicas > settings.kafka.replication_factor:
        yield ConfigError(
            path, "kafka.min_insync_replicas", "exceeds kafka.replication_factor: no write could succeed", "lower it"
        )
    if unknown_time_zone(settings.timezone):
        yield ConfigError(path, "timezone", f"unknown time zone '{settings.timezone}'", "use an IANA name such as Europe/London")
    for channel in CHANNELS:
        for check in channel.settings_checks:
            yield from check(path, settings)
