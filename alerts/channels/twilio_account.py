"""The Twilio account (settings.yaml `twilio:`), shared by the SMS and voice channels and their
providers: apart from the channels, so a provider module never imports its channel's module."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, StringConstraints

from alerts.channels.plugin import ChannelSettings, RetrySettings, Section
from alerts.model import Phone


class TwilioSettings(ChannelSettings):
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


TWILIO = Section("twilio", TwilioSettings)
