"""The web side's signing keys from config: sessions and links (read by alerts.secrets.load_keys)."""

from __future__ import annotations

import logging
from pathlib import Path

from alerts.config import Config
from alerts.errors import ConfigError
from alerts.secrets import load_keys
from streams.pipeline.checks import outbox_only
from streams.web.auth.tokens import new_secret

log = logging.getLogger("crucial.auth")


def signing_keys(setting: str, env: str, file: Path | None) -> list[bytes]:
    """load_keys, or — when unset — a random key for this process, with a warning. Fit for sessions
    (signing in again after a restart is a small cost); not for links sent out in SMS or email, which
    must outlive the process: use load_keys (or link_signer) for those, so a missing key is an error."""
    try:
        return load_keys(setting, env, file)
    except ConfigError as exc:
        log.warning("%s — using a random key for this process: what it signs is void once it stops", exc)
        return [new_secret().encode()]


def session_keys(config: Config) -> list[bytes]:
    """The session keys: required outside the demo (ConfigError), else possibly this process's own."""
    sessions = config.providers.sessions
    if outbox_only(config):
        return signing_keys("sessions.secret", sessions.secret_env, sessions.secret_file)
    return load_keys("sessions.secret", sessions.secret_env, sessions.secret_file)


def link_keys(config: Config) -> list[bytes]:
    """The link keys (acknowledgement links, receipts), required as session_keys are."""
    links = config.providers.links
    if outbox_only(config):
        return signing_keys("links.secret", links.secret_env, links.secret_file)
    return load_keys("links.secret", links.secret_env, links.secret_file)
