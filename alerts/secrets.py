"""The one secret loader: every secret comes from an environment variable or a secret file, never from
YAML. Channels (Twilio token, SMTP password), the web side (session, link and HMAC keys) and
`crucial check-config` all read through here, so they agree on where a secret lives and on which are
required.

Sources, in order: a `<setting>_file` named in config; the variable itself; the file named by
`<env>_FILE` (containers, Kubernetes); `$CREDENTIALS_DIRECTORY/<env>` (systemd LoadCredential).
A file named but unreadable is an error, never a silent fallback to another source.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from alerts.errors import ConfigError

if TYPE_CHECKING:
    from alerts.config import Config, Providers

MIN_KEY_CHARS = 32  # signing keys: 256 bits of base64 is 43 characters; 32 is the floor


def environment_secret(env: str, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(value, where) of the secret called `env` outside the config: the variable itself; else the file
    named by `<env>_FILE`; else `$CREDENTIALS_DIRECTORY/<env>`. ("", where it was looked for) when none
    is set. A file named but unreadable is a ConfigError."""
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


def _secret_file(setting: str, file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            str(file), f"{setting}_file", f"secret file cannot be read ({exc.strerror})", "create it or fix the path"
        ) from None


def read_secret(
    *, setting: str, env: str, file: Path | None, config_file: str = "settings.yaml", environ: Mapping[str, str] | None = None
) -> str:
    """One secret (surrounding whitespace stripped): from `file` when one is named, else variable `env`.

    `setting` is the dotted name in `config_file` without suffix, e.g. "twilio.auth_token". A named but
    unreadable or empty file is an error: nothing falls back silently to another source.
    """
    if file is not None:
        value = _secret_file(setting, file).strip()
        if not value:
            raise ConfigError(str(file), f"{setting}_file", "secret file is empty", "write the secret into it")
        return value
    value = environment_secret(env, environ)[0].strip()
    if not value:
        raise ConfigError(
            "environment",
            env,
            f"{setting} is not set",
            f"export {env} (or {env}_FILE, or a systemd credential {env}), or set {setting}_file in {config_file}",
        )
    return value


def load_keys(setting: str, env: str, file: Path | None, *, environ: Mapping[str, str] | None = None) -> list[bytes]:
    """Signing keys from `file` when one is named, else from variable `env`: whitespace-separated, the
    first signs, all verify (rotation). Raises ConfigError when the source is missing, empty, or holds a
    key shorter than MIN_KEY_CHARS."""
    if file is not None:
        text, source, key = _secret_file(setting, file), str(file), f"{setting}_file"
    else:
        (text, source), key = environment_secret(env, environ), env
    keys = text.split()
    if not keys:
        raise ConfigError(source, key, f"{setting} is not set", f"export {env} or set {setting}_file (new-secret makes one)")
    if any(len(k) < MIN_KEY_CHARS for k in keys):
        raise ConfigError(source, key, f"a {setting} key is shorter than {MIN_KEY_CHARS} characters", "use new-secret")
    return [k.encode() for k in keys]


def keys_present(setting: str, env: str, file: Path | None, *, environ: Mapping[str, str] | None = None) -> bool:
    """Whether load_keys would find good keys."""
    try:
        load_keys(setting, env, file, environ=environ)
    except ConfigError:
        return False
    return True


def load_hmac_secrets(providers: Providers, environ: Mapping[str, str] | None = None) -> tuple[dict[str, list[bytes]], list[str]]:
    """Every provider HMAC key that can be read (key id -> keys), and a problem line for each that cannot."""
    found: dict[str, list[bytes]] = {}
    problems: list[str] = []
    for provider_id, provider in providers.providers.items():
        for i, key in enumerate(provider.hmac_keys):
            try:
                found[key.id] = load_keys(
                    f"providers.{provider_id}.hmac_keys[{i}].secret", key.secret_env, key.secret_file, environ=environ
                )
            except ConfigError as exc:
                problems.append(f"HMAC key {key.id} of {provider_id} disabled: {exc}")
    return found, problems


def shared_key_problems(config: Config, environ: Mapping[str, str] | None = None) -> list[ConfigError]:
    """Every key the workers must share that is missing or too short: the session and link keys and
    every provider's HMAC key. Whether they are required (outside the demo) is streams.pipeline.checks' rule."""
    problems: list[ConfigError] = []
    sessions, links = config.providers.sessions, config.providers.links
    wanted = [
        ("sessions.secret", sessions.secret_env, sessions.secret_file),
        ("links.secret", links.secret_env, links.secret_file),
    ]
    for provider_id, provider in config.providers.providers.items():
        wanted += [
            (f"providers.{provider_id}.hmac_keys[{i}].secret", key.secret_env, key.secret_file)
            for i, key in enumerate(provider.hmac_keys)
        ]
    for setting, env, file in wanted:
        try:
            load_keys(setting, env, file, environ=environ)
        except ConfigError as exc:
            problems.append(exc)
    return problems
