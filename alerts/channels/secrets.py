"""The Twilio auth token, read through the one secret loader (alerts.secrets)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alerts.channels.twilio_account import TwilioSettings
from alerts.secrets import read_secret

if TYPE_CHECKING:
    from alerts.config import Config


def twilio_auth_token(config: Config, settings: TwilioSettings) -> str:
    """The Twilio auth token, from the environment or the secret file named in settings."""
    token_file = config.path(settings.auth_token_file) if settings.auth_token_file else None
    return read_secret(setting="twilio.auth_token", env=settings.auth_token_env, file=token_file)
