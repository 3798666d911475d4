"""What `crucial check-config` and `crucial worker` check before anything starts — one code path, so
check-config passes exactly when the worker would start and every message would render.

1. every file against its schema, and the references across files (alerts.config.load_config);
2. every template rendered for every kind and channel (alerts.template_check);
3. the secrets the configured channels, links and providers need (`secret_problems`, read through
   alerts.secrets, the one secret loader, which also says which shared keys are required).
All problems are collected and raised together as ConfigErrors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from alerts.channels import CHANNELS, providers_configured
from alerts.config import Config, load_config
from alerts.coverage import coverage_gaps
from alerts.errors import ConfigError, ConfigErrors
from alerts.secrets import keys_present, load_hmac_secrets, shared_key_problems
from alerts.template_check import check_templates


@dataclass
class Checked:
    config: Config
    warnings: list[str] = field(default_factory=list)


def outbox_only(config: Config) -> bool:
    """The demo: messages go only to the local outbox file, nothing leaves this machine."""
    return not providers_configured(config)


def required_key_problems(config: Config, environ: Mapping[str, str] | None = None) -> list[ConfigError]:
    """The shared keys (alerts.secrets.shared_key_problems) that are missing, when they are required:
    outside the demo (outbox_only) the session and link keys and every provider's HMAC key must be set,
    or each worker would pick its own random key and sign-ins and links would break at random across
    workers. In the demo a worker may pick a key for itself (with a warning)."""
    return [] if outbox_only(config) else shared_key_problems(config, environ)


def check_required_keys(config: Config, environ: Mapping[str, str] | None = None) -> None:
    """Raise the first of required_key_problems (the worker's web side calls this before it serves)."""
    problems = required_key_problems(config, environ)
    if problems:
        raise problems[0]


def _attempt(errors: list[ConfigError], check: object, *args: object) -> None:
    try:
        check(*args)  # type: ignore[operator]
    except ConfigError as exc:
        errors.extend(ConfigErrors.flatten([exc]))


def secret_problems(config: Config) -> tuple[list[ConfigError], list[str]]:
    """(errors, warnings) about secrets. Errors: what a configured channel cannot work without — the
    Twilio auth token, the SMTP password when a username is given — and, outside the outbox-only demo,
    the session, link and HMAC keys that every worker must share (required_key_problems, the one
    rule for those, which the worker's web side enforces too). Warnings, in the demo only: what merely
    degrades — a provider's HMAC key that cannot be read, sessions or links signed by a per-process key."""
    errors: list[ConfigError] = []
    warnings: list[str] = []
    for channel in CHANNELS:
        if channel.secrets_check is not None:
            _attempt(errors, channel.secrets_check, config)
    if not outbox_only(config):
        return errors + required_key_problems(config), warnings
    links = config.providers.links
    if not keys_present("links.secret", links.secret_env, links.secret_file):
        warnings.append(f"{links.secret_env} is not set: acknowledgement links and receipts die with this process")
    _, unreadable = load_hmac_secrets(config.providers)
    warnings.extend(unreadable)
    sessions = config.providers.sessions
    signs_in = config.board.staff or any(p.staff for p in config.providers.providers.values())
    if signs_in and not keys_present("sessions.secret", sessions.secret_env, sessions.secret_file):
        warnings.append(f"{sessions.secret_env} is not set: sign-ins to the form and board end when the worker restarts")
    return errors, warnings


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
