"""Secrets for the channels: from an environment variable or a secret file, never from YAML."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from alerts.channels.sms import TwilioSettings
from alerts.config import Config
from alerts.errors import ConfigError


def environment_secret(env: str, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(value, where) of the secret called `env` outside the config: the variable itself; else the file
    named by `<env>_FILE` (containers, Kubernetes); else `$CREDENTIALS_DIRECTORY/<env>` (systemd
    LoadCredential=<env>:<path>). ("", where it was looked for) when none is set. A file named but
    unreadable is a ConfigError, never a silent fallback."""
    environ = os.environ if environ is None else environ
    if value := environ.get(env, ""):
        return value, "environment"
    named = environ.get(f"{env}_FILE")
    credentials = environ.get("CREDENTIALS_DIRECTORY")
    if not named and credentials and (Path(credentials) / env).exists():
        named = str(Path(credentials) / env)
    if not named:
        return "", "environment"
    try:
        return Path(named).read_text(encoding="utf-8"), named
    except OSError as exc:
        raise ConfigError(named, env, f"secret file cannot be read ({exc.strerror})", "create it or fix the path") from None


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
    value = environment_secret(env)[0].strip()
    if not value:
        raise ConfigError(
            "environment",
            env,
            f"{setting} is not set",
            f"export {env} (or {env}_FILE, or a systemd credential {env}), or set {setting}_file in settings.yaml",
        )
    return value


def twilio_auth_token(config: Config, settings: TwilioSettings) -> str:
    """The Twilio auth token, from the environment or the secret file named in settings."""
    token_file = config.path(settings.auth_token_file) if settings.auth_token_file else None
    return read_secret(setting="twilio.auth_token", env=settings.auth_token_env, file=token_file)
