"""What `crucial check-config` and `crucial worker` check before anything starts — one code path, so
check-config passes exactly when the worker would start and every message would render.

1. every file against its schema, and the references across files (alerts.config.load_config);
2. every template rendered for every kind and channel (alerts.template_check);
3. the secrets the configured channels, links and providers need (`secret_problems`, the one place
   that says which secrets are required).
All problems are collected and raised together as ConfigErrors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from alerts.channels import CHANNELS
from alerts.config import Config, load_config
from alerts.coverage import coverage_gaps
from alerts.errors import ConfigError, ConfigErrors
from alerts.template_check import check_templates
from streams.auth import load_hmac_secrets, load_keys, outbox_only
from streams.auth import secret_problems as shared_key_problems


@dataclass
class Checked:
    config: Config
    warnings: list[str] = field(default_factory=list)


def _attempt(errors: list[ConfigError], check: object, *args: object) -> None:
    try:
        check(*args)  # type: ignore[operator]
    except ConfigError as exc:
        errors.extend(ConfigErrors.flatten([exc]))


def secret_problems(config: Config) -> tuple[list[ConfigError], list[str]]:
    """(errors, warnings) about secrets. Errors: what a configured channel cannot work without — the
    Twilio auth token, the SMTP password when a username is given — and, outside the outbox-only demo,
    the session, link and HMAC keys that every worker must share (streams.auth.secret_problems, the one
    rule for those, which the worker's web side enforces too). Warnings, in the demo only: what merely
    degrades — a provider's HMAC key that cannot be read, sessions or links signed by a per-process key."""
    errors: list[ConfigError] = []
    warnings: list[str] = []
    for channel in CHANNELS:
        if channel.secrets_check is not None:
            _attempt(errors, channel.secrets_check, config)
    if not outbox_only(config):
        return errors + shared_key_problems(config), warnings
    links = config.providers.links
    if not _present("links.secret", links.secret_env, links.secret_file):
        warnings.append(f"{links.secret_env} is not set: acknowledgement links and receipts die with this process")
    _, unreadable = load_hmac_secrets(config.providers)
    warnings.extend(unreadable)
    sessions = config.providers.sessions
    signs_in = config.board.staff or any(p.staff for p in config.providers.providers.values())
    if signs_in and not _present("sessions.secret", sessions.secret_env, sessions.secret_file):
        warnings.append(f"{sessions.secret_env} is not set: sign-ins to the form and board end when the worker restarts")
    return errors, warnings


def _present(setting: str, env: str, file: Path | None) -> bool:
    try:
        load_keys(setting, env, file)
    except ConfigError:
        return False
    return True


def validated_config(directory: Path | str) -> Checked:
    """The configuration in `directory` once every check passes; ConfigErrors listing every problem otherwise."""
    config = load_config(directory)
    errors = check_templates(config)
    secret_errors, warnings = secret_problems(config)
    errors += secret_errors
    if errors:
        raise ConfigErrors(errors)
    # Routing coverage gaps are warnings: the worker starts regardless, and says so as check-config does.
    return Checked(config, [f"routing coverage: {gap}" for gap in coverage_gaps(config)] + warnings)
