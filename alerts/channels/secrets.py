"""Secrets for the channels: from an environment variable or a secret file, never from YAML."""

from __future__ import annotations

import os
from pathlib import Path

from alerts.config import Config, TwilioSettings
from alerts.errors import ConfigError


def read_secret(*, setting: str, env: str, file: Path | None) -> str:
    """The secret in `file` (surrounding whitespace stripped) when one is named, else in variable `env`.

    `setting` is the dotted name in settings.yaml without suffix, e.g. "twilio.auth_token". A named
    but unreadable or empty file is an error: nothing falls back silently to another source.
    """
    if file is not None:
        try:
            value = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                str(file), f"{setting}_file", f"secret file cannot be read ({exc.strerror})", "create it or fix the path"
            ) from None
        if not value:
            raise ConfigError(str(file), f"{setting}_file", "secret file is empty", "write the secret into it")
        return value
    value = os.environ.get(env, "").strip()
    if not value:
        raise ConfigError(
            "environment", env, f"{setting} is not set", f"export {env}, or set {setting}_file in settings.yaml to a secret file"
        )
    return value


def twilio_auth_token(config: Config, settings: TwilioSettings) -> str:
    """The Twilio auth token, from the environment or the secret file named in settings."""
    token_file = config.path(settings.auth_token_file) if settings.auth_token_file else None
    return read_secret(setting="twilio.auth_token", env=settings.auth_token_env, file=token_file)
