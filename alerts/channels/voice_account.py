"""How calls go (settings.yaml `voice:`), apart from the voice channel so the provider module
(twilio_voice) never imports the channel's module."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from alerts.channels.plugin import ChannelSettings, Section
from alerts.model import Phone

NAME: Final = "voice"


class VoiceSettings(ChannelSettings):
    """Voice calls through the `twilio:` account: the public URLs of the worker's voice webhooks (which
    Twilio signs its requests to) and how a call goes."""

    gather_url: str = Field(description="the public URL of POST /twilio/voice/gather (the key pressed)")
    status_callback_url: str = Field(description="the public URL of POST /twilio/voice/status (call progress)")
    from_number: Phone | None = Field(default=None, description="the caller id; default: twilio.from_number")
    ring_timeout_s: Annotated[int, Field(ge=5, le=600)] = Field(default=25, description="ring this long, then no-answer")
    gather_timeout_s: Annotated[int, Field(ge=1, le=60)] = Field(default=8, description="wait this long for a key")
    time_limit_s: Annotated[int, Field(ge=30, le=14400)] = Field(default=180, description="the longest call")
    repeat: Annotated[int, Field(ge=1, le=3)] = Field(default=2, description="times the message is read out")
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}-[A-Z]{2}$")] = "en-GB"
    voice: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]+$")] | None = Field(
        default=None, description="Twilio's <Say voice>, e.g. Polly.Amy; default: Twilio's"
    )

    @field_validator("gather_url", "status_callback_url")
    @classmethod
    def _http_url(cls, url: str, info: ValidationInfo) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            path = "gather" if info.field_name == "gather_url" else "status"
            raise ValueError(f"'{url}' is not an http(s) URL: give one such as https://alerts.example/twilio/voice/{path}")
        return url


VOICE = Section(NAME, VoiceSettings)
